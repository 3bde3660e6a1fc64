"""``POST /chat/slack/commands/``: Slack's ``/mim`` slash command.

Slack signs every request with the app's signing secret (``X-Slack-Signature``: ``v0=`` + the
HMAC-SHA256 of ``v0:<timestamp>:<raw body>``); the signature stands in for a session and a CSRF
token, so the view is CSRF-exempt and does nothing at all for a request it cannot verify. A
timestamp more than 5 minutes from now, either way, is refused: a captured request cannot be
replayed later. The sender is the MIM Desk user whose profile holds their Slack member id.

Slack shows whatever a 200 answers; every outcome a person caused (unknown user, refusal, bad
input) is such a reply, ``ephemeral`` (the sender alone sees it) unless it reports a change the
channel should see (a post, a role, a declaration: ``in_channel``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_sdk.signature import Clock, SignatureVerifier

from incidents.models import UserProfile

from . import commands
from .mrkdwn import escape

log = logging.getLogger(__name__)

# A slash command is a few hundred bytes; Slack caps its text well below this. Anything larger
# is not Slack and is refused before it is read, let alone verified.
MAX_BODY_BYTES = 16 * 1024
# Slack's own window (slack_sdk enforces the same): older or later than this is a replay.
REPLAY_WINDOW_SECONDS = 5 * 60

_said_off = False


class _ProjectClock(Clock):
    """The verifier's "now" is the project's (``timezone.now``), so frozen test clocks hold."""

    def now(self) -> float:
        return timezone.now().timestamp()


def _plain(reason: str, status: int) -> HttpResponse:
    return HttpResponse(reason + "\n", status=status, content_type="text/plain; charset=utf-8")


def _off() -> HttpResponse:
    global _said_off
    if not _said_off:
        _said_off = True
        log.warning("Slack commands are off: SLACK_SIGNING_SECRET is unset")
    return _plain("Slack commands are not configured here (SLACK_SIGNING_SECRET is unset).", 404)


def _unverified(request: HttpRequest, body: bytes, secret: str) -> str | None:
    """Why the request is not Slack's, or None when its signature holds."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        return "X-Slack-Request-Timestamp and X-Slack-Signature are required."
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "X-Slack-Request-Timestamp is not a Unix time."
    if abs(timezone.now().timestamp() - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return "The request's timestamp is more than 5 minutes from now (a replay is refused)."
    verifier = SignatureVerifier(secret, clock=_ProjectClock())
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return "The request's signature does not match."
    return None


def _reply(reply: commands.Reply) -> JsonResponse:
    return JsonResponse(
        {"response_type": "in_channel" if reply.public else "ephemeral", "text": reply.text}
    )


def _sender(slack_user_id: str) -> User | None:
    profile = (
        UserProfile.objects.select_related("user").filter(slack_user_id=slack_user_id).first()
        if slack_user_id
        else None
    )
    return profile.user if profile else None


@csrf_exempt
@require_POST
def slash_command(request: HttpRequest) -> HttpResponse:
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        return _off()
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return _plain("Content-Length is not a number.", 400)
    if length > MAX_BODY_BYTES:
        return _plain(f"A slash command's body is at most {MAX_BODY_BYTES} bytes.", 413)
    body = request.body
    reason = _unverified(request, body, secret)
    if reason is not None:
        return _plain(reason, 401)

    form = QueryDict(body, encoding="utf-8")
    slack_user_id = form.get("user_id", "")
    user = _sender(slack_user_id)
    if user is None or not user.is_active:
        who = escape(form.get("user_name", "") or slack_user_id or "you")
        why = "is not linked to" if user is None else "belongs to a deactivated user of"
        return _reply(
            commands.Reply(
                f"Your Slack account ({who}) {why} MIM Desk, so `/mim` cannot act for you. "
                "Ask a MIM Desk admin to set your Slack member id "
                f"(`{escape(slack_user_id or 'U…')}`) on your MIM Desk profile "
                "(Admin → Users → you → MIM Desk profile)."
            )
        )

    def war_room_url(number: str) -> str:
        return request.build_absolute_uri(reverse("warroom:page", args=[number]))

    invocation = commands.Invocation(
        user=user, text=form.get("text", ""), war_room_url=war_room_url
    )
    try:
        reply = commands.run(invocation)
    except Exception:
        # Slack shows a 500 as "dispatch_failed", which tells the sender nothing; the error
        # is logged with its traceback and the sender told it failed (nothing was half-done:
        # every service is one transaction).
        log.exception("/mim %r from %s failed", form.get("text", "")[:200], user.username)
        reply = commands.Reply(":x: MIM Desk failed to run this command; the error is logged.")
    return _reply(reply)
