"""A review's action item becomes work: a problem task or a change under the MI's problem, linked
both ways (the item points at it, it points back at the item on the review), with a timeline
row; once per kind; only for whoever may run the MI; the API and the page alike."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import (
    ChangeType,
    MajorIncident,
    Priority,
    Problem,
    ProblemTask,
    TimelineEntry,
    TimelineKind,
)
from pir import services
from pir.models import PostIncidentReview, ReviewActionItem, ReviewActionStatus
from pir.selectors.reviews import review_page
from pir.services.actions import convert_action_item
from tests.conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(review: PostIncidentReview, alice: Any, bob: Any) -> ReviewActionItem:
    return services.add_action_item(
        review=review,
        actor=bob,
        fields={
            "title": "Add a canary for config pushes",
            "description": "Push to one region first.",
            "owner": bob.username,
            "due_date": "2026-12-31",
            "priority": 2,
        },
    )


def _url(mi: MajorIncident, item_id: int) -> str:
    return f"/api/major-incidents/{mi.number}/pir/action-items/{item_id}/convert/"


def _page_url(mi: MajorIncident, item_id: int) -> str:
    return f"/war-rooms/{mi.number}/pir/action-items/{item_id}/convert/"


# --- The service ------------------------------------------------------------------------------


def test_a_problem_task_is_linked_both_ways_under_the_mis_problem(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any, bob: Any
) -> None:
    assert resolved.problem_id is not None  # declaration made it
    converted = convert_action_item(item=item, actor=alice, to="problem_task")
    task = ProblemTask.objects.get()
    assert converted.problem_task == task
    assert ReviewActionItem.objects.get(pk=item.pk).problem_task_id == task.pk
    assert task.pir_item == converted  # the reverse of the one-to-one
    assert task.problem_id == resolved.problem_id
    assert (task.short_description, task.description) == (item.title, item.description)
    assert task.assigned_to == bob
    assert (task.due_date, task.priority) == (date(2026, 12, 31), Priority.HIGH)
    assert task.source_label == f"{resolved.number} PIR action item {item.pk}"
    assert task.source_url == review_page(resolved, item.pk)
    assert task.source_url.endswith(f"#action-{item.pk}")
    row = TimelineEntry.objects.filter(kind=TimelineKind.REVIEW).latest("id")
    assert row.major_incident_id == resolved.pk
    assert task.number in row.message
    assert row.data["action_item"] == item.pk


def test_a_change_is_normal_under_the_problem_with_the_owner_implementing(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any, bob: Any
) -> None:
    converted = convert_action_item(item=item, actor=alice, to="change")
    change = converted.change
    assert change is not None
    assert change.change_type == ChangeType.NORMAL
    assert change.problem_id == resolved.problem_id
    assert change.implementer == bob
    assert change.source_url == review_page(resolved, item.pk)
    assert change.pir_item == converted
    assert "Due 2026-12-31." in change.description
    assert TimelineEntry.objects.filter(
        kind=TimelineKind.REVIEW, message__contains=change.number
    ).exists()


def test_an_mi_without_a_problem_gets_one(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any
) -> None:
    MajorIncident.objects.filter(pk=resolved.pk).update(problem=None)
    before = Problem.objects.count()
    converted = convert_action_item(item=item, actor=alice, to="problem_task")
    assert Problem.objects.count() == before + 1
    mi = MajorIncident.objects.get(pk=resolved.pk)
    assert converted.problem_task is not None
    assert converted.problem_task.problem_id == mi.problem_id is not None


def test_converting_twice_to_the_same_kind_is_a_409_naming_the_first(
    item: ReviewActionItem, alice: Any
) -> None:
    task = convert_action_item(item=item, actor=alice, to="problem_task").problem_task
    assert task is not None
    with pytest.raises(Conflict) as twice:
        convert_action_item(item=item, actor=alice, to="problem_task")
    assert task.number in twice.value.message
    assert ProblemTask.objects.count() == 1
    # Another kind is still open to it.
    assert convert_action_item(item=item, actor=alice, to="change").change is not None


def test_an_unknown_kind_is_a_400_naming_to(item: ReviewActionItem, alice: Any) -> None:
    for to in ("incident", "", None, 3, ["change"]):
        with pytest.raises(DomainError) as error:
            convert_action_item(item=item, actor=alice, to=to)
        assert error.value.status_code == 400
        assert error.value.field == "to"


def test_a_cancelled_item_is_not_work(item: ReviewActionItem, alice: Any, bob: Any) -> None:
    services.update_action_item(
        item=item, actor=bob, fields={"status": ReviewActionStatus.CANCELLED}
    )
    with pytest.raises(Conflict):
        convert_action_item(item=item, actor=alice, to="change")


def test_only_who_may_run_the_mi_converts(
    item: ReviewActionItem, bob: Any, tina: Any, sam: Any
) -> None:
    for person in (bob, tina):  # bob writes the review; tina only reads it
        with pytest.raises(NotAllowed):
            convert_action_item(item=item, actor=person, to="problem_task")
    assert not ProblemTask.objects.exists()
    assert convert_action_item(item=item, actor=sam, to="problem_task").problem_task


# --- The API ----------------------------------------------------------------------------------


def test_the_api_answers_201_with_the_items_links(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any
) -> None:
    response = bearer_client(alice).post(
        _url(resolved, item.pk), {"to": "problem_task"}, format="json"
    )
    assert response.status_code == 201, response.content
    task = ProblemTask.objects.get()
    assert response.json() == {
        "id": item.pk,
        "title": item.title,
        "problem_task": {"number": task.number, "source_url": review_page(resolved, item.pk)},
        "change": None,
        "tracker": None,
    }
    again = bearer_client(alice).post(
        _url(resolved, item.pk), {"to": "problem_task"}, format="json"
    )
    assert again.status_code == 409
    assert task.number in again.json()["to"][0]


def test_the_api_refuses_bad_bodies_naming_the_field(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any
) -> None:
    client = bearer_client(alice)
    for body, field in (({"to": "incident"}, "to"), ({}, "to"), ({"to": "change", "x": 1}, "x")):
        response = client.post(_url(resolved, item.pk), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()
    response = client.post(_url(resolved, item.pk), "[", content_type="application/json")
    assert response.status_code == 400
    assert not ProblemTask.objects.exists()


def test_the_api_refuses_whoever_may_not(
    resolved: MajorIncident, item: ReviewActionItem, api: Any, bob: Any, tina: Any, oscar: Any
) -> None:
    url = _url(resolved, item.pk)
    assert api.post(url, {"to": "change"}, format="json").status_code == 401
    for person in (bob, tina, oscar):
        response = bearer_client(person).post(url, {"to": "change"}, format="json")
        assert response.status_code == 403, person
        assert response.json()["detail"]
    assert not ReviewActionItem.objects.filter(change__isnull=False).exists()


def test_the_api_answers_404_for_an_unknown_mi_or_another_mis_item(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any
) -> None:
    client = bearer_client(alice)
    body = {"to": "change"}
    assert client.post(_url_number("MI9999999", item.pk), body, format="json").status_code == 404
    assert client.post(_url(resolved, item.pk + 1000), body, format="json").status_code == 404
    assert client.get(_url(resolved, item.pk)).status_code == 405


def _url_number(number: str, item_id: int) -> str:
    return f"/api/major-incidents/{number}/pir/action-items/{item_id}/convert/"


# --- The page ---------------------------------------------------------------------------------


def test_the_page_converts_and_goes_back_with_a_message(
    resolved: MajorIncident, item: ReviewActionItem, browser_for: Any, alice: Any
) -> None:
    response = browser_for(alice).post(_page_url(resolved, item.pk), {"to": "change"}, follow=True)
    assert response.redirect_chain[0][0] == review_page(resolved, item.pk)
    change = ReviewActionItem.objects.get(pk=item.pk).change
    assert change is not None
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [f"Action item #{item.pk} is now the change {change.number}."]


def test_the_page_says_why_not(
    resolved: MajorIncident, item: ReviewActionItem, browser_for: Any, alice: Any
) -> None:
    client = browser_for(alice)
    client.post(_page_url(resolved, item.pk), {"to": "change"}, follow=True)
    response = client.post(_page_url(resolved, item.pk), {"to": "change"}, follow=True)
    (shown,) = [str(m) for m in response.context["messages"]]
    assert "is already the change" in shown
    response = client.post(_page_url(resolved, item.pk), {"to": "nothing"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Choose a problem task, a change or a Jira issue."
    ]


def test_the_page_refuses_whoever_may_not(
    resolved: MajorIncident, item: ReviewActionItem, browser_for: Any, bob: Any, tina: Any
) -> None:
    url = _page_url(resolved, item.pk)
    anonymous = Client().post(url, {"to": "change"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/") or "login" in anonymous["Location"]
    for person in (bob, tina):
        assert browser_for(person).post(url, {"to": "change"}).status_code == 403
    assert not ReviewActionItem.objects.filter(change__isnull=False).exists()


def test_the_page_answers_404_405_and_checks_csrf(
    resolved: MajorIncident, item: ReviewActionItem, browser_for: Any, alice: Any
) -> None:
    client = browser_for(alice)
    assert client.post(f"/war-rooms/MI9999999/pir/action-items/{item.pk}/convert/").status_code == (
        404
    )
    assert client.post(_page_url(resolved, item.pk + 1000), {"to": "change"}).status_code == 404
    assert client.get(_page_url(resolved, item.pk)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(_page_url(resolved, item.pk), {"to": "change"}).status_code == 403
    assert not ReviewActionItem.objects.filter(change__isnull=False).exists()


def test_an_id_past_any_integer_is_a_404_not_a_500(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any, browser_for: Any
) -> None:
    huge = 10**30
    api = bearer_client(alice).post(_url(resolved, huge), {"to": "change"}, format="json")
    assert api.status_code == 404
    assert browser_for(alice).post(_page_url(resolved, huge), {"to": "change"}).status_code == 404
