"""Reads of an MI's timeline for the war room: pages by cursor, the poll, the threads.

The war room reads an MI's timeline by id, newest first: every row about an MI carries the MI's
incident (``record`` writes both), so ``incident_id = …`` alone names the MI's rows and its
incident's, and the index ``timeline_incident_id`` (incident, id) answers a page, an older page
and a poll (``id > since``) alike, without reading the rows in between.

A cursor is opaque to clients: ``b.<id>`` (the entries before id, an older page) or ``s.<id>``
(the entries after id, a poll), base64url-encoded. Ids rather than times, because two rows can
share a timestamp but never an id. An id is taken at insert, not at commit, so a row whose
transaction commits after a later row was polled would be passed over (docs/decisions.md, "Ids
are the cursor"); the war room's own writers insert holding the incident's lock
(``lock_major_incident``), so its posts and threads cannot pass each other that way.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Aggregate, JSONField, Max, OuterRef, QuerySet, Subquery

from incidents.errors import DomainError
from incidents.models import MajorIncident, RaciRole, TimelineEntry, TimelineKind
from incidents.selectors import active_roles, current_commander

from ..models import COMMAND_THREAD, Thread

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
KINDS = frozenset(TimelineKind.values)
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


# --- Cursors --------------------------------------------------------------------------------------

BEFORE, SINCE = "b", "s"


def encode_cursor(kind: str, entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}.{entry_id}".encode()).decode().rstrip("=")


def decode_cursor(value: str, *, kind: str, field_name: str) -> int:
    """The id in a cursor of ``kind``; a 400 naming ``field_name`` for anything else."""
    if not isinstance(value, str) or not value or len(value) > 40:
        raise DomainError("not a cursor this API gave out", field=field_name)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise DomainError("not a cursor this API gave out", field=field_name) from None
    prefix, _, number = raw.partition(".")
    if prefix != kind or not number.isdigit() or len(number) > 18:
        raise DomainError("not a cursor this API gave out", field=field_name)
    return int(number)


# --- Filters --------------------------------------------------------------------------------------


def clean_kind(kind: str | None) -> str:
    """A ``?kind=`` filter: "" (all) or a kind of the timeline, else a 400 naming ``kind``."""
    if not kind:
        return ""
    if kind not in KINDS:
        shown = kind.replace("\x00", "")[:40]
        raise DomainError(
            f"unknown kind {shown!r}; one of {', '.join(sorted(KINDS))}", field="kind"
        )
    return kind


def clean_thread_filter(thread: str | None) -> str:
    """A ``?thread=`` filter: "" (all) or something shaped like a thread's slug (400 otherwise).

    An unknown slug is not looked up (the poll stays one query): it simply matches nothing.
    """
    if not thread:
        return ""
    if not _SLUG.fullmatch(thread):
        raise DomainError("not a thread's slug", field="thread")
    return thread


# --- Entries --------------------------------------------------------------------------------------


class _JSONIds(Aggregate):
    """The ids of a group as a JSON array, on SQLite and PostgreSQL alike."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_AGG", **extra)


def _corrected_by() -> Subquery:
    # A correlated subquery in the one query of a page (on the ``corrects`` foreign key's index),
    # not a prefetch: a poll that finds new rows stays one query on the timeline.
    return Subquery(
        TimelineEntry.objects.filter(corrects=OuterRef("pk"))
        .order_by()
        .values("corrects")
        .annotate(ids=_JSONIds("id"))
        .values("ids")[:1],
        output_field=JSONField(),
    )


def entries(mi: MajorIncident, *, thread: str = "", kind: str = "") -> QuerySet[TimelineEntry]:
    """The MI's timeline (its rows and its incident's) with author and ``corrected_by_ids``;
    unordered: the callers order by id."""
    rows = (
        TimelineEntry.objects.filter(incident_id=mi.incident_id)
        .select_related("actor")
        .annotate(corrected_by_ids=_corrected_by())
    )
    if thread:
        rows = rows.filter(thread=thread)
    if kind:
        rows = rows.filter(kind=kind)
    return rows


def corrected_by(entry: TimelineEntry) -> list[int]:
    ids = getattr(entry, "corrected_by_ids", None) or []
    return sorted(int(i) for i in ids)


@dataclass
class Page:
    """One page of a timeline, newest first.

    ``before`` is the cursor of the next, older page (None at the end); ``since`` the cursor to
    poll with for what comes after; ``more`` says a poll left newer entries for the next poll.
    """

    entries: list[TimelineEntry]
    before: str | None
    since: str
    more: bool = False


def page(
    mi: MajorIncident,
    *,
    thread: str = "",
    kind: str = "",
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """The newest ``size`` entries (before id ``before``, for an older page): one query, plus one
    for the "now" cursor of an older page."""
    rows = entries(mi, thread=thread, kind=kind)
    if before is not None:
        rows = rows.filter(id__lt=before)
    got = list(rows.order_by("-id")[: size + 1])
    shown = got[:size]
    older = encode_cursor(BEFORE, shown[-1].pk) if len(got) > size else None
    if before is None:
        newest = shown[0].pk if shown else 0
    else:
        newest = entries(mi, thread=thread, kind=kind).order_by().aggregate(m=Max("id"))["m"] or 0
    return Page(entries=shown, before=older, since=encode_cursor(SINCE, newest))


def poll(
    mi: MajorIncident, *, since: int, thread: str = "", kind: str = "", size: int = PAGE_SIZE
) -> Page:
    """What came after ``since``, newest first, in one query on the timeline's (incident, id)
    index. At most ``size`` of the oldest new ones: ``more`` says to poll again at once, so a
    burst is never skipped."""
    got = list(
        entries(mi, thread=thread, kind=kind).filter(id__gt=since).order_by("id")[: size + 1]
    )
    shown = got[:size]
    newest = shown[-1].pk if shown else since
    shown.reverse()
    return Page(
        entries=shown, before=None, since=encode_cursor(SINCE, newest), more=len(got) > size
    )


# --- Threads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadView:
    """A thread as the war room lists it: the command thread (not a row) or a Thread."""

    slug: str
    name: str
    owner: User | None
    created_at: datetime | None
    is_command: bool = False


def threads(mi: MajorIncident) -> list[ThreadView]:
    """The command thread first (its owner the IC now), then the subsystem threads by age."""
    rows = Thread.objects.filter(major_incident=mi).select_related("owner").order_by("id")
    command = ThreadView(
        slug=COMMAND_THREAD,
        name="Command",
        owner=current_commander(mi),
        created_at=mi.declared_at,
        is_command=True,
    )
    return [command] + [
        ThreadView(slug=t.slug, name=t.name, owner=t.owner, created_at=t.created_at) for t in rows
    ]


def may_post_command_updates(user: Any, mi: MajorIncident) -> bool:
    """The MI's incident commander or an active scribe: who posts in the command thread."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return any(
        r.user_id == user.pk and r.role in (RaciRole.MAJOR_INCIDENT_MANAGER, RaciRole.SCRIBE)
        for r in active_roles(mi)
    )
