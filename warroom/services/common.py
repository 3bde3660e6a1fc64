"""What the war room's services share: the read-only rule of a finished MI, the thread check,
who may be named, and the timeline row with its thread."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from incidents.errors import Conflict, DomainError
from incidents.models import MajorIncident, TimelineEntry
from incidents.selectors import can
from incidents.selectors.actors import Actor
from incidents.services import record

from ..models import COMMAND_THREAD, Thread
from ..selectors.common import read_only


def ensure_writable(mi: MajorIncident, status: str | None = None) -> None:
    """A closed or cancelled MI's war room is read-only: 409 naming the state."""
    if read_only(mi, status):
        raise Conflict(f"{mi.number} is {status or mi.status}; its war room is read-only")


def check_thread(mi: MajorIncident, thread: Any) -> str:
    """ "" (no thread), "command", or the slug of one of the MI's threads (400 ``thread``)."""
    if not isinstance(thread, str):
        raise DomainError("thread must be a thread's slug (text)", field="thread")
    thread = thread.strip()
    if thread in ("", COMMAND_THREAD):
        return thread
    if len(thread) > 64 or not Thread.objects.filter(major_incident=mi, slug=thread).exists():
        raise DomainError(f"{mi.number} has no thread {thread[:64]!r}", field="thread")
    return thread


def check_viewer(user: Any, mi: MajorIncident, *, field: str) -> User:
    """``user`` must be an active user who may see the MI (400 naming ``field``)."""
    if not isinstance(user, User):
        raise DomainError(f"{field} must be a user", field=field)
    if not user.is_active:
        raise DomainError(f"{user.username} is not an active user", field=field)
    if not can(user, "view", mi):
        raise DomainError(f"{user.username} may not see {mi.number}", field=field)
    return user


def record_mi(
    mi: MajorIncident,
    kind: str,
    message: str,
    *,
    actor: Actor | None,
    data: dict[str, Any],
    thread: str = "",
) -> TimelineEntry:
    """One row of the MI's timeline, in ``thread`` (the caller checked it)."""
    return record(
        mi.incident, kind, message, actor=actor, data=data, major_incident=mi, thread=thread
    )
