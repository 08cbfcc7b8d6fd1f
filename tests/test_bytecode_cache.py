"""The worker keeps compiled bytecode out of the source tree when its Python writes none
(runtime/bytecode_cache.py): the workflow sandbox then reuses it for every workflow instance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROBE = """
import sys
from pathlib import Path
from runtime.bytecode_cache import keep_bytecode
sys.path.insert(0, sys.argv[2])
print(keep_bytecode(Path(sys.argv[1])))
import probe_module
"""


def test_a_python_told_not_to_write_bytecode_caches_it_in_the_state_folder(
    tmp_path: Path,
) -> None:
    sources = tmp_path / "src"
    sources.mkdir()
    (sources / "probe_module.py").write_text("VALUE = 1\n")
    state = tmp_path / "state"
    done = subprocess.run(
        [sys.executable, "-B", "-c", _PROBE, str(state), str(sources)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip() == str(state / "pycache")
    assert list((state / "pycache").rglob("probe_module*.pyc"))
    assert not (sources / "__pycache__").exists()  # never beside the sources


def test_a_python_that_writes_bytecode_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "probe_module.py").write_text("")
    # A plain Python (no -B, no PYTHONDONTWRITEBYTECODE) keeps its own setting.
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "state"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.stdout.strip() == "None"
    assert not (tmp_path / "state").exists()
