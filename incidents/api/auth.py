"""DRF authentication by JWT bearer token, mapping the roles claim onto Django groups."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from incidents.services import set_user_roles, tokens


class JWTAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            raw = header[1].decode("ascii")
            claims = tokens.decode(raw)
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("token is not ASCII") from None
        except tokens.InvalidToken as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        user = self._sync_user(claims)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("user is inactive")
        return user, claims

    @staticmethod
    def _sync_user(claims: dict[str, Any]) -> Any:
        """The token's user, created on first sight, with groups set from its roles claim."""
        username = claims[settings.JWT_USERNAME_CLAIM].strip()
        roles = claims.get(settings.JWT_ROLES_CLAIM, [])
        user_model = get_user_model()
        # The common case, a known user whose roles did not change, reads and writes nothing
        # more: set_user_roles only writes when the groups differ from the claim.
        user = user_model.objects.filter(username=username).first()
        if user is None:
            with transaction.atomic():
                # Users known only by token sign in through the IdP, never with a password here.
                user, _ = user_model.objects.get_or_create(
                    username=username, defaults={"password": make_password(None)}
                )
        set_user_roles(user, roles)
        return user

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
