"""OpenTelemetry tracing: one reseller enrollment is one trace, a single tree from the client's
StartWorkflow through the workflow, its child, every activity and the Partner Center / Graph
HTTP calls (tests/tracing_scenario.py, its own process, with an in-memory exporter). Off unless
CSP_OTLP_ENDPOINT is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from runtime.settings import Settings
from runtime.tracing import client_interceptors, configure_tracing, otlp_traces_url

ROOT = Path(__file__).resolve().parent.parent

Span = dict[str, Any]


def run_scenario(dev_env: WorkflowEnvironment, state: Path) -> list[Span]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "TEMPORAL_"))}
    done = subprocess.run(
        [
            sys.executable, "-m", "tests.tracing_scenario",
            dev_env.client.service_client.config.target_host, str(state),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    spans: list[Span] = json.loads(done.stdout.strip().splitlines()[-1])
    return spans


def ancestors(span: Span, by_id: dict[str, Span]) -> list[str]:
    names = []
    while span["parent_id"] is not None:
        span = by_id[span["parent_id"]]
        names.append(span["name"])
    return names


async def test_one_enrollment_is_one_trace_from_client_to_partner_center(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    spans = run_scenario(dev_env, tmp_path)
    [root] = [s for s in spans if s["name"] == "StartWorkflow:ResellerEnrollment"]
    assert root["parent_id"] is None and root["kind"] == "CLIENT"
    tree = [s for s in spans if s["trace_id"] == root["trace_id"]]
    by_id = {s["span_id"]: s for s in tree}
    # A closed tree: every span's parent is in the trace, and every path ends at the root.
    for span in tree:
        assert span is root or span["parent_id"] in by_id, span
        assert span is root or ancestors(span, by_id)[-1] == root["name"], span
    names = {s["name"] for s in tree}
    assert {
        "RunWorkflow:ResellerEnrollment",
        "StartChildWorkflow:EmailVerification",
        "RunWorkflow:EmailVerification",
        "RunActivity:send_verification_link",
        "RunActivity:verify_partner_id",
        "RunActivity:check_tenant_admin",
        "RunActivity:ensure_admin_agent",
        "RunActivity:check_agreement_status",
        "CompleteWorkflow:ResellerEnrollment",
    } <= names
    # Outgoing HTTP: each call sits under the activity that made it.
    http = [s for s in tree if "http.url" in s["attributes"]]
    assert http
    for call in http:
        assert call["kind"] == "CLIENT"
        assert by_id[call["parent_id"]]["name"].startswith("RunActivity:")

    def under(activity: str, path: str) -> bool:
        return any(
            path in c["attributes"]["http.url"]
            and by_id[c["parent_id"]]["name"] == f"RunActivity:{activity}"
            for c in http
        )

    assert under("verify_partner_id", "/v1/profiles/mpn")
    assert under("check_tenant_admin", "/v1.0/organization")
    assert under("ensure_admin_agent", "/members")
    assert under("check_agreement_status", "/v1/compliance/csp/agreementstatus")
    # The workflow's activities hang under the workflow's run, the child's under the child.
    [verify] = [s for s in tree if s["name"] == "RunActivity:verify_partner_id"]
    assert "StartWorkflow:ResellerEnrollment" in ancestors(verify, by_id)
    [link] = [s for s in tree if s["name"] == "RunActivity:send_verification_link"]
    assert "StartChildWorkflow:EmailVerification" in ancestors(link, by_id)


def test_tracing_is_off_unless_an_endpoint_is_set() -> None:
    assert Settings().otlp_endpoint is None or "CSP_OTLP_ENDPOINT" in os.environ
    assert configure_tracing("csp-test", None) is None
    assert client_interceptors() == []
    assert otlp_traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert otlp_traces_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"
