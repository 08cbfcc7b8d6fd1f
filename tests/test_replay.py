"""Replay: every history saved in `tests/histories/` (recorded from real runs by
`tests/record_histories.py`) is replayed with the production data converter, the production
workflow list and the worker's sandbox. A workflow change that would break running pipelines fails
here; two deliberately changed copies of the enrollment workflow prove that the check catches it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payloads
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, WorkflowInstanceDetails, WorkflowReplayResult
from temporalio.worker.workflow_sandbox._runner import _fake_info

from contract import names
from domain.reseller_enrollment import EnrollmentStage
from runtime.temporal_client import DATA_CONVERTER
from tests.replay_changes import ChecksTheMpaEarly, SkipsTheRegistryLookup
from worker import (
    SHARED_WORKFLOW_MODULES,
    WORKFLOW_FAILURE_EXCEPTION_TYPES,
    WORKFLOWS,
    workflow_runner,
)
from workflows.email_verification import EmailVerificationWorkflow
from workflows.reseller_enrollment import ResellerEnrollmentWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
SAVED = sorted(HISTORIES.glob("*.json"))


def load_history(path: Path) -> WorkflowHistory:
    """A history as `WorkflowHistory.to_json()`, the Web UI or `temporal workflow show -o json`
    exports it; the workflow id comes from the start event (the file name where it is absent)."""
    data = json.loads(path.read_text())
    started = data["events"][0].get("workflowExecutionStartedEventAttributes", {})
    return WorkflowHistory.from_json(started.get("workflowId") or path.stem, data)


def replayer(workflows: Sequence[type] = WORKFLOWS) -> Replayer:
    """A replayer configured as the production worker is, except that the workflow modules the
    worker shares between instances are imported into each sandbox, so that every saved history
    also runs them under the sandbox's checks."""
    return Replayer(
        workflows=workflows,
        data_converter=DATA_CONVERTER,
        workflow_runner=workflow_runner(shared_modules=()),
        workflow_failure_exception_types=WORKFLOW_FAILURE_EXCEPTION_TYPES,
    )


async def _replay(path: Path, workflows: Sequence[type] = WORKFLOWS) -> WorkflowReplayResult:
    return await replayer(workflows).replay_workflow(
        load_history(path), raise_on_replay_failure=False
    )


@pytest.mark.parametrize("path", SAVED, ids=lambda path: path.stem)
async def test_saved_history_replays(path: Path) -> None:
    result = await _replay(path)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"


def test_the_enrollment_outcomes_have_histories() -> None:
    """The recorded scenarios stay in the folder (adding more is welcome, losing one is not)."""
    kept = {path.name for path in SAVED}
    for scenario in ("active", "abandoned", "withdrawn"):
        for workflow_type in (names.RESELLER_ENROLLMENT, names.EMAIL_VERIFICATION):
            assert f"{workflow_type}.{scenario}.json" in kept
    # The saved runs end as their names say, so each replays the path it is named after.
    for scenario in ("active", "abandoned", "withdrawn"):
        history = load_history(HISTORIES / f"{names.RESELLER_ENROLLMENT}.{scenario}.json")
        last = history.events[-1]
        assert last.HasField("workflow_execution_completed_event_attributes")
        [payload] = last.workflow_execution_completed_event_attributes.result.payloads
        assert json.loads(payload.data)["outcome"] == EnrollmentStage(scenario).value


@pytest.mark.parametrize(
    "changed", [SkipsTheRegistryLookup, ChecksTheMpaEarly], ids=lambda c: c.__name__
)
async def test_a_changed_workflow_is_reported_as_non_deterministic(changed: type) -> None:
    path = HISTORIES / f"{names.RESELLER_ENROLLMENT}.active.json"
    result = await _replay(path, [changed, EmailVerificationWorkflow])
    assert isinstance(result.replay_failure, workflow.NondeterminismError), result.replay_failure
    # The same history with the released definition is fine (the failure is the change's).
    assert (
        await _replay(path, [ResellerEnrollmentWorkflow, EmailVerificationWorkflow])
    ).replay_failure is None


def _sandboxed_enrollment_class(shared_modules: tuple[str, ...]) -> Any:
    """The enrollment workflow class as a fresh sandbox instance of the worker's runner holds it
    (the SDK keeps the class in the instance's globals: `_Instance.globals_and_locals`)."""
    instance = workflow_runner(shared_modules=shared_modules).create_instance(
        WorkflowInstanceDetails(
            payload_converter_factory=DATA_CONVERTER.payload_converter_class,
            failure_converter_class=DATA_CONVERTER.failure_converter_class,
            interceptor_classes=[],
            defn=workflow._Definition.must_from_class(ResellerEnrollmentWorkflow),
            info=_fake_info,  # the SDK's own placeholder for instances it only validates
            randomness_seed=1,
            extern_functions={},
            disable_eager_activity_execution=False,
            worker_level_failure_exception_types=WORKFLOW_FAILURE_EXCEPTION_TYPES,
            patch_activation_callback=None,
            last_completion_result=Payloads(),
            last_failure=None,
        )
    )
    return instance.globals_and_locals["__temporal_workflow_class"]  # type: ignore[attr-defined]


def test_every_workflow_type_has_a_saved_history_to_replay_under_all_checks() -> None:
    """The worker (and the test stack) pass the workflow modules through the sandbox, which skips
    its checks on module members; a saved history of each workflow type runs them here with
    the modules imported into the sandbox, so a `datetime.now()` in any workflow fails a test."""
    saved = {
        load_history(path).events[0].workflow_execution_started_event_attributes.workflow_type.name
        for path in SAVED
    }
    registered = {workflow._Definition.must_from_class(cls).name for cls in WORKFLOWS}
    assert registered - saved == set(), "record a history: python -m tests.record_histories"


async def test_the_worker_shares_its_workflow_modules_and_the_replay_tests_do_not() -> None:
    """The worker imports the workflow modules once for all its workflow instances; the replay
    tests import them into each sandbox, under the sandbox's checks."""
    import workflows.pipeline

    shared = _sandboxed_enrollment_class(SHARED_WORKFLOW_MODULES)
    isolated = _sandboxed_enrollment_class(())
    assert shared is ResellerEnrollmentWorkflow
    assert isolated is not ResellerEnrollmentWorkflow
    assert isolated.run.__globals__["pipeline"] is not workflows.pipeline
