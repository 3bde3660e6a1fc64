"""The MI's shared scratchpad: saves that name the version they edited (optimistic locking).

Two people editing at once must not overwrite each other without knowing: a save names the
version it started from, and succeeds only while that is still the current one. The check and
the write are one conditional UPDATE (``…WHERE version = %s``), so on PostgreSQL the second of
two saves of the same version waits for the first's row lock, then finds the version moved on
and changes nothing — exactly one wins, with no lock taken up front. The loser's text is not
lost: the client still has it, and the ``StaleScratchpad`` it gets carries the winner's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.errors import Conflict, DomainError
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import ensure, name_of, user_of
from incidents.selectors.actors import Actor

from ..models import Scratchpad, ScratchpadVersion
from .common import ensure_writable, record_mi

MAX_SCRATCHPAD_CHARS = 100_000
# A save writes no timeline row of its own (a busy pad would flood the timeline); a save after
# the pad has been quiet this long does, so the timeline says when work on it started again.
SCRATCHPAD_QUIET = timedelta(minutes=10)


class StaleScratchpad(Conflict):
    """The save named a version that is no longer the current one (409, with the current)."""

    def __init__(self, message: str, *, current: Scratchpad) -> None:
        super().__init__(message, field=None)
        self.current = current

    def as_dict(self) -> dict[str, object]:
        pad = self.current
        return {
            "detail": self.message,
            "current": {
                "text": pad.text,
                "version": pad.version,
                "updated_by": pad.updated_by.username if pad.updated_by else None,
                "updated_at": pad.updated_at.isoformat().replace("+00:00", "Z"),
            },
        }


def _clean(text: Any, version: Any) -> tuple[str, int]:
    if not isinstance(text, str):
        raise DomainError("text must be text", field="text")
    if len(text) > MAX_SCRATCHPAD_CHARS:
        raise DomainError(
            f"the scratchpad holds at most {MAX_SCRATCHPAD_CHARS:,} characters", field="text"
        )
    if "\x00" in text:
        raise DomainError("text may not contain NUL characters", field="text")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise DomainError("version must be a whole number, 0 or more", field="version")
    # Browsers send a textarea's line breaks as CRLF; the pad keeps LF.
    return text.replace("\r\n", "\n"), version


@transaction.atomic
def save_scratchpad(
    *, mi: MajorIncident, actor: Actor | None, text: Any, version: Any
) -> Scratchpad:
    """Save ``text`` as the next version of the MI's scratchpad, if ``version`` is still current.

    A stale ``version`` raises ``StaleScratchpad`` (409) carrying the current text and version.
    The same text as the current version's is a no-op (no new version). Every saved version is
    kept (``ScratchpadVersion``), with who saved it and when.
    """
    ensure(actor, "edit_scratchpad", mi)
    text, version = _clean(text, version)
    status = MajorIncident.objects.values_list("status", flat=True).get(pk=mi.pk)
    ensure_writable(mi, status)
    # Made at version 0 by the first save; get_or_create survives two first saves at once (the
    # loser of the insert reads the winner's row), and the conditional update below decides.
    pad, _ = Scratchpad.objects.get_or_create(major_incident=mi)
    if pad.version == version and pad.text == text:
        return pad
    quiet_since = pad.updated_at if pad.version else None
    now = timezone.now()
    saved = Scratchpad.objects.filter(pk=pad.pk, version=version).update(
        text=text, version=version + 1, updated_by=user_of(actor), updated_at=now
    )
    if not saved:
        current = Scratchpad.objects.select_related("updated_by").get(pk=pad.pk)
        who = current.updated_by.username if current.updated_by else "someone"
        raise StaleScratchpad(
            f"{who} saved version {current.version} while you edited version {version}; "
            "nothing was saved: merge your text into theirs and save again",
            current=current,
        )
    ScratchpadVersion.objects.create(
        major_incident=mi, version=version + 1, text=text, saved_by=user_of(actor), saved_at=now
    )
    if quiet_since is None or now - quiet_since >= SCRATCHPAD_QUIET:
        record_mi(
            mi,
            TimelineKind.UPDATED,
            f"Scratchpad edited by {name_of(actor)} (version {version + 1})",
            actor=actor,
            data={"scratchpad_version": version + 1},
        )
    return Scratchpad.objects.select_related("updated_by").get(pk=pad.pk)
