"""Log-in lockout on /console/login/ and /admin/login/ (resolver/login_limits.py), counted in
the real Redis: failures per username and per address lock out with 429, a locked-out attempt
checks no password, unknown names look like known ones, a success clears the name's count."""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client, override_settings

from resolver.login_limits import KEY
from resolver.redis_client import get_redis
from tests.helpers import free_port

PASSWORD = "pw-right-123"
LOGIN_PAGES = ["/console/login/", "/admin/login/"]
LOCKED = "Too many failed log-in attempts"
_addresses = (f"10.18.0.{n}" for n in itertools.count(1))

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("url", LOGIN_PAGES),
]


@pytest.fixture(autouse=True)
def clean_counts(redis_client: redis.Redis) -> Iterator[None]:
    """Counts and locks live in the shared Redis: none before or after a test."""

    def clear() -> None:
        for key in redis_client.scan_iter(f"{KEY}*"):
            redis_client.delete(key)

    clear()
    yield
    clear()


@pytest.fixture
def user(db: None) -> User:
    """Staff and an agent: may log in to both the console and the admin."""
    from resolver.bootstrap import ensure_agents_group

    staff = User.objects.create_user("dana", password=PASSWORD, is_staff=True)
    staff.groups.add(ensure_agents_group())
    return staff


def _client() -> Client:
    return Client(REMOTE_ADDR=next(_addresses))  # its own address: no count shared by accident


def _post(client: Client, url: str, username: str, password: str) -> tuple[int, str]:
    response = client.post(url, {"username": username, "password": password})
    return response.status_code, response.content.decode()


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=100)
def test_failures_for_a_name_lock_it_out_even_for_the_right_password(url: str, user: User) -> None:
    client = _client()
    for _ in range(2):
        status, page = _post(client, url, "dana", "wrong")
        assert status == 200 and LOCKED not in page
    response = client.post(url, {"username": "dana", "password": "wrong"})
    assert response.status_code == 429  # the third failure locks
    assert LOCKED in response.content.decode()
    assert 840 < int(response["Retry-After"]) <= 900

    status, page = _post(client, url, "dana", PASSWORD)
    assert (status, LOCKED in page, _logged_in(client)) == (429, True, False)
    # Another address, same name: the name is locked wherever it is tried from.
    other = _client()
    assert _post(other, url, "dana", PASSWORD)[0] == 429
    assert not _logged_in(other)


@override_settings(LOGIN_MAX_FAILURES=2, LOGIN_LOCKOUT_SECONDS=1)
def test_the_lock_lapses_after_the_cool_down(url: str, user: User) -> None:
    client = _client()
    _post(client, url, "dana", "wrong")
    assert _post(client, url, "dana", "wrong")[0] == 429
    time.sleep(1.5)
    response = client.post(url, {"username": "dana", "password": PASSWORD})
    assert response.status_code == 302 and _logged_in(client)


@override_settings(LOGIN_MAX_FAILURES=3)
def test_a_success_clears_the_names_count(url: str, user: User) -> None:
    client = _client()
    for _ in range(2):
        _post(client, url, "dana", "wrong")
    assert client.post(url, {"username": "dana", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(2):
        assert _post(client, url, "dana", "wrong")[0] == 200  # counted from zero again
    assert _post(client, url, "Dana", "wrong")[0] == 429  # the name's case does not matter


@override_settings(LOGIN_MAX_FAILURES=2)
def test_an_unknown_name_is_answered_as_a_known_one(url: str, user: User) -> None:
    known, unknown = _client(), _client()
    answers = []
    for client, name in ((known, "dana"), (unknown, "nobody-here")):
        answers.append([_post(client, url, name, "wrong")[0] for _ in range(3)])
    assert answers[0] == answers[1] == [200, 429, 429]
    pages = [_page(known, url, "dana"), _page(unknown, url, "nobody-here")]
    assert pages[0] == pages[1]  # the same words, whether the name exists or not


def _page(client: Client, url: str, username: str) -> str:
    """The locked-out page without what differs by design: the name typed, the CSRF token."""
    page = _post(client, url, username, "wrong")[1].replace(username, "NAME")
    return re.sub(r"[A-Za-z0-9]{64}", "TOKEN", page)  # masked CSRF tokens differ per page


@override_settings(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_ADDRESS=4)
def test_one_address_guessing_many_names_is_locked_out(url: str, user: User) -> None:
    sprayer = _client()
    statuses = [_post(sprayer, url, f"user{n}", "wrong")[0] for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert _post(sprayer, url, "dana", PASSWORD)[0] == 429  # the address is locked for all
    colleague = _client()
    assert colleague.post(url, {"username": "dana", "password": PASSWORD}).status_code == 302


@override_settings(LOGIN_MAX_FAILURES=2, LOGIN_MAX_FAILURES_PER_ADDRESS=0)
def test_a_lockout_is_logged_without_the_password(
    url: str, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = _client()
    for guess in ("Summer2026!", "Winter2026!"):
        _post(client, url, "dana", guess)
    (line,) = [r.getMessage() for r in caplog.records if "lockout" in r.getMessage()]
    assert "2 failed log-ins for this username" in line
    assert "'dana'" in line and client.defaults["REMOTE_ADDR"] in line
    written = "\n".join(r.getMessage() for r in caplog.records)
    assert "Summer2026!" not in written and "Winter2026!" not in written


@override_settings(LOGIN_MAX_FAILURES=0, LOGIN_MAX_FAILURES_PER_ADDRESS=0)
def test_limits_of_zero_are_off(url: str, user: User) -> None:
    client = _client()
    assert {_post(client, url, "dana", "wrong")[0] for _ in range(8)} == {200}
    assert client.post(url, {"username": "dana", "password": PASSWORD}).status_code == 302


def test_with_redis_down_logging_in_still_works_unlimited(
    url: str, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """No Redis answers on this port (a real refused connection, nothing mocked)."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    get_redis.cache_clear()
    try:
        with override_settings(REDIS_URL=dead, LOGIN_MAX_FAILURES=1):
            client = _client()
            assert _post(client, url, "dana", "wrong")[0] == 200  # refused, not locked out
            assert client.post(url, {"username": "dana", "password": PASSWORD}).status_code == 302
    finally:
        get_redis.cache_clear()
    assert "login limiter unavailable" in caplog.text


@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_ADDRESS=100)
def test_parallel_guesses_are_counted_before_their_passwords_are_checked(
    url: str, user: User
) -> None:
    """Attempts in flight at the same time cannot all slip in before the first failure is
    recorded: each is counted first, so the one past the limit is refused unchecked."""
    import threading

    from django.db import connections

    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def guess() -> None:
        client = Client(REMOTE_ADDR="10.19.0.1")
        barrier.wait()
        statuses.append(client.post(url, {"username": "dana", "password": "wrong"}).status_code)
        connections.close_all()

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # At most three passwords were checked (three failures), every other guess got 429.
    assert statuses.count(429) >= 5, statuses
    status, _ = _post(_client(), url, "dana", PASSWORD)
    assert status == 429  # the name is locked, even for the right password
