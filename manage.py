#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
    from django.core.management import execute_from_command_line

    from resolver.embedded import EmbeddedServiceError
    from resolver.env import ConfigError
    from resolver.schema import SchemaMissing, ensure_schema

    try:
        ensure_schema(sys.argv)
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        # A bad environment value is the operator's to fix: one clear line, no traceback.
        print(f"resolver: configuration error: {exc}", file=sys.stderr)
        sys.exit(1)
    except (EmbeddedServiceError, SchemaMissing) as exc:
        print(f"resolver: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
