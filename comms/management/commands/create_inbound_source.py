"""``manage.py create_inbound_source KIND NAME``: a monitoring source; its URL and its token are
the last two lines printed (scripts read them)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comms.models import InboundKind
from comms.services import inbound
from incidents.errors import DomainError
from incidents.models import ConfigurationItem


class Command(BaseCommand):
    help = "Create an inbound monitoring source; prints its URL and its token (last two lines)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=InboundKind.values)
        parser.add_argument("name")
        parser.add_argument("--ci", help="the CI of alerts no label rule places (its name)")
        parser.add_argument("--impact", type=int, choices=(1, 2, 3), default=2)
        parser.add_argument("--urgency", type=int, choices=(1, 2, 3), default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        fields: dict[str, Any] = {
            "default_impact": options["impact"],
            "default_urgency": options["urgency"],
        }
        if options["ci"]:
            ci = ConfigurationItem.objects.filter(name=options["ci"]).first()
            if ci is None:
                raise CommandError(f"no CI named {options['ci']!r}")
            fields["default_ci"] = ci
        try:
            source, secret = inbound.create_source(
                kind=options["kind"], name=options["name"], actor=None, **fields
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        how = (
            "Grafana: set this secret as the contact point's HMAC signature secret."
            if source.kind == InboundKind.GRAFANA
            else "Send it as: Authorization: Bearer <token>"
        )
        self.stdout.write(f"Created {source.get_kind_display()} source “{source.name}”. {how}")
        self.stdout.write(inbound.url_of(source.kind))
        self.stdout.write(secret)
