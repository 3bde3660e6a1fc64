"""DRF authentication by JWT bearer token; the IdP's roles claim is mapped onto Django groups."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from incidents.services import sync_roles_from_idp, tokens


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
        """The token's user.

        A token MIM Desk issued itself (HS256, no JWT_JWKS_URL) names a user of ours; its roles
        are for display only, and the database decides: a role removed in the admin is gone on
        the next request, whatever the token still says. Only the configured IdP's tokens
        create users on first sight and set their groups from the roles claim.
        """
        username = claims[settings.JWT_USERNAME_CLAIM]
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if not settings.JWT_JWKS_URL:
            if user is None:
                raise exceptions.AuthenticationFailed("user is unknown")
            return user
        if user is None:
            with transaction.atomic():
                # Users known only by token sign in through the IdP, never with a password here.
                user, _ = user_model.objects.get_or_create(
                    username=username, defaults={"password": make_password(None)}
                )
        sync_roles_from_idp(user, claims.get(settings.JWT_ROLES_CLAIM, []))
        return user

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
