"""deploy/: the Dockerfile and Kubernetes manifests are valid (YAML lint, Kubernetes schemas) and consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is in the test extra")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"

# The KServe CRDs are not in the Kubernetes schemas: the fields a runtime needs, as JSON Schema
# (from the ServingRuntimeSpec of serving.kserve.io/v1alpha1).
CLUSTER_SERVING_RUNTIME = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1alpha1"},
        "kind": {"const": "ClusterServingRuntime"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["supportedModelFormats", "protocolVersions", "containers"],
            "additionalProperties": False,
            "properties": {
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                "supportedModelFormats": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["name"], "additionalProperties": False,
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                   "autoSelect": {"type": "boolean"}, "priority": {"type": "integer", "minimum": 1}}}},
                "protocolVersions": {"type": "array", "items": {"enum": ["v1", "v2", "grpc-v1", "grpc-v2"]}},
                "containers": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["name", "image"]}},
                "multiModel": {"type": "boolean"},
                "disabled": {"type": "boolean"},
            },
        },
    },
}


def _documents():
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                yield path, doc


def test_manifests_pass_yamllint():
    linter = pytest.importorskip("yamllint.linter", reason="yamllint is in the test extra")
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig("extends: default\nrules:\n  line-length: {max: 130}\n  document-start: disable\n"
                            "  comments: {min-spaces-from-content: 1}\n  truthy: {check-keys: false}\n")
    problems = [f"{p.name}:{e.line}: {e.message}" for p in MANIFESTS for e in linter.run(p.read_text(), config)]
    assert not problems, problems


def test_kubernetes_objects_match_their_schemas():
    validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is in the test extra")
    kinds = set()
    for path, doc in _documents():
        if doc["apiVersion"].startswith("serving.kserve.io/"):
            continue
        validate.validate(doc, KUBERNETES_VERSION, strict=True)
        kinds.add(doc["kind"])
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds


def test_kserve_runtime_declares_the_formats_and_v2():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is installed with the test extra")
    runtimes = [doc for _, doc in _documents() if doc["kind"] == "ClusterServingRuntime"]
    assert len(runtimes) == 1
    runtime = runtimes[0]
    jsonschema.validate(runtime, CLUSTER_SERVING_RUNTIME)
    spec = runtime["spec"]
    assert {f["name"] for f in spec["supportedModelFormats"]} >= {"pmml", "xgboost", "lightgbm"}
    assert spec["protocolVersions"] == ["v2"]
    args = spec["containers"][0]["args"]
    assert args[:2] == ["serve", "/mnt/models"] and "--model-name={{.Name}}" in args
    assert any(c["containerPort"] == 8080 for c in spec["containers"][0]["ports"])


def test_deployment_probes_the_v2_health_endpoints():
    (deployment,) = [doc for _, doc in _documents() if doc["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["args"][:2] == ["serve", "/mnt/models"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    (service,) = [doc for _, doc in _documents() if doc["kind"] == "Service"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (hpa,) = [doc for _, doc in _documents() if doc["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_the_cli_accepts_the_manifests_arguments():
    """The args the manifests pass are options `quickscore serve` really has."""
    from click.testing import CliRunner

    from quickscore.cli import cli

    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    for _, doc in _documents():
        spec = doc.get("spec", {})
        containers = spec.get("containers") or spec.get("template", {}).get("spec", {}).get("containers", [])
        for container in containers:
            for arg in container.get("args", []):
                if arg.startswith("--"):
                    assert arg.split("=")[0] in help_text, arg


def test_dockerfile_runs_as_non_root_with_models_and_health_check():
    text = (DEPLOY / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in re.sub(r"\\\n", " ", text).splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    by_name: dict[str, list[str]] = {}
    for name, *rest in instructions:
        by_name.setdefault(name.upper(), []).append(rest[0] if rest else "")
    assert by_name["FROM"] and all(i[0].upper() in {"FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "EXPOSE", "VOLUME",
                                                     "HEALTHCHECK", "ENTRYPOINT", "CMD"} for i in instructions)
    user = by_name["USER"][-1].split(":")[0]
    assert user not in ("root", "0")
    assert "/v2/health/ready" in by_name["HEALTHCHECK"][-1]
    assert "/mnt/models" in by_name["CMD"][-1] and "/mnt/models" in by_name["VOLUME"][-1]
    assert "8080" in by_name["EXPOSE"][-1]
    assert '"quickscore[serve]"' in text
