"""Roles and first-start set-up for `make run`: the agents group (who may use the console) and
an admin login a new user can use at once."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models import Q

AGENTS_GROUP = "agents"
ADMIN_USERNAME = "admin"


def may_use_console(user: Any) -> bool:
    """Who works the queue (console, API session, console socket): active staff and members of
    the agents group."""
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff) or user.groups.filter(name=AGENTS_GROUP).exists()


def console_users() -> Any:
    """The users `may_use_console` lets in, by name (whom a follow-up task may be assigned to)."""
    agents = Q(is_staff=True) | Q(groups__name=AGENTS_GROUP)
    return User.objects.filter(agents, is_active=True).distinct().order_by("username")


def ensure_agents_group() -> Group:
    group, _ = Group.objects.get_or_create(name=AGENTS_GROUP)
    return group


def ensure_admin(data_dir: Path) -> str:
    """Create the first superuser if there is none; returns how to log in."""
    password_file = data_dir / "admin-password.txt"
    if User.objects.filter(is_superuser=True).exists():
        if password_file.exists():
            return f"user '{ADMIN_USERNAME}', password in {password_file}"
        return "your superuser (python manage.py createsuperuser makes another)"
    password = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(ADMIN_USERNAME, password=password)
    user.groups.add(ensure_agents_group())
    data_dir.mkdir(parents=True, exist_ok=True)
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return f"user '{ADMIN_USERNAME}', password '{password}' (also saved in {password_file})"
