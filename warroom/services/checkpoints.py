"""The first-hour checkpoints: made at declaration, ticked by hand or by the event that fulfils
them, and swept every minute for the ones falling due or late.

Claims follow healthchecks' ``sendalerts``: a checkpoint's "due" and "late" moments are each
claimed once, by the run that stamps ``due_notified_at`` / ``late_notified_at``, inside a
transaction that locks the rows it claims with ``SKIP LOCKED``. A second run at the same moment
(two beats, a retried task) skips the rows the first holds and, once the first commits, no longer
matches them: each event is sent once however often, or however concurrently, the task runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from incidents.errors import DomainError
from incidents.events import send_after_commit
from incidents.models import OPEN_MI_STATUSES, MajorIncident, TimelineEntry, TimelineKind
from incidents.selectors import actor_id, ensure, name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services import record, whole_minutes
from incidents.services.common import lock_major_incident

from .. import events
from ..models import Checkpoint, CheckpointTemplate, Fulfilment
from ..selectors.checkpoints import fulfilment_met, pending_fulfilments
from ..selectors.common import read_only
from .common import ensure_writable

# Every kind an event fulfils (all but "manual").
AUTOMATIC = tuple(f for f in Fulfilment.values if f != Fulfilment.MANUAL)
# The sweep's backstop makes the checkpoints of MIs declared this recently that lack them (their
# declaration's receiver failed). An older MI is past its first hour: a checklist made for it now
# would only be late at once.
BACKSTOP_HOURS = 2


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M UTC")


# --- Making them ----------------------------------------------------------------------------------


def _create_for(mis: Iterable[MajorIncident]) -> None:
    """The checkpoints of ``mis`` from the active templates, in one insert.

    ``ignore_conflicts`` on the unique (major_incident, template): the declaration's receiver and
    the sweep's backstop may both make them, even at the same moment, and only one row each
    results.
    """
    templates = list(CheckpointTemplate.objects.filter(active=True))
    Checkpoint.objects.bulk_create(
        [
            Checkpoint(
                major_incident_id=mi.pk,
                template=template,
                name=template.name,
                phase=template.phase,
                fulfilled_by=template.fulfilled_by,
                starts_at=mi.declared_at + timedelta(minutes=template.starts_after_minutes),
                due_at=mi.declared_at + timedelta(minutes=template.due_after_minutes),
            )
            for mi in mis
            for template in templates
        ],
        ignore_conflicts=True,
    )


def open_checkpoints(mi_id: int) -> None:
    """Make the MI's first-hour checkpoints (idempotent), then tick those already fulfilled.

    The declaration assigns its roles before it is committed, so their ``role_assigned``
    receivers find no checkpoint yet: the fulfilments are read again here, from the MI's state.
    """
    mi = MajorIncident.objects.filter(pk=mi_id).only("pk", "declared_at", "status").first()
    if mi is None or read_only(mi):
        return
    _create_for([mi])
    fulfil_when_met(mi_id, *AUTOMATIC)


# --- Ticking them ---------------------------------------------------------------------------------


@transaction.atomic
def tick_checkpoint(
    *, checkpoint: Checkpoint, actor: Actor | None, done: bool = True
) -> Checkpoint:
    """Tick a checkpoint by hand (``done=False`` reopens it: a tick by mistake is undone).

    Ticking one already done, or reopening an open one, changes nothing (no row, no signal).
    """
    mi = checkpoint.major_incident
    ensure(actor, "post_timeline", mi)  # NotAllowed, saying who may
    if not isinstance(done, bool):
        raise DomainError("done must be true or false", field="done")
    mi = lock_major_incident(mi)
    ensure_writable(mi)
    row = Checkpoint.objects.select_for_update(no_key=True).get(pk=checkpoint.pk)
    if (row.done_at is not None) == done:
        return row
    now = timezone.now()
    who = name_of(actor)
    if done:
        row.done_at, row.done_by, row.done_automatically = now, user_of(actor), False
        late = f", {whole_minutes(now - row.due_at)} min late" if now > row.due_at else ""
        message = f"Checkpoint done: {row.name} (ticked by {who}{late})"
    else:
        row.done_at, row.done_by, row.done_automatically = None, None, False
        message = f"Checkpoint reopened: {row.name} (by {who})"
    row.save(update_fields=["done_at", "done_by", "done_automatically"])
    record(
        mi.incident,
        TimelineKind.CHECKPOINT,
        message,
        actor=actor,
        major_incident=mi,
        data={"checkpoint_id": row.pk, "name": row.name, "done": done, "automatically": False},
    )
    if done:
        send_after_commit(
            events.checkpoint_done,
            major_incident_id=mi.pk,
            checkpoint_id=row.pk,
            automatically=False,
            actor_id=actor_id(actor),
        )
    return row


@transaction.atomic
def fulfil(mi_id: int, fulfilment: str) -> list[int]:
    """Tick the MI's open checkpoints of kind ``fulfilment``, as done automatically (no one).

    Returns the ids ticked. The MI is locked first (the lock order), so a tick by hand at the
    same moment waits, then finds it done.
    """
    try:
        mi = lock_major_incident(MajorIncident(pk=mi_id))
    except MajorIncident.DoesNotExist:
        return []
    if read_only(mi):
        return []
    rows = list(
        Checkpoint.objects.select_for_update(no_key=True).filter(
            major_incident=mi, fulfilled_by=fulfilment, done_at__isnull=True
        )
    )
    now = timezone.now()
    label = Fulfilment(fulfilment).label if fulfilment in Fulfilment.values else fulfilment
    for row in rows:
        row.done_at, row.done_by, row.done_automatically = now, None, True
        row.save(update_fields=["done_at", "done_by", "done_automatically"])
        record(
            mi.incident,
            TimelineKind.CHECKPOINT,
            f"Checkpoint done: {row.name} (automatically: {label})",
            major_incident=mi,
            data={"checkpoint_id": row.pk, "name": row.name, "done": True, "automatically": True},
        )
        send_after_commit(
            events.checkpoint_done,
            major_incident_id=mi.pk,
            checkpoint_id=row.pk,
            automatically=True,
            actor_id=None,
        )
    return [row.pk for row in rows]


def fulfil_when_met(mi_id: int, *fulfilments: str) -> list[int]:
    """Tick the open checkpoints of those kinds that the MI's state now fulfils.

    What the receivers call: cheap when nothing is pending (one query), and right however late
    or often it runs, because it reads the state, not the event.
    """
    ticked: list[int] = []
    for fulfilment in sorted(pending_fulfilments(mi_id, fulfilments)):
        if fulfilment_met(mi_id, fulfilment):
            ticked += fulfil(mi_id, fulfilment)
    return ticked


# --- The sweep ------------------------------------------------------------------------------------


def _open_missing(now: datetime) -> None:
    """The backstop: checkpoints for recently declared open MIs that have none (one query when
    every MI has them)."""
    missing = list(
        MajorIncident.objects.filter(
            status__in=OPEN_MI_STATUSES, declared_at__gte=now - timedelta(hours=BACKSTOP_HOURS)
        )
        .exclude(Exists(Checkpoint.objects.filter(major_incident=OuterRef("pk"))))
        .only("pk", "declared_at")
    )
    if not missing:
        return
    _create_for(missing)
    for mi in missing:
        fulfil_when_met(mi.pk, *AUTOMATIC)


def _claim(field: str, now: datetime, **when: Any) -> list[tuple[int, int, int, str, datetime]]:
    """Stamp ``field`` on the open checkpoints of open MIs matching ``when``; the rows claimed.

    Called inside the caller's transaction: the rows stay locked until it commits, so a run at
    the same moment skips them (``skip_locked``) and then sees them stamped. Only the checkpoint
    rows are locked (``of``), never the MIs, which the services lock first.
    """
    rows = list(
        Checkpoint.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            major_incident__status__in=OPEN_MI_STATUSES,
            done_at__isnull=True,
            **{f"{field}__isnull": True},
            **when,
        )
        .values_list("pk", "major_incident_id", "major_incident__incident_id", "name", "due_at")
    )
    if rows:
        Checkpoint.objects.filter(
            pk__in=[row[0] for row in rows], **{f"{field}__isnull": True}
        ).update(**{field: now})
    return rows


def check_checkpoints() -> dict[str, int]:
    """Every minute: checkpoints falling due (``checkpoint_due``) or late (``checkpoint_late``
    and a timeline row), each once. A fixed number of queries however many MIs are open."""
    now = timezone.now()
    _open_missing(now)
    with transaction.atomic():
        due = _claim("due_notified_at", now, starts_at__lte=now)
        late = _claim("late_notified_at", now, due_at__lt=now)
        TimelineEntry.objects.bulk_create(
            [
                TimelineEntry(
                    incident_id=incident_id,
                    major_incident_id=mi_id,
                    kind=TimelineKind.CHECKPOINT,
                    message=f"Checkpoint late: {name} (due {_at(due_at)})",
                    data={"checkpoint_id": pk, "name": name, "late": True},
                )
                for pk, mi_id, incident_id, name, due_at in late
            ]
        )
        for pk, mi_id, *_ in due:
            send_after_commit(events.checkpoint_due, major_incident_id=mi_id, checkpoint_id=pk)
        for pk, mi_id, *_ in late:
            send_after_commit(events.checkpoint_late, major_incident_id=mi_id, checkpoint_id=pk)
    return {"due": len(due), "late": len(late)}
