"""The drafting model: an OpenAI-compatible chat-completions endpoint (``COPILOT_API_URL``).

The only module that talks to it. It asks for one JSON object (JSON mode) and hands back the
object the model answered, or raises ``TransportError``; what the object must hold, and what
happens when it does not, is the drafter's business (``comms.services.drafting``).

``COPILOT_API_URL`` is the API's base (``https://llm.example/v1``), to which
``/chat/completions`` is added, as OpenAI's clients do with their ``base_url``; a URL that
already ends in ``/chat/completions`` is used as given (Azure-style deployments and proxies
publish the full URL).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from .base import TransportError
from .http import request

PATH = "/chat/completions"


def off_reason() -> str:
    if not settings.COPILOT_API_URL:
        return "COPILOT_API_URL is unset"
    return ""


def is_enabled() -> bool:
    return not off_reason()


def endpoint() -> str:
    url = str(settings.COPILOT_API_URL).rstrip("/")
    return url if url.endswith(PATH) else url + PATH


def complete_json(system: str, user: str) -> dict[str, Any]:
    """One chat completion in JSON mode: the object the model's first choice holds.

    A refused request, a timeout, an answer that is no JSON object: ``TransportError``.
    """
    headers = {"Content-Type": "application/json"}
    if settings.COPILOT_API_KEY:
        headers["Authorization"] = f"Bearer {settings.COPILOT_API_KEY}"
    timeout = float(settings.COPILOT_TIMEOUT)
    body = {
        "model": settings.COPILOT_MODEL,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
        "response_format": {"type": "json_object"},
        "temperature": 0.2,
    }
    # A person waits on the answer in the war room: the whole request is bounded by the
    # setting, connect and read alike.
    response = request(
        "POST", endpoint(), what="drafting model", json=body, headers=headers,
        timeout=(min(timeout, 5.0), timeout),
    )  # fmt: skip
    try:
        answer = response.json()
        content = answer["choices"][0]["message"]["content"]
        parsed = json.loads(content) if isinstance(content, str) else None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise TransportError(f"drafting model: not a chat completion ({exc})") from exc
    if not isinstance(parsed, dict):
        raise TransportError("drafting model: the answer is not a JSON object")
    return parsed
