"""deploy/kubernetes checked statically: `kubectl kustomize` renders it, every manifest
validates against the Kubernetes schemas kubernetes-validate ships (offline), and the
rendered objects keep docs/deploy.md's rules (security context, probes, ports, policy)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from authgate.config import load_settings
from tests.unit.deploy_support import DEPLOY

BASE = DEPLOY / "kubernetes"
KUBERNETES_VERSION = "1.32.0"
"""The schemas every manifest is validated against (kubernetes-validate ships them)."""
INGRESS_NAMESPACE = "ingress-nginx"
PUBLIC_PORT, ADMIN_PORT = 8080, 8081
NOT_MANIFESTS = {"kustomization.yaml", "authgate.yaml"}
KUBECTL = shutil.which("kubectl")


@pytest.fixture(autouse=True)
def no_authgate_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No AUTHGATE_* variable of the machine running the tests changes what a file says."""
    for name in list(os.environ):
        if name.startswith("AUTHGATE_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` cannot render the base")
    result = subprocess.run(
        [KUBECTL, "kustomize", str(BASE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    return found


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def port_number(container: dict[str, Any], port: int | str) -> int:
    """A container port by number or by name."""
    for declared in container["ports"]:
        if port in (declared["containerPort"], declared["name"]):
            return int(declared["containerPort"])
    raise AssertionError(f"no port {port!r}")


def test_every_manifest_file_validates_against_the_kubernetes_schemas() -> None:
    files = sorted(p for p in BASE.glob("*.yaml") if p.name not in NOT_MANIFESTS)
    assert len(files) >= 6
    for path in files:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_an_unknown_field_fails_the_schema_validation() -> None:
    deployment = yaml.safe_load((BASE / "deployment.yaml").read_text(encoding="utf-8"))
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomize_renders_only_valid_manifests(rendered: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in rendered)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Job",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Service",
            "Service",
        ]
    )
    for document in rendered:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_no_secret_value_is_rendered(rendered: list[dict[str, Any]]) -> None:
    assert not [o for o in rendered if o["kind"] == "Secret"]
    for workload in (one(rendered, "Deployment"), one(rendered, "Job")):
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "authgate-secrets"
        for container in pod_spec(workload)["containers"]:
            assert not container.get("envFrom")
            assert all(
                "value" not in e or "secret" not in e["name"].lower()
                for e in container.get("env", [])
            )


def test_the_configmap_is_authgates_config_and_reads_secrets_from_the_mount(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    config = one(rendered, "ConfigMap")
    path = tmp_path / "authgate.yaml"
    path.write_text(config["data"]["authgate.yaml"], encoding="utf-8")
    settings = load_settings(path)
    (container,) = pod_spec(one(rendered, "Deployment"))["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"] == ["serve", "--config", f"{mounts['config']}/authgate.yaml"]
    volumes = {v["name"]: v for v in pod_spec(one(rendered, "Deployment"))["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config["metadata"]["name"]
    for reference in (
        settings.database.url,
        settings.secrets.key_encryption_key,
        settings.admin.token,
    ):
        assert reference.startswith(f"file:{mounts['secrets']}/"), reference
    assert settings.data_dir.is_relative_to(mounts["data"])
    assert settings.public.listen.endswith(f":{PUBLIC_PORT}")
    assert settings.admin.listen.endswith(f":{ADMIN_PORT}")


def test_deployment_runs_two_replicas_with_probes_and_resources(
    rendered: list[dict[str, Any]],
) -> None:
    deployment = one(rendered, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    (container,) = pod_spec(deployment)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_pods_run_non_root_read_only_without_privileges(
    rendered: list[dict[str, Any]], kind: str
) -> None:
    spec = pod_spec(one(rendered, kind))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] >= 1000
    assert spec["automountServiceAccountToken"] is False
    for container in spec.get("initContainers", []) + spec["containers"]:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert not context["capabilities"].get("add")
        assert context["seccompProfile"]["type"] == "RuntimeDefault"
        assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}


def test_migration_job_runs_authgate_migrate(rendered: list[dict[str, Any]]) -> None:
    (container,) = pod_spec(one(rendered, "Job"))["containers"]
    assert container["args"][0] == "migrate"
    assert container["image"] == pod_spec(one(rendered, "Deployment"))["containers"][0]["image"]


def test_the_public_service_exposes_only_the_public_port(rendered: list[dict[str, Any]]) -> None:
    (container,) = pod_spec(one(rendered, "Deployment"))["containers"]
    public = one(rendered, "Service", "authgate")
    assert [port_number(container, p["targetPort"]) for p in public["spec"]["ports"]] == [
        PUBLIC_PORT
    ]
    admin = one(rendered, "Service", "authgate-admin")
    assert admin["spec"]["type"] == "ClusterIP"
    assert [port_number(container, p["targetPort"]) for p in admin["spec"]["ports"]] == [ADMIN_PORT]


def test_disruption_budget_and_autoscaler_keep_two_replicas(
    rendered: list[dict[str, Any]],
) -> None:
    deployment = one(rendered, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    budget = one(rendered, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    autoscaler = one(rendered, "HorizontalPodAutoscaler")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    target = autoscaler["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert autoscaler["spec"]["minReplicas"] >= 2


def test_network_policy_admits_the_ingress_to_the_public_port_only(
    rendered: list[dict[str, Any]],
) -> None:
    deployment = one(rendered, "Deployment")
    (container,) = pod_spec(deployment)["containers"]
    policy = one(rendered, "NetworkPolicy")["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    reaching: dict[int, list[dict[str, Any]]] = {}
    for rule in policy["ingress"]:
        assert rule.get("from") and rule.get("ports"), "a rule without peers or ports admits all"
        for port in rule["ports"]:
            reaching.setdefault(port_number(container, port["port"]), []).extend(rule["from"])
    assert set(reaching) == {PUBLIC_PORT, ADMIN_PORT}
    ingress = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}
    }
    assert ingress in reaching[PUBLIC_PORT]
    for peer in reaching[PUBLIC_PORT]:
        assert peer == ingress or set(peer) == {"podSelector"}, peer


def test_network_policy_keeps_the_admin_port_inside_the_namespace(
    rendered: list[dict[str, Any]],
) -> None:
    (container,) = pod_spec(one(rendered, "Deployment"))["containers"]
    for rule in one(rendered, "NetworkPolicy")["spec"]["ingress"]:
        if ADMIN_PORT in {port_number(container, p["port"]) for p in rule["ports"]}:
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, peer
