"""Issuing and validating JWT bearer tokens.

The algorithm is fixed by configuration (HS256 with ``JWT_SIGNING_KEY``, or RS256 from the
IdP's JWKS), never read from the token header, so ``alg: none`` and HS/RS confusion are refused.
Audience and issuer are checked whenever they are configured.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import timedelta
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, Group
from django.utils import timezone

from .jwks import KeySet, KeysUnavailable, UnknownKey

ACCESS = "access"
REFRESH = "refresh"

# What a role name in a claim must fit to be stored as a group name.
ROLE_NAME_MAX_LENGTH: int = Group._meta.get_field("name").max_length  # type: ignore[assignment]


class InvalidToken(Exception):
    pass


@lru_cache(maxsize=4)
def _key_set(url: str, lifespan: float, timeout: float, cooldown: float) -> KeySet:
    # One per process and configuration: settings changed in a test make a new one.
    return KeySet(url, lifespan=lifespan, timeout=timeout, cooldown=cooldown)


def idp_key_set() -> KeySet:
    return _key_set(
        settings.JWT_JWKS_URL,
        settings.JWT_JWKS_LIFESPAN,
        settings.JWT_JWKS_TIMEOUT,
        settings.JWT_JWKS_COOLDOWN,
    )


def _verification_key(token: str) -> Any:
    if not settings.JWT_JWKS_URL:
        return settings.JWT_SIGNING_KEY
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"token is invalid: {exc}") from None
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("token names no signing key (kid)")
    # Neither message says why the IdP could not be asked: that is for the log, not the client.
    try:
        return idp_key_set().key(kid).key
    except UnknownKey:
        raise InvalidToken(
            "token is signed with a key the identity provider does not list"
        ) from None
    except KeysUnavailable:
        raise InvalidToken(
            "the identity provider's signing keys are unavailable; try again shortly"
        ) from None


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """The claim as a number (RFC 7519's NumericDate); PyJWT would take the string "1e10"."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken(f"claim {name!r} must be a number (seconds since the epoch)")
    return float(value)


def _check_times(claims: dict[str, Any]) -> None:
    now = time.time()
    leeway = settings.JWT_LEEWAY_SECONDS
    exp = _numeric_date(claims, "exp")
    nbf = _numeric_date(claims, "nbf")
    iat = _numeric_date(claims, "iat")
    if exp is None:
        raise InvalidToken("token has no expiry (exp)")
    if exp <= now - leeway:
        raise InvalidToken("token has expired")
    if nbf is not None and nbf > now + leeway:
        raise InvalidToken("token is not valid yet (nbf)")
    if iat is not None and iat > now + leeway:
        raise InvalidToken("token is issued in the future (iat)")


def decode(token: str, *, expected_type: str | None = ACCESS) -> dict[str, Any]:
    """Validated claims of ``token``; raises ``InvalidToken`` saying why it was refused."""
    # PyJWT checks the signature, the audience and the issuer; the times are checked below,
    # because PyJWT reads them with int(), which takes strings and fails on Infinity.
    options: dict[str, Any] = {
        "require": ["exp", settings.JWT_USERNAME_CLAIM],
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
    }
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
            **kwargs,
        )
    except jwt.InvalidAudienceError:
        raise InvalidToken("token audience is not accepted") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("token issuer is not accepted") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"token is invalid: {exc}") from None
    except jwt.PyJWTError:
        # A key that does not fit the algorithm, and the like: no detail for the client.
        raise InvalidToken("token is invalid") from None
    _check_times(claims)
    # Our own refresh tokens must not be usable as access tokens; IdP tokens carry no type.
    token_type = claims.get("token_type")
    if expected_type and token_type is not None and token_type != expected_type:
        raise InvalidToken(f"a {token_type} token cannot be used here")
    username = claims.get(settings.JWT_USERNAME_CLAIM)
    # Used exactly as given: "usr_x " is not usr_x, and is refused rather than made a lookalike.
    # Printable only: a NUL byte would reach the database (PostgreSQL refuses it with an error).
    if (
        not isinstance(username, str)
        or not username
        or username != username.strip()
        or len(username) > 150
        or not username.isprintable()
    ):
        raise InvalidToken(f"claim {settings.JWT_USERNAME_CLAIM!r} must name a user")
    roles = claims.get(settings.JWT_ROLES_CLAIM, [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken(f"claim {settings.JWT_ROLES_CLAIM!r} must be a list of strings")
    for role in roles:
        # A role that could not be stored as a group name is refused, not cut to fit.
        if len(role) > ROLE_NAME_MAX_LENGTH or "\x00" in role:
            raise InvalidToken(
                f"claim {settings.JWT_ROLES_CLAIM!r}: role names are at most"
                f" {ROLE_NAME_MAX_LENGTH} characters, without NUL"
            )
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
