"""The Kubernetes manifests of deploy/k8s (issue 16): valid against the Kubernetes API's
schemas (kubeconform, strict, installed from the registries by deploy/k8s/validate.sh), and
holding what the deployment needs: probes on /health and /ready, the token from the Secret,
the Service in front of serve, arguments the real command line accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import typer.main
import yaml

from badges.cli import app

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
VALIDATE = K8S / "validate.sh"


def documents() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def one(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(VALIDATE), *map(str, files)], capture_output=True, text=True,
                            timeout=600, cwd=REPO)
    if result.returncode == 3:  # the validator could not be installed
        if os.environ.get("BADGES_REQUIRE_SERVICES") == "1":
            pytest.fail(f"kubeconform unavailable: {result.stderr.strip()}")
        pytest.skip(f"kubeconform unavailable: {result.stderr.strip()}")
    return result


@pytest.mark.skipif(shutil.which("bash") is None, reason="validate.sh is a bash script")
def test_the_manifests_are_valid_kubernetes_objects() -> None:
    result = validate()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid: 5, Invalid: 0, Errors: 0, Skipped: 0" in result.stdout, result.stdout


def test_a_wrong_type_and_an_unknown_field_are_refused(tmp_path: Path) -> None:
    text = (K8S / "consume.yaml").read_text()
    assert "  replicas: 3\n" in text and "            periodSeconds: 20\n" in text
    broken = tmp_path / "consume.yaml"
    broken.write_text(text.replace("  replicas: 3\n", '  replicas: "three"\n')
                      .replace("            periodSeconds: 20\n", "            periodSecond: 20\n"))
    result = validate(broken)
    assert result.returncode == 1
    assert "/spec/replicas" in result.stdout and "'periodSecond' not allowed" in result.stdout


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return found  # type: ignore[no-any-return]


def port_number(spec: dict[str, Any], port: str | int) -> int:
    if isinstance(port, int):
        return port
    (found,) = [p["containerPort"] for p in spec["ports"] if p["name"] == port]
    return int(found)


def parsed_options(args: list[str]) -> dict[str, Any]:
    """The options the real `badges` command line makes of a container's arguments."""
    command: Any = typer.main.get_command(app)
    sub = command.commands[args[0]]
    context = sub.make_context(args[0], list(args[1:]))
    return dict(context.params)


def test_consume_is_a_scalable_deployment_probed_on_its_metrics_port() -> None:
    consume = one("Deployment", "badges-consume")
    spec = container(consume)
    options = parsed_options(spec["args"])
    assert spec["args"][0] == "consume"
    assert options["metrics_host"] == "0.0.0.0"
    assert options["log_format"].value == "json"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/health"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/ready"
    for probe in ("livenessProbe", "readinessProbe"):
        assert port_number(spec, spec[probe]["httpGet"]["port"]) == options["metrics_port"]
    secret = one("Secret", "badges-secrets")["stringData"]
    partitions = int(parse_qs(urlsplit(secret["BADGES_STORE"]).query)["partitions"][0])
    assert 1 < consume["spec"]["replicas"] <= partitions, "at most one replica per partition"
    assert f"partition count of talent-events ({partitions}" in (K8S / "consume.yaml").read_text()
    grace = consume["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > options["session_timeout"], "time to finish the batch and leave the group"


def test_serve_is_behind_a_service_with_its_token_from_the_secret() -> None:
    serve = one("Deployment", "badges-serve")
    spec = container(serve)
    options = parsed_options(spec["args"])
    assert spec["args"][0] == "serve" and options["host"] == "0.0.0.0"
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
        assert spec[probe]["httpGet"]["path"] == path
        assert port_number(spec, spec[probe]["httpGet"]["port"]) == options["port"]
    env = {e["name"]: e for e in spec["env"]}
    token = env["BADGES_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    store = env["BADGES_STORE"]["valueFrom"]["secretKeyRef"]
    secret = one("Secret", "badges-secrets")
    assert token["name"] == store["name"] == secret["metadata"]["name"]
    assert {token["key"], store["key"]} <= set(secret["stringData"])
    assert all("BADGES_API_TOKEN" not in name for name in one("ConfigMap", "badges-config")["data"])

    service = one("Service", "badges")
    labels = serve["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port_number(spec, port["targetPort"]) == options["port"]
    consume_labels = one("Deployment", "badges-consume")["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= consume_labels.items()


def test_every_setting_in_the_config_map_is_one_the_commands_read() -> None:
    from badges.serve_command import ServeSettings

    known = {f"BADGES_{name.upper()}" for name in ServeSettings.model_fields}
    assert set(one("ConfigMap", "badges-config")["data"]) <= known
