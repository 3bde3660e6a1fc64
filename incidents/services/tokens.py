"""Issuing and validating JWT bearer tokens.

The algorithm is fixed by configuration (HS256 with ``JWT_SIGNING_KEY``, or RS256 from the
IdP's JWKS), never read from the token header, so ``alg: none`` and HS/RS confusion are refused.
Audience and issuer are checked whenever they are configured.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

ACCESS = "access"
REFRESH = "refresh"


class InvalidToken(Exception):
    pass


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # PyJWKClient caches the key set and refetches on an unknown ``kid`` (key rotation).
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def _verification_key(token: str) -> Any:
    if settings.JWT_JWKS_URL:
        try:
            return _jwks_client(settings.JWT_JWKS_URL).get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(f"no signing key for this token: {exc}") from None
    return settings.JWT_SIGNING_KEY


def decode(token: str, *, expected_type: str | None = ACCESS) -> dict[str, Any]:
    """Validated claims of ``token``; raises ``InvalidToken`` saying why it was refused."""
    options: dict[str, Any] = {"require": ["exp", settings.JWT_USERNAME_CLAIM]}
    kwargs: dict[str, Any] = {}
    if settings.JWT_AUDIENCE:
        kwargs["audience"] = settings.JWT_AUDIENCE
        options["require"].append("aud")
    else:
        options["verify_aud"] = False
    if settings.JWT_ISSUER:
        kwargs["issuer"] = settings.JWT_ISSUER
        options["require"].append("iss")
    try:
        claims = jwt.decode(
            token,
            _verification_key(token),
            algorithms=[settings.JWT_ALGORITHM],
            options=options,  # type: ignore[arg-type]  # a plain dict is what PyJWT reads
            leeway=settings.JWT_LEEWAY_SECONDS,
            **kwargs,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token has expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("token audience is not accepted") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("token issuer is not accepted") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"token is invalid: {exc}") from None
    # Our own refresh tokens must not be usable as access tokens; IdP tokens carry no type.
    token_type = claims.get("token_type")
    if expected_type and token_type is not None and token_type != expected_type:
        raise InvalidToken(f"a {token_type} token cannot be used here")
    username = claims.get(settings.JWT_USERNAME_CLAIM)
    # Printable only: a NUL byte would reach the database (PostgreSQL refuses it with an error).
    if (
        not isinstance(username, str)
        or not username.strip()
        or len(username) > 150
        or not username.isprintable()
    ):
        raise InvalidToken(f"claim {settings.JWT_USERNAME_CLAIM!r} must name a user")
    roles = claims.get(settings.JWT_ROLES_CLAIM, [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken(f"claim {settings.JWT_ROLES_CLAIM!r} must be a list of strings")
    return claims


def issue(
    user: AbstractBaseUser,
    *,
    roles: list[str] | None = None,
    token_type: str = ACCESS,
    lifetime: timedelta | None = None,
) -> str:
    """A token for ``user`` signed with our own key (HS256); roles default to the user's groups."""
    if roles is None:
        roles = sorted(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    now = timezone.now()
    if lifetime is None:
        lifetime = (
            settings.JWT_ACCESS_TOKEN_LIFETIME
            if token_type == ACCESS
            else settings.JWT_REFRESH_TOKEN_LIFETIME
        )
    claims: dict[str, Any] = {
        settings.JWT_USERNAME_CLAIM: user.get_username(),
        settings.JWT_ROLES_CLAIM: roles,
        "token_type": token_type,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if settings.JWT_AUDIENCE:
        claims["aud"] = settings.JWT_AUDIENCE
    if settings.JWT_ISSUER:
        claims["iss"] = settings.JWT_ISSUER
    return jwt.encode(claims, settings.JWT_SIGNING_KEY, algorithm="HS256")
