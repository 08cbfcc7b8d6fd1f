"""The Kubernetes manifests (deploy/k8s): each overlay rendered by Kustomize (`kubectl kustomize`,
Debian package kubectl) and every resource validated against the Kubernetes schemas
(kubernetes-validate), then checked against the code: commands that exist, settings the product
reads, probes on the ports it serves, a shutdown grace that fits, selectors that select."""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from runtime.secret_files import secret_variables
from runtime.settings import Settings
from runtime.temporal_profile import connection_target

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
KUBERNETES_VERSION = "1.33.0"

Resource = dict[str, Any]


def render(overlay: str) -> list[Resource]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl not found: apt-get install kubectl (it renders Kustomize)")
    done = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module", params=["self-hosted", "temporal-cloud"])
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    return request.param, render(request.param)


def by_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def only(resources: list[Resource], kind: str, prefix: str) -> Resource:
    [found] = [r for name, r in by_kind(resources, kind).items() if name.startswith(prefix)]
    return found


def container(workload: Resource) -> Resource:
    pod = workload["spec"]["template"]["spec"]
    first: Resource = pod["containers"][0]
    return first


def environment(resources: list[Resource], workload: Resource) -> dict[str, str]:
    """The container's environment: the ConfigMaps it loads, then its own variables."""
    env: dict[str, str] = {}
    for source in container(workload).get("envFrom", []):
        config = by_kind(resources, "ConfigMap")[source["configMapRef"]["name"]]
        env.update(config["data"])
    env.update({e["name"]: e["value"] for e in container(workload).get("env", []) if "value" in e})
    return env


def test_every_rendered_resource_validates(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    assert len(resources) >= 10
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    kinds = {r["kind"] for r in resources}
    assert {
        "Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget",
        "Job", "ConfigMap", "Namespace", "ServiceAccount",
    } <= kinds  # fmt: skip
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {
        "csp-enrollment"
    }


def test_the_validator_refuses_a_broken_manifest(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    broken = copy.deepcopy(by_kind(resources, "Deployment")["csp-worker"])
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    unknown = copy.deepcopy(by_kind(resources, "Deployment")["csp-worker"])
    unknown["spec"]["replicaz"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES_VERSION, strict=True)


def test_commands_run_modules_of_the_image(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    workloads = [*by_kind(resources, "Deployment").values(), *by_kind(resources, "Job").values()]
    for workload in workloads:
        command = container(workload)["command"]
        if command[0] != "python":
            continue
        if command[1] == "-m":
            assert importlib.util.find_spec(command[2]) is not None, command
        else:
            assert (ROOT / command[1]).is_file(), command


def test_settings_are_ones_the_product_reads(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    fields = set(Settings.model_fields)
    file_variables = {
        f"{variable}_FILE" for names in secret_variables(Settings).values() for variable in names
    }
    temporal = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TLS_SERVER_NAME"}
    for workload in by_kind(resources, "Deployment").values():
        env = environment(resources, workload)
        for variable in env:
            if variable in file_variables or variable in temporal:
                continue
            assert variable.startswith("CSP_"), variable
            assert variable.removeprefix("CSP_").lower() in fields, variable
        # Secrets are files of the mounted Secret, never plain values.
        mounts = {m["mountPath"] for m in container(workload)["volumeMounts"]}
        for variable, value in env.items():
            if variable.endswith("_FILE"):
                assert any(value.startswith(m + "/") for m in mounts), variable
        secret_names = {name.upper() for name in secret_variables(Settings)}
        assert not any(v.removeprefix("CSP_") in secret_names for v in env), env


def test_worker_probes_shutdown_and_scaling(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    worker = by_kind(resources, "Deployment")["csp-worker"]
    env = environment(resources, worker)
    ports = {p["name"]: p["containerPort"] for p in container(worker)["ports"]}
    assert env["CSP_HEALTH_BIND"] == f"0.0.0.0:{ports['health']}"
    assert env["CSP_METRICS_BIND"] == f"0.0.0.0:{ports['metrics']}"
    spec = container(worker)
    assert spec["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["readinessProbe"]["httpGet"]["port"] == "health"
    assert spec["resources"]["requests"]["cpu"] and spec["resources"]["requests"]["memory"]
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert 0 < float(env["CSP_WORKER_SHUTDOWN_SECONDS"]) < grace
    labels = worker["spec"]["template"]["metadata"]["labels"]
    hpa = by_kind(resources, "HorizontalPodAutoscaler")["csp-worker"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "csp-worker"
    }  # fmt: skip
    for pdb in by_kind(resources, "PodDisruptionBudget").values():
        selector = pdb["spec"]["selector"]["matchLabels"]
        targets = [
            d
            for d in by_kind(resources, "Deployment").values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(targets) == 1, pdb["metadata"]["name"]
    assert labels["app.kubernetes.io/name"] == "csp-worker"


def test_gateway_service_and_ingress_reach_its_pods(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    gateway = by_kind(resources, "Deployment")["csp-gateway"]
    env = environment(resources, gateway)
    ports = {p["name"]: p["containerPort"] for p in container(gateway)["ports"]}
    assert int(env["CSP_GATEWAY_PORT"]) == ports["http"]
    assert env["CSP_GATEWAY_HOST"] == "0.0.0.0"
    assert container(gateway)["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = by_kind(resources, "Service")["csp-gateway"]
    pod_labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] == "http"
    ingress = by_kind(resources, "Ingress")["csp-gateway"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "csp-gateway", "port": {"name": service_port["name"]}}


def test_self_hosted_runs_the_temporal_schema_job() -> None:
    resources = render("self-hosted")
    jobs = by_kind(resources, "Job")
    assert set(jobs) == {"csp-registry-migrate", "csp-search-attributes", "temporal-schema"}
    schema = jobs["temporal-schema"]
    assert container(schema)["image"].startswith("temporalio/admin-tools:")
    scripts = only(resources, "ConfigMap", "temporal-setup-schema")
    assert (
        scripts["data"]["setup-schema.sh"]
        == (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    )
    assert container(schema)["command"] == ["sh", "/scripts/setup-schema.sh"]
    worker = by_kind(resources, "Deployment")["csp-worker"]
    assert environment(resources, worker)["TEMPORAL_ADDRESS"].startswith("temporal-frontend.")


def test_temporal_cloud_connects_with_tls_server_name_and_api_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resources = render("temporal-cloud")
    assert "csp-search-attributes" not in by_kind(resources, "Job")
    assert "temporal-schema" not in by_kind(resources, "Job")
    worker = by_kind(resources, "Deployment")["csp-worker"]
    env = environment(resources, worker)
    mounts = {m["name"]: m["mountPath"] for m in container(worker)["volumeMounts"]}
    volumes = {v["name"]: v for v in worker["spec"]["template"]["spec"]["volumes"]}
    assert volumes["temporal-cloud"]["secret"]["secretName"] == "temporal-cloud"
    assert env["TEMPORAL_API_KEY_FILE"].startswith(mounts["temporal-cloud"] + "/")
    # The settings and connection the worker makes from this environment (files mapped here).
    (tmp_path / "api-key").write_text("cloud-api-key\n")
    for variable in [v for v in os.environ if v.startswith(("CSP_", "TEMPORAL_"))]:
        monkeypatch.delenv(variable)
    for variable, value in env.items():
        if variable.endswith("_FILE"):
            continue
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("TEMPORAL_API_KEY_FILE", str(tmp_path / "api-key"))
    settings = Settings()
    target = connection_target(settings, "127.0.0.1:7233")
    assert target.address == env["TEMPORAL_ADDRESS"]
    assert target.namespace == env["TEMPORAL_NAMESPACE"]
    assert target.api_key == "cloud-api-key"
    assert not isinstance(target.tls, bool)
    assert target.tls.domain == env["TEMPORAL_TLS_SERVER_NAME"]
