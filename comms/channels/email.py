"""Email through Django's email API: SMTP, or Amazon SES (SendGrid, Mailgun …) through
django-anymail; a text part and an HTML part (the four parts as a small table, a link to the war
room); with ``payload["calendar"]`` (``{"method": "REQUEST"|"CANCEL", "ics": "…"}``, the PIR's
meeting) also a ``text/calendar; method=…`` alternative, which calendar clients show as an
invitation with its buttons, and the same text as an ``invite.ics`` attachment for the clients
that only look at attachments.

Errors: an SMTP 5xx reply (a refused recipient, a rejected message) is permanent, a 4xx reply or
a lost connection temporary; SES's errors are mapped by ``aws.transport_error`` (throttling
temporary, ``MessageRejected`` permanent). The provider's id is kept: SES's ``MessageId``, or for
SMTP the ``Message-ID`` header we set.

``payload["headers"]``: extra headers of a message, only those in ``EXTRA_HEADERS`` (a status
page subscriber's ``List-Unsubscribe`` and ``List-Unsubscribe-Post``, RFC 8058); they are part of
the MIME message, so SMTP and SES (which sends it raw) carry them alike.

SES sends are paced to the account's send rate across every worker (``pacing``).
"""

from __future__ import annotations

import hashlib
import smtplib
import threading
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import SafeMIMEText
from django.template.defaultfilters import linebreaksbr
from django.utils.html import format_html, format_html_join

from ..models import OutboxMessage
from ..selectors.messages import clock
from . import aws, pacing
from .base import Channel, Sent, TransportError

SES_BACKEND = "anymail.backends.amazon_ses.EmailBackend"
PART_LABELS = (
    ("current_impact", "Current impact"),
    ("current_action", "What we are doing"),
    ("user_action", "What you should do"),
)

_local = threading.local()

# Headers a payload may set; anything else (From, To, a second Message-ID) is the channel's.
EXTRA_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")

CALENDAR = "text/calendar"
CALENDAR_METHODS = ("REQUEST", "CANCEL", "PUBLISH")


class CalendarEmail(EmailMultiAlternatives):
    """An email whose ``text/calendar`` parts carry iTIP's ``method`` parameter (RFC 6047):
    Django's own part would be ``text/calendar; charset="utf-8"`` without it, and Outlook and
    Gmail then show a file, not an invitation. SES receives this same MIME (anymail sends
    ``message()`` raw), so both transports carry it."""

    calendar_method = "REQUEST"

    def _create_mime_attachment(self, content: Any, mimetype: str) -> Any:
        if mimetype == CALENDAR:
            part = SafeMIMEText(content, "calendar", "utf-8")
            # As Outlook and Google write it: the method first, neither value quoted.
            part.replace_header(
                "Content-Type", f"text/calendar; method={self.calendar_method}; charset=utf-8"
            )
            return part
        # (Django's own, private and untyped in the stubs; the override point for a part.)
        return super()._create_mime_attachment(content, mimetype)  # type: ignore[misc]


def is_ses() -> bool:
    return settings.EMAIL_BACKEND == SES_BACKEND


def message_id(key: str) -> str:
    """The same Message-ID for every attempt of one outbox row: a copy sent twice in the lost-
    worker window is one message to mail clients, which thread and deduplicate by it."""
    domain = settings.MIM_SENDER_EMAIL.rpartition("@")[2] or "mimdesk.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def html_of(payload: dict[str, Any], subject: str) -> str:
    """The HTML part: every value escaped (the parts are people's words)."""
    mi = payload.get("mi") or {}
    parts = payload.get("parts") or {}
    if payload.get("rows"):  # a report: an intro and a table of [label, value] (the KPIs)
        body = format_html(
            '<p>{}</p><table cellpadding="6" style="border-collapse:collapse">{}</table>',
            payload.get("intro", ""),
            format_html_join("", '<tr><th align="left">{}</th><td>{}</td></tr>', payload["rows"]),
        )
    elif not any(parts.get(name) for name, _ in PART_LABELS):
        content = linebreaksbr(payload.get("text", ""))
        body = format_html("<p>{}</p>", content)
    else:
        rows: list[tuple[str, str]] = [
            (label, linebreaksbr(parts.get(name, ""))) for name, label in PART_LABELS
        ]
        if payload.get("next_update_at"):
            rows.append(("Next update", clock(datetime.fromisoformat(payload["next_update_at"]))))
        body = format_html(
            '<table role="presentation" cellpadding="6" style="border-collapse:collapse">'
            "{}</table>",
            format_html_join(
                "",
                '<tr><th align="left" valign="top" style="white-space:nowrap">{}</th>'
                "<td>{}</td></tr>",
                rows,
            ),
        )
        if parts.get("body"):
            body += format_html("<p>{}</p>", linebreaksbr(parts["body"]))
    link = ""
    if mi.get("url"):
        link = format_html(
            '<p><a href="{}">Open the war room of {}</a></p>', mi["url"], mi.get("number", "")
        )
    return format_html(
        '<!doctype html><html><body style="font-family:sans-serif"><h2>{}</h2>{}{}</body></html>',
        subject,
        body,
        link,
    )


def _ses_connection() -> BaseEmailBackend:
    """One open SES connection (a boto3 client) per thread, kept between messages, made for the
    current region and endpoint. SMTP instead gets a fresh connection per message: a server
    drops idle connections, and Django opens and closes it around the send."""
    key = (settings.AWS_REGION, settings.AWS_ENDPOINT_URL)
    held: dict[tuple[str, str], BaseEmailBackend] = _local.__dict__.setdefault("ses", {})
    connection = held.get(key)
    if connection is None:
        connection = get_connection(SES_BACKEND, client_params=aws.client_params())
        connection.open()
        held[key] = connection
    return connection


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _smtp_error(exc: smtplib.SMTPException) -> TransportError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{address}: {code} {_text(reply)}" for address, (code, reply) in exc.recipients.items()
        )
        permanent = bool(codes) and all(code >= 500 for code in codes)
        return TransportError(f"SMTP recipient refused: {detail}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = _text(exc.smtp_error)
        # A refused login is the operator's to fix; the outbox's attempt limit still ends it.
        permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
        return TransportError(
            f"SMTP {exc.__class__.__name__}: {exc.smtp_code} {text}", permanent=permanent
        )
    return TransportError(f"SMTP {exc.__class__.__name__}: {exc}")


def _anymail_error(exc: Exception) -> TransportError:
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
    from botocore.exceptions import BotoCoreError, ClientError

    cause = exc.__cause__
    if isinstance(cause, (BotoCoreError, ClientError)):
        return aws.transport_error(cause, "SES SendEmail")
    if isinstance(exc, AnymailRecipientsRefused):
        return TransportError(f"recipient refused: {exc}", permanent=True)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None) or 0
        temporary = status == 429 or status >= 500 or status == 0
        return TransportError(f"{exc.__class__.__name__}: {exc}", permanent=not temporary)
    # Invalid address, unsupported feature, serialization: the message itself is wrong.
    return TransportError(f"{exc.__class__.__name__}: {exc}", permanent=True)


def _add_calendar(mail: EmailMultiAlternatives, calendar: Any) -> None:
    if not isinstance(calendar, dict) or not isinstance(calendar.get("ics"), str):
        raise TransportError("the message's calendar part has no iCalendar text", permanent=True)
    method = str(calendar.get("method", "REQUEST")).upper()
    if method not in CALENDAR_METHODS:
        raise TransportError(f"unknown iCalendar method {method[:20]!r}", permanent=True)
    assert isinstance(mail, CalendarEmail)
    mail.calendar_method = method
    mail.attach_alternative(calendar["ics"], CALENDAR)
    mail.attach("invite.ics", calendar["ics"], CALENDAR)


def extra_headers(payload: dict[str, Any]) -> dict[str, str]:
    given = payload.get("headers")
    if not isinstance(given, dict):
        return {}
    out = {}
    for name in EXTRA_HEADERS:
        value = given.get(name)
        # A header value never spans lines: a CR or LF would let it write more headers.
        if isinstance(value, str) and value and not any(c in value for c in "\r\n"):
            out[name] = value
    return out


class EmailChannel(Channel):
    name = "email"

    def off_reason(self) -> str:
        if not settings.EMAIL_BACKEND:
            return "EMAIL_BACKEND is unset"
        if is_ses() and not settings.AWS_REGION:
            return "AWS_REGION is unset (EMAIL_BACKEND is Amazon SES)"
        return ""

    def build(self, message: OutboxMessage) -> EmailMultiAlternatives:
        payload = message.payload
        subject = " ".join((message.subject or payload.get("subject", "")).split())
        text = payload.get("text", "")
        url = (payload.get("mi") or {}).get("url")
        calendar = payload.get("calendar")
        mail = (CalendarEmail if calendar else EmailMultiAlternatives)(
            subject=subject,
            body=text + (f"\n\nWar room: {url}" if url else ""),
            from_email=settings.MIM_SENDER_EMAIL,
            to=[message.recipient],
            headers={
                **extra_headers(payload),
                "Message-ID": message_id(message.idempotency_key),
                "X-MIM-Message": message.idempotency_key[:200],
            },
        )
        mail.attach_alternative(html_of(payload, subject), "text/html")
        if calendar:
            _add_calendar(mail, calendar)
        return mail

    def send(self, message: OutboxMessage) -> Sent:
        mail = self.build(message)
        if is_ses():
            return self._send_ses(mail)
        try:
            get_connection().send_messages([mail])
        except smtplib.SMTPException as exc:
            raise _smtp_error(exc) from exc
        except OSError as exc:  # refused, reset, timed out: the server may be back soon
            raise TransportError(f"SMTP {exc.__class__.__name__}: {exc}") from exc
        return Sent(provider_message_id=mail.extra_headers["Message-ID"])

    def _send_ses(self, mail: EmailMultiAlternatives) -> Sent:
        from anymail.exceptions import AnymailError
        from botocore.exceptions import BotoCoreError, ClientError

        pacing.acquire(f"ses:{settings.AWS_REGION}", aws.ses_max_send_rate())
        try:
            connection = _ses_connection()
            connection.send_messages([mail])
        except AnymailError as exc:
            raise _anymail_error(exc) from exc
        except (BotoCoreError, ClientError) as exc:  # making the client (open) failed
            raise aws.transport_error(exc, "SES") from exc
        status = getattr(mail, "anymail_status", None)
        return Sent(provider_message_id=str(getattr(status, "message_id", "") or ""))
