"""The review's core: made on resolution, edited with versions, published only when complete,
and only then may the MI close."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from comms.models import StakeholderUpdate
from incidents import services as incident_services
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import MajorIncident, MIStatus, TimelineKind
from pir import services
from pir.models import PostIncidentReview, ReviewStatus
from pir.services.reviews import StaleReview

pytestmark = pytest.mark.django_db

DONE = {"summary": "Checkout failed for 40 minutes.", "root_causes": "A bad config push."}


def test_resolving_an_mi_makes_its_review_once(resolved: MajorIncident, alice: Any) -> None:
    review = PostIncidentReview.objects.get(major_incident=resolved)
    assert review.status == ReviewStatus.DRAFT
    assert review.title.startswith(resolved.number)
    _, created = services.create_review(mi=resolved)
    assert not created


def test_an_edit_naming_an_old_version_is_a_409(review: PostIncidentReview, alice: Any) -> None:
    services.update_review(review=review, actor=alice, changes={"summary": "one"}, version=1)
    with pytest.raises(StaleReview) as stale:
        services.update_review(review=review, actor=alice, changes={"summary": "two"}, version=1)
    current = stale.value.as_dict()["current"]
    assert isinstance(current, dict) and current["version"] == 2
    review.refresh_from_db()
    assert review.summary == "one"


def test_bad_fields_are_errors_naming_them(review: PostIncidentReview, alice: Any) -> None:
    for changes, field in (
        ({"nope": 1}, "nope"),
        ({"summary": 5}, "summary"),
        ({"customers_affected_percent": 140}, "customers_affected_percent"),
        ({"customers_affected": "1.5"}, "customers_affected"),
        ({"authors": ["usr_nobody"]}, "authors"),
        ({"distribution": "everyone"}, "distribution"),
        ({"summary": "x" * 50_001}, "summary"),
    ):
        with pytest.raises(DomainError) as error:
            services.update_review(review=review, actor=alice, changes=changes)
        assert error.value.field == field


def test_a_technician_outside_the_team_may_not_write(
    review: PostIncidentReview, tina: Any, bob: Any
) -> None:
    with pytest.raises(NotAllowed):
        services.update_review(review=review, actor=tina, changes={"summary": "mine"})
    services.update_review(review=review, actor=bob, changes={"summary": "the team's"})
    with pytest.raises(NotAllowed):
        services.update_review(review=review, actor=bob, changes={"post_publicly": True})


def test_publish_is_blocked_by_an_action_item_without_an_owner(
    review: PostIncidentReview, alice: Any, bob: Any, committed: Any
) -> None:
    services.update_review(review=review, actor=alice, changes=DONE)
    item = services.add_action_item(
        review=review,
        actor=bob,
        fields={"title": "Add a canary", "due_date": "2026-12-31", "priority": 2},
    )
    with pytest.raises(DomainError) as blocked:
        services.publish_review(review=review, actor=alice)
    assert blocked.value.field == "action_items"
    assert "needs an owner" in str(blocked.value)
    services.update_action_item(item=item, actor=bob, fields={"owner": bob.username})
    with committed():
        services.publish_review(review=review, actor=alice)
    review.refresh_from_db()
    item.refresh_from_db()
    assert review.status == ReviewStatus.PUBLISHED and item.due_date == date(2026, 12, 31)
    assert review.timeline  # the war-room log, frozen
    with pytest.raises(Conflict):
        services.update_review(review=review, actor=alice, changes={"summary": "later"})


def test_the_mi_closes_only_after_its_review_is_published(
    review: PostIncidentReview, alice: Any, committed: Any
) -> None:
    mi = review.major_incident
    with pytest.raises(Conflict):
        incident_services.transition_major_incident(mi=mi, to=MIStatus.CLOSED, actor=alice)
    services.update_review(review=review, actor=alice, changes=DONE)
    with committed():
        services.publish_review(review=review, actor=alice)
    mi.refresh_from_db()
    assert mi.pir_published_at is not None
    assert mi.timeline.filter(kind=TimelineKind.REVIEW).exists()
    summary = StakeholderUpdate.objects.get(major_incident=mi, slot="pir_summary")
    assert summary.status == "sent" and "Checkout failed" in summary.current_impact
    incident_services.transition_major_incident(mi=mi, to=MIStatus.CLOSED, actor=alice)


def test_only_those_who_run_the_mi_publish(
    review: PostIncidentReview, alice: Any, bob: Any
) -> None:
    services.update_review(review=review, actor=alice, changes=DONE)
    with pytest.raises(NotAllowed):
        services.publish_review(review=review, actor=bob)
