"""Scheduled maintenance: the windows' lifecycle, their public updates and the incidents logged
on a component while it is under maintenance.

One service for the admin and the API: ``create_maintenance`` and ``change_maintenance``. Each
status move is checked against ``TRANSITIONS`` (Statuspage's order, scheduled → in_progress →
verifying → completed; verifying may go back to in_progress when the check fails), writes a
``MaintenanceUpdate`` (its public message), drops the status page's snapshot after commit and
mails the window's subscribers (scheduled, started, completed).

No window moves by itself: a window past its start stays ``scheduled`` until someone starts it.
Statuspage's "auto transition" is a convenience that would put components under maintenance
while the work may not have begun; here the person doing the work says when it does (documented
in ``docs/notes/status.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from incidents.errors import Conflict, DomainError
from incidents.models import CIKind, ConfigurationItem, Incident
from incidents.selectors import cmdb, ensure, user_of
from incidents.selectors.actors import Actor
from incidents.services import mark_under_maintenance

from ..models import MaintenanceStatus, MaintenanceUpdate, ScheduledMaintenance
from ..selectors.status import STATUS_CACHE_KEYS
from . import subscribers

MAX_NAME = 200
MAX_BODY = 5000
# A window's components are under maintenance in these states (and the incidents logged on them
# are flagged).
ACTIVE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    MaintenanceStatus.SCHEDULED: (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED),
    MaintenanceStatus.IN_PROGRESS: (MaintenanceStatus.VERIFYING, MaintenanceStatus.COMPLETED),
    MaintenanceStatus.VERIFYING: (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED),
    MaintenanceStatus.COMPLETED: (),
}
# What a subscriber hears about (Statuspage mails these three; "verifying" is the team's own
# check, shown on the page but not worth a mail).
NOTIFIED = (
    MaintenanceStatus.SCHEDULED,
    MaintenanceStatus.IN_PROGRESS,
    MaintenanceStatus.COMPLETED,
)
DEFAULT_BODY: dict[str, str] = {
    MaintenanceStatus.SCHEDULED: "The maintenance is scheduled.",
    MaintenanceStatus.IN_PROGRESS: "The maintenance is in progress.",
    MaintenanceStatus.VERIFYING: "The work is done; we are verifying the results.",
    MaintenanceStatus.COMPLETED: "The maintenance is complete.",
}


def forget_status_page() -> None:
    """After commit: the page shows the change at its next request, not after its freshness."""
    cache.delete_many(list(STATUS_CACHE_KEYS))


def _text(value: Any, field: str, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(f"{field} must be text", field=field)
    value = value.strip()
    if "\x00" in value:
        raise DomainError(f"{field} may not contain NUL characters", field=field)
    if required and not value:
        raise DomainError(f"{field} is required", field=field)
    if len(value) > limit:
        raise DomainError(f"{field} is longer than {limit} characters", field=field)
    return value


def _components(ids: Iterable[int]) -> list[ConfigurationItem]:
    wanted = sorted(set(ids))
    if not wanted:
        raise DomainError("a maintenance needs at least one component", field="components")
    found = list(
        ConfigurationItem.objects.filter(pk__in=wanted, kind=CIKind.BUSINESS_SERVICE).order_by("pk")
    )
    missing = sorted(set(wanted) - {ci.pk for ci in found})
    if missing:
        raise DomainError(
            f"not a business service of the status page: {', '.join(map(str, missing[:10]))}",
            field="components",
        )
    return found


def _window(start: datetime, end: datetime) -> None:
    if timezone.is_naive(start):
        raise DomainError("scheduled_for needs a time zone", field="scheduled_for")
    if timezone.is_naive(end):
        raise DomainError("scheduled_until needs a time zone", field="scheduled_until")
    if end <= start:
        raise DomainError("scheduled_until must be after scheduled_for", field="scheduled_until")


def _after_change(update: MaintenanceUpdate) -> None:
    transaction.on_commit(forget_status_page, robust=True)
    if update.status in NOTIFIED:
        subscribers.maintenance_updated(update)


def create_maintenance(
    *,
    actor: Actor,
    name: str,
    components: Iterable[int],
    scheduled_for: datetime,
    scheduled_until: datetime,
    notes: str = "",
    message: str = "",
) -> ScheduledMaintenance:
    """Announce a window (status ``scheduled``), with its first public update."""
    ensure(actor, "add", ScheduledMaintenance)
    name = _text(name, "name", MAX_NAME, required=True)
    notes = _text(notes, "notes", MAX_BODY)
    message = _text(message, "message", MAX_BODY)
    _window(scheduled_for, scheduled_until)
    cis = _components(components)
    with transaction.atomic():
        maintenance = ScheduledMaintenance.objects.create(
            name=name,
            notes=notes,
            scheduled_for=scheduled_for,
            scheduled_until=scheduled_until,
            created_by=user_of(actor),
        )
        maintenance.components.set(cis)
        update = MaintenanceUpdate.objects.create(
            maintenance=maintenance,
            status=MaintenanceStatus.SCHEDULED,
            body=message or notes or DEFAULT_BODY[MaintenanceStatus.SCHEDULED],
            created_at=maintenance.created_at,
        )
        _after_change(update)
    return maintenance


def change_maintenance(
    *,
    maintenance: ScheduledMaintenance,
    actor: Actor,
    status: str | None = None,
    message: str = "",
    **fields: Any,
) -> ScheduledMaintenance:
    """Change a window's fields (``name``, ``notes``, ``scheduled_for``, ``scheduled_until``,
    ``components``) and/or move its status, with an optional public message. A move not in
    ``TRANSITIONS`` is a 409 naming ``status``; nothing changes when nothing differs."""
    ensure(actor, "change", maintenance)
    unknown = set(fields) - {"name", "notes", "scheduled_for", "scheduled_until", "components"}
    if unknown:
        raise DomainError(f"unknown field {sorted(unknown)[0]}", field=sorted(unknown)[0])
    message = _text(message, "message", MAX_BODY)
    if status is not None and status not in MaintenanceStatus.values:
        raise DomainError(
            f"status must be one of {', '.join(MaintenanceStatus.values)}", field="status"
        )
    with transaction.atomic():
        locked = ScheduledMaintenance.objects.select_for_update().get(pk=maintenance.pk)
        if locked.status == MaintenanceStatus.COMPLETED and (fields or status):
            raise Conflict("the maintenance is completed; it can no longer change", field="status")
        changed: list[str] = []
        if "name" in fields:
            locked.name = _text(fields["name"], "name", MAX_NAME, required=True)
            changed.append("name")
        if "notes" in fields:
            locked.notes = _text(fields["notes"], "notes", MAX_BODY)
            changed.append("notes")
        for key in ("scheduled_for", "scheduled_until"):
            if key in fields:
                setattr(locked, key, fields[key])
                changed.append(key)
        _window(locked.scheduled_for, locked.scheduled_until)
        if "components" in fields:
            locked.components.set(_components(fields["components"]))
        moved = status is not None and status != locked.status
        if moved:
            assert status is not None
            if status not in TRANSITIONS[locked.status]:
                raise Conflict(
                    f"a maintenance cannot move from {locked.status} to {status}", field="status"
                )
            now = timezone.now()
            locked.status = status
            changed.append("status")
            if status == MaintenanceStatus.IN_PROGRESS and locked.started_at is None:
                locked.started_at = now
                changed.append("started_at")
            if status == MaintenanceStatus.COMPLETED:
                locked.completed_at = now
                changed.append("completed_at")
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
        if moved or message:
            update = MaintenanceUpdate.objects.create(
                maintenance=locked,
                status=locked.status,
                body=message or DEFAULT_BODY[locked.status],
            )
            if moved:
                _after_change(update)
            else:
                transaction.on_commit(forget_status_page, robust=True)
        elif changed or "components" in fields:
            transaction.on_commit(forget_status_page, robust=True)
    return locked


def active_on(ci_id: int) -> ScheduledMaintenance | None:
    """The window in progress (or verifying) on a business service an outage of ``ci_id``
    reaches: the CI itself when it is a window's component, or a component depending on it,
    directly or transitively (work on a service covers what it runs on)."""
    reached = cmdb.reached_of_kind([ci_id], CIKind.BUSINESS_SERVICE).get(ci_id, set())
    return (
        ScheduledMaintenance.objects.filter(status__in=ACTIVE, components__in=reached | {ci_id})
        .order_by("scheduled_for", "pk")
        .first()
    )


def incident_logged(incident_id: int) -> None:
    """Flag an incident logged on a component under maintenance (``mark_under_maintenance``)."""
    incident = Incident.objects.filter(pk=incident_id).only("affected_ci").first()
    if incident is None or incident.affected_ci_id is None:
        return
    window = active_on(incident.affected_ci_id)
    if window is None:
        return
    with transaction.atomic():
        mark_under_maintenance(incident=incident, maintenance=window.name)
