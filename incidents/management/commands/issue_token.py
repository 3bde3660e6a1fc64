from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from incidents.services import set_user_roles, tokens


class Command(BaseCommand):
    help = "Print an API access token for USERNAME (created if missing) with the given roles."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            action="append",
            dest="roles",
            default=[],
            help="technician, itsm_manager, super_admin, legal, … (repeat for several)",
        )
        parser.add_argument(
            "--minutes", type=int, default=None, help="lifetime (default: settings)"
        )

    def handle(
        self, *args: Any, username: str, roles: list[str], minutes: int | None, **options: Any
    ) -> None:
        from datetime import timedelta

        if settings.JWT_JWKS_URL:
            raise CommandError("JWT_JWKS_URL is set: the API accepts only the IdP's tokens")
        if not username.strip():
            raise CommandError("username must not be empty")
        if minutes is not None and minutes <= 0:
            raise CommandError("--minutes must be positive")
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(username=username)
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            if roles:
                set_user_roles(user, roles)
        token = tokens.issue(
            user,
            roles=roles or None,
            lifetime=timedelta(minutes=minutes) if minutes else None,
        )
        if created:
            self.stderr.write(f"created user {username}")
        # The token alone on the last line, so scripts can take it with `tail -n1`.
        self.stdout.write(token)
