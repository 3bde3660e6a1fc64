"""Reads of the initial assessment: the current revision, the history, when it is due."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from incidents.models import MajorIncident

from ..models import ASSESSMENT_DUE_MINUTES, AssessmentRevision


def assessment_revisions(mi: MajorIncident) -> list[AssessmentRevision]:
    """Every revision of the MI's assessment, newest first, with its author (one query)."""
    return list(
        AssessmentRevision.objects.filter(major_incident=mi)
        .select_related("author")
        .order_by("-revision")
    )


def current_assessment(mi: MajorIncident) -> AssessmentRevision | None:
    """The latest revision, or None before the first one is written."""
    return (
        AssessmentRevision.objects.filter(major_incident=mi)
        .select_related("author")
        .order_by("-revision")
        .first()
    )


def assessment_due_at(mi: MajorIncident) -> datetime:
    return mi.declared_at + timedelta(minutes=ASSESSMENT_DUE_MINUTES)


def assessment_overdue(mi: MajorIncident, *, written: bool, now: datetime | None = None) -> bool:
    """No revision yet and the 15 minutes are over (while the MI is still open)."""
    return not written and mi.is_open and (now or timezone.now()) > assessment_due_at(mi)
