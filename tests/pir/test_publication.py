"""Publishing's side effects: the summary through comms to the plan's audience with its context,
and for a P1 whose commander chose it the public postmortem on the status page only."""

from __future__ import annotations

from typing import Any

import pytest

from comms.models import OutboxMessage, StakeholderUpdate
from comms.selectors import status
from incidents.errors import DomainError
from pir import services
from pir.models import PostIncidentReview

pytestmark = pytest.mark.django_db

DONE = {"summary": "Checkout failed for 40 minutes.", "root_causes": "A bad config push."}


def test_the_summary_carries_root_causes_items_and_the_link(
    review: PostIncidentReview, alice: Any, committed: Any
) -> None:
    services.update_review(review=review, actor=alice, changes=DONE)
    services.add_action_item(
        review=review,
        actor=alice,
        fields={
            "title": "Canary",
            "owner": alice.username,
            "due_date": "2026-12-31",
            "priority": 2,
        },
    )
    with committed():
        services.publish_review(review=review, actor=alice)
    summary = StakeholderUpdate.objects.get(
        major_incident=review.major_incident, slot="pir_summary"
    )
    assert "Checkout failed for 40 minutes." in summary.current_impact
    assert "Root causes: A bad config push." in summary.current_impact
    assert "Action items agreed: 1." in summary.current_impact
    assert f"/war-rooms/{review.major_incident.number}/pir/" in summary.current_impact
    assert not StakeholderUpdate.objects.filter(slot="pir_public").exists()


def test_a_p1_with_post_publicly_gets_a_public_postmortem_on_the_status_page_only(
    review: PostIncidentReview, alice: Any, committed: Any
) -> None:
    mi = review.major_incident
    services.update_review(
        review=review,
        actor=alice,
        changes={**DONE, "post_publicly": True, "public_summary": "A configuration error."},
    )
    with committed():
        services.publish_review(review=review, actor=alice)
    public = StakeholderUpdate.objects.get(major_incident=mi, slot="pir_public")
    assert public.is_public and public.status == "sent" and public.update_type == "pir_summary"
    assert public.current_impact == "A configuration error."
    # Nothing is sent for it: the plan's audience had the internal summary.
    internal = StakeholderUpdate.objects.get(major_incident=mi, slot="pir_summary")
    assert not OutboxMessage.objects.filter(update=public).exists()
    assert internal.pk != public.pk
    assert [status.incident_status(m) for m in status._shown_mis() if m.pk == mi.pk] == [
        "postmortem"
    ]


def test_a_published_review_without_public_version_is_not_a_postmortem(
    review: PostIncidentReview, alice: Any, committed: Any
) -> None:
    services.update_review(review=review, actor=alice, changes=DONE)
    with committed():
        services.publish_review(review=review, actor=alice)
    mi = review.major_incident
    assert [status.incident_status(m) for m in status._shown_mis() if m.pk == mi.pk] == ["resolved"]


def test_a_public_postmortem_needs_text(review: PostIncidentReview, alice: Any) -> None:
    from comms.services import post_public_postmortem

    with pytest.raises(DomainError) as error:
        post_public_postmortem(mi=review.major_incident, text="  ", actor=alice)
    assert error.value.field == "public_summary"
