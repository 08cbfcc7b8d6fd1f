"""Every activity a workflow can call, one module per group of side effects (mirroring
activities/): its registered name and its input and output types, as an `ActivityRef`.

Workflows call activities only through these references (workflows/pipeline.py); the activity
classes register their methods under the same names; tests/test_worker_registration.py checks that
every reference is registered with matching types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class ActivityRef(Generic[In, Out]):
    name: str
    input: type[In]
    output: type[Out]
    summary_text: str | None = None
    """What the Web UI shows for a call (default: the name in words)."""

    @property
    def summary(self) -> str:
        return self.summary_text or self.name.replace("_", " ").capitalize()
