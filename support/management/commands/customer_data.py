"""`customer_data export REF` prints everything stored about a customer as JSON;
`customer_data erase REF` erases it and prints the rows per model. Both are audited, as the API's
/customers/{ref} (support/customer_data.py)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from resolver.api.errors import ApiError
from resolver.audit_actor import Actor
from support import customer_data


class Command(BaseCommand):
    help = "Export or erase everything stored about a customer (by customer reference)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("ref", help="the customer reference (customer_ref)")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("manage.py customer_data")
        try:
            if options["action"] == "export":
                result: Any = customer_data.export(options["ref"], actor)
            else:
                result = {"erased": customer_data.do_erase(options["ref"], actor)}
        except ApiError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(result, cls=DjangoJSONEncoder, indent=2))
