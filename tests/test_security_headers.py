"""Hardening (#18): the headers every page is served with, cookies and HTTPS behind TLS, and
`manage.py check --deploy` clean with the production settings the Kubernetes ConfigMap sets."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parent.parent
CONFIGMAP = ROOT / "deploy" / "k8s" / "base" / "configmap.yaml"
PAGES = ["/console/login/", "/admin/login/", "/widget/demo/", "/console/", "/admin/"]


def _csp(value: str) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in value.split(";") if part.strip())
    return {name: rest for name, rest in directives}


@pytest.mark.django_db
def test_pages_carry_a_strict_csp_and_the_other_headers() -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
    for path in [*PAGES, "/admin/support/conversation/"]:
        response = client.get(path)
        assert response.status_code in (200, 302), path
        policy = _csp(response["Content-Security-Policy"])
        assert "unsafe-inline" not in response["Content-Security-Policy"], path
        assert "unsafe-eval" not in response["Content-Security-Policy"], path
        assert policy["script-src"] == policy["style-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["object-src"] == "'none'", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["X-Frame-Options"] == "DENY", path


@pytest.mark.django_db
def test_debugs_error_pages_stay_readable(client: Client) -> None:
    with override_settings(DEBUG=True):
        technical = client.get("/no-such-page/")
    assert technical.status_code == 404 and "<style" in technical.content.decode()
    assert "Content-Security-Policy" not in technical  # it styles itself inline
    assert "Content-Security-Policy" in client.get("/no-such-page/")  # not without DEBUG


def test_the_widget_script_stays_loadable_from_other_sites(client: Client) -> None:
    response = client.get("/static/widget.js")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "javascript" in response["Content-Type"]  # nosniff needs the right type


# What HTTPS_ONLY=1 sets (checked against the real settings module below).
BEHIND_TLS = {
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
}


@pytest.mark.django_db
@override_settings(**BEHIND_TLS)
def test_behind_tls_http_is_redirected_but_probes_are_not(agent_user: User) -> None:
    client = Client()
    response = client.get("/console/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/console/login/"
    assert "Strict-Transport-Security" not in response  # never over plain HTTP
    for probe in ("/healthz?only=", "/metrics"):
        assert client.get(probe).status_code == 200, probe

    page = client.get("/console/login/", secure=True)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    logged_in = client.post(
        "/console/login/", {"username": "agnes", "password": "pw-agnes-123"}, secure=True
    )
    assert logged_in.status_code == 302
    for name in ("sessionid", "csrftoken"):
        cookie = logged_in.cookies[name] if name in logged_in.cookies else page.cookies[name]
        assert cookie["secure"] is True, name
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name


def _settings_under(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    """The settings module's values with `env`, in a fresh process (settings read env once)."""
    names = [*BEHIND_TLS, "SECURE_HSTS_PRELOAD", "DEBUG"]
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_environment(env, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _environment(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "resolver.settings",
        # The running servers: settings start no embedded ones, and check --deploy queries none.
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        **env,
        "RESOLVER_DATA_DIR": str(tmp_path),  # the ConfigMap's /data is not ours to write here
    }


def _production_env() -> dict[str, str]:
    """The Kubernetes ConfigMap's settings and a real-looking secret key (the Secret's)."""
    config = yaml.safe_load(CONFIGMAP.read_text())["data"]
    return {**{k: str(v) for k, v in config.items()}, "SECRET_KEY": secrets.token_urlsafe(64)}


def test_https_only_sets_secure_cookies_redirect_and_hsts(tmp_path: Path) -> None:
    assert _settings_under({"HTTPS_ONLY": "1"}, tmp_path) == {
        **BEHIND_TLS,
        "SECURE_HSTS_PRELOAD": False,
        "DEBUG": False,
    }
    plain = _settings_under({"HTTPS_ONLY": "0"}, tmp_path)
    assert plain["SECURE_SSL_REDIRECT"] is plain["SESSION_COOKIE_SECURE"] is False
    assert plain["SECURE_HSTS_SECONDS"] == 0


def test_a_malformed_https_knob_stops_start_up_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_environment({"SECURE_HSTS_SECONDS": "a year", "HTTPS_ONLY": "1"}, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "SECURE_HSTS_SECONDS must be an integer, got 'a year'" in done.stderr


def _check_deploy(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_environment(env, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_settings(tmp_path: Path) -> None:
    done = _check_deploy(_production_env(), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_fails_a_production_env_served_over_plain_http(tmp_path: Path) -> None:
    done = _check_deploy({**_production_env(), "HTTPS_ONLY": "0"}, tmp_path)
    assert done.returncode == 1
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in done.stderr, check
