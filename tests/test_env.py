"""Settings helpers raise one clear ConfigError on a bad value; manage.py turns it into one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from resolver.database import database_config
from resolver.env import (
    ConfigError,
    env_address,
    env_addresses,
    env_bool,
    env_choice,
    env_dotted_path,
    env_int,
    env_url,
)

ROOT = Path(__file__).resolve().parent.parent


def test_env_int_reads_and_validates_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    assert env_int("PORT", 8000, minimum=1, maximum=65535) == 8123
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ConfigError, match="PORT must be between 1 and 65535, got 70000"):
        env_int("PORT", 8000, minimum=1, maximum=65535)
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ConfigError, match="PORT must be an integer, got 'eighty'"):
        env_int("PORT", 8000, minimum=1, maximum=65535)


def test_env_int_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    assert env_int("PORT", 8000) == 8000


def test_env_bool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "yes")
    assert env_bool("DEBUG") is True
    monkeypatch.setenv("DEBUG", "0")
    assert env_bool("DEBUG") is False
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ConfigError, match="DEBUG must be one of"):
        env_bool("DEBUG")


def test_env_choice_rejects_unknown_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "gpt5")
    with pytest.raises(ConfigError, match="LLM_PROVIDER must be one of extractive, ollama"):
        env_choice("LLM_PROVIDER", "extractive", ("extractive", "ollama"))


def test_env_address_normalises_and_refuses_what_is_no_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPPORT_EMAIL_FROM", " Shop Help <Help@Shop.Example> ")
    assert env_address("SUPPORT_EMAIL_FROM", "x@y.z") == "Shop Help <help@shop.example>"
    monkeypatch.setenv("SUPPORT_EMAIL_FROM", "")
    assert env_address("SUPPORT_EMAIL_FROM", "Support <support@localhost>") == (
        "Support <support@localhost>"
    )
    for bad in ("support", "Support <>", "a b@shop.example", "x@", "<x@shop..example>"):
        monkeypatch.setenv("SUPPORT_EMAIL_FROM", bad)
        with pytest.raises(ConfigError, match="SUPPORT_EMAIL_FROM must be an e-mail address"):
            env_address("SUPPORT_EMAIL_FROM", "x@y.z")
    monkeypatch.setenv("SUPPORT_EMAIL_ALIASES", "Help@Shop.Example, sales@shop.example")
    assert env_addresses("SUPPORT_EMAIL_ALIASES") == ["help@shop.example", "sales@shop.example"]
    monkeypatch.setenv("SUPPORT_EMAIL_ALIASES", "help@shop.example, oops")
    with pytest.raises(ConfigError, match="SUPPORT_EMAIL_ALIASES"):
        env_addresses("SUPPORT_EMAIL_ALIASES")


def test_env_dotted_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_BACKEND", "anymail.backends.mailgun.EmailBackend")
    assert env_dotted_path("EMAIL_BACKEND", "x.y") == "anymail.backends.mailgun.EmailBackend"
    monkeypatch.setenv("EMAIL_BACKEND", "smtp")
    with pytest.raises(ConfigError, match="EMAIL_BACKEND must be a dotted Python path"):
        env_dotted_path("EMAIL_BACKEND", "x.y")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://u@h/db", "DATABASE_URL must start with postgres://"),
        ("postgresql://u@h:port/db", "DATABASE_URL is not a valid URL"),
        ("postgresql:///db", "DATABASE_URL has no host"),
    ],
)
def test_env_url_rejects_malformed(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(ConfigError, match=message):
        env_url("DATABASE_URL", ("postgres", "postgresql"))


def test_env_url_hides_password_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://user:s3cret@host:6379")
    with pytest.raises(ConfigError) as info:
        env_url("REDIS_URL", ("redis", "unix"))
    assert "s3cret" not in str(info.value)
    assert "***" in str(info.value)


def test_database_config_tcp_and_socket() -> None:
    tcp = database_config("postgresql://app:p%40ss@db.internal:5433/resolver?sslmode=require")
    assert (tcp["NAME"], tcp["USER"], tcp["PASSWORD"]) == ("resolver", "app", "p@ss")
    assert (tcp["HOST"], tcp["PORT"]) == ("db.internal", "5433")
    assert tcp["OPTIONS"] == {"connect_timeout": 5, "sslmode": "require"}
    sock = database_config("postgresql://postgres@/resolver?host=/tmp/pg")
    assert (sock["HOST"], sock["PORT"], sock["NAME"]) == ("/tmp/pg", "", "resolver")
    with pytest.raises(ConfigError, match="no database name"):
        database_config("postgresql://postgres@localhost:5432/")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "nonsense", "DATABASE_URL must start with postgres://"),
        ("REDIS_URL", "redis://localhost:notaport/0", "REDIS_URL is not a valid URL"),
        ("PORT", "http", "PORT must be an integer, got 'http'"),
        ("DEBUG", "perhaps", "DEBUG must be one of"),
        ("SUPPORT_EMAIL_FROM", "support", "SUPPORT_EMAIL_FROM must be an e-mail address"),
        ("EMAIL_PORT", "smtp", "EMAIL_PORT must be an integer"),
        ("EMAIL_USE_SSL", "1", "EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive"),
        ("IMAP_HOST", "imap.example.org", "also set IMAP_USER, IMAP_PASSWORD"),
        ("ANYMAIL_WEBHOOK_SECRET", "no-colon", "ANYMAIL_WEBHOOK_SECRET must be user:password"),
        ("ACTIONS_BACKEND", "ftp", "ACTIONS_BACKEND must be one of builtin, http"),
        ("ACTIONS_BACKEND", "http", "ACTIONS_BACKEND=http needs ACTIONS_HTTP_URL"),
        ("SECRET_KEY", "change-me-to-a-long-random-string", "SECRET_KEY looks like a placeholder"),
        ("TIME_ZONE", "Berlin", "TIME_ZONE must be an IANA time zone name"),
    ],
)
def test_manage_py_prints_one_line_and_exits_1(name: str, value: str, expected: str) -> None:
    env = {**os.environ, name: value}
    if name == "EMAIL_USE_SSL":
        env["EMAIL_USE_TLS"] = "1"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("resolver: configuration error: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "change-me-to-a-long-random-string",
        "CHANGEME" + "x9" * 20,
        "django-insecure-" + "k" * 40,
        "too-short-1234",
        "ab" * 30,
    ],
)
def test_a_placeholder_secret_key_is_refused(key: str) -> None:
    from resolver.settings import _checked_key

    with pytest.raises(ConfigError, match="SECRET_KEY looks like a placeholder"):
        _checked_key(key)


def test_a_random_secret_key_is_kept() -> None:
    import secrets

    from resolver.settings import _checked_key

    key = secrets.token_urlsafe(32)
    assert _checked_key(key) == key


def _printed_by_shell(script: str, **env: str) -> str:
    """The last line `manage.py shell -c script` prints with these environment variables."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_pods_own_address_is_an_allowed_host() -> None:
    """Kubelet probes and Prometheus reach a pod by its IP (deploy/k8s: POD_IP from the downward
    API), whatever public hosts ALLOWED_HOSTS names."""
    script = "from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    for pod_ip, expected in [("10.1.2.3", "10.1.2.3"), ("fd00::7", "[fd00::7]")]:
        printed = _printed_by_shell(script, ALLOWED_HOSTS="support.example.org", POD_IP=pod_ip)
        assert printed == str(["support.example.org", expected])


def test_the_teams_time_zone_is_read_from_the_environment() -> None:
    script = "from support.due import parse_due; print(parse_due('2026-12-10').isoformat())"
    assert _printed_by_shell(script, TIME_ZONE="Europe/Berlin") == "2026-12-10T22:59:59+00:00"
