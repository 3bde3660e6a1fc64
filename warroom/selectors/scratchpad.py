"""Reads of an MI's scratchpad: the current text and the versions saved before it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.functions import Length

from incidents.models import MajorIncident

from ..models import Scratchpad, ScratchpadVersion


def scratchpad_of(mi: MajorIncident) -> Scratchpad:
    """The MI's scratchpad; an unsaved, empty one at version 0 before anyone has saved.

    Reading never writes: the row is made by the first save (``save_scratchpad``).
    """
    pad = Scratchpad.objects.select_related("updated_by").filter(major_incident=mi).first()
    if pad is None:
        pad = Scratchpad(major_incident=mi, text="", version=0, updated_at=mi.declared_at)
    return pad


def scratchpad_versions(mi: MajorIncident) -> QuerySet[ScratchpadVersion]:
    """Every saved version, newest first, each with who saved it and its length (not its text,
    which a list of them does not need: a version is up to 100,000 characters)."""
    return (
        ScratchpadVersion.objects.filter(major_incident=mi)
        .select_related("saved_by")
        .defer("text")
        .annotate(length=Length("text"))
        .order_by("-version")
    )


def scratchpad_version(mi: MajorIncident, version: int) -> ScratchpadVersion | None:
    return (
        ScratchpadVersion.objects.filter(major_incident=mi, version=version)
        .select_related("saved_by")
        .first()
    )
