"""The review is pre-filled on resolution from the MI's records: summary, impact in figures and
words, roles, the initial assessment, the stakeholder updates sent, repeats on the service this
quarter; and a first draft of summary, detection and resolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from incidents.models import MajorIncident
from pir.models import PostIncidentReview
from pir.selectors.document import facts, in_words, prefill, timeline_rows
from pir.services import drafting
from tests.incidents.mi_fixtures import declare
from tests.pir.conftest import resolve
from warroom.services.assessment import revise_assessment

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_checkout(make_ci: Callable[..., Any], make_incident: Callable[..., Any], alice: Any) -> Any:
    ci = make_ci("Checkout", users=1200)

    def _mi() -> MajorIncident:
        incident = make_incident(actor=alice, impact=1, urgency=1, affected_ci=ci)
        return declare(incident, alice)

    return _mi


def test_resolution_prefills_summary_impact_roles_assessment_and_updates(
    on_checkout: Callable[[], MajorIncident],
    make_incident: Callable[..., Any],
    alice: Any,
    committed: Any,
) -> None:
    mi = on_checkout()
    make_incident(actor=alice, parent=mi.incident, short_description="Cannot pay")
    revise_assessment(
        mi=mi,
        actor=alice,
        affected_services="Checkout and payments",
        root_cause_hypothesis="A bad config push",
        sla_breach_risk="high",
        customer_symptoms="Payments fail",
    )
    mi = resolve(mi, alice, committed)
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert "Scope (initial assessment): Checkout and payments" in review.summary
    assert "A bad config push" in review.summary
    assert "Affected users (CMDB): 1,200." in review.impact
    assert "Child incidents: 1." in review.impact
    assert "Duration: 1 hour, from declaration" in review.impact
    assert review.customers_affected == 1200 and review.support_tickets == 1
    assert "Roles held:" in review.supporting_information
    assert "Initial assessment (revision 1)" in review.supporting_information
    assert review.drafted_by == "template"
    assert review.detection and review.resolution  # the first draft, in blank fields
    assert "major incident on Checkout this quarter" not in review.summary


def test_the_second_mi_on_a_service_this_quarter_says_so(
    on_checkout: Callable[[], MajorIncident], alice: Any, committed: Any
) -> None:
    first = resolve(on_checkout(), alice, committed)
    second = resolve(on_checkout(), alice, committed)
    assert facts(first).nth_this_quarter == 1
    review = PostIncidentReview.objects.get(major_incident=second)
    assert "This is the 2nd major incident on Checkout this quarter." in review.summary


def test_a_cancelled_mi_does_not_count_as_a_repeat(
    on_checkout: Callable[[], MajorIncident], alice: Any
) -> None:
    from tests.incidents.mi_fixtures import force_status

    first = on_checkout()
    force_status(first, "cancelled", cancel_reason="declared in error")
    assert facts(on_checkout()).nth_this_quarter == 1


def test_prefill_only_fills_blank_fields(review: PostIncidentReview, alice: Any) -> None:
    from pir.services import create_review

    PostIncidentReview.objects.filter(pk=review.pk).update(summary="Ours")
    _, created = create_review(mi=review.major_incident)
    review.refresh_from_db()
    assert not created and review.summary == "Ours"
    assert prefill(review.major_incident)["summary"] != "Ours"


def test_timeline_rows_are_in_order_with_milestones_marked(review: PostIncidentReview) -> None:
    rows = timeline_rows(review.major_incident)
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    assert rows[0]["kind"] == "declared" and rows[0]["milestone"]
    assert any(r["kind"] == "resolved" and r["milestone"] for r in rows) or any(
        r["milestone"] for r in rows[1:]
    )
    assert all(r["url"].endswith(f"#entry-{r['id']}") for r in rows)


def test_the_offline_draft_is_deterministic(review: PostIncidentReview) -> None:
    one = drafting.offline_draft(review.major_incident)
    two = drafting.offline_draft(review.major_incident)
    assert one.sections == two.sections and one.drafted_by == "template"
    assert "declared a major incident" in one.sections["detection"]
    # Markdown as the page renders it: the status changes a list, the restoration its own line.
    paragraphs = one.sections["resolution"].split("\n\n")
    assert paragraphs[0].startswith("- ") and "monitoring" in paragraphs[0]
    assert paragraphs[-1].startswith("Service was restored")


def test_durations_in_words() -> None:
    from datetime import timedelta

    assert in_words(timedelta(hours=2, minutes=5)) == "2 hours 5 minutes"
    assert in_words(timedelta(seconds=20)) == "under a minute"
    assert in_words(timedelta(days=1, minutes=1)) == "1 day 1 minute"
    assert in_words(None) == ""


def test_the_stakeholder_updates_sent_are_listed_in_order(
    mi: MajorIncident, alice: Any, committed: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from comms import services as comms_services

    for text in ("Nobody can pay.", "Payments recover."):
        update = comms_services.create_update(
            mi=mi,
            actor=alice,
            update_type="cadence",
            current_impact=text,
            current_action="Rolling back",
            user_action="Retry later",
            next_update_at=timezone.now() + timedelta(minutes=30),
        )
        comms_services.send_update(update=update, actor=alice)
    review = PostIncidentReview.objects.get(major_incident=resolve(mi, alice, committed))
    listed = review.supporting_information.split("Stakeholder updates sent:\n", 1)[1]
    assert listed.index("Nobody can pay.") < listed.index("Payments recover.")
    sent = mi.stakeholder_updates.filter(status="sent").count()  # ours and the automatic ones
    assert f"{sent} stakeholder update(s) sent" in review.communication_cadence
