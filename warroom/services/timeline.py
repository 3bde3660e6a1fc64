"""Posts to an MI's timeline and the threads they go in.

A post is a new ``TimelineEntry`` (the timeline is append-only: a correction is a new post that
points at the entry it corrects). Threads are named by slug on the entries, so the timeline in
``incidents`` never depends on the war room; these services check the slug exists.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.events import send_after_commit
from incidents.models import POST_KINDS, MajorIncident, TimelineEntry, TimelineKind
from incidents.selectors import actor_id, can, ensure, name_of, user_of
from incidents.services import record
from incidents.services.common import lock_major_incident

from .. import events
from ..models import COMMAND_THREAD, Thread
from ..selectors.timeline import may_post_command_updates
from .common import ensure_writable

User = get_user_model()

MAX_BODY = 10_000
MAX_THREAD_NAME = 120
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def _clean_body(body: Any) -> str:
    if not isinstance(body, str):
        raise DomainError("the post's text must be a string", field="body")
    text = body.strip()
    if not text:
        raise DomainError("write something to post", field="body")
    if len(text) > MAX_BODY:
        raise DomainError(
            f"a post is at most {MAX_BODY:,} characters (this one has {len(text):,})", field="body"
        )
    if "\x00" in text:
        raise DomainError("the text holds a NUL character", field="body")
    return text


def _clean_thread(mi: MajorIncident, thread: Any, kind: str) -> str:
    """The thread a post goes in; command updates go in the command thread and only there."""
    if not isinstance(thread, str):
        raise DomainError("a thread is named by its slug, a string", field="thread")
    thread = thread.strip()
    if kind == TimelineKind.COMMAND_UPDATE:
        if thread not in ("", COMMAND_THREAD):
            raise DomainError("command updates go in the command thread", field="thread")
        return COMMAND_THREAD
    if thread == COMMAND_THREAD:
        raise DomainError(
            "the command thread takes command updates only; post notes, decisions and findings "
            "in a subsystem thread or in the timeline itself",
            field="thread",
        )
    if thread and not _SLUG.fullmatch(thread):
        raise DomainError("a thread is named by its slug (letters, digits, -)", field="thread")
    if thread and not Thread.objects.filter(major_incident=mi, slug=thread).exists():
        shown = thread.replace("\x00", "")[:64]
        raise DomainError(f"{mi.number} has no thread {shown!r}", field="thread")
    return thread


def _corrected(mi: MajorIncident, corrects: Any) -> TimelineEntry | None:
    if corrects is None:
        return None
    if isinstance(corrects, TimelineEntry):
        corrects = corrects.pk
    if not isinstance(corrects, int) or isinstance(corrects, bool) or not 0 < corrects < 2**63:
        raise DomainError("a correction names the entry it corrects by its id", field="corrects")
    entry = TimelineEntry.objects.filter(pk=corrects, incident_id=mi.incident_id).first()
    if entry is None:
        raise DomainError(f"{mi.number}'s timeline has no entry {corrects}", field="corrects")
    return entry


def post_to_timeline(
    *,
    mi: MajorIncident,
    actor: Any,
    body: str,
    kind: str = "note",
    thread: str = "",
    corrects: TimelineEntry | int | None = None,
) -> TimelineEntry:
    """Post ``body`` (Markdown) to ``mi``'s timeline as a note, command update, decision or
    finding, in a thread or none; ``corrects``: the entry (or its id) this post corrects.

    Command updates go in the command thread (the default for them) and only the MI's incident
    commander and its scribe post them; the other kinds go anywhere else.
    """
    ensure(actor, "post_timeline", mi)
    if kind not in POST_KINDS:
        raise DomainError(f"a post is one of {', '.join(POST_KINDS)}", field="kind")
    text = _clean_body(body)
    with transaction.atomic():
        # The incident's lock (then the MI's) orders this insert after any other writer that
        # holds it (every war-room write): their ids then follow commit order, which the poll's
        # ``id > since`` relies on.
        mi = lock_major_incident(mi)
        ensure_writable(mi)
        slug = _clean_thread(mi, thread, kind)
        if kind == TimelineKind.COMMAND_UPDATE and not may_post_command_updates(actor, mi):
            raise NotAllowed(
                f"Only {mi.number}'s incident commander or scribe may post command updates."
            )
        corrected = _corrected(mi, corrects)
        entry = record(
            mi.incident,
            kind,
            text,
            actor=actor,
            major_incident=mi,
            thread=slug,
            corrects=corrected,
        )
        send_after_commit(
            events.timeline_post_added,
            major_incident_id=mi.pk,
            entry_id=entry.pk,
            kind=kind,
            thread=slug,
            actor_id=actor_id(actor),
        )
    return entry


def _clean_name(name: Any) -> str:
    if not isinstance(name, str):
        raise DomainError("a thread's name must be a string", field="name")
    text = " ".join(name.replace("\x00", " ").split())
    if "\x00" in name:
        raise DomainError("the name holds a NUL character", field="name")
    if not text:
        raise DomainError("name the thread (the subsystem it investigates)", field="name")
    if len(text) > MAX_THREAD_NAME:
        raise DomainError(f"a thread's name is at most {MAX_THREAD_NAME} characters", field="name")
    return text


def _owner(mi: MajorIncident, owner: Any, actor: Any) -> Any:
    user = owner if owner is not None else actor
    if user is None or not isinstance(user, User) or not user.is_active:
        raise DomainError("a thread's owner is an active user", field="owner")
    if not can(user, "view", mi):
        raise DomainError(f"{user.username} may not see {mi.number}", field="owner")
    return user


def _free_slug(mi: MajorIncident, base: str) -> str:
    taken = set(
        Thread.objects.filter(major_incident=mi, slug__startswith=base).values_list(
            "slug", flat=True
        )
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base[: 64 - len(str(n)) - 1]}-{n}"
    return slug


def open_thread(*, mi: MajorIncident, actor: Any, name: str, owner: Any = None) -> Thread:
    """Open a subsystem thread on ``mi``, owned by ``owner`` (the actor by default), who must be
    able to see the MI. Its slug comes from the name, made unique on the MI ("db", "db-2")."""
    ensure(actor, "post_timeline", mi)
    text = _clean_name(name)
    base = slugify(text)[:60].strip("-") or "thread"
    if base == COMMAND_THREAD:
        raise DomainError(
            "every MI has its command thread already; name the subsystem this one investigates",
            field="name",
        )
    user = _owner(mi, owner, actor)
    with transaction.atomic():
        # Under the MI's lock two threads of one name cannot both take the free slug.
        mi = lock_major_incident(mi)
        ensure_writable(mi)
        slug = _free_slug(mi, base)
        try:
            with transaction.atomic():
                row = Thread.objects.create(
                    major_incident=mi, slug=slug, name=text, owner=user, created_by=user_of(actor)
                )
        except IntegrityError:  # pragma: no cover - the lock above makes it unreachable
            raise Conflict(f"{mi.number} has a thread {slug!r} already", field="name") from None
        record(
            mi.incident,
            TimelineKind.THREAD_OPENED,
            f"Thread “{text}” opened, owned by {name_of(user)}",
            actor=actor,
            major_incident=mi,
            thread=slug,
            data={"thread": slug, "name": text, "owner": user.username},
        )
        send_after_commit(
            events.thread_opened,
            major_incident_id=mi.pk,
            thread_id=row.pk,
            owner_id=user.pk,
            actor_id=actor_id(actor),
        )
    return row
