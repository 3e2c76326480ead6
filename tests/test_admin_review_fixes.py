"""What an admin review found in the platform's admin (resolver/admin.py), on the real database:
staff allowed to change users could make themselves superuser, staff who may only look could
revoke API keys and replay dead letters, and an empty dead letter could be added (its replay
sent to actor "")."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from resolver.models import ApiKey, DeadLetter

pytestmark = pytest.mark.django_db


def staff_with(app: str, *codenames: str, username: str = "helpdesk") -> tuple[Client, User]:
    user = User.objects.create_user(username, password="pw-12345-abc", is_staff=True)
    user.user_permissions.set(
        [Permission.objects.get(content_type__app_label=app, codename=c) for c in codenames]
    )
    client = Client()
    client.force_login(user)
    return client, user


def offered(client: Client, changelist: str) -> set[str]:
    page = client.get(changelist)
    assert page.status_code == 200
    return set(re.findall(r'<option value="([a-z_]+)"', page.content.decode()))


def user_form(user: User, **fields: str) -> dict[str, str]:
    return {
        "username": user.username,
        "is_active": "on",
        "is_staff": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
        **fields,
    }


def test_staff_who_may_change_users_cannot_make_anyone_superuser_nor_give_rights() -> None:
    client, staff = staff_with("auth", "view_user", "change_user")
    page = f"/admin/auth/user/{staff.pk}/change/"
    everything = Permission.objects.get(codename="delete_user")
    admins = Group.objects.create(name="admins")

    form = client.get(page).content.decode()
    assert 'name="is_superuser"' not in form and 'name="user_permissions"' not in form
    assert 'name="groups"' not in form
    response = client.post(
        page,
        user_form(
            staff, is_superuser="on", user_permissions=str(everything.pk), groups=str(admins.pk)
        ),
    )

    assert response.status_code == 302  # saved, without what was not theirs to give
    staff.refresh_from_db()
    assert not staff.is_superuser
    assert not staff.user_permissions.filter(pk=everything.pk).exists()
    assert not staff.groups.exists()


def test_staff_cannot_change_a_superuser_nor_set_their_password() -> None:
    client, _ = staff_with("auth", "view_user", "change_user")
    root = User.objects.create_superuser("root", password="root-pw-123")

    assert client.get(f"/admin/auth/user/{root.pk}/change/").status_code == 200  # a view
    client.post(f"/admin/auth/user/{root.pk}/change/", user_form(root, is_superuser=""))
    password = client.post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": "taken-over-123", "password2": "taken-over-123", "usable_password": "true"},
    )

    assert password.status_code == 403
    root.refresh_from_db()
    assert root.is_superuser and root.check_password("root-pw-123")


def test_a_superuser_still_gives_superuser_status_and_rights(admin_client: Client) -> None:
    user = User.objects.create_user("promoted", is_staff=True)
    everything = Permission.objects.get(codename="delete_user")

    response = admin_client.post(
        f"/admin/auth/user/{user.pk}/change/",
        user_form(user, is_superuser="on", user_permissions=str(everything.pk)),
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_superuser and user.user_permissions.filter(pk=everything.pk).exists()


def test_staff_who_may_change_groups_cannot_give_a_group_permissions() -> None:
    client, staff = staff_with("auth", "view_group", "change_group")
    group = Group.objects.create(name="helpdesk")
    staff.groups.add(group)
    everything = Permission.objects.get(codename="change_user")

    client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": "helpdesk", "permissions": [str(everything.pk)]},
    )

    assert not group.permissions.exists()


def test_view_only_staff_cannot_revoke_keys_nor_replay_dead_letters() -> None:
    client, _ = staff_with("resolver", "view_apikey", "view_deadletter")
    key, _ = ApiKey.issue("integration", ["read"], created_by=None)
    letter = DeadLetter.objects.create(actor_name="noop", queue_name="default", message_id="m1")

    assert "revoke" not in offered(client, "/admin/resolver/apikey/")
    assert "replay" not in offered(client, "/admin/resolver/deadletter/")
    client.post("/admin/resolver/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    client.post(
        "/admin/resolver/deadletter/", {"action": "replay", "_selected_action": [letter.pk]}
    )

    key.refresh_from_db()
    letter.refresh_from_db()
    assert key.revoked_at is None and letter.replayed_at is None

    editor, _ = staff_with(
        "resolver",
        "view_apikey",
        "change_apikey",
        "view_deadletter",
        "change_deadletter",
        username="editor",
    )
    assert "revoke" in offered(editor, "/admin/resolver/apikey/")
    assert "replay" in offered(editor, "/admin/resolver/deadletter/")


def test_no_one_adds_a_dead_letter(admin_client: Client) -> None:
    assert admin_client.get("/admin/resolver/deadletter/add/").status_code == 403
    response = admin_client.post(
        "/admin/resolver/deadletter/add/",
        {"actor_name": "", "queue_name": "", "message_id": "x", "retries": "0"},
    )
    assert response.status_code == 403
    assert not DeadLetter.objects.exists()
