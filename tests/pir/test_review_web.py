"""The review's pages: the editor by section and the printable view, who sees and may do what
on them, a stale save that keeps what was typed, escaping, a published review read-only, and the
review's panel on the war-room page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import MajorIncident
from pir import services
from pir.models import DOCUMENT_SECTIONS, PostIncidentReview, ReviewActionItem, ReviewStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(review: PostIncidentReview) -> PostIncidentReview:
    """The resolved MI's review without its pre-fill: these tests are about what the page does
    with what people write (the pre-fill has its own tests, ``test_document.py``)."""
    blank = dict.fromkeys((name for name, _ in DOCUMENT_SECTIONS), "")
    PostIncidentReview.objects.filter(pk=review.pk).update(
        **blank, customers_affected=None, support_tickets=None, drafted_by=""
    )
    review.refresh_from_db()
    return review


DONE = {"summary": "Checkout failed for 40 minutes.", "root_causes": "A bad config push."}


def _urls(review: PostIncidentReview) -> dict[str, str]:
    """Every URL of this area (GET pages and POST forms), with a real action item."""
    number = review.major_incident.number
    item = ReviewActionItem.objects.filter(
        review=review
    ).first() or ReviewActionItem.objects.create(review=review, title="Add a canary")
    return {
        "review": reverse("pir:review", args=[number]),
        "print": reverse("pir:print", args=[number]),
        "save-section": reverse("pir:save-section", args=[number, "summary"]),
        "authors": reverse("pir:authors", args=[number]),
        "submit": reverse("pir:submit", args=[number]),
        "publish": reverse("pir:publish", args=[number]),
        "comment": reverse("pir:comment", args=[number]),
        "add-action": reverse("pir:add-action", args=[number]),
        "edit-action": reverse("pir:edit-action", args=[number, item.pk]),
    }


PAGES = ("review", "print")


def _section(review: PostIncidentReview, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": review.version,
        "title": review.title,
        "summary": review.summary,
        "impact": review.impact,
        "sla_breaches": "",
        "reputation": "",
        "revenue_currency": "USD",
    }
    data.update(fields)
    return data


def _item(**fields: Any) -> dict[str, Any]:
    data = {"title": "Add a canary", "kind": "prevent", "status": "open"}
    data.update(fields)
    return {f"new-{k}": v for k, v in data.items()}


# --- Who may --------------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in_on_every_url(review: PostIncidentReview) -> None:
    client = Client()
    for name, url in _urls(review).items():
        response = client.get(url) if name in PAGES else client.post(url, {})
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_a_user_without_a_role_gets_403_on_every_url(
    review: PostIncidentReview, oscar: Any, browser_for: Any
) -> None:
    client = browser_for(oscar)
    for name, url in _urls(review).items():
        response = client.get(url) if name in PAGES else client.post(url, {})
        assert response.status_code == 403, name


def test_a_technician_outside_the_team_reads_without_forms_and_may_not_write(
    review: PostIncidentReview, tina: Any, browser_for: Any
) -> None:
    client = browser_for(tina)
    page = client.get(reverse("pir:review", args=[review.major_incident.number]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="pir-read-only"' in html
    assert "<textarea" not in html and "pir-publish-button" not in html
    assert "pir-submit" not in html and "pir-add-action" not in html
    assert client.get(_urls(review)["print"]).status_code == 200
    for name, url in _urls(review).items():
        if name not in PAGES:
            assert client.post(url, _section(review, summary="mine")).status_code == 403, name
    review.refresh_from_db()
    assert review.summary != "mine"


def test_unknown_mi_is_404_and_an_mi_without_review_says_when_it_comes(
    review: PostIncidentReview, mi: MajorIncident, alice: Any, browser_for: Any, make_incident: Any
) -> None:
    from tests.incidents.mi_fixtures import declare

    client = browser_for(alice)
    assert client.get(reverse("pir:review", args=["MI9999999"])).status_code == 404
    assert client.get(reverse("pir:print", args=["MI9999999"])).status_code == 404
    assert client.post(reverse("pir:submit", args=["MI9999999"])).status_code == 404
    open_mi = declare(make_incident(impact=1, urgency=1), alice)
    response = client.get(reverse("pir:review", args=[open_mi.number]))
    assert response.status_code == 404
    assert "created when the major incident is resolved" in response.content.decode()
    unknown_group = reverse("pir:save-section", args=[mi.number, "nope"])
    assert client.post(unknown_group, {}).status_code == 404
    missing_item = reverse("pir:edit-action", args=[mi.number, 999_999])
    assert client.post(missing_item, {}).status_code == 404


def test_posting_without_the_csrf_token_is_refused(review: PostIncidentReview, alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(_urls(review)["save-section"], _section(review, summary="x"))
    assert response.status_code == 403
    review.refresh_from_db()
    assert review.summary == ""


def test_the_header_says_the_meeting_the_deadline_and_when_it_is_overdue(
    review: PostIncidentReview, tina: Any, browser_for: Any
) -> None:
    from datetime import UTC, datetime

    from freezegun import freeze_time

    PostIncidentReview.objects.filter(pk=review.pk).update(
        meeting_at=datetime(2026, 12, 3, 14, 30, tzinfo=UTC),
        meeting_location="Room 4.01 / https://meet.example.com/pir",
        meeting_sequence=2,
        publish_due_at=datetime(2026, 12, 8, 10, 0, tzinfo=UTC),
    )
    url = _urls(review)["review"]
    with freeze_time("2026-12-08 09:59"):
        page = browser_for(tina).get(url).content.decode()
    assert "Meeting 2026-12-03 14:30 UTC (rescheduled)" in page
    assert "Room 4.01 / https://meet.example.com/pir" in page and "sequence 2" in page
    assert "Publish by 2026-12-08 10:00 UTC" in page and "pir-overdue" not in page
    with freeze_time("2026-12-08 10:00"):
        page = browser_for(tina).get(url).content.decode()
        panel = browser_for(tina).get(reverse("warroom:page", args=[review.major_incident.number]))
    assert 'data-testid="pir-overdue"' in page
    assert "Overdue" in panel.content.decode()
    PostIncidentReview.objects.filter(pk=review.pk).update(
        meeting_cancelled_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    )
    page = browser_for(tina).get(url).content.decode()
    assert "Meeting cancelled" in page and 'data-testid="pir-meeting-cancelled"' in page


# --- The team writes ------------------------------------------------------------------------------


def test_a_team_member_saves_a_section_and_the_version_rises(
    review: PostIncidentReview, bob: Any, browser_for: Any
) -> None:
    client = browser_for(bob)
    page = client.get(_urls(review)["review"]).content.decode()
    assert 'data-testid="pir-form-summary"' in page
    # bob does not run the MI: no public version, no publishing.
    assert 'name="post_publicly"' not in page and "pir-publish-button" not in page
    response = client.post(
        _urls(review)["save-section"],
        _section(review, summary="Checkout failed.", customers_affected="1200"),
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.summary == "Checkout failed." and review.customers_affected == 1200
    assert review.version == 2
    page = client.get(response["Location"]).content.decode()
    assert "Summary &amp; impact saved (version 2)." in page
    # bob may not publish, whatever he posts.
    assert client.post(_urls(review)["publish"]).status_code == 403


def test_a_stale_save_keeps_the_users_text_and_shows_theirs(
    review: PostIncidentReview, alice: Any, bob: Any, browser_for: Any
) -> None:
    client = browser_for(bob)
    stale = _section(review, summary="bob's long careful summary")
    services.update_review(review=review, actor=alice, changes={"summary": "alice's"}, version=1)
    response = client.post(_urls(review)["save-section"], stale)
    assert response.status_code == 303
    review.refresh_from_db()
    assert review.summary == "alice's"
    page = client.get(_urls(review)["review"]).content.decode()
    assert 'data-testid="pir-conflict"' in page
    assert "bob&#x27;s long careful summary</textarea>" in page
    assert "alice&#x27;s</pre>" in page
    assert f'name="version" value="{review.version}"' in page
    # Saving again from there goes through.
    stale["version"] = review.version
    client.post(_urls(review)["save-section"], stale)
    review.refresh_from_db()
    assert review.summary == "bob's long careful summary"


def test_a_refused_figure_comes_back_next_to_its_field_with_what_was_typed(
    review: PostIncidentReview, bob: Any, browser_for: Any
) -> None:
    client = browser_for(bob)
    response = client.post(
        _urls(review)["save-section"],
        _section(review, summary="kept", customers_affected_percent="140"),
    )
    assert response.status_code == 303
    page = client.get(_urls(review)["review"]).content.decode()
    assert "field--error" in page and "between 0 and 100" in page
    assert "kept</textarea>" in page
    review.refresh_from_db()
    assert review.summary == "" and review.version == 1


def test_script_in_a_section_is_shown_as_text(
    review: PostIncidentReview, alice: Any, tina: Any, browser_for: Any
) -> None:
    evil = "<script>alert(1)</script> **bold**"
    services.update_review(
        review=review, actor=alice, changes={"summary": evil, "title": "<img src=x onerror=1>"}
    )
    services.add_action_item(review=review, actor=alice, fields={"title": "<script>x</script>"})
    services.add_comment(review=review, actor=alice, body="<script>c</script>")
    for client, url in (
        (browser_for(tina), _urls(review)["review"]),
        (browser_for(alice), _urls(review)["review"]),
        (browser_for(tina), _urls(review)["print"]),
    ):
        page = client.get(url).content.decode()
        assert "<script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page
    # The read-only view renders the Markdown (safely).
    assert (
        "<strong>bold</strong>" in browser_for(tina).get(_urls(review)["review"]).content.decode()
    )


def test_action_items_are_added_and_edited_and_a_bad_owner_is_named(
    review: PostIncidentReview, bob: Any, browser_for: Any
) -> None:
    client = browser_for(bob)
    urls = _urls(review)
    ReviewActionItem.objects.all().delete()
    response = client.post(urls["add-action"], _item(owner="usr_nobody"))
    assert response.status_code == 303
    page = client.get(urls["review"]).content.decode()
    assert "no active user" in page.lower() and 'value="Add a canary"' in page
    assert not ReviewActionItem.objects.exists()
    client.post(urls["add-action"], _item(owner=bob.username, priority="2"))
    item = ReviewActionItem.objects.get()
    assert item.owner == bob and item.priority == 2 and item.due_date is None
    edit = reverse("pir:edit-action", args=[review.major_incident.number, item.pk])
    prefix = f"item{item.pk}"
    client.post(
        edit,
        {
            f"{prefix}-title": "Add a canary stage",
            f"{prefix}-kind": "detect",
            f"{prefix}-owner": bob.username,
            f"{prefix}-due_date": "2026-12-31",
            f"{prefix}-priority": "2",
            f"{prefix}-status": "in_progress",
        },
    )
    item.refresh_from_db()
    assert (item.title, item.kind, item.status) == ("Add a canary stage", "detect", "in_progress")
    assert str(item.due_date) == "2026-12-31"
    page = client.get(urls["review"]).content.decode()
    assert "Add a canary stage" in page and "P2 - High" in page
    # The conversions are for whoever runs the MI only.
    assert 'name="to"' not in page


def test_comments_are_added_and_listed(
    review: PostIncidentReview, bob: Any, browser_for: Any
) -> None:
    client = browser_for(bob)
    urls = _urls(review)
    client.post(
        urls["comment"],
        {"comment-body": "Say when the alert fired.", "comment-section": "detection"},
    )
    page = client.get(urls["review"]).content.decode()
    assert "Say when the alert fired." in page and "on Detection" in page
    client.post(urls["comment"], {"comment-body": "", "comment-section": ""})
    assert review.comments.count() == 1


def test_a_team_member_names_the_authors_and_submits_the_draft_for_review(
    review: PostIncidentReview, alice: Any, bob: Any, browser_for: Any
) -> None:
    client = browser_for(bob)
    urls = _urls(review)
    client.post(urls["authors"], {"authors": f"{bob.username}, {alice.username}", "version": 1})
    assert set(review.authors.values_list("username", flat=True)) == {bob.username, alice.username}
    page = client.get(urls["review"]).content.decode()
    assert 'data-testid="pir-submit"' in page
    client.post(urls["submit"])
    review.refresh_from_db()
    assert review.status == ReviewStatus.IN_REVIEW
    page = client.get(urls["review"]).content.decode()
    assert 'data-testid="pir-submit"' not in page and "In review" in page
    # A second submit is refused with the reason, not an error page.
    response = client.post(urls["submit"])
    assert "only a draft is submitted" in client.get(response["Location"]).content.decode()


# --- The IC publishes -----------------------------------------------------------------------------


def test_the_ic_sees_the_blockers_then_publishes_and_the_review_is_read_only(
    review: PostIncidentReview, alice: Any, bob: Any, browser_for: Any, committed: Any
) -> None:
    client = browser_for(alice)
    urls = _urls(review)  # makes an action item without owner, due date or priority
    page = client.get(urls["review"]).content.decode()
    assert 'data-testid="pir-blockers"' in page and "pir-publish-button" not in page
    assert "The review needs a summary before it is published." in page
    assert "needs an owner, a due date and a priority" in page
    # A P1's review: the IC chooses the public version.
    assert 'name="post_publicly"' in page
    # Publishing anyway is refused with the reason, nothing changes.
    response = client.post(urls["publish"])
    assert response.status_code == 302
    assert "needs a summary" in client.get(response["Location"]).content.decode()
    services.update_review(review=review, actor=alice, changes=DONE)
    ReviewActionItem.objects.update(owner=bob, due_date="2026-12-31", priority=2)
    page = client.get(urls["review"]).content.decode()
    assert "pir-publish-button" in page and "pir-blockers" not in page
    with committed():
        client.post(urls["publish"])
    review.refresh_from_db()
    assert review.status == ReviewStatus.PUBLISHED
    for user in (alice, bob):
        page = browser_for(user).get(urls["review"]).content.decode()
        assert "<textarea" not in page and "pir-publish-button" not in page
        assert "Published: the review is final." in page
        assert "pir-add-action" not in page
    # A section posted after publishing changes nothing.
    version = review.version
    response = client.post(urls["save-section"], _section(review, summary="later"))
    review.refresh_from_db()
    assert review.summary == DONE["summary"] and review.version == version
    # The frozen timeline is what the page shows.
    assert review.timeline and review.timeline[0]["text"] in page


def test_the_printable_view_has_the_whole_document_and_no_forms(
    review: PostIncidentReview, alice: Any, bob: Any, browser_for: Any
) -> None:
    services.update_review(
        review=review,
        actor=alice,
        changes={
            **DONE,
            "lessons_got_lucky": "The canary was still on.",
            "authors": [bob.username],
        },
    )
    services.add_action_item(
        review=review, actor=alice, fields={"title": "Add a canary", "owner": bob.username}
    )
    page = browser_for(bob).get(_urls(review)["print"]).content.decode()
    assert "<form" not in page and "<nav" not in page
    for text in (
        "Summary &amp; impact",
        "Checkout failed for 40 minutes.",
        "Root causes",
        "The canary was still on.",
        "Add a canary",
        "Timeline (UTC)",
        bob.username,
        review.major_incident.number,
    ):
        assert text in page, text


# --- The war room's panel -------------------------------------------------------------------------


def test_the_war_room_panel_shows_the_review_of_a_resolved_mi(
    review: PostIncidentReview, alice: Any, browser_for: Any
) -> None:
    page = browser_for(alice).get(reverse("warroom:page", args=[review.major_incident.number]))
    html = page.content.decode()
    assert 'data-testid="pir-panel"' in html
    assert 'data-testid="pir-panel-status">Draft<' in html
    assert 'data-testid="pir-panel-blockers">2<' in html  # a summary and the root causes
    assert reverse("pir:review", args=[review.major_incident.number]) in html


def test_the_war_room_panel_of_an_open_mi_says_the_review_comes_at_resolution(
    mi: MajorIncident, alice: Any, browser_for: Any
) -> None:
    html = browser_for(alice).get(reverse("warroom:page", args=[mi.number])).content.decode()
    assert "A review is created at resolution." in html
    assert reverse("pir:review", args=[mi.number]) not in html


def test_no_input_breaks_a_form(review: PostIncidentReview, alice: Any, browser_for: Any) -> None:
    client = browser_for(alice)
    urls = _urls(review)
    item = ReviewActionItem.objects.get(review=review)
    bad: list[tuple[str, dict[str, Any]]] = [
        ("save-section", {"version": "abc", "summary": "x"}),
        ("save-section", _section(review, version="99999999999999999999")),
        ("save-section", _section(review, customers_affected="1e999")),
        ("save-section", _section(review, revenue_impact="NaN", revenue_currency="€€€")),
        ("save-section", _section(review, summary="nul \x00 here")),
        ("authors", {"version": review.version, "authors": "usr_nobody " * 60}),
        ("comment", {"comment-body": "x", "comment-section": "nope"}),
        ("add-action", _item(due_date="2026-02-30", priority="9", kind="x")),
        ("add-action", _item(owner="u" * 151)),
        ("edit-action", {f"item{item.pk}-title": "", f"item{item.pk}-status": "gone"}),
    ]
    for name, data in bad:
        response = client.post(urls[name], data)
        assert response.status_code in (302, 303), (name, data)
        assert client.get(urls["review"]).status_code == 200
    review.refresh_from_db()
    assert review.version == 1 and not review.comments.exists()
    for group in ("causes", "response", "lessons", "prevention", "communication", "supporting"):
        url = reverse("pir:save-section", args=[review.major_incident.number, group])
        assert client.post(url, {"version": 1}).status_code == 302, group
    review.refresh_from_db()
    assert review.version == 1  # nothing changed, nothing saved


def test_the_editor_reads_the_same_number_of_queries_for_2_and_12_items(
    review: PostIncidentReview,
    alice: Any,
    bob: Any,
    browser_for: Any,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = browser_for(alice)
    url = _urls(review)["review"]

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    for n in range(2):
        services.add_action_item(
            review=review, actor=alice, fields={"title": f"item {n}", "owner": bob.username}
        )
        services.add_comment(review=review, actor=bob, body=f"comment {n}")
    few = queries()
    for n in range(10):
        services.add_action_item(
            review=review, actor=alice, fields={"title": f"more {n}", "owner": bob.username}
        )
        services.add_comment(review=review, actor=bob, body=f"more {n}")
    assert queries() == few


# --- The meeting and conversion forms -------------------------------------------------------------


def test_the_meeting_and_conversion_forms_are_for_whoever_runs_the_mi(
    review: PostIncidentReview, alice: Any, bob: Any, browser_for: Any
) -> None:
    item = services.add_action_item(review=review, actor=alice, fields={"title": "Add a canary"})
    number = review.major_incident.number
    convert = reverse("pir:convert-action", args=[number, item.pk])
    meeting = reverse("pir:meeting", args=[number])
    page = browser_for(alice).get(reverse("pir:review", args=[number])).content.decode()
    assert f'action="{convert}"' in page and f'action="{meeting}"' in page
    for to in ("problem_task", "change", "jira"):
        assert f'name="to" value="{to}"' in page
    assert 'name="meeting_at"' in page and 'name="minutes"' in page
    page = browser_for(bob).get(reverse("pir:review", args=[number])).content.decode()
    assert convert not in page and meeting not in page
