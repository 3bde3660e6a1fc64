"""Rate limits on password guessing at ``/api/auth/token/``: per username and per client address.

DRF's ``SimpleRateThrottle`` keeps each key's recent attempts in the default cache (shared by the
processes of one instance; the key prefix keeps instances apart) and answers 429 with
``Retry-After``. Both count every attempt, right or wrong, so a guesser learns nothing from which
attempts were counted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _ConfiguredRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        # DRF binds THROTTLE_RATES when the class is defined; read the settings now instead, so
        # a changed REST_FRAMEWORK setting applies.
        rate = api_settings.DEFAULT_THROTTLE_RATES[str(self.scope)]
        return None if rate is None else str(rate)


class TokenAddressThrottle(_ConfiguredRateThrottle):
    """Attempts from one client address (REMOTE_ADDR, or X-Forwarded-For as NUM_PROXIES says)."""

    scope = "token_address"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenUserThrottle(_ConfiguredRateThrottle):
    """Attempts at one username, from wherever they come."""

    scope = "token_user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username:
            return None  # the view refuses it with a 400; the address throttle still counts it
        # Hashed: a username may hold characters a cache key may not (memcached: spaces).
        ident = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
