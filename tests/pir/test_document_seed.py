"""``seed_demo`` (which runs ``seed_demo_pir``) leaves a review in draft with two action items and
a published review of a closed MI, and running it again changes nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from incidents.models import MIStatus
from pir.management.commands.seed_demo_pir import CLOSED_DEMO, RESOLVED_DEMO
from pir.models import PostIncidentReview, ReviewActionItem, ReviewStatus

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_a_draft_and_a_published_review_once() -> None:
    call_command("seed_demo", stdout=StringIO())
    draft = PostIncidentReview.objects.get(
        major_incident__incident__short_description=RESOLVED_DEMO
    )
    done = PostIncidentReview.objects.get(major_incident__incident__short_description=CLOSED_DEMO)
    assert draft.status == ReviewStatus.DRAFT and draft.action_items.count() == 2
    assert draft.impact and draft.summary  # pre-filled
    assert done.status == ReviewStatus.PUBLISHED
    assert done.major_incident.status == MIStatus.CLOSED
    counts = (PostIncidentReview.objects.count(), ReviewActionItem.objects.count())
    call_command("seed_demo", stdout=StringIO())
    assert (PostIncidentReview.objects.count(), ReviewActionItem.objects.count()) == counts
