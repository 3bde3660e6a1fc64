"""Email through Django's email API (SMTP, or SES/SendGrid/Mailgun via django-anymail), text and
HTML parts."""

from __future__ import annotations

from smtplib import SMTPException, SMTPRecipientsRefused

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.html import escape, linebreaks

from ..models import OutboxMessage
from .base import Channel, Sent, TransportError


class EmailChannel(Channel):
    name = "email"

    def off_reason(self) -> str:
        return "" if settings.EMAIL_BACKEND else "EMAIL_BACKEND is unset"

    def send(self, message: OutboxMessage) -> Sent:
        payload = message.payload
        text = payload.get("text", "")
        mi = payload.get("mi") or {}
        html = linebreaks(escape(text))
        if mi.get("url"):
            html += f'<p><a href="{escape(mi["url"])}">{escape(mi.get("number", ""))}</a></p>'
        mail = EmailMultiAlternatives(
            subject=message.subject or payload.get("subject", ""),
            body=text + (f"\n\n{mi['url']}" if mi.get("url") else ""),
            from_email=settings.MIM_SENDER_EMAIL,
            to=[message.recipient],
            headers={"X-MIM-Message": message.idempotency_key[:200]},
            connection=get_connection(),
        )
        mail.attach_alternative(html, "text/html")
        try:
            mail.send()
        except SMTPRecipientsRefused as exc:
            raise TransportError(f"recipient refused: {exc}", permanent=True) from exc
        except (SMTPException, OSError) as exc:
            raise TransportError(f"{exc.__class__.__name__}: {exc}") from exc
        return Sent(provider_message_id=str(mail.extra_headers.get("Message-ID", "")))
