"""Jira issues for PIR action items (REST API v2: ``POST {JIRA_URL}/rest/api/2/issue``).

Auth: a token alone is a Data Center personal access token (``Authorization: Bearer``); with
``JIRA_EMAIL`` it is a Jira Cloud API token (basic auth, ``email:token``). Off while ``JIRA_URL``
is unset (settings refuse a URL without a token and a project).

Creating an issue is not idempotent on Jira's side, and the outbox may send a row twice (a lost
response, a worker killed after the POST). So every issue carries a label made from the outbox
row's idempotency key (``mim-<hash>``), and each attempt first searches for it
(``GET /rest/api/2/search?jql=labels = "mim-…"``): an issue found is the one an earlier attempt
made, and is reused. The issue key is the row's ``provider_message_id``; its browse URL is
``<JIRA_URL>/browse/<KEY>`` (``browse_url``).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import requests
from django.conf import settings

from ..models import OutboxMessage
from . import http
from .base import Channel, Sent, TransportError

OPERATION = "create_issue"
SUMMARY_MAX = 255  # Jira's limit on an issue's summary
DESCRIPTION_MAX = 30_000


def row_label(idempotency_key: str) -> str:
    """The label unique to one outbox row (Jira labels take no spaces; 64 bits of hash)."""
    return "mim-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


def browse_url(key: str) -> str:
    return f"{settings.JIRA_URL.rstrip('/')}/browse/{key}"


def jira_error(response: requests.Response) -> str:
    """Jira's own words for a refusal: ``errorMessages`` and the per-field ``errors``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if not isinstance(body, dict):
        return response.text[:500]
    words = [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors") or {}
    if isinstance(errors, dict):
        words += [f"{field}: {text}" for field, text in sorted(errors.items())]
    return "; ".join(words)[:500] or response.text[:500]


class JiraChannel(Channel):
    name = "jira"

    def off_reason(self) -> str:
        return "" if settings.JIRA_URL else "JIRA_URL is unset"

    def _url(self, path: str) -> str:
        return f"{settings.JIRA_URL.rstrip('/')}/rest/api/2/{path}"

    def _headers(self) -> dict[str, str]:
        token = settings.JIRA_API_TOKEN
        if settings.JIRA_EMAIL:
            pair = base64.b64encode(f"{settings.JIRA_EMAIL}:{token}".encode()).decode()
            auth = f"Basic {pair}"
        else:
            auth = f"Bearer {token}"
        return {"Authorization": auth, "Accept": "application/json"}

    def _request(self, method: str, path: str, *, what: str, **kwargs: Any) -> requests.Response:
        """One call; a refusal (4xx but 408/429) is permanent with Jira's message, the rest as
        every HTTP channel (``http.raise_for``: 429/5xx temporary, ``Retry-After`` kept)."""
        try:
            response = http.session().request(
                method, self._url(path), headers=self._headers(), timeout=http.TIMEOUT, **kwargs
            )
        except requests.Timeout as exc:
            raise TransportError(f"{what}: timed out ({exc.__class__.__name__})") from exc
        except requests.RequestException as exc:
            raise TransportError(f"{what}: {exc.__class__.__name__}: {exc}") from exc
        status = response.status_code
        if 400 <= status < 500 and status not in (408, 429):
            raise TransportError(
                f"{what}: HTTP {status} {jira_error(response)}".strip(), permanent=True
            )
        http.raise_for(response, what)
        return response

    def _found(self, label: str) -> str:
        """The key of the issue an earlier attempt of this row created, or ""."""
        response = self._request(
            "GET",
            "search",
            what="Jira issue search",
            params={"jql": f'labels = "{label}"', "fields": "key", "maxResults": 1},
        )
        try:
            issues = response.json().get("issues") or []
            return str(issues[0]["key"]) if issues else ""
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TransportError(f"Jira's search answered oddly: {exc}") from exc

    def send(self, message: OutboxMessage) -> Sent:
        payload = message.payload or {}
        if payload.get("operation") != OPERATION:
            raise TransportError(
                f"the Jira channel does not know the operation {payload.get('operation')!r}",
                permanent=True,
            )
        label = row_label(message.idempotency_key)
        key = self._found(label)
        if key:
            return Sent(provider_message_id=key, data={"url": browse_url(key), "reused": True})
        labels = [str(name).replace(" ", "-") for name in payload.get("labels") or []]
        fields: dict[str, Any] = {
            "project": {"key": message.recipient or settings.JIRA_PROJECT_KEY},
            "summary": str(payload.get("summary") or message.subject)[:SUMMARY_MAX],
            "description": str(payload.get("description") or "")[:DESCRIPTION_MAX],
            "issuetype": {"name": settings.JIRA_ISSUE_TYPE},
            "labels": [*dict.fromkeys(labels), label],
        }
        if payload.get("due_date"):
            fields["duedate"] = payload["due_date"]
        response = self._request("POST", "issue", what="Jira issue create", json={"fields": fields})
        try:
            key = str(response.json()["key"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TransportError(f"Jira answered without an issue key: {exc}") from exc
        return Sent(provider_message_id=key, data={"url": browse_url(key)})
