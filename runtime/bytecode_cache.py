"""Cached bytecode for the workflow sandbox.

The sandbox imports every workflow module afresh for each workflow instance it creates. With no
bytecode cached (`PYTHONDONTWRITEBYTECODE`, or a source tree the worker may not write to) each of
those imports compiles the source again: 21% of the worker's CPU in the pipeline benchmark
(py-spy, issue 17). The image compiles its sources when it is built (Dockerfile); a worker whose
Python was told not to write bytecode keeps it in its own state folder instead, never beside
the sources.
"""

from __future__ import annotations

import sys
from pathlib import Path


def keep_bytecode(state_dir: Path) -> Path | None:
    """When this Python writes no bytecode, write it under `state_dir/pycache` (Python's
    `pycache_prefix`) for this process. Returns that folder, or None when nothing changed."""
    if not sys.dont_write_bytecode:
        return None
    folder = state_dir / "pycache"
    folder.mkdir(parents=True, exist_ok=True)
    sys.pycache_prefix = str(folder)
    sys.dont_write_bytecode = False
    return folder
