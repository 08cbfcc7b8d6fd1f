"""The lock: uv.lock pins every package, direct and transitive, for Python 3.11-3.13;
requirements.lock is its export for the pip fallback of scripts/bootstrap.sh. Both must agree with
pyproject.toml and with each other, and the virtualenv running these tests must hold exactly
locked versions. Offline and fast: uv is only asked to compare, never to resolve."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
FIX = "run `scripts/lock` and commit uv.lock, requirements.lock and requirements-runtime.lock"
# What `python -m venv` puts in a virtualenv of the pip fallback; uv's virtualenvs have none.
INSTALLER_TOOLS = {"pip", "setuptools", "wheel"}


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def lock() -> dict[str, Any]:
    with (ROOT / "uv.lock").open("rb") as f:
        return tomllib.load(f)


def locked_versions() -> dict[str, set[str]]:
    versions: dict[str, set[str]] = {}
    for package in lock()["package"]:
        versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    return versions


def find_uv() -> str | None:
    if os.environ.get("UV"):
        return os.environ["UV"]
    tools = sorted((ROOT / ".tools").glob("uv-*/bin/uv"))
    return str(tools[-1]) if tools else shutil.which("uv")


def declared_requirements() -> list[Requirement]:
    project = pyproject()["project"]
    declared = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        declared += [Requirement(r) for r in extra]
    return declared


def test_every_direct_pin_is_the_locked_version() -> None:
    """Without uv: each `name==version` of pyproject.toml is the version in uv.lock."""
    versions = locked_versions()
    assert lock()["requires-python"].replace(" ", "") == (
        pyproject()["project"]["requires-python"].replace(" ", "")
    ), f"requires-python changed: {FIX}"
    stale = []
    for req in declared_requirements():
        pinned = {s.version for s in req.specifier if s.operator == "=="}
        assert pinned, f"{req} is not pinned with == in pyproject.toml"
        if versions.get(canonicalize_name(req.name)) != pinned:
            stale.append(f"{req.name}: pyproject {pinned}, uv.lock {versions.get(req.name)}")
    assert not stale, f"uv.lock is out of date with pyproject.toml ({'; '.join(stale)}): {FIX}"


def test_uv_lock_is_up_to_date() -> None:
    """uv's own check that uv.lock satisfies pyproject.toml (offline, no resolution)."""
    uv = find_uv()
    if uv is None:
        pytest.skip("uv not installed (pip fallback): the pin comparison above still ran")
    done = subprocess.run(
        [uv, "lock", "--check", "--offline", "--python", sys.executable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    assert done.returncode == 0, f"uv.lock is out of date: {FIX}\n{done.stderr}"


def requirement_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]


def test_requirements_lock_is_the_export_of_uv_lock() -> None:
    exported = ROOT / "requirements.lock"
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", exported.read_text(), re.M))
    versions = locked_versions()
    differ = {
        name: version
        for name, version in pins.items()
        if version not in versions.get(canonicalize_name(name), set())
    }
    assert not differ, f"requirements.lock disagrees with uv.lock on {differ}: {FIX}"
    uv = find_uv()
    if uv is None:
        return
    export = ["export", "--quiet", "--frozen", "--offline", "--all-extras", "--no-emit-project"]
    done = subprocess.run(
        [uv, *export, "--format", "requirements-txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert requirement_lines(done.stdout) == requirement_lines(exported.read_text()), (
        f"requirements.lock is not the export of uv.lock: {FIX}"
    )


def test_every_installed_package_is_locked() -> None:
    """The virtualenv running the tests holds only locked versions (uv sync removes the rest)."""
    versions = locked_versions()
    unlocked = set()
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in INSTALLER_TOOLS and name not in versions:
            continue
        if dist.version not in versions.get(name, set()):
            unlocked.add(f"{name}=={dist.version}")
    assert not unlocked, f"installed but not in uv.lock: {sorted(unlocked)}: {FIX}"


def test_requirements_runtime_lock_is_the_export_without_extras() -> None:
    """What the production image installs (Dockerfile): uv.lock's export without any extra."""
    exported = ROOT / "requirements-runtime.lock"
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", exported.read_text(), re.M))
    versions = locked_versions()
    differ = {n: v for n, v in pins.items() if v not in versions.get(canonicalize_name(n), set())}
    assert not differ, f"requirements-runtime.lock disagrees with uv.lock on {differ}: {FIX}"
    uv = find_uv()
    if uv is None:
        return
    export = ["export", "--quiet", "--frozen", "--offline", "--no-emit-project"]
    done = subprocess.run(
        [uv, *export, "--format", "requirements-txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert requirement_lines(done.stdout) == requirement_lines(exported.read_text()), (
        f"requirements-runtime.lock is not the export of uv.lock without extras: {FIX}"
    )
