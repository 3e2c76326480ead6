"""Real servers for the inbound e-mail tests: Debian's Dovecot IMAP server (`make dovecot`
installs it), started once per test session on a free loopback port with its own configuration,
maildirs and password file in a temporary directory; and an OAuth2 token endpoint on loopback
that Dovecot also asks to introspect the access tokens it is shown (XOAUTH2, as Gmail and
Microsoft 365 check theirs)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

from imap_tools import MailBoxUnencrypted

from resolver.polling import wait_for
from support.email import imap
from tests.helpers import free_port, http_server

DOVECOT = "/usr/sbin/dovecot"
USER = "support@example.org"
PASSWORD = "pw-mailbox-7"


@dataclass
class TokenEndpoint:
    """A strict OAuth2 provider: the refresh-token grant issues an access token and rotates the
    refresh token (the old one is void from then on, as providers that revoke a replayed token
    family do); introspection says whether an access token is live and whose it is."""

    url: str = ""
    client_id: str = "resolver-test-client"
    client_secret: str = "client-secret-9"
    lifetime_seconds: int = 3600
    rotate: bool = True
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    grants: list[dict[str, str]] = field(default_factory=list)  # the forms posted to /token
    issued: int = 0

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def introspection_url(self) -> str:
        return f"{self.url}/introspect"

    def reset(self, *refresh_tokens: str) -> None:
        self.refresh_tokens = set(refresh_tokens)
        self.access_tokens.clear()
        self.grants.clear()
        self.lifetime_seconds, self.rotate = 3600, True

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        self.grants.append(form)
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 401, {"error": "invalid_client"}
        refresh = form.get("refresh_token", "")
        if form.get("grant_type") != "refresh_token" or refresh not in self.refresh_tokens:
            return 400, {"error": "invalid_grant", "error_description": "token revoked"}
        self.issued += 1
        access = f"at-{self.issued}-{os.urandom(4).hex()}"
        self.access_tokens[access] = time.time() + self.lifetime_seconds
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.lifetime_seconds,
        }
        if self.rotate:
            self.refresh_tokens.discard(refresh)
            body["refresh_token"] = f"rt-{self.issued}-{os.urandom(4).hex()}"
            self.refresh_tokens.add(str(body["refresh_token"]))
        return 200, body

    def introspect(self, form: dict[str, str]) -> dict[str, object]:
        expiry = self.access_tokens.get(form.get("token", ""))
        if expiry is None or expiry < time.time():
            return {"active": False}
        return {"active": True, "username": USER}


@contextmanager
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            with lock:
                if self.path == "/token":
                    status, answer = endpoint.grant(form)
                elif self.path == "/introspect":
                    status, answer = 200, endpoint.introspect(form)
                else:
                    status, answer = 404, {"error": "not_found"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with http_server(Handler) as url:
        endpoint.url = url
        yield endpoint


@dataclass
class Dovecot:
    port: int
    root: Path
    process: subprocess.Popen[bytes] | None = None
    started_in: float = 0.0
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD

    def client(self) -> MailBoxUnencrypted:
        """Another IMAP client of the same mailbox (a person's mail program, the test)."""
        return MailBoxUnencrypted(self.host, self.port, timeout=10).login(
            self.user, self.password, initial_folder=None
        )

    def new_folder(self, name: str) -> str:
        with self.client() as mailbox:
            mailbox.folder.create(name)
        return name

    def new_mailbox(self) -> imap.Mailbox:
        """A fresh folder of the test mailbox, as the IMAP door reads it: a password over plain
        IMAP."""
        folder = self.new_folder(f"t{uuid.uuid4().hex[:12]}")
        return imap.Mailbox(
            host=self.host,
            port=self.port,
            user=self.user,
            folder=folder,
            ssl=False,
            password=self.password,
        )

    def append(self, folder: str, *messages: bytes) -> None:
        with self.client() as mailbox:
            for raw in messages:
                mailbox.append(raw, folder)

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _accounts() -> tuple[str, str, int, int]:
    """Who runs what: as root, Debian's dovecot/dovenull service users and `nobody` owning the
    maildirs (Dovecot refuses uid 0 for mail); otherwise the current user for everything."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


def _config(root: Path, port: int, introspection_url: str) -> str:
    internal, login, uid, gid = _accounts()
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = resolver-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
# No auth penalty (delays growing after each failed log-in from an address): some tests fail on
# purpose, and the next test's log-in would wait for it.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@contextmanager
def dovecot_server(introspection_url: str) -> Iterator[Dovecot]:
    assert Path(DOVECOT).exists(), f"{DOVECOT} is missing: `make dovecot` installs dovecot-imapd"
    # Not under pytest's 0700 temp dirs: the mail processes run as another user (see _accounts).
    root = Path(tempfile.mkdtemp(prefix="resolver-dovecot-"))
    root.chmod(0o755)
    _, _, uid, gid = _accounts()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    os.chown(root / "mail", uid, gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "oauth2.conf").write_text(
        f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
        "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
    )
    port = free_port()
    (root / "dovecot.conf").write_text(_config(root, port, introspection_url))
    started = time.monotonic()
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")])
    server = Dovecot(port=port, root=root, process=process)
    try:
        up = wait_for(lambda: process.poll() is not None or _greets(port), 10, 0.01)
        assert up and process.poll() is None, f"dovecot did not start:\n{server.log}"
        server.started_in = time.monotonic() - started
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False
