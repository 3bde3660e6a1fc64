"""Stakeholder updates: write (draft), submit, approve, send; the automatic one from the
pre-approved template; a security MI's legal gate.

Every change is one transaction that writes the update and, when it is sent, the MI's cadence
clock (``next_update_due_at``), its first-update milestones and the timeline row; the outbox
rows follow in the same transaction and are delivered after commit.

Lock order (after the incidents app's): Incident → MajorIncident → StakeholderUpdate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import ensure, get_property, name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services import record
from incidents.services.common import lock_major_incident

from ..models import CommsState, StakeholderUpdate, UpdateStatus, UpdateType
from ..selectors import messages, plan
from . import subscribers
from .dispatch import publish_update

PARTS = ("current_impact", "current_action", "user_action", "next_update_at")
LEGAL_GROUP = "legal"
# Updates a person writes; the others are the system's (reminders, war-room posts, …).
WRITABLE_TYPES = (
    UpdateType.INITIAL,
    UpdateType.CADENCE,
    UpdateType.EXECUTIVE,
    UpdateType.STATUS_PAGE,
    UpdateType.RESOLUTION,
    UpdateType.ALL_CLEAR,
    UpdateType.PIR_SUMMARY,
)
MAX_PART = 5000


def is_legal(actor: Actor | None) -> bool:
    user = user_of(actor)
    return bool(user and user.is_active and user.groups.filter(name=LEGAL_GROUP).exists())


def _clean(
    *,
    update_type: Any,
    current_impact: Any,
    current_action: Any,
    user_action: Any,
    next_update_at: Any,
    require_next: bool,
) -> dict[str, Any]:
    if update_type not in WRITABLE_TYPES:
        raise DomainError(f"type must be one of {', '.join(WRITABLE_TYPES)}", field="update_type")
    cleaned: dict[str, Any] = {"update_type": update_type}
    for name, value in (
        ("current_impact", current_impact),
        ("current_action", current_action),
        ("user_action", user_action),
    ):
        if not isinstance(value, str) or not value.strip():
            raise DomainError(f"{name} is required: every update carries it", field=name)
        if len(value) > MAX_PART:
            raise DomainError(f"{name} is longer than {MAX_PART} characters", field=name)
        cleaned[name] = value.strip()
    if next_update_at is None:
        if require_next:
            raise DomainError(
                "next_update_at is required: say when the next update follows",
                field="next_update_at",
            )
    elif not isinstance(next_update_at, datetime) or timezone.is_naive(next_update_at):
        raise DomainError("next_update_at must be a date-time with a zone", field="next_update_at")
    cleaned["next_update_at"] = next_update_at
    return cleaned


def _final(update_type: str) -> bool:
    """Updates after which no further update is promised (no next_update_at needed)."""
    return update_type in (UpdateType.RESOLUTION, UpdateType.ALL_CLEAR, UpdateType.PIR_SUMMARY)


is_final = _final


def create_update(
    *,
    mi: MajorIncident,
    actor: Actor,
    update_type: str,
    current_impact: Any,
    current_action: Any,
    user_action: Any,
    next_update_at: Any,
    subject: str = "",
    body: str = "",
    drafted_by: str = "",
) -> StakeholderUpdate:
    """A draft update in the four parts (400 naming a missing part)."""
    ensure(actor, "send_updates", mi)
    cleaned = _clean(
        update_type=update_type,
        current_impact=current_impact,
        current_action=current_action,
        user_action=user_action,
        next_update_at=next_update_at,
        require_next=not _final(update_type),
    )
    if not mi.is_open and not _final(update_type):
        raise Conflict(f"{mi.number} is {mi.status}: only a final update may follow")
    label = messages.STATUS_LABELS[mi.status]
    subject = (subject or "").strip()[:300] or f"[{mi.number}] {label}"
    return StakeholderUpdate.objects.create(
        major_incident=mi,
        author=user_of(actor),
        subject=subject,
        body=(body or "")[:20000],
        is_public=plan.is_public(mi, update_type),
        drafted_by=drafted_by,
        **cleaned,
    )


def write_update(
    *, mi: MajorIncident, actor: Actor, send: bool = False, **fields: Any
) -> StakeholderUpdate:
    """``create_update``, and with ``send`` ``send_update`` at once, in one transaction: a send
    refused (a security MI's update needs a legal approver) leaves no draft behind."""
    with transaction.atomic():
        update = create_update(mi=mi, actor=actor, **fields)
        if send:
            update = send_update(update=update, actor=actor)
    return update


def edit_update(
    *, update: StakeholderUpdate, actor: Actor, send: bool = False, **fields: Any
) -> StakeholderUpdate:
    """Change a draft or a pending one; an approved update edited goes back to draft. With
    ``send``, send it in the same transaction (as ``write_update``): a refused send keeps the
    update as it was."""
    with transaction.atomic():
        update = _lock(update)
        ensure(actor, "send_updates", update.major_incident)
        if update.status in (UpdateStatus.SENT, UpdateStatus.DISCARDED):
            raise Conflict(f"update {update.pk} is {update.status}; write a new one")
        merged = {name: fields.get(name, getattr(update, name)) for name in PARTS}
        cleaned = _clean(
            update_type=update.update_type,
            require_next=not _final(update.update_type),
            **merged,
        )
        for name, value in cleaned.items():
            setattr(update, name, value)
        if "subject" in fields:
            update.subject = str(fields["subject"] or "")[:300]
        if "body" in fields:
            update.body = str(fields["body"] or "")[:20000]
        if update.status == UpdateStatus.APPROVED:
            update.status, update.approver, update.approved_at = UpdateStatus.DRAFT, None, None
        update.save()
        if send:
            update = send_update(update=update, actor=actor)
    return update


def _lock(update: StakeholderUpdate) -> StakeholderUpdate:
    lock_major_incident(update.major_incident)
    return StakeholderUpdate.objects.select_for_update(no_key=True).get(pk=update.pk)


def submit_update(*, update: StakeholderUpdate, actor: Actor) -> StakeholderUpdate:
    with transaction.atomic():
        update = _lock(update)
        ensure(actor, "send_updates", update.major_incident)
        if update.status != UpdateStatus.DRAFT:
            raise Conflict(f"update {update.pk} is {update.status}, not a draft")
        update.status = UpdateStatus.PENDING_APPROVAL
        update.save(update_fields=["status", "updated_at"])
    return update


def _may_approve(update: StakeholderUpdate, actor: Actor) -> None:
    mi = update.major_incident
    if mi.is_security:
        if not is_legal(actor):
            raise NotAllowed(
                f"{mi.number} is a security incident: only a legal approver may approve its updates"
            )
    else:
        ensure(actor, "send_updates", mi)


def approve_update(*, update: StakeholderUpdate, actor: Actor) -> StakeholderUpdate:
    with transaction.atomic():
        update = _lock(update)
        _may_approve(update, actor)
        if update.status not in (UpdateStatus.DRAFT, UpdateStatus.PENDING_APPROVAL):
            raise Conflict(f"update {update.pk} is {update.status}")
        update.status = UpdateStatus.APPROVED
        update.approver = user_of(actor)
        update.approved_at = timezone.now()
        update.save(update_fields=["status", "approver", "approved_at", "updated_at"])
    return update


def discard_update(*, update: StakeholderUpdate, actor: Actor) -> StakeholderUpdate:
    with transaction.atomic():
        update = _lock(update)
        ensure(actor, "send_updates", update.major_incident)
        if update.status == UpdateStatus.SENT:
            raise Conflict(f"update {update.pk} was sent; it cannot be discarded")
        update.status = UpdateStatus.DISCARDED
        update.save(update_fields=["status", "updated_at"])
    return update


def send_update(*, update: StakeholderUpdate, actor: Actor) -> StakeholderUpdate:
    """Send an update: a person who may send updates; for a security MI only one a legal user
    approved. A draft of an ordinary MI is approved by its sender on the way."""
    with transaction.atomic():
        update = _lock(update)
        mi = update.major_incident
        ensure(actor, "send_updates", mi)
        if update.status in (UpdateStatus.SENT, UpdateStatus.DISCARDED):
            raise Conflict(f"update {update.pk} is {update.status}")
        if mi.is_security and update.status != UpdateStatus.APPROVED:
            raise Conflict(
                f"{mi.number} is a security incident: a legal approver must approve update "
                f"{update.pk} before it is sent"
            )
        if update.status != UpdateStatus.APPROVED:
            update.approver, update.approved_at = user_of(actor), timezone.now()
        _mark_sent(update, mi, actor=actor)
    return update


def _mark_sent(update: StakeholderUpdate, mi: MajorIncident, *, actor: Actor | None) -> None:
    """Callers hold the MI's lock (``lock_major_incident``)."""
    now = timezone.now()
    update.status = UpdateStatus.SENT
    update.sent_at = now
    update.save()
    locked = MajorIncident.objects.get(pk=mi.pk)
    fields = []
    if update.update_type in (UpdateType.INITIAL, UpdateType.CADENCE) and locked.is_open:
        cadence = timedelta(minutes=get_property("major_incident_update_cadence_minutes"))
        # The promise made in the update sets the clock, but never beyond the cadence.
        promised = update.next_update_at
        locked.next_update_due_at = min(promised, now + cadence) if promised else now + cadence
        fields.append("next_update_due_at")
    if locked.first_stakeholder_update_at is None:
        locked.first_stakeholder_update_at = now
        fields.append("first_stakeholder_update_at")
    if update.is_public and locked.first_customer_update_at is None:
        locked.first_customer_update_at = now
        fields.append("first_customer_update_at")
    if fields:
        locked.save(update_fields=[*fields, "updated_at"])
    how = (
        "automatically from the pre-approved template"
        if update.automatic
        else (f"by {name_of(actor)}")
    )
    record(
        locked.incident,
        TimelineKind.STAKEHOLDER_UPDATE,
        f"{update.get_update_type_display()} sent {how}: {update.current_impact}",
        actor=actor,
        major_incident=locked,
        data={
            "update": update.pk,
            "type": update.update_type,
            "automatic": update.automatic,
            "public": update.is_public,
            "parts": {name: getattr(update, name) for name in PARTS[:3]},
            "next_update_at": update.next_update_at.isoformat() if update.next_update_at else None,
        },
    )
    publish_update(update)
    if update.is_public:
        # What the status page shows, its subscribers get by mail (one per subscriber × update).
        subscribers.incident_update_published(update)


def from_template(
    *,
    mi: MajorIncident,
    update_type: str,
    slot: str | None = None,
    actor: Actor | None = None,
    next_update_at: datetime | None = None,
    context: dict[str, Any] | None = None,
) -> StakeholderUpdate | None:
    """The update the system sends on its own (the cadence when nobody wrote one, the initial
    notification, the resolution, the all-clear) from the pre-approved template.

    ``slot`` names the occasion ("cadence:<due time>"): a slot already filled returns None, so
    two schedulers at once send one update. A security MI's update waits for legal approval
    (``pending_approval``) instead of leaving. Callers hold the transaction.
    """
    if slot and StakeholderUpdate.objects.filter(major_incident=mi, slot=slot).exists():
        return None
    security = messages.security_templates(mi)
    template = messages.template_for(update_type, security=security)
    if template is None or not template.pre_approved:
        return None
    ctx = messages.mi_context(mi, **(context or {}))
    if next_update_at is None and not _final(update_type):
        cadence = get_property("major_incident_update_cadence_minutes")
        next_update_at = timezone.now() + timedelta(minutes=cadence)
        ctx["next_update_at"] = messages.clock(next_update_at)
        ctx["user_action_default"] = (
            f"No action needed; the next update follows by {ctx['next_update_at']}."
        )
    parts = messages.render(template, ctx)
    fields = {
        "update_type": update_type,
        "subject": parts.subject,
        "current_impact": parts.current_impact,
        "current_action": parts.current_action,
        "user_action": parts.user_action,
        "body": parts.body,
        "next_update_at": next_update_at,
        "automatic": True,
        "is_public": plan.is_public(mi, update_type),
        "status": UpdateStatus.PENDING_APPROVAL if mi.is_security else UpdateStatus.DRAFT,
    }
    with transaction.atomic():
        if slot:
            # The unique (MI, slot) pair decides between two schedulers racing for one slot.
            update, created = StakeholderUpdate.objects.get_or_create(
                major_incident=mi, slot=slot, defaults=fields
            )
        else:
            update, created = StakeholderUpdate.objects.create(major_incident=mi, **fields), True
        if not created:
            return None
        if mi.is_security:
            record(
                mi.incident,
                TimelineKind.COMMUNICATION,
                f"{update.get_update_type_display()} waits for a legal approver "
                f"(security incident)",
                major_incident=mi,
                data={"update": update.pk, "type": update_type},
            )
            return update
        lock_major_incident(mi)
        _mark_sent(update, mi, actor=actor)
    return update


def complete_investigation(*, mi: MajorIncident, actor: Actor) -> CommsState:
    """A security MI's investigation is complete: its templates may carry technical detail."""
    if not is_legal(actor):
        ensure(actor, "manage", mi)
    with transaction.atomic():
        mi = lock_major_incident(mi)
        state, _ = CommsState.objects.get_or_create(major_incident=mi)
        if state.investigation_completed_at is None:
            state.investigation_completed_at = timezone.now()
            state.investigation_completed_by = user_of(actor)
            state.save()
            record(
                mi.incident,
                TimelineKind.COMMUNICATION,
                f"Security investigation marked complete by {name_of(actor)}",
                actor=actor,
                major_incident=mi,
                data={"investigation_completed": True},
            )
    return state
