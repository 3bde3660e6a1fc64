"""Mail in: the IMAP mailbox polled into incidents and timelines (``comms.tasks.poll_mailbox``).

One poll: read a batch of new messages (``comms.channels.imap``, no transaction open), then handle
each message in its own transaction. The first write of that transaction is the message's
``InboundMail`` row, unique by folder + UIDVALIDITY + UID and by Message-ID: it is the claim. A
second poller (two beat processes, a retried task) that reaches the same message blocks on the
unique index until the first commits, then gets an IntegrityError and skips it; a message read
again after a UIDVALIDITY change meets its Message-ID and is skipped the same way. So every
message is handled once, whatever the pollers do, and ``MailboxState.last_uid`` only saves work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.errors import DomainError
from incidents.models import Channel, Incident, TimelineKind
from incidents.selectors import governing_major_incident
from incidents.services import create_incident, record
from incidents.services.common import lock_incident

from ..channels import imap
from ..models import InboundMail, MailboxState, MailOutcome, OutboxMessage
from . import mail_parse
from .mail_parse import ParsedMail

logger = logging.getLogger(__name__)
_said_off = False


def _off() -> dict[str, int]:
    global _said_off
    if not _said_off:
        _said_off = True
        logger.info("mail in is off: MIM_IMAP_URL is unset")
    return {"off": 1}


def poll_mailbox() -> dict[str, int]:
    """Read new mail from ``MIM_IMAP_URL``: a new mail opens an incident (channel ``email``), a
    reply goes to its incident's timeline, auto-replies and loops are ignored; each message once.

    Returns the count of each outcome (``created``, ``replied``, ``ignored``, ``failed``, and
    ``skipped`` for messages another poll had handled), ``{"off": 1}`` when mail in is off,
    ``{"error": 1}`` when the mailbox could not be read (the error is on its ``MailboxState``).
    """
    url = settings.MIM_IMAP_URL
    if not url:
        return _off()
    try:
        mailbox = imap.parse_url(url)
    except ValueError as error:
        logger.error("mail in: %s", error)
        return {"error": 1}
    state, _ = MailboxState.objects.get_or_create(mailbox=mailbox.name)
    try:
        batch = imap.fetch_new(
            mailbox,
            uid_validity=state.uid_validity,
            last_uid=state.last_uid,
            limit=settings.MIM_IMAP_BATCH,
        )
    except imap.ImapError as error:
        logger.warning("mail in: %s", error)
        MailboxState.objects.filter(pk=state.pk).update(
            polled_at=timezone.now(), last_error=str(error)[:2000]
        )
        return {"error": 1}
    if batch.reread:
        # The server renumbered the folder: its old UIDs mean nothing. Start over under the new
        # UIDVALIDITY; the Message-IDs already recorded keep each message once.
        MailboxState.objects.filter(pk=state.pk).exclude(uid_validity=batch.uid_validity).update(
            uid_validity=batch.uid_validity, last_uid=0
        )
        if state.uid_validity:
            logger.warning(
                "mail in: UIDVALIDITY of %s changed (%s → %s), reading it again",
                mailbox.name,
                state.uid_validity,
                batch.uid_validity,
            )
    counts = dict.fromkeys(["created", "replied", "ignored", "failed", "skipped"], 0)
    for fetched in batch.messages:
        counts[handle_message(mailbox.name, batch.uid_validity, fetched.uid, fetched.raw)] += 1
    if batch.messages:
        newest = batch.messages[-1].uid
        # Only ever forward: a slower poller that read an older batch must not move it back.
        MailboxState.objects.filter(
            pk=state.pk, uid_validity=batch.uid_validity, last_uid__lt=newest
        ).update(last_uid=newest)
    MailboxState.objects.filter(pk=state.pk).update(polled_at=timezone.now(), last_error="")
    if batch.pending:
        counts["pending"] = batch.pending
    return counts


@dataclass
class _Outcome:
    outcome: str
    reason: str = ""
    incident: Incident | None = None


def handle_message(mailbox: str, uid_validity: int, uid: int, raw: bytes) -> str:
    """Handle one message in its own transaction; the outcome, or ``skipped`` when another poll
    has it already."""
    with transaction.atomic():
        try:
            parsed: ParsedMail | None = mail_parse.parse(raw, our_address=settings.MIM_SENDER_EMAIL)
        except mail_parse.Unreadable as error:
            parsed, unreadable = None, str(error)
        mail = InboundMail(
            mailbox=mailbox,
            uid_validity=uid_validity,
            uid=uid,
            message_id=mail_parse.mail_key(raw, parsed.message_id if parsed else ""),
            in_reply_to=parsed.in_reply_to if parsed else "",
            sender=parsed.sender if parsed else "",
            subject=parsed.subject[:500] if parsed else "",
            outcome=MailOutcome.FAILED,
        )
        try:
            # The claim (see the module's docstring), in a savepoint so that losing it leaves
            # this transaction usable on PostgreSQL.
            with transaction.atomic():
                mail.save()
        except IntegrityError:
            return "skipped"
        if parsed is None:
            result = _Outcome(MailOutcome.FAILED, unreadable)
        else:
            try:
                # A rule that refuses (or a bug on one odd mail) rolls back this savepoint only:
                # the claim stays, recorded as failed, and the queue moves on.
                with transaction.atomic():
                    result = _act(parsed, mail)
            except (DomainError, ValueError, LookupError) as error:
                logger.warning("mail in: UID %s of %s failed: %s", uid, mailbox, error)
                result = _Outcome(MailOutcome.FAILED, f"{type(error).__name__}: {error}")
        mail.outcome = result.outcome
        mail.reason = result.reason[:2000]
        mail.incident = result.incident
        mail.save(update_fields=["outcome", "reason", "incident"])
        return str(result.outcome)


def _user_with_address(address: str) -> Any:
    """The active user whose address it is, when exactly one has it."""
    if not address:
        return None
    users = list(
        get_user_model().objects.filter(email__iexact=address, is_active=True).only("pk")[:2]
    )
    return users[0] if len(users) == 1 else None


def _replied_incident(parsed: ParsedMail) -> Incident | None:
    """The incident a reply belongs to: the mail it answers (one we read, or one of our
    notifications), else an incident number in the subject."""
    ids = parsed.thread_ids
    if ids:
        known = dict(
            InboundMail.objects.filter(message_id__in=ids, incident__isnull=False).values_list(
                "message_id", "incident_id"
            )
        )
        sent = dict(
            OutboxMessage.objects.filter(
                provider_message_id__in=ids, major_incident__isnull=False
            ).values_list("provider_message_id", "major_incident__incident_id")
        )
        for message_id in ids:  # the nearest ancestor wins
            incident_id = known.get(message_id) or sent.get(message_id)
            if incident_id:
                return lock_incident(incident_id)
    for number in parsed.incident_numbers:
        found = Incident.objects.by_number(number).values_list("pk", flat=True).first()
        if found:
            return lock_incident(found)
    return None


def _who(parsed: ParsedMail, user: Any) -> str:
    address = f"<{parsed.sender}>" if parsed.sender else "(no sender address)"
    if user is not None:
        return f"{user.get_username()} {address}"
    return f"{parsed.sender_name} {address}".strip()


def _act(parsed: ParsedMail, mail: InboundMail) -> _Outcome:
    if parsed.automatic:
        return _Outcome(MailOutcome.IGNORED, parsed.automatic)
    # The From header is not authenticated: a matching user becomes the caller (whom the desk
    # calls back), never the actor; the rows say "system" did it, from a mail.
    user = _user_with_address(parsed.sender)
    who = _who(parsed, user)
    data = {"message_id": mail.message_id, "sender": parsed.sender, "subject": parsed.subject}
    incident = _replied_incident(parsed)
    if incident is not None:
        text = mail_parse.strip_quoted(parsed.body) or "(no new text)"
        record(
            incident,
            TimelineKind.EMAIL,
            f"Mail from {who}: {parsed.subject or '(no subject)'}\n\n{text}",
            data=data,
            major_incident=governing_major_incident(incident),
        )
        return _Outcome(MailOutcome.REPLIED, "; ".join(parsed.notes), incident)
    description = parsed.body
    if user is None:
        description = f"From: {who}\n\n{description}".strip()
    incident = create_incident(
        actor=None,
        short_description=mail_parse.short_description(parsed.subject),
        description=description,
        caller=user,
        channel=Channel.EMAIL,
    )
    record(
        incident,
        TimelineKind.EMAIL,
        f"Mailed in by {who}: {parsed.subject or '(no subject)'}",
        data=data,
    )
    return _Outcome(MailOutcome.CREATED, "; ".join(parsed.notes), incident)
