"""The cadence (``comms.tasks.send_due_updates``, every minute), from the due times in the
database, not from how often beat ticked:

- a reminder to the communications lead ``REMINDER_MINUTES`` before ``next_update_due_at``;
- overdue and nobody sent one: the automatic update from the pre-approved template, slot
  ``cadence:<due time>``; sending it sets the next due time to now + cadence, so a beat that was
  down for an hour catches up with one update, not two;
- the executive sponsor every ``executive_update_cadence_minutes`` (``CommsState``);
- the first customer update's target: missed → one timeline row;
- after ``recovery_monitoring_hours`` of resolution: the all-clear and the ``all_clear_at``
  milestone.

Safe twice at once: each MI is claimed by locking its incident and itself with ``SKIP LOCKED``
(the incidents app's lock order; a second scheduler skips the MI instead of waiting and
acting on it again), every due time is re-read under the lock, every event is claimed with a
conditional UPDATE of the time it was done for, and each update fills a slot that is unique per
MI. On SQLite, which has one writer at a time, the slots and the conditional UPDATEs alone keep
it once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from incidents import events
from incidents.models import (
    OPEN_MI_STATUSES,
    Incident,
    MajorIncident,
    MIStatus,
    TimelineEntry,
    TimelineKind,
)
from incidents.selectors import get_property
from incidents.services import record

from ..models import CommsState, StakeholderUpdate, UpdateStatus, UpdateType
from ..selectors import audience, messages, plan
from .dispatch import notify, on_channels
from .notifications import (
    ensure_comms_state,
    major_incident_declared,
    numbered,
    times_moved_to,
)
from .updates import from_template

logger = logging.getLogger(__name__)

REMINDER_MINUTES = 5
MISSED_FIRST_CUSTOMER_UPDATE = "first_customer_update_missed"


def send_due_updates() -> dict[str, int]:
    """Everything the cadence owes now; returns how many of each it did, and how many MIs'
    work failed (logged; the next tick tries them again)."""
    done: Counter[str] = Counter()
    failed: list[int] = []
    done["initial_caught_up"] = _ensure_states(failed)
    done["reminders"] = _reminders(failed)
    done["cadence"] = _overdue_updates(failed)
    done["executive"] = _executive_updates(failed)
    done["first_customer_missed"] = _first_customer_target(failed)
    done["all_clear"] = _all_clears(failed)
    done["failed"] = len(failed)
    return dict(done)


@contextmanager
def _isolated(what: str, mi_id: int, failed: list[int]) -> Iterator[None]:
    """One MI's failure (a template edited into one that no longer renders, a constraint) rolls
    back that MI's work only and is logged; the other MIs still get theirs this minute."""
    try:
        yield
    except Exception:
        logger.exception("cadence: %s of major incident %s failed", what, mi_id)
        failed.append(mi_id)


def slot_time(due: datetime) -> str:
    return due.astimezone(UTC).isoformat()


@contextmanager
def _claimed(what: str, mi_id: int, failed: list[int]) -> Iterator[MajorIncident | None]:
    """A transaction holding the MI's incident and the MI (the lock order), or None when
    another process holds either: it is doing this MI's work now, and the next tick will see
    what it left."""
    with _isolated(what, mi_id, failed), transaction.atomic():
        incident_id = (
            MajorIncident.objects.filter(pk=mi_id).values_list("incident_id", flat=True).first()
        )
        if incident_id is None:
            yield None
            return
        if not list(
            Incident.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(pk=incident_id)
            .values_list("pk", flat=True)
        ) or not list(
            MajorIncident.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(pk=mi_id)
            .values_list("pk", flat=True)
        ):
            yield None
            return
        yield MajorIncident.objects.select_related("incident__affected_ci").get(pk=mi_id)


def _ensure_states(failed: list[int]) -> int:
    """Every open MI has its communication clock, even one declared while comms' receivers
    were failing (the executive cadence reads it). Such an MI declared within the last cadence
    also gets what its declaration owed: the initial notification (its slot keeps it once, should
    the receiver run after all) and its Slack channel. Older ones are covered by the cadence
    update, which is due by then anyway. Returns how many initial notifications it caught up."""
    now = timezone.now()
    minutes = get_property("executive_update_cadence_minutes")
    missing = list(
        MajorIncident.objects.filter(
            status__in=OPEN_MI_STATUSES, comms_state__isnull=True
        ).values_list("pk", "declared_at")
    )
    if not missing:
        return 0
    CommsState.objects.bulk_create(
        [
            CommsState(
                major_incident_id=pk, next_executive_due_at=declared + timedelta(minutes=minutes)
            )
            for pk, declared in missing
        ],
        ignore_conflicts=True,
    )
    recent = now - timedelta(minutes=get_property("major_incident_update_cadence_minutes"))
    caught_up = 0
    for pk, declared in missing:
        if declared >= recent:
            with _isolated("initial notification", pk, failed):
                major_incident_declared(pk)
                caught_up += 1
    return caught_up


def _reminders(failed: list[int]) -> int:
    now = timezone.now()
    rows = (
        MajorIncident.objects.filter(
            status__in=OPEN_MI_STATUSES,
            next_update_due_at__gt=now,
            next_update_due_at__lte=now + timedelta(minutes=REMINDER_MINUTES),
        )
        .exclude(comms_state__reminder_sent_for=F("next_update_due_at"))
        .select_related("incident__affected_ci")
    )
    sent = 0
    for mi in rows:
        due = mi.next_update_due_at
        assert due is not None
        with _isolated("reminder", mi.pk, failed), transaction.atomic():
            state = ensure_comms_state(mi)
            # The claim: of two schedulers, the one whose UPDATE changed the row reminds.
            claimed = (
                CommsState.objects.filter(pk=state.pk)
                .exclude(reminder_sent_for=due)
                .update(reminder_sent_for=due)
            )
            if claimed != 1:
                continue
            notify(
                mi,
                UpdateType.REMINDER,
                occasion=f"reminder:{slot_time(due)}",
                context={"next_update_at": messages.clock(due)},
            )
            sent += 1
    return sent


def _move_clock(mi: MajorIncident, due: datetime) -> None:
    """The next stakeholder update is due one cadence from now, unless something (a sent
    update) moved the clock already."""
    now = timezone.now()
    cadence = timedelta(minutes=get_property("major_incident_update_cadence_minutes"))
    MajorIncident.objects.filter(pk=mi.pk, next_update_due_at=due).update(
        next_update_due_at=now + cadence, updated_at=now
    )


def _overdue_updates(failed: list[int]) -> int:
    now = timezone.now()
    due_rows = MajorIncident.objects.filter(
        status__in=OPEN_MI_STATUSES, next_update_due_at__lte=now
    ).values_list("pk", "next_update_due_at")
    sent = 0
    for mi_id, due in list(due_rows):
        with _claimed("cadence", mi_id, failed) as mi:
            if mi is None or not mi.is_open or mi.next_update_due_at != due:
                continue  # another scheduler has it, or a person's update moved the clock
            slot = f"cadence:{slot_time(due)}"
            filled = StakeholderUpdate.objects.filter(major_incident=mi, slot=slot).exists()
            update = None if filled else from_template(mi=mi, update_type="cadence", slot=slot)
            if update is not None and update.status == UpdateStatus.SENT:
                sent += 1  # its sending moved the clock
                continue
            if update is not None:
                _supersede_waiting(mi, update)
            elif not filled:
                record(
                    mi.incident,
                    TimelineKind.COMMUNICATION,
                    "The stakeholder update was due and no pre-approved cadence template "
                    "exists: nothing was sent automatically",
                    major_incident=mi,
                    data={"slot": slot, "missing_template": True},
                )
            # A security MI's automatic update waits for legal; the clock moves on regardless,
            # so the communications lead is reminded again and the next slot is a new one.
            _move_clock(mi, due)
    return sent


def _supersede_waiting(mi: MajorIncident, latest: StakeholderUpdate) -> None:
    """A security MI's earlier automatic updates of this type still waiting for legal are
    stale now: legal sees only the latest (callers hold the MI's lock)."""
    StakeholderUpdate.objects.filter(
        major_incident=mi,
        update_type=latest.update_type,
        automatic=True,
        status=UpdateStatus.PENDING_APPROVAL,
    ).exclude(pk=latest.pk).update(status=UpdateStatus.DISCARDED, updated_at=timezone.now())


def _has_audience(mi: MajorIncident, update_type: str) -> bool:
    on = on_channels()
    return any(audience.recipients(mi, entry, on) for entry in plan.entries_for(mi, update_type))


def _executive_updates(failed: list[int]) -> int:
    now = timezone.now()
    due_rows = CommsState.objects.filter(
        major_incident__status__in=OPEN_MI_STATUSES, next_executive_due_at__lte=now
    ).values_list("major_incident_id", "next_executive_due_at")
    sent = 0
    minutes = get_property("executive_update_cadence_minutes")
    for mi_id, due in list(due_rows):
        with _claimed("executive", mi_id, failed) as mi:
            if mi is None or not mi.is_open:
                continue
            # Re-read under the MI's lock: another scheduler may have done this one.
            state = CommsState.objects.get(major_incident=mi)
            if due is None or state.next_executive_due_at != due:
                continue
            after = timezone.now() + timedelta(minutes=minutes)
            # Nobody to tell (no executive sponsor yet): no update that reached no one.
            if _has_audience(mi, UpdateType.EXECUTIVE):
                update = from_template(
                    mi=mi,
                    update_type=UpdateType.EXECUTIVE,
                    slot=f"executive:{slot_time(due)}",
                    next_update_at=after,
                )
                if update is not None and update.status == UpdateStatus.SENT:
                    sent += 1
                elif update is not None:
                    _supersede_waiting(mi, update)
            CommsState.objects.filter(pk=state.pk, next_executive_due_at=due).update(
                next_executive_due_at=after
            )
    return sent


def _first_customer_target(failed: list[int]) -> int:
    now = timezone.now()
    target = timedelta(minutes=get_property("first_customer_update_target_minutes"))
    missed = TimelineEntry.objects.filter(
        major_incident=OuterRef("pk"),
        kind=TimelineKind.COMMUNICATION,
        **{f"data__{MISSED_FIRST_CUSTOMER_UPDATE}": True},
    )
    rows = (
        MajorIncident.objects.filter(
            status__in=OPEN_MI_STATUSES,
            first_customer_update_at__isnull=True,
            declared_at__lte=now - target,
        )
        .exclude(Exists(missed))
        .values_list("pk", flat=True)
    )
    written = 0
    for mi_id in list(rows):
        with _claimed("first_customer", mi_id, failed) as mi:
            if mi is None or mi.first_customer_update_at is not None:
                continue
            if TimelineEntry.objects.filter(
                major_incident=mi,
                kind=TimelineKind.COMMUNICATION,
                **{f"data__{MISSED_FIRST_CUSTOMER_UPDATE}": True},
            ).exists():
                continue
            minutes = int(target.total_seconds() // 60)
            record(
                mi.incident,
                TimelineKind.COMMUNICATION,
                f"First customer update target missed: no public update within {minutes} min "
                f"of the declaration",
                major_incident=mi,
                data={MISSED_FIRST_CUSTOMER_UPDATE: True, "target_minutes": minutes},
            )
            written += 1
    return written


def _all_clears(failed: list[int]) -> int:
    now = timezone.now()
    hours = get_property("recovery_monitoring_hours")
    # Not yet sent for this resolution (a regression and a second resolution earn another).
    not_sent = (
        Q(comms_state__isnull=True)
        | Q(comms_state__all_clear_sent_at__isnull=True)
        | Q(comms_state__all_clear_sent_at__lt=F("resolved_at"))
    )
    rows = (
        MajorIncident.objects.filter(
            status=MIStatus.RESOLVED, resolved_at__lte=now - timedelta(hours=hours)
        )
        .filter(not_sent)
        .values_list("pk", "resolved_at")
    )
    sent = 0
    for mi_id, resolved_at in list(rows):
        with _claimed("all_clear", mi_id, failed) as mi:
            if mi is None or mi.status != MIStatus.RESOLVED or mi.resolved_at != resolved_at:
                continue
            state = ensure_comms_state(mi)
            now = timezone.now()
            claimed = (
                CommsState.objects.filter(pk=state.pk)
                .filter(Q(all_clear_sent_at__isnull=True) | Q(all_clear_sent_at__lt=resolved_at))
                .update(all_clear_sent_at=now)
            )
            if claimed != 1:
                continue
            n = times_moved_to(mi, MIStatus.RESOLVED)
            update = from_template(
                mi=mi, update_type=UpdateType.ALL_CLEAR, slot=numbered("all_clear", n)
            )
            sent += int(update is not None and update.status == UpdateStatus.SENT)
            _stamp_all_clear(mi, resolved_at, now)
    return sent


def _stamp_all_clear(mi: MajorIncident, resolved_at: datetime, now: datetime) -> None:
    """The ``all_clear_at`` milestone. Not ``set_milestones``: that is a person's backfill (it
    asks for the manage permission and writes their name); here the system stamps the moment,
    with a conditional UPDATE so a second scheduler never stamps it again."""
    stamped = (
        MajorIncident.objects.filter(pk=mi.pk)
        .filter(Q(all_clear_at__isnull=True) | Q(all_clear_at__lt=resolved_at))
        .update(all_clear_at=now, updated_at=now)
    )
    if stamped:
        record(
            mi.incident,
            TimelineKind.MILESTONE,
            f"all_clear_at set to {now.isoformat()}: recovery monitoring is over",
            major_incident=mi,
            data={"milestone": "all_clear_at", "value": now.isoformat(), "automatic": True},
        )
        events.send_after_commit(
            events.milestone_recorded,
            major_incident_id=mi.pk,
            milestones=["all_clear_at"],
            actor_id=None,
        )
