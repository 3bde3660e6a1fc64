"""HTTP for the channels that speak JSON over HTTPS (Teams, webhooks, Statuspage, paging, the
drafting model): one requests session per process, and the provider's answer turned into
``TransportError`` the same way everywhere.

- 429 and 5xx, timeouts, refused connections: temporary; ``Retry-After`` (seconds or an HTTP
  date) is kept for the outbox's backoff.
- any other 4xx: permanent (the request is wrong; sending it again cannot help), except 408.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from .base import TransportError

TIMEOUT = (5.0, 15.0)  # connect, read
_local = threading.local()


def session() -> requests.Session:
    # One per thread: requests' Session is not documented as thread-safe.
    current = getattr(_local, "session", None)
    if current is None:
        current = _local.session = requests.Session()
    return current


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def raise_for(response: requests.Response, what: str) -> None:
    """Turn a provider's error answer into the right ``TransportError``; 2xx passes."""
    status = response.status_code
    if status < 400:
        return
    text = response.text[:500]
    message = f"{what}: HTTP {status} {text}".strip()
    if status == 429 or status >= 500 or status == 408:
        raise TransportError(
            message, retry_after=retry_after_seconds(response.headers.get("Retry-After"))
        )
    raise TransportError(message, permanent=True)


def request(
    method: str,
    url: str,
    *,
    what: str,
    json: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: tuple[float, float] = TIMEOUT,
) -> requests.Response:
    """Send one request; a transport failure or an error answer raises ``TransportError``."""
    try:
        response = session().request(
            method, url, json=json, data=data, headers=headers, timeout=timeout
        )
    except requests.Timeout as exc:
        raise TransportError(f"{what}: timed out ({exc.__class__.__name__})") from exc
    except requests.RequestException as exc:
        raise TransportError(f"{what}: {exc.__class__.__name__}: {exc}") from exc
    raise_for(response, what)
    return response
