"""Outgoing HTTP to addresses someone else chose (webhook receivers): which targets are refused,
the request pinned to the address that was checked, and at most a bounded part of the answer read.

- `check_url` (save time) and `pin` (send time) resolve the host and refuse loopback, link-local,
  private, reserved, multicast, unspecified and other not globally routable addresses, IPv4 and
  IPv6 (an IPv4 address inside IPv6 — mapped, 6to4, NAT64, Teredo — is judged as that address).
  `pin` returns the URL with the checked address in place of the host, with the Host header and
  TLS server name (SNI, certificate check) of the original: a DNS answer that changes between the
  check and the connect (rebinding) cannot move the request.
- `read_capped` reads a streamed response up to a bound and a deadline, never the whole body.
  Requests ask for `Accept-Encoding: identity` (`IDENTITY`), and the body is read raw, so no
  compressed answer is inflated in memory.
- `unlogged` keeps httpx's own "HTTP Request: POST <url>" INFO line out of the logs for the
  requests made inside it: a receiver's URL can carry its credentials (a path token, `?sig=`)."""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
IDENTITY = {"accept-encoding": "identity"}
ALLOW_HINT = "set WEBHOOK_ALLOW_PRIVATE_TARGETS=1 to allow internal receivers"
# RFC 6052's well-known NAT64 prefix: 64:ff9b::a.b.c.d reaches the IPv4 address a.b.c.d.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Checked in this order, so that each address is named by its most telling class.
CLASSES: tuple[tuple[str, str], ...] = (
    ("unspecified", "is_unspecified"),
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("reserved", "is_reserved"),
    ("private", "is_private"),
)


class TargetRefused(Exception):
    """The URL's scheme or one of its host's addresses is not one requests may go to."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is who is reached
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """The class that makes `address` refused ("loopback", "private", ...), or None for a public
    (globally routable unicast) address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = refusal(inner)
            if reason is not None:
                return reason
    for name, attribute in CLASSES:
        if getattr(address, attribute):
            return name
    if not address.is_global:
        return "non-global"
    return None


@dataclass(frozen=True)
class Pinned:
    """What to send instead of the URL: the URL with the checked address for its host, and the
    original host as the Host header and TLS server name."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, object] = field(default_factory=dict)


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    if parsed.scheme not in SCHEMES:
        raise TargetRefused(f"only http and https URLs are allowed, not {parsed.scheme!r}")
    if not parsed.raw_host:
        raise TargetRefused("the URL names no host")
    return parsed


def resolve(parsed: httpx.URL) -> list[IPAddress]:
    """Every address the URL's host resolves to (an address literal: itself). A host that does
    not resolve raises httpx.ConnectError, as the request itself would have."""
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise httpx.ConnectError(f"cannot resolve {host}: no address")
    return addresses


def _checked(parsed: httpx.URL) -> list[IPAddress]:
    addresses = resolve(parsed)
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            shown = parsed.host if str(address) == parsed.host else f"{parsed.host} ({address})"
            article = "an" if reason[0] in "aeiou" else "a"
            raise TargetRefused(f"{shown} is {article} {reason} address; {ALLOW_HINT}")
    return addresses


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Save time: raises TargetRefused, with the reason, for a URL requests may not go to (a
    host that does not resolve included: there is nothing to check)."""
    parsed = _parse(url)
    if allow_private:
        return
    try:
        _checked(parsed)
    except httpx.ConnectError:
        raise TargetRefused(f"{parsed.host} does not resolve") from None


def pin(url: str, *, allow_private: bool = False) -> Pinned:
    """Send time: resolves the host, refuses (TargetRefused) if any of its addresses is not
    public, and answers the request to make to the first one. With allow_private the URL is sent
    as it is. A host that does not resolve raises httpx.ConnectError."""
    parsed = _parse(url)
    if allow_private:
        return Pinned(url)
    address = _checked(parsed)[0]
    if str(address) == parsed.host:  # an address literal: nothing to pin
        return Pinned(url)
    extensions: dict[str, object] = {}
    if parsed.scheme == "https":
        extensions["sni_hostname"] = parsed.raw_host.decode("ascii")
    return Pinned(
        str(parsed.copy_with(host=str(address))),
        headers={"host": parsed.netloc.decode("ascii")},
        extensions=extensions,
    )


@dataclass(frozen=True)
class Capped:
    """The first bytes of a body: `overflow` when it had more than the bound, `timed_out` when
    it was still arriving at the deadline."""

    data: bytes
    overflow: bool = False
    timed_out: bool = False

    def text(self, response: httpx.Response) -> str:
        try:
            return self.data.decode(response.charset_encoding or "utf-8", errors="replace")
        except LookupError:
            return self.data.decode("utf-8", errors="replace")


def read_capped(response: httpx.Response, limit: int, deadline: float) -> Capped:
    """Reads a streamed response's raw body until `limit` bytes (one more tells an overflow)
    or time.monotonic() passes `deadline`: memory stays about `limit` plus one network read,
    whatever the peer sends. The caller closes the response (its `with client.stream(...)`),
    which drops the connection with the rest unread."""
    data = bytearray()
    for chunk in response.iter_raw():
        data += chunk[: limit + 1 - len(data)]
        if len(data) > limit:
            return Capped(bytes(data[:limit]), overflow=True)
        if time.monotonic() > deadline:
            return Capped(bytes(data), timed_out=True)
    return Capped(bytes(data))


_UNLOGGED: ContextVar[bool] = ContextVar("http_guard_unlogged", default=False)


class _Unlogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _UNLOGGED.get()


_HTTPX_LOGGER = logging.getLogger("httpx")
if not any(isinstance(f, _Unlogged) for f in _HTTPX_LOGGER.filters):
    _HTTPX_LOGGER.addFilter(_Unlogged())


@contextmanager
def unlogged() -> Iterator[None]:
    """httpx logs no request line (method and full URL) in this block, in this thread or task
    only; the caller logs what may be logged."""
    token = _UNLOGGED.set(True)
    try:
        yield
    finally:
        _UNLOGGED.reset(token)
