"""An action item into a Jira issue: one outbox row, the issue created once (through 500, 429
and a 201), its key and browse URL kept on the item; refused in Jira's words; off → 409."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from comms import channels
from comms import services as comms_services
from comms.models import OutboxMessage, OutboxStatus
from incidents.errors import Conflict
from incidents.models import MajorIncident, TimelineEntry, TimelineKind
from pir import services
from pir.models import PostIncidentReview, ReviewActionItem
from pir.selectors.actions import tracker_of
from pir.selectors.reviews import review_page
from pir.services.actions import convert_action_item, keep_tracker_links
from tests.comms.test_chat_jira import ISSUE, FakeJira, jira  # noqa: F401  (the fixture)
from tests.conftest import bearer_client
from tests.stub_http import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(review: PostIncidentReview, bob: Any) -> ReviewActionItem:
    return services.add_action_item(
        review=review,
        actor=bob,
        fields={
            "title": "Alert on config drift",
            "owner": bob.username,
            "due_date": "2026-12-31",
            "priority": 3,
        },
    )


def _url(mi: MajorIncident, item: ReviewActionItem) -> str:
    return f"/api/major-incidents/{mi.number}/pir/action-items/{item.pk}/convert/"


def test_off_when_jira_url_is_unset_is_a_409_and_no_outbox_row(
    resolved: MajorIncident, item: ReviewActionItem, alice: Any, settings: Any
) -> None:
    settings.JIRA_URL = ""
    channels.reset()
    with pytest.raises(Conflict) as off:
        convert_action_item(item=item, actor=alice, to="jira")
    assert off.value.message == "Jira is not configured"
    response = bearer_client(alice).post(_url(resolved, item), {"to": "jira"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"to": ["Jira is not configured"]}
    assert not OutboxMessage.objects.filter(channel="jira").exists()
    assert ReviewActionItem.objects.get(pk=item.pk).tracker_message is None


def test_500_then_429_then_201_is_one_issue_and_its_key_is_kept_on_the_item(
    resolved: MajorIncident,
    item: ReviewActionItem,
    alice: Any,
    jira: FakeJira,  # noqa: F811
    committed: Any,
    settings: Any,
) -> None:
    jira.stub.script(ISSUE, Reply(500, "oops"), Reply(429, "slow", headers={"Retry-After": "30"}))
    with freeze_time("2026-03-03 09:00:00") as frozen:
        with committed():
            convert_action_item(item=item, actor=alice, to="jira")
        item.refresh_from_db()
        message = item.tracker_message
        assert message is not None
        assert message.channel == "jira" and message.recipient == "OPS"
        assert tracker_of(item) is not None and tracker_of(item).key == ""
        for _ in range(2):
            message.refresh_from_db()
            assert message.status == OutboxStatus.FAILED
            frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
            with committed():
                comms_services.redrive()
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (OutboxStatus.SENT, "OPS-1")
    assert len(jira.issues) == 1
    # The row knows the key at once; the item once the link is kept (the 15-minute task).
    item.refresh_from_db()
    assert tracker_of(item).key == "OPS-1"
    assert keep_tracker_links() == 1
    assert keep_tracker_links() == 0  # idempotent
    item.refresh_from_db()
    assert item.tracker_key == "OPS-1"
    assert item.tracker_url == f"{settings.JIRA_URL.rstrip('/')}/browse/OPS-1"
    fields = jira.issues[0]["fields"]
    assert fields["summary"] == "Alert on config drift"
    assert fields["duedate"] == "2026-12-31"
    assert fields["labels"][:2] == ["mimdesk", resolved.number]
    assert settings.MIM_BASE_URL + review_page(resolved, item.pk) in fields["description"]
    assert f"/war-rooms/{resolved.number}/" in fields["description"]
    assert "Priority: P3 - Moderate." in fields["description"]
    assert TimelineEntry.objects.filter(
        kind=TimelineKind.REVIEW, data__tracker_message=message.pk
    ).exists()
    with pytest.raises(Conflict) as twice:
        convert_action_item(item=item, actor=alice, to="jira")
    assert "OPS-1" in twice.value.message


def test_the_api_answers_with_the_issue_once_jira_made_it(
    resolved: MajorIncident,
    item: ReviewActionItem,
    alice: Any,
    jira: FakeJira,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = bearer_client(alice).post(_url(resolved, item), {"to": "jira"}, format="json")
    assert response.status_code == 201, response.content
    # The row was pending when the answer was written; Jira answered after the commit.
    assert response.json()["tracker"]["status"] in ("pending", "sent")
    item.refresh_from_db()
    assert tracker_of(item).key == "OPS-1"
    again = bearer_client(alice).post(_url(resolved, item), {"to": "jira"}, format="json")
    assert again.status_code == 409
    assert "OPS-1" in again.json()["to"][0]


def test_a_refused_issue_is_dead_in_jiras_words_and_may_be_tried_again(
    resolved: MajorIncident,
    item: ReviewActionItem,
    alice: Any,
    jira: FakeJira,  # noqa: F811
    committed: Any,
) -> None:
    jira.stub.script(ISSUE, Reply(400, {"errorMessages": ["Field 'duedate' cannot be set."]}))
    with committed():
        convert_action_item(item=item, actor=alice, to="jira")
    item.refresh_from_db()
    dead = item.tracker_message
    assert dead is not None and dead.status == OutboxStatus.DEAD
    tracker = tracker_of(item)
    assert tracker is not None
    assert "Field 'duedate' cannot be set." in tracker.error
    assert jira.issues == []
    with committed():
        convert_action_item(item=item, actor=alice, to="jira")
    item.refresh_from_db()
    assert item.tracker_message_id != dead.pk
    assert tracker_of(item).key == "OPS-1"


def test_while_the_issue_is_being_made_a_second_conversion_is_a_409(
    resolved: MajorIncident,
    item: ReviewActionItem,
    alice: Any,
    jira: FakeJira,  # noqa: F811
) -> None:
    convert_action_item(item=item, actor=alice, to="jira")  # not committed: nothing sent yet
    with pytest.raises(Conflict) as twice:
        convert_action_item(item=item, actor=alice, to="jira")
    assert "being sent to Jira" in twice.value.message
    assert OutboxMessage.objects.filter(channel="jira").count() == 1


def test_the_15_minute_task_keeps_the_links(
    resolved: MajorIncident,
    item: ReviewActionItem,
    alice: Any,
    jira: FakeJira,  # noqa: F811
    committed: Any,
) -> None:
    from pir.tasks import schedule_due_reviews

    with committed():
        convert_action_item(item=item, actor=alice, to="jira")
    schedule_due_reviews.apply()
    item.refresh_from_db()
    assert item.tracker_key == "OPS-1"
    assert item.tracker_url.endswith("/browse/OPS-1")
