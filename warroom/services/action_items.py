"""Action items of an MI's war room: who does what by when, each change a timeline row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.errors import DomainError
from incidents.events import send_after_commit
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import actor_id, ensure, name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services.common import lock_major_incident

from .. import events
from ..models import ActionItem, ActionStatus
from .common import check_thread, check_viewer, ensure_writable, record_mi

TITLE_MAX = 200
# What a change may set, by the name the API and the forms use; ``due`` is the model's due_at.
CHANGEABLE = ("title", "owner", "due", "status", "thread")
_ATTR = {"due": "due_at"}


def _clean(mi: MajorIncident, name: str, value: Any) -> Any:
    if name == "title":
        if not isinstance(value, str) or not value.strip():
            raise DomainError("an action item needs a title", field="title")
        value = value.strip()
        if len(value) > TITLE_MAX:
            raise DomainError(f"title is longer than {TITLE_MAX} characters", field="title")
        return value
    if name == "owner":
        return None if value is None else check_viewer(value, mi, field="owner")
    if name == "due":
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise DomainError("due must be a date and time", field="due")
        if timezone.is_naive(value):
            raise DomainError("due needs a time zone (e.g. 2025-03-03T10:30:00Z)", field="due")
        return value
    if name == "status":
        if value not in ActionStatus.values:
            raise DomainError(
                f"status must be one of {', '.join(ActionStatus.values)}", field="status"
            )
        return ActionStatus(value)
    if name == "thread":
        return check_thread(mi, value)
    raise DomainError(f"unknown or read-only field: {name}", field=name)


def _show(name: str, value: Any) -> str:
    if value is None or value == "":
        return "none"
    if name == "owner":
        return str(value.username)
    if name == "due":
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if name == "status":
        return ActionStatus(value).value
    return str(value)


def _data(name: str, value: Any) -> Any:
    if name == "owner":
        return value.username if value is not None else None
    if name == "due":
        return value.isoformat() if value is not None else None
    return value


def _label(item: ActionItem) -> str:
    return f"Action item #{item.pk} “{item.title}”"


@transaction.atomic
def add_action_item(
    *,
    mi: MajorIncident,
    actor: Actor | None,
    title: Any,
    owner: Any = None,
    due: Any = None,
    status: Any = ActionStatus.OPEN,
    thread: Any = "",
) -> ActionItem:
    """Add an action item to the MI (its team): a timeline row in its thread, then
    ``action_item_changed`` with ``changes=["created"]`` after commit."""
    ensure(actor, "post_timeline", mi)
    values = {
        name: _clean(mi, name, value)
        for name, value in (
            ("title", title),
            ("owner", owner),
            ("due", due),
            ("status", status),
            ("thread", thread),
        )
    }
    mi = lock_major_incident(mi)
    ensure_writable(mi)
    now = timezone.now()
    item = ActionItem.objects.create(
        major_incident=mi,
        title=values["title"],
        owner=values["owner"],
        due_at=values["due"],
        status=values["status"],
        thread=values["thread"],
        created_by=user_of(actor),
        created_at=now,
        updated_at=now,
        done_at=now if values["status"] == ActionStatus.DONE else None,
    )
    details = [
        f"{name} {_show(name, values[name])}"
        for name in ("owner", "due", "status")
        if values[name] is not None and not (name == "status" and values[name] == "open")
    ]
    record_mi(
        mi,
        TimelineKind.ACTION_ITEM,
        f"{_label(item)} added by {name_of(actor)}"
        + (f" ({', '.join(details)})" if details else ""),
        actor=actor,
        data={
            "action_item": item.pk,
            "created": True,
            "changes": {name: {"from": None, "to": _data(name, v)} for name, v in values.items()},
        },
        thread=item.thread,
    )
    send_after_commit(
        events.action_item_changed,
        major_incident_id=mi.pk,
        action_item_id=item.pk,
        changes=["created"],
        actor_id=actor_id(actor),
    )
    return item


@transaction.atomic
def change_action_item(*, item: ActionItem, actor: Actor | None, **changes: Any) -> ActionItem:
    """Change any of title, owner, due, status and thread; one timeline row says what changed
    ("Action item #3 “Fail over DB”: status → done by usr_bob"). Unchanged values are a no-op.

    ``done_at`` is stamped when the item is done and cleared if it is reopened;
    ``action_item_changed`` carries the names of the changed fields.
    """
    mi = item.major_incident
    ensure(actor, "post_timeline", mi)
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise DomainError(f"unknown or read-only field: {', '.join(unknown)}", field=unknown[0])
    # In one order whatever the caller's, so the row reads the same for the same change.
    cleaned = {name: _clean(mi, name, changes[name]) for name in CHANGEABLE if name in changes}
    # The lock order: the incident, the MI, then the war room's rows.
    mi = lock_major_incident(mi)
    ensure_writable(mi)
    # (No select_related: PostgreSQL cannot lock the nullable side of the owner's outer join.)
    item = ActionItem.objects.select_for_update(no_key=True).get(pk=item.pk)
    before = {name: getattr(item, _ATTR.get(name, name)) for name in CHANGEABLE}
    changed = {name: value for name, value in cleaned.items() if before[name] != value}
    if not changed:
        return item
    label = _label(item)  # by the title it had
    now = timezone.now()
    for name, value in changed.items():
        setattr(item, _ATTR.get(name, name), value)
    fields = [_ATTR.get(name, name) for name in changed]
    if "status" in changed:
        item.done_at = now if item.status == ActionStatus.DONE else None
        fields.append("done_at")
    item.updated_at = now
    item.save(update_fields=[*fields, "updated_at"])
    what = ", ".join(f"{name} → {_show(name, value)}" for name, value in changed.items())
    if list(changed) == ["status"]:
        what = f"→ {_show('status', changed['status'])}"
    record_mi(
        mi,
        TimelineKind.ACTION_ITEM,
        f"{label} {what} by {name_of(actor)}"
        if what.startswith("→")
        else f"{label}: {what} by {name_of(actor)}",
        actor=actor,
        data={
            "action_item": item.pk,
            "changes": {
                name: {"from": _data(name, before[name]), "to": _data(name, value)}
                for name, value in changed.items()
            },
        },
        thread=item.thread,
    )
    send_after_commit(
        events.action_item_changed,
        major_incident_id=mi.pk,
        action_item_id=item.pk,
        changes=sorted(changed),
        actor_id=actor_id(actor),
    )
    return item
