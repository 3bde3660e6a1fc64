"""Slack through ``slack_sdk``: messages as Block Kit with a text fallback, and the operations on
an MI's own channel (create it once, invite the role holders, pin the war-room rules).

Recipients: a channel id or name (a stakeholder group's), a member id (``U…``: a direct message,
``chat.postMessage`` with the member id as channel), or ``INCIDENT_CHANNEL``, the MI's own
channel from ``IncidentChannel``; while that one is not ready a message to it fails temporarily
and the outbox tries again.

slack_sdk's own retry handlers are switched off (``retry_handlers=[]``): the outbox retries from
the database with backoff and ``Retry-After``, so a retry survives a worker restart and shows in
the delivery attempts, and a worker is never held asleep inside the SDK.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from incidents import selectors as incident_selectors
from incidents.models import MajorIncident, UserProfile

from ..models import IncidentChannel, OutboxMessage, OutboxStatus
from ..selectors.audience import INCIDENT_CHANNEL
from ..selectors.messages import clock, next_update_label, war_room_url
from .base import Channel, Sent, TransportError

logger = logging.getLogger(__name__)

TIMEOUT = 15  # seconds, per Web API call
NAME_MAX = 80  # Slack's limit on a channel name
MAX_SUFFIX = 20  # incident-…-2 … -20: past that the template is wrong, not the luck

# Slack's error codes that retrying cannot fix (the token, the channel or the request is wrong).
PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "restricted_action",
        "invalid_arguments",
        "invalid_blocks",
        "invalid_name",
        "invalid_name_specials",
        "invalid_name_required",
        "invalid_name_maxlength",
        "msg_too_long",
        "no_text",
    }
)
# …and the ones that are the provider's trouble, not ours; an unknown code with an HTTP 200 (the
# request was understood and refused) counts as permanent, so it is dead at once, visible.
TEMPORARY_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Invitation answers that mean "nothing to do" for that member.
ALREADY_INVITED = frozenset({"already_in_channel", "cant_invite_self"})
# …and the ones that concern the one member only: logged, the others still invited.
UNINVITABLE = frozenset(
    {"user_not_found", "user_is_restricted", "user_is_ultra_restricted", "cant_invite"}
)


# Formatting ------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text for mrkdwn: ``&``, ``<`` and ``>`` are Slack's control characters (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _is_web_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not set(url) & set("<>|")


def link(url: str, label: str) -> str:
    """A mrkdwn link, or just the escaped label when ``url`` is not a plain http(s) one."""
    return f"<{url}|{escape(label)}>" if _is_web_link(url) else escape(label)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blocks_for(payload: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text fallback (notifications, screen readers) and the Block Kit blocks of a message:
    a header, the four parts, the body, and a link to the war room."""
    parts = payload.get("parts") or {}
    mi = payload.get("mi") or {}
    subject = payload.get("subject") or parts.get("subject") or mi.get("number") or "Update"
    blocks: list[dict[str, Any]] = [
        # Header text is plain_text: no mrkdwn, so no escaping; Slack caps it at 150 characters.
        {"type": "header", "text": {"type": "plain_text", "text": _clip(subject, 150)}}
    ]
    fields = [
        ("Current impact", parts.get("current_impact", "")),
        ("What we are doing", parts.get("current_action", "")),
        ("What you should do", parts.get("user_action", "")),
        ("Next update", next_update_label(payload)),
    ]
    for label, value in fields:
        if value:
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": _clip(f"*{label}*\n{escape(value)}", 3000),
                    },
                }
            )
    if parts.get("body"):
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(escape(parts["body"]), 3000)},
            }
        )
    if mi.get("url"):
        label = f"{mi.get('number', '')} war room · {mi.get('status_label', '')}".strip(" ·")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": link(mi["url"], label)}]}
        )
    text = escape(subject)
    if payload.get("text"):
        text += "\n" + escape(payload["text"])
    return _clip(text, 4000), blocks


def channel_name(
    *, declared_at: datetime, summary: str, number: str = "", template: str | None = None
) -> str:
    """The MI's channel name from ``SLACK_CHANNEL_TEMPLATE`` (``{date}``: the declaration's UTC
    day as YYYYMMDD, ``{slug}``: the summary, ``{number}``: the MI's number), as Slack takes it:
    lowercase, only a-z 0-9 - _, at most 80 characters."""
    template = template if template is not None else settings.SLACK_CHANNEL_TEMPLATE
    slug = slugify(summary)
    raw = template.format(
        date=declared_at.astimezone(UTC).strftime("%Y%m%d"), slug=slug, number=number
    )
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-_")
    return name[:NAME_MAX].rstrip("-_") or f"incident-{number.lower() or 'mi'}"


def with_suffix(name: str, n: int) -> str:
    """The n-th try at a name Slack said was taken: ``name-2``, ``name-3`` … within 80."""
    if n <= 1:
        return name
    suffix = f"-{n}"
    return name[: NAME_MAX - len(suffix)].rstrip("-_") + suffix


def rules_text(mi: MajorIncident, war_room_url: str) -> str:
    """The pinned first message: the declaration and the rules of the channel."""
    commander = incident_selectors.current_commander(mi)
    summary = mi.summary or mi.incident.short_description
    links = [link(war_room_url, "War room")]
    if mi.bridge_link:
        links.append(link(mi.bridge_link, "Bridge"))
    if mi.bridge_dial_in:
        links.append(f"Dial-in: {escape(mi.bridge_dial_in)}")
    return (
        f":rotating_light: *{escape(mi.number)} declared {clock(mi.declared_at)}*: "
        f"{escape(summary)}\n"
        f"Incident commander: {escape(commander.get_username() if commander else 'not assigned')}"
        "\n\n*Rules of this channel*\n"
        "• Updates only in this channel: stakeholder updates, command updates, state changes.\n"
        "• Debugging happens in the war room and on the bridge, not here: " + " · ".join(links)
    )


# Errors ----------------------------------------------------------------------------------------


def _error_code(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _header(exc: SlackApiError, name: str) -> str | None:
    headers = getattr(exc.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) else value)
    return None


def as_transport_error(exc: Exception, what: str) -> TransportError:
    """slack_sdk's failures as the outbox's temporary or permanent errors."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 0) or 0
        code = _error_code(exc)
        message = f"{what}: HTTP {status} {code}".strip()
        if status == 429 or code == "ratelimited":
            retry_after = _header(exc, "Retry-After")
            try:
                seconds = float(retry_after) if retry_after else None
            except ValueError:
                seconds = None
            return TransportError(message, retry_after=seconds)
        if status >= 500 or code in TEMPORARY_ERRORS:
            return TransportError(message)
        return TransportError(message, permanent=True)
    if isinstance(exc, (URLError, HTTPException, OSError)):  # refused, reset, timed out
        return TransportError(f"{what}: {exc.__class__.__name__}: {exc}")
    return TransportError(f"{what}: {exc.__class__.__name__}: {exc}", permanent=True)


class SlackChannel(Channel):
    name = "slack"

    def off_reason(self) -> str:
        return "" if settings.SLACK_BOT_TOKEN else "SLACK_BOT_TOKEN is unset"

    def client(self) -> WebClient:
        # A client per call: cheap (no connection pool in the urllib transport), and it follows
        # the settings of the moment.
        base_url = settings.SLACK_API_URL or "https://slack.com/api/"
        return WebClient(
            token=settings.SLACK_BOT_TOKEN,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=TIMEOUT,
            retry_handlers=[],
        )

    def call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        """One Web API call; every failure raised as a ``TransportError``."""
        try:
            response = self.client().api_call(method, json=kwargs)
        except (SlackClientError, URLError, HTTPException, OSError) as exc:
            raise as_transport_error(exc, method) from exc
        data = response.data
        return data if isinstance(data, dict) else {}

    def send(self, message: OutboxMessage) -> Sent:
        operation = (message.payload or {}).get("operation")
        if operation == "create_channel":
            return self.create_channel(message)
        if operation == "invite":
            return self.invite(message)
        return self.post(message)

    # Messages ----------------------------------------------------------------------------------

    def post(self, message: OutboxMessage) -> Sent:
        if message.recipient == INCIDENT_CHANNEL:
            channel = self._ready_channel(message).channel_id
        else:
            channel = message.recipient
        text, blocks = blocks_for(message.payload or {})
        data = self.call(
            "chat.postMessage",
            channel=channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return Sent(provider_message_id=f"{data.get('channel', channel)}:{data.get('ts', '')}")

    def _mi_of(self, message: OutboxMessage) -> MajorIncident:
        """The MI a message to, or an operation on, its channel is about. A security MI gets no
        channel (nothing technical in a wide channel before legal)."""
        mi = (
            MajorIncident.objects.select_related("incident")
            .filter(pk=message.major_incident_id)
            .first()
            if message.major_incident_id is not None
            else None
        )
        if mi is None:
            raise TransportError("the message names no major incident", permanent=True)
        if mi.is_security:
            raise TransportError("a security MI has no incident channel", permanent=True)
        return mi

    def _incident_channel(self, message: OutboxMessage) -> IncidentChannel | None:
        mi = self._mi_of(message)
        return IncidentChannel.objects.filter(major_incident_id=mi.pk).first()

    def _ready_channel(self, message: OutboxMessage) -> IncidentChannel:
        row = self._incident_channel(message)
        if row is None or not row.channel_id or row.ready_at is None:
            raise TransportError("channel not created yet")
        return row

    # The MI's channel --------------------------------------------------------------------------

    def create_channel(self, message: OutboxMessage) -> Sent:
        """Create the MI's channel once, invite its role holders, pin the rules.

        Each step is recorded as it is done, so a retry after a failure (a 429 while inviting)
        goes on from there. The ``IncidentChannel`` row is the claim on the whole operation: of
        two workers running it at once (the outbox re-drove a row whose first worker was slow
        past the lease), the one that inserts the row talks to Slack; the other fails temporarily
        and, retried, finds the channel ready.
        """
        mi = self._mi_of(message)
        row = self._claim(mi, (message.payload or {}).get("name") or self._name_for(mi))
        if row.ready_at is not None:
            return Sent(provider_message_id=row.channel_id, data={"name": row.name, "created": 0})
        created = 0
        try:
            if not row.channel_id:
                self._create(row)
                created = 1
            self._invite_role_holders(mi, row)
            self._pin_rules(mi, row)
        except TransportError:
            self._release(row)
            raise
        now = timezone.now()
        IncidentChannel.objects.filter(pk=row.pk).update(ready_at=now)
        # The messages that waited for the channel go out at the next re-drive, not after their
        # backoff.
        OutboxMessage.objects.filter(
            major_incident_id=mi.pk,
            channel=self.name,
            recipient=INCIDENT_CHANNEL,
            status=OutboxStatus.FAILED,
        ).update(next_attempt_at=now)
        return Sent(provider_message_id=row.channel_id, data={"name": row.name, "created": created})

    def _name_for(self, mi: MajorIncident) -> str:
        return channel_name(
            declared_at=mi.declared_at,
            summary=mi.summary or mi.incident.short_description,
            number=mi.number,
        )

    def _claim(self, mi: MajorIncident, name: str) -> IncidentChannel:
        """The row, held by this worker until the channel is ready. Until then ``created_at`` is
        the time of the claim: a claimant that died is taken over after the outbox's lease, with
        a conditional UPDATE only one worker can win."""
        try:
            with transaction.atomic():
                return IncidentChannel.objects.create(major_incident=mi, name=name)
        except IntegrityError:
            pass
        row = IncidentChannel.objects.get(major_incident=mi)
        if row.ready_at is not None:
            return row
        now = timezone.now()
        lease = timedelta(seconds=settings.COMMS_SENDING_LEASE_SECONDS)
        taken = IncidentChannel.objects.filter(
            pk=row.pk, ready_at=None, created_at__lt=now - lease
        ).update(created_at=now)
        if taken != 1:
            raise TransportError("the channel is being created by another worker")
        row.refresh_from_db()
        return row

    def _release(self, row: IncidentChannel) -> None:
        """Let go of the claim after a failure, so that the retry goes on at once: a row with no
        channel yet is dropped; one with a channel is marked as claimed long ago."""
        if not row.channel_id:
            IncidentChannel.objects.filter(pk=row.pk, channel_id="").delete()
            return
        lease = timedelta(seconds=settings.COMMS_SENDING_LEASE_SECONDS)
        IncidentChannel.objects.filter(pk=row.pk, ready_at=None).update(
            created_at=timezone.now() - lease - timedelta(seconds=1)
        )

    def _create(self, row: IncidentChannel) -> None:
        for n in range(1, MAX_SUFFIX + 1):
            name = with_suffix(row.name, n)
            try:
                data = self.call("conversations.create", name=name, is_private=False)
            except TransportError as exc:
                if isinstance(exc.__cause__, SlackApiError) and (
                    _error_code(exc.__cause__) == "name_taken"
                ):
                    continue
                raise
            row.name = name
            row.channel_id = str((data.get("channel") or {}).get("id", ""))
            if not row.channel_id:
                raise TransportError("conversations.create: no channel id in the answer")
            # Saved at once: from here on a retry must never create another channel.
            row.save(update_fields=["name", "channel_id"])
            logger.info("created Slack channel #%s (%s)", row.name, row.channel_id)
            return
        raise TransportError(
            f"conversations.create: #{row.name} and {MAX_SUFFIX - 1} suffixes are taken",
            permanent=True,
        )

    def _invite_role_holders(self, mi: MajorIncident, row: IncidentChannel) -> None:
        holders = {r.user_id for r in incident_selectors.active_roles(mi)}
        slack_ids = sorted(
            sid
            for sid in UserProfile.objects.filter(user_id__in=holders).values_list(
                "slack_user_id", flat=True
            )
            if sid
        )
        for slack_id in slack_ids:
            self._invite_one(row, slack_id)

    def _invite_one(self, row: IncidentChannel, slack_id: str) -> None:
        if slack_id in row.invited:
            return
        try:
            self.call("conversations.invite", channel=row.channel_id, users=slack_id)
        except TransportError as exc:
            code = _error_code(exc.__cause__) if isinstance(exc.__cause__, SlackApiError) else ""
            if code in UNINVITABLE:
                logger.warning("cannot invite %s to #%s: %s", slack_id, row.name, code)
                return
            if code not in ALREADY_INVITED:
                raise
        _mark_invited(row, slack_id)

    def _pin_rules(self, mi: MajorIncident, row: IncidentChannel) -> None:
        if not row.pinned_ts:
            data = self.call(
                "chat.postMessage",
                channel=row.channel_id,
                text=rules_text(mi, war_room_url(mi)),
                unfurl_links=False,
            )
            # Kept before the pin: a retry pins this message instead of posting the rules again.
            row.pinned_ts = str(data.get("ts", ""))
            row.save(update_fields=["pinned_ts"])
        try:
            self.call("pins.add", channel=row.channel_id, timestamp=row.pinned_ts)
        except TransportError as exc:
            code = _error_code(exc.__cause__) if isinstance(exc.__cause__, SlackApiError) else ""
            if code == "already_pinned":
                return
            if not exc.permanent:
                raise
            # A workspace that forbids pins still gets its channel; the rules stay the first post.
            logger.warning("could not pin the rules in #%s: %s", row.name, exc.message)

    def invite(self, message: OutboxMessage) -> Sent:
        """Invite one later role holder (``payload["user_id"]``) to the MI's channel."""
        row = self._incident_channel(message)
        if row is None or not row.channel_id:
            raise TransportError("channel not created yet")
        user_id = int((message.payload or {}).get("user_id") or 0)
        slack_id = (
            UserProfile.objects.filter(user_id=user_id)
            .values_list("slack_user_id", flat=True)
            .first()
        )
        if not slack_id:
            raise TransportError(f"user {user_id} has no Slack member id", permanent=True)
        self._invite_one(row, slack_id)
        return Sent(provider_message_id=f"{row.channel_id}:{slack_id}")


def _mark_invited(row: IncidentChannel, slack_id: str) -> None:
    # Read-modify-write of the list under a row lock (no network inside): the channel creation
    # and a later invitation may finish at the same time.
    with transaction.atomic():
        current = IncidentChannel.objects.select_for_update().get(pk=row.pk)
        if slack_id not in current.invited:
            current.invited = [*current.invited, slack_id]
            current.save(update_fields=["invited"])
        row.invited = current.invited
