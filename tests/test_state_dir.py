"""The state folder is owner-only (issue 12): the folder and sub-folders 0700, files 0600, and
secrets created with their mode (no moment in which another user could read them)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.registry.sql import SqlPartnerRegistry
from gateway.app import codec_tokens
from runtime.payload_codec import new_payload_key
from runtime.settings import Settings
from runtime.state_dir import prepare_state_dir, write_secret_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: what a file gets is then only what the code asked for."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_an_old_world_readable_folder_is_tightened(tmp_path: Path, open_umask: None) -> None:
    state = tmp_path / "var"
    (state / "mail").mkdir(parents=True, mode=0o755)
    state.chmod(0o755)
    (state / "token-secret").write_text("old secret")
    (state / "token-secret").chmod(0o644)
    (state / "mail" / "m.eml").write_text("To: someone")
    (state / "mail" / "m.eml").chmod(0o666)
    (state / "hook.sh").write_text("#!/bin/sh")
    (state / "hook.sh").chmod(0o755)
    prepare_state_dir(state)
    assert mode(state) == 0o700 and mode(state / "mail") == 0o700
    assert mode(state / "token-secret") == 0o600 and mode(state / "mail" / "m.eml") == 0o600
    assert mode(state / "hook.sh") == 0o700  # the owner's own bits are kept
    fresh = prepare_state_dir(tmp_path / "new" / "var")
    assert mode(fresh) == 0o700


def test_secrets_are_created_with_their_mode(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With chmod unavailable (it would be the write-then-chmod pattern), every secret the
    product makes is still 0600 from its creation."""

    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("a secret must be created with its mode, not chmod-ed after")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    secret = tmp_path / "s" / "secret"
    write_secret_file(secret, "value")
    assert mode(secret) == 0o600 and secret.read_text() == "value"
    with pytest.raises(FileExistsError):
        write_secret_file(secret, "another")  # never overwritten

    settings = Settings(state_dir=tmp_path / "var", payload_keys=SecretStr(new_payload_key("k1")))
    settings.signing_secrets()
    codec_tokens(settings)
    assert mode(tmp_path / "var" / "token-secret") == 0o600
    assert mode(tmp_path / "var" / "codec-token") == 0o600


@pytest.mark.parametrize("scheme", ["sqlite+aiosqlite", "sqlite", "sqlite+pysqlite"])
async def test_the_sqlite_registry_file_is_owner_only(
    tmp_path: Path, open_umask: None, scheme: str
) -> None:
    state = prepare_state_dir(tmp_path / "var")
    registry = await SqlPartnerRegistry.open(f"{scheme}:///{state / 'registry.db'}")
    try:
        assert await registry.was_message_sent("k") is False
    finally:
        await registry.close()
    written = [p for p in state.iterdir() if p.name.startswith("registry.db")]
    assert written and all(mode(p) == 0o600 for p in written), [
        (p.name, oct(mode(p))) for p in written
    ]
