"""Mail in's records, read-only in the admin: every message the poller read with what became of
it, and how far it has read each folder. The poller writes them (``comms.services.mailbox``);
editing one by hand would let a message be handled twice or never."""

from __future__ import annotations

from django.contrib import admin
from django.utils.text import Truncator

from incidents.admin.common import ModelAdmin

from ..models import InboundMail, MailboxState

_READ_ONLY = ("add", "change", "delete")


@admin.register(InboundMail)
class InboundMailAdmin(ModelAdmin):
    never = dict.fromkeys(
        _READ_ONLY,
        "Inbound mail is a record of the mailbox poller: each row is the claim that keeps a "
        "message from being handled twice.",
    )
    list_display = ["received_at", "sender", "subject_short", "outcome", "incident", "uid"]
    list_filter = ["outcome", "mailbox"]
    search_fields = ["message_id", "subject", "sender"]
    list_select_related = ["incident"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "mailbox",
        "uid_validity",
        "uid",
        "message_id",
        "in_reply_to",
        "sender",
        "subject",
        "received_at",
        "outcome",
        "reason",
        "incident",
    ]

    @admin.display(description="subject", ordering="subject")
    def subject_short(self, mail: InboundMail) -> str:
        return Truncator(mail.subject).chars(80)


@admin.register(MailboxState)
class MailboxStateAdmin(ModelAdmin):
    never = dict.fromkeys(
        _READ_ONLY,
        "A folder's read position is kept by the mailbox poller (UIDVALIDITY, last UID).",
    )
    list_display = ["mailbox", "uid_validity", "last_uid", "polled_at", "last_error"]
    readonly_fields = ["mailbox", "uid_validity", "last_uid", "polled_at", "last_error"]
