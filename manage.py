#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
    from django.core.management import execute_from_command_line

    from resolver.env import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        # A bad environment value is the operator's to fix: one clear line, no traceback.
        print(f"resolver: configuration error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
