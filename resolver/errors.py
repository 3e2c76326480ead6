"""Errors the caller caused, whatever the door they came in by (API, console, admin): each carries
the HTTP status and machine-readable code that say so. The API answers them as `{detail, code}`
(resolver.api.errors); the console and admin show the detail."""

from __future__ import annotations


class ClientError(Exception):
    status_code = 422
    code = "invalid_action"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
