"""The state folder (CSP_STATE_DIR, `var/`): owner-only. The folder and its sub-folders 0700, its
files 0600; secrets are created with their mode (never written first and chmod-ed after, which
leaves a window in which another user can read them).

`prepare_state_dir` is called by every entry point before anything writes there; it also tightens
a folder left by an older version (group and other permissions removed inside it). The SQLite
registry file is created 0600 too (SQLite gives its -wal and -shm files the database file's
mode)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def prepare_state_dir(folder: Path) -> Path:
    """Create `folder` 0700 (with missing parents), or tighten an existing one: the folder 0700,
    and everything in it loses its group and other permissions (a 0644 file becomes 0600; the
    owner's own bits are kept, so a folder pointed somewhere unusual is not broken). Returns the
    folder."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != FOLDER_MODE:
        folder.chmod(FOLDER_MODE)
    for path in folder.rglob("*"):
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & ~0o077)
    return folder


def create_private_file(path: Path) -> None:
    """An empty file only the owner can read and write (nothing when it already exists)."""
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(descriptor)


def write_secret_file(path: Path, text: str) -> None:
    """Write a new secret, the file created 0600 from its first byte (refuses to overwrite)."""
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


_SQLITE_FILE_URL = re.compile(r"sqlite(\+\w+)?:///(?P<path>.*)", re.DOTALL)


def private_sqlite_file(url: str) -> None:
    """For a SQLite file URL (`sqlite+aiosqlite:///path`, `sqlite:///path`), create the database
    file 0600 before SQLite does (it would use the umask's mode); nothing for other databases or
    memory."""
    match = _SQLITE_FILE_URL.match(url)
    if match is None:
        return
    path = match.group("path").split("?", 1)[0]
    if path and path != ":memory:":
        create_private_file(Path(path))
