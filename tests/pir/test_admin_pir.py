"""The PIR admin: reviews, comments, action items and KPI reports, read across MIs by managers,
never edited there (the document links to its page), deleted only by super admins; an action
item shows the work it became, and that work shows the item it came from."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import MajorIncident
from pir import services
from pir.models import KpiReport, PostIncidentReview, ReviewActionItem, ReviewComment
from pir.selectors.reviews import review_page
from pir.services.actions import convert_action_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(review: PostIncidentReview, alice: Any, bob: Any) -> ReviewActionItem:
    item = services.add_action_item(
        review=review,
        actor=bob,
        fields={"title": "Add a canary", "owner": bob.username, "due_date": "2026-12-31"},
    )
    return convert_action_item(item=item, actor=alice, to="problem_task")


def _admin(user: Any) -> Client:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def test_the_review_list_finds_a_review_by_its_mi_number_and_flags_overdue(
    review: PostIncidentReview, alice: Any
) -> None:
    PostIncidentReview.objects.filter(pk=review.pk).update(
        publish_due_at=timezone.now() - timedelta(days=1)
    )
    client = _admin(alice)
    number = review.major_incident.number
    response = client.get("/admin/pir/postincidentreview/", {"q": number})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [review]
    assert (
        client.get("/admin/pir/postincidentreview/", {"q": "MI9999999"}).context["cl"].result_count
        == 0
    )
    overdue = client.get("/admin/pir/postincidentreview/", {"overdue": "yes"})
    assert list(overdue.context["cl"].result_list) == [review]
    assert 'alt="True"' in overdue.content.decode()
    on_time = client.get("/admin/pir/postincidentreview/", {"overdue": "no"})
    assert on_time.context["cl"].result_count == 0


def test_the_review_page_is_read_only_and_links_to_where_it_is_written(
    review: PostIncidentReview, alice: Any
) -> None:
    client = _admin(alice)
    url = f"/admin/pir/postincidentreview/{review.pk}/change/"
    summary = review.summary
    body = client.get(url).content.decode()
    assert f'href="{review_page(review.major_incident)}"' in body
    assert 'name="summary"' not in body  # no form fields: read-only
    refused = client.post(url, {"summary": "edited in the admin"})
    assert refused.status_code == 403
    assert "written on its page" in refused.content.decode()
    review.refresh_from_db()
    assert review.summary == summary
    assert client.get("/admin/pir/postincidentreview/add/").status_code == 403


def test_only_a_super_admin_deletes_a_review(
    review: PostIncidentReview, alice: Any, sam: Any
) -> None:
    url = f"/admin/pir/postincidentreview/{review.pk}/delete/"
    assert _admin(alice).post(url, {"post": "yes"}).status_code == 403
    assert PostIncidentReview.objects.filter(pk=review.pk).exists()
    assert _admin(sam).post(url, {"post": "yes"}).status_code == 302
    assert not PostIncidentReview.objects.filter(pk=review.pk).exists()


def test_a_technician_with_staff_status_sees_no_review(
    review: PostIncidentReview, tina: Any
) -> None:
    client = _admin(tina)
    for url in (
        "/admin/pir/postincidentreview/",
        f"/admin/pir/postincidentreview/{review.pk}/change/",
        "/admin/pir/reviewactionitem/",
        "/admin/pir/kpireport/",
    ):
        assert client.get(url).status_code == 403, url


def test_an_action_item_shows_the_work_it_became_and_the_work_shows_the_item(
    item: ReviewActionItem, alice: Any
) -> None:
    client = _admin(alice)
    task = item.problem_task
    assert task is not None
    listing = client.get("/admin/pir/reviewactionitem/", {"q": item.review.major_incident.number})
    body = listing.content.decode()
    assert f'href="/admin/incidents/problemtask/{task.pk}/change/">{task.number}</a>' in body
    assert list(listing.context["cl"].result_list) == [item]
    page = client.get(f"/admin/pir/reviewactionitem/{item.pk}/change/").content.decode()
    assert f'href="{review_page(item.review.major_incident, item.pk)}"' in page
    assert client.post(f"/admin/pir/reviewactionitem/{item.pk}/change/", {}).status_code == 403
    # The problem task's admin page points back at the item on the review.
    task_page = client.get(f"/admin/incidents/problemtask/{task.pk}/change/").content.decode()
    assert f'<a href="{task.source_url}">{task.source_label}</a>' in task_page
    assert task.source_url == review_page(item.review.major_incident, item.pk)


def test_a_change_made_from_an_item_shows_where_it_came_from(
    review: PostIncidentReview, resolved: MajorIncident, alice: Any, bob: Any
) -> None:
    item = services.add_action_item(review=review, actor=bob, fields={"title": "Raise limits"})
    change = convert_action_item(item=item, actor=alice, to="change").change
    assert change is not None
    page = _admin(alice).get(f"/admin/incidents/change/{change.pk}/change/").content.decode()
    assert f'<a href="{change.source_url}">{resolved.number} PIR action item {item.pk}</a>' in page


def test_a_pending_jira_issue_is_shown_as_pending(item: ReviewActionItem, alice: Any) -> None:
    from comms.models import OutboxMessage

    message = OutboxMessage.objects.create(
        idempotency_key="j", channel="jira", recipient="OPS", purpose="create_issue"
    )
    ReviewActionItem.objects.filter(pk=item.pk).update(tracker_message=message)
    body = _admin(alice).get("/admin/pir/reviewactionitem/").content.decode()
    assert "Jira: pending" in body


def test_comments_and_kpi_reports_are_read_only_records(
    review: PostIncidentReview, alice: Any, sam: Any, bob: Any
) -> None:
    comment = services.add_comment(review=review, actor=bob, body="Name the config", section="")
    report = KpiReport.objects.create(month=date(2026, 11, 1), recipients=3)
    client = _admin(sam)
    assert client.get(f"/admin/pir/reviewcomment/{comment.pk}/change/").status_code == 200
    assert client.post(f"/admin/pir/reviewcomment/{comment.pk}/change/", {}).status_code == 403
    assert client.get(f"/admin/pir/kpireport/{report.pk}/change/").status_code == 200
    refused = client.post(f"/admin/pir/kpireport/{report.pk}/delete/", {"post": "yes"})
    assert refused.status_code == 403
    assert "the monthly task writes it" in refused.content.decode()
    assert KpiReport.objects.filter(pk=report.pk).exists()
    assert ReviewComment.objects.filter(pk=comment.pk).exists()
