"""The status page's subscription pages (no login): the form, the confirmation and the
unsubscribe links.

- ``GET subscribe/``: the form (htmx loads it into ``/status/``; a full page without htmx).
  ``POST``: CSRF-protected; the same "check your inbox" answer whatever the address's state
  (no enumeration); a filled honeypot gets that answer too and mails nothing; more than
  ``SUBMISSIONS_PER_HOUR`` from one client address → 429.
- ``GET subscribe/confirm/<token>/``: a page with a Confirm button (mail scanners fetch links:
  a GET must not confirm for someone who never clicked); ``POST`` confirms.
- ``GET unsubscribe/<token>/``: a page with an Unsubscribe button; ``POST`` unsubscribes at once
  and is the RFC 8058 one-click target (``List-Unsubscribe-Post``), so it needs no CSRF token:
  the mail provider posts it, and the signed token is the credential.

A forged, altered or expired link is a 400 page saying so, and changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from incidents.errors import DomainError

from ..services import subscribers
from .status import PAGE_NAME

SUBMISSIONS_PER_HOUR = 20
MAX_FIELD = 2000


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _over_limit(request: HttpRequest) -> bool:
    """A fixed one-hour window per client address in the shared cache (as the API's throttles
    keep theirs): the form mails strangers, so a script must not make it mail thousands."""
    window = int(time.time() // 3600)
    key = f"comms:status:subscribe:{_client(request)}:{window}"
    if cache.add(key, 1, 3600):
        return False
    try:
        return cache.incr(key) > SUBMISSIONS_PER_HOUR
    except ValueError:  # expired between add and incr
        cache.add(key, 1, 3600)
        return False


def _form_context(
    *, email: str = "", chosen: list[int] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "page_name": PAGE_NAME,
        "title": "Subscribe to updates",
        "components": list(subscribers.public_components().only("name")),
        "email": email,
        "chosen": chosen or [],
        "errors": errors or {},
    }


def _notice(
    request: HttpRequest, title: str, message: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"page_name": PAGE_NAME, "title": title, "message": message, **extra}
    return render(request, "comms/status/notice.html", context, status=status)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        template = "comms/status/" + (
            "_subscribe_form.html" if request.headers.get("HX-Request") else "subscribe.html"
        )
        return render(request, template, _form_context())
    if _over_limit(request):
        return _notice(
            request,
            "Too many requests",
            "Too many subscriptions from your network in the last hour; please try again later.",
            status=429,
        )
    email = request.POST.get("email", "")[:MAX_FIELD]
    raw = request.POST.getlist("components")[: subscribers.MAX_COMPONENTS + 1]
    done = _notice(
        request,
        "Check your inbox",
        "If the address can receive mail, a message with a confirmation link is on its way. "
        "Nothing else is sent until you click it.",
        outcome="submitted",
    )
    if request.POST.get("website"):
        return done  # the honeypot: a bot filled the field no person sees
    try:
        subscribers.subscribe(email=email, components=raw)
    except DomainError as exc:
        chosen = [int(c) for c in raw if c.isdigit()]
        context = _form_context(
            email=email[:254], chosen=chosen, errors={exc.field or "email": exc.message}
        )
        return render(request, "comms/status/subscribe.html", context, status=400)
    return done


def _bad_link(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _notice(request, "This link does not work", exc.message, status=400, outcome="invalid")


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "GET":
            subscribers.read_confirmation(token)
            return _notice(
                request,
                "Confirm your subscription",
                "Press the button to start receiving status updates by email.",
                action_url=reverse("status:subscribe-confirm", args=[token]),
                action_label="Confirm subscription",
                with_csrf=True,
                outcome="pending",
            )
        subscriber = subscribers.confirm(token=token)
    except subscribers.BadToken as exc:
        return _bad_link(request, exc)
    return _notice(
        request,
        "Subscription confirmed",
        f"{subscriber.email} will receive updates for the services it follows.",
        outcome="confirmed",
    )


@never_cache
@csrf_exempt  # RFC 8058: the mail provider posts the one-click unsubscribe without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        if request.method == "GET":
            subscriber = subscribers.read_unsubscribe(token)
            return _notice(
                request,
                "Unsubscribe",
                f"Stop sending status updates to {subscriber.email}?",
                action_url=reverse("status:unsubscribe", args=[token]),
                action_label="Unsubscribe",
                outcome="pending",
            )
        subscriber = subscribers.unsubscribe(token=token)
    except subscribers.BadToken as exc:
        return _bad_link(request, exc)
    return _notice(
        request,
        "Unsubscribed",
        f"{subscriber.email} will receive no more status updates.",
        outcome="unsubscribed",
    )
