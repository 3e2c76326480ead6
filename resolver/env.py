"""Environment helpers: read a variable, validate it, raise one clear error on a bad value."""

from __future__ import annotations

import json
import os
import re
import zoneinfo
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


class ConfigError(ImproperlyConfigured):
    """A malformed environment variable; manage.py prints it as one line and exits 1."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_json_object(name: str) -> dict[str, object]:
    """A JSON object ({} when unset or empty). The value may hold credentials (a storage's
    options): errors name its position or kind, never echo it."""
    raw = env_str(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:  # its message gives the position, not the value
        raise ConfigError(f'{name} must be a JSON object ({{"option": value}}): {exc}') from None
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
            type(value), "number"
        )
        raise ConfigError(f'{name} must be a JSON object ({{"option": value}}), got a JSON {kind}')
    return value


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default) or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_time_zone(name: str, default: str) -> str:
    """An IANA time zone name ("Europe/Berlin"), as zoneinfo knows it."""
    value = env_str(name, default) or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{name} must be an IANA time zone name such as Europe/Berlin, got {value!r}"
        ) from None
    return value


# An address as mail servers take it: something@a.domain, no spaces or brackets.
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


def check_address(name: str, raw: str) -> tuple[str, str]:
    """(display name, address) of "Name <address>" or a bare address; raises when malformed."""
    display, address = parseaddr(raw.strip())
    if not _ADDRESS.match(address):
        raise ConfigError(f'{name} must be an e-mail address or "Name <address>", got {raw!r}')
    return display, address.lower()


def env_address(name: str, default: str) -> str:
    """An e-mail address, with an optional display name ("Support <help@shop.example>"),
    normalised (the address in lower case)."""
    return formataddr(check_address(name, env_str(name) or default))


def env_addresses(name: str) -> list[str]:
    """Comma-separated e-mail addresses, lower case."""
    return [check_address(name, item)[1] for item in env_list(name, [])]


def env_dotted_path(name: str, default: str) -> str:
    """A Python dotted path (a backend class); importing it is left to its user."""
    value = env_str(name) or default
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", value):
        raise ConfigError(f"{name} must be a dotted Python path, got {value!r}")
    return value


def env_url(name: str, schemes: tuple[str, ...]) -> str | None:
    """A URL from the environment, or None when unset; raises when set but malformed."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    check_url(name, raw.strip(), schemes)
    return raw.strip()


def check_url(name: str, url: str, schemes: tuple[str, ...]) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  -- raises ValueError on a non-numeric port
    except ValueError as exc:
        raise ConfigError(f"{name} is not a valid URL ({exc}): {_redact(url)}") from None
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{name} must start with {allowed}, got {_redact(url)!r}")
    if parts.scheme != "unix" and not parts.hostname and "host=" not in parts.query:
        raise ConfigError(f"{name} has no host: {_redact(url)!r}")


def _redact(url: str) -> str:
    """Hide a password before a URL goes into an error message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable>"
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
