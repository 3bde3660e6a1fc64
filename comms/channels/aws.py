"""boto3 behind one module (healthchecks' ``hc/lib/s3.py``): lazily made clients with the region
and endpoint from settings, the SES account's send rate, and AWS errors turned into
``TransportError`` the same way for SES and SNS.

- throttling (``Throttling``, ``TooManyRequestsException``, "Maximum sending rate exceeded"),
  5xx, timeouts and refused connections: temporary;
- ``MessageRejected``, an invalid address or parameter, an unknown topic, a refused
  authorization: permanent (sending it again cannot help).

botocore's own retries are off (one attempt per call): the outbox retries from the database
with backoff, so a worker never sleeps through botocore's retry loop while holding a claim.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.cache import cache

from .base import TransportError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# How long one answer of the account's send rate is trusted (SES raises quotas rarely).
SEND_RATE_TTL = 300
# How long a failed look-up's fallback is trusted before asking again.
SEND_RATE_FALLBACK_TTL = 30
# SES's sandbox rate: the safe guess when the account cannot be asked.
FALLBACK_SEND_RATE = 1.0
# SES sends no Retry-After; its documented advice is to back off and retry "after a short while".
THROTTLE_RETRY_AFTER = 1.0

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "SlowDown",
    }
)
PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "MailFromDomainNotVerified",
        "AccountSendingPausedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "ConfigurationSetDoesNotExist",
        "ConfigurationSetDoesNotExistException",
        "InvalidParameter",
        "InvalidParameterValue",
        "InvalidParameterException",
        "BadRequestException",
        "NotFound",
        "NotFoundException",
        "AuthorizationError",
        "AccessDenied",
        "AccessDeniedException",
        "EndpointDisabled",
        "KMSDisabled",
        "KMSNotFound",
        "KMSAccessDenied",
        "ValidationError",
        "ValidationException",
    }
)

_local = threading.local()


def client_params() -> dict[str, Any]:
    """What every client is made with: the settings' region and endpoint, short timeouts and
    one attempt per call. anymail's SES backend takes the same (``client_params``)."""
    params: dict[str, Any] = {
        "region_name": settings.AWS_REGION,
        "config": {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "retries": {"mode": "standard", "total_max_attempts": 1},
        },
    }
    if settings.AWS_ENDPOINT_URL:
        params["endpoint_url"] = settings.AWS_ENDPOINT_URL
    return params


def client(service: str) -> Any:
    """The boto3 client for ``service``, made on first use in this thread.

    Keyed by the region and endpoint too, so tests that point ``AWS_ENDPOINT_URL`` elsewhere get
    a new client. One per thread: boto3 clients are thread-safe but the default session that
    makes them is not.
    """
    import boto3
    from botocore.config import Config

    key = (service, settings.AWS_REGION, settings.AWS_ENDPOINT_URL)
    clients: dict[tuple[str, str, str], Any] = _local.__dict__.setdefault("clients", {})
    made = clients.get(key)
    if made is None:
        params = client_params()
        params["config"] = Config(**params["config"])
        made = clients[key] = boto3.session.Session().client(service, **params)
    return made


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")


def transport_error(exc: BaseException, what: str) -> TransportError:
    """The outbox's view of a botocore error: temporary or permanent, with a retry hint."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        response: dict[str, Any] = exc.response or {}
        code = error_code(exc)
        text = str((response.get("Error") or {}).get("Message") or "")
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        message = f"{what}: {code or 'error'} (HTTP {status}) {text}".strip()
        if (
            code in THROTTLING_CODES
            or status == 429
            or "maximum sending rate exceeded" in text.lower()
        ):
            return TransportError(message, retry_after=THROTTLE_RETRY_AFTER)
        if status >= 500 or code in ("ServiceUnavailable", "InternalFailure", "InternalError"):
            return TransportError(message)
        if code in PERMANENT_CODES or 400 <= status < 500:
            return TransportError(message, permanent=True)
        return TransportError(message)
    # BotoCoreError: endpoint unreachable, timeouts, missing credentials (IMDS may come back).
    return TransportError(f"{what}: {exc.__class__.__name__}: {exc}")


def ses_max_send_rate() -> float:
    """Messages per second the SES account may send: ``MIM_SES_SEND_RATE`` when set, else the
    account's ``SendQuota.MaxSendRate`` (SES v2 ``GetAccount``, falling back to v1
    ``GetSendQuota``), cached for every worker for ``SEND_RATE_TTL`` seconds."""
    if settings.MIM_SES_SEND_RATE > 0:
        return float(settings.MIM_SES_SEND_RATE)
    key = f"comms:ses-send-rate:{settings.AWS_REGION}:{settings.AWS_ENDPOINT_URL}"
    cached = cache.get(key)
    if cached is not None:
        return float(cached)
    rate, ttl = _ask_send_rate()
    cache.set(key, rate, ttl)
    return rate


def _ask_send_rate() -> tuple[float, int]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        quota = client("sesv2").get_account().get("SendQuota") or {}
        if quota.get("MaxSendRate"):
            return float(quota["MaxSendRate"]), SEND_RATE_TTL
    except (BotoCoreError, ClientError) as exc:
        logger.info("SES v2 GetAccount failed (%s); asking v1 GetSendQuota", exc)
    try:
        quota = client("ses").get_send_quota()
        if quota.get("MaxSendRate"):
            return float(quota["MaxSendRate"]), SEND_RATE_TTL
    except (BotoCoreError, ClientError) as exc:
        logger.warning(
            "SES send quota unknown (%s); pacing at %s/s for now", exc, FALLBACK_SEND_RATE
        )
    return FALLBACK_SEND_RATE, SEND_RATE_FALLBACK_TTL
