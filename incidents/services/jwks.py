"""The identity provider's signing keys (its JWKS), cached for a bounded time.

Why not PyJWT's ``PyJWKClient`` as it is: with ``cache_keys=True`` a key stays trusted until the
process restarts, however long ago the IdP removed it; and ``get_signing_key`` holds one lock
across the HTTP fetch, so while the IdP hangs every request queues behind it, even those whose
key is already known (four requests waited 5, 10, 15 and 20 s). Here:

- A key set is trusted for at most ``lifespan`` seconds after it was fetched; from half of that
  on, a request that finds its key starts a refresh in the background and goes on without waiting.
- Fetches run in a thread of their own, one at a time. A request that needs one (no trusted set,
  or a key id not in it) waits for it at most ``timeout`` seconds, side by side with the others
  waiting for the same fetch, never one after the other. The fetch itself gives up after
  ``timeout`` (about; one socket read may add as much again).
- A new fetch starts at most once every ``cooldown`` seconds, whatever comes in (unknown key ids,
  failures), so a failing or hanging IdP, or a client making up key ids, is asked at a bounded
  rate; in between, such requests are refused at once.
- Whatever the IdP answers, the worst is a refusal (``KeysUnavailable``/``UnknownKey``), never an
  exception of another kind; what went wrong is logged, not told to the client.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

logger = logging.getLogger(__name__)

# A JWKS holds a handful of keys (a few KiB); anything this large is not one.
MAX_JWKS_BYTES = 1 << 20


class UnknownKey(Exception):
    """The trusted key set has no key with this id."""


class KeysUnavailable(Exception):
    """No trusted key set, and none could be fetched now."""


class FetchError(Exception):
    pass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # As PyJWKClient: a redirect could point the key fetch anywhere.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch_signing_keys(url: str, timeout: float) -> dict[str, jwt.PyJWK]:
    """The RSA signing keys of the JWKS at ``url`` by key id; ``FetchError`` saying why not.

    A well-formed set with no usable key is an answer (the IdP trusts no key), not an error.
    """
    if not url.startswith(("https://", "http://")):
        raise FetchError("the URL is not http(s)")  # urllib would also read file: URLs
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310  # http(s) only, checked above
    chunks: list[bytes] = []
    size = 0
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout) as response:
            # read1, not read: one socket read at a time, so a server that sends a byte now
            # and then cannot hold the fetch past its deadline.
            while chunk := response.read1(64 * 1024):
                size += len(chunk)
                if size > MAX_JWKS_BYTES:
                    raise FetchError(f"answer larger than {MAX_JWKS_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(f"no complete answer within {timeout} s")
                chunks.append(chunk)
    except FetchError:
        raise
    except Exception as exc:  # URLError, HTTPError, timeouts, http.client's protocol errors
        raise FetchError(f"cannot fetch: {exc!r}") from None
    try:
        data = json.loads(b"".join(chunks))
    except ValueError:
        raise FetchError("the answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise FetchError('the answer is not a JWK set ({"keys": [...]})')
    keys: dict[str, jwt.PyJWK] = {}
    for item in data["keys"]:
        # Only what can check an RS256 signature (JWT_ALGORITHM with a JWKS): an RSA key for
        # signatures, with an id. Anything else in the set is skipped, as PyJWKSet does.
        if not isinstance(item, dict) or item.get("kty") != "RSA":
            continue
        if item.get("use", "sig") != "sig" or not isinstance(item.get("kid"), str):
            continue
        try:
            keys[item["kid"]] = jwt.PyJWK(item, algorithm="RS256")
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            logger.warning("JWKS %s: key %r skipped: %s", url, item["kid"], exc)
    return keys


class KeySet:
    """Keys by id from one JWKS URL; thread-safe. See the module's docstring for the rules."""

    def __init__(
        self,
        url: str,
        *,
        lifespan: float,
        timeout: float,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.lifespan = lifespan
        self.timeout = timeout
        self.cooldown = cooldown
        self._clock = clock
        # Guards the fields below; held for dictionary work only, never across a fetch.
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # when the current keys were fetched
        self._attempted_at: float | None = None  # when the last fetch started
        self._in_flight: threading.Event | None = None  # set when the running fetch ends
        self.fetches = 0  # fetches started, for tests and logs

    def key(self, kid: str) -> jwt.PyJWK:
        """The trusted key ``kid``; ``UnknownKey`` or ``KeysUnavailable`` (both mean 401)."""
        with self._lock:
            found, trusted, age = self._lookup(kid)
            if found is not None:
                if age >= self.lifespan / 2:
                    self._start_fetch()  # refresh ahead; this request does not wait for it
                return found
            fetch = self._start_fetch()
        if fetch is None:
            # Asked too recently: refuse now rather than ask again or wait.
            raise UnknownKey(kid) if trusted else KeysUnavailable()
        fetch.wait(self.timeout)
        with self._lock:
            found, trusted, _ = self._lookup(kid)
        if found is None:
            raise UnknownKey(kid) if trusted else KeysUnavailable()
        return found

    def _lookup(self, kid: str) -> tuple[jwt.PyJWK | None, bool, float]:
        if self._fetched_at is None:
            return None, False, 0.0
        age = self._clock() - self._fetched_at
        trusted = age < self.lifespan
        return (self._keys.get(kid) if trusted else None), trusted, age

    def _start_fetch(self) -> threading.Event | None:
        """The running fetch, or a new one if the cooldown allows; None if it does not."""
        if self._in_flight is not None:
            return self._in_flight
        now = self._clock()
        if self._attempted_at is not None and now - self._attempted_at < self.cooldown:
            return None
        self._attempted_at = now
        self.fetches += 1
        done = self._in_flight = threading.Event()
        threading.Thread(target=self._fetch, args=(done,), name="jwks-fetch", daemon=True).start()
        return done

    def _fetch(self, done: threading.Event) -> None:
        keys: dict[str, jwt.PyJWK] | None = None
        try:
            keys = fetch_signing_keys(self.url, self.timeout)
        except FetchError as exc:
            # The keys fetched before stay trusted until their lifespan ends.
            logger.warning(
                "JWKS %s: %s; next try in %s s at the earliest", self.url, exc, self.cooldown
            )
        except Exception:
            logger.exception("JWKS %s: fetch failed", self.url)
        finally:
            with self._lock:
                if keys is not None:
                    self._keys = keys
                    self._fetched_at = self._clock()
                self._in_flight = None
            done.set()
        if keys is not None and not keys:
            logger.warning("JWKS %s: the key set has no RSA signing key", self.url)
