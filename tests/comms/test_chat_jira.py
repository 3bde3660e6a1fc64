"""The Jira channel against a stub of Jira's REST API v2: an issue per outbox row, created once
however often the row is tried (found again by the row's label), Jira's refusals kept in its
words, its auth as configured, off while JIRA_URL is unset."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from comms import channels, services
from comms.channels.jira import row_label
from comms.models import DeliveryAttempt, OutboxMessage, OutboxStatus
from incidents.models import MajorIncident
from tests.stub_http import Recorded, Reply, StubServer

pytestmark = pytest.mark.django_db

ISSUE = "/jira/rest/api/2/issue"
SEARCH = "/jira/rest/api/2/search"


class FakeJira:
    """Issues as Jira keeps them: created by POST, found by a JQL ``labels = "…"`` search."""

    def __init__(self, stub: StubServer) -> None:
        self.stub = stub
        self.issues: list[dict[str, Any]] = []
        stub.handler = self.answer

    def answer(self, request: Recorded) -> Reply | None:
        if request.method == "GET" and request.path == SEARCH:
            jql = request.query["jql"][0]
            assert jql.startswith('labels = "'), jql
            label = jql.split('"')[1]
            found = [i for i in self.issues if label in i["fields"]["labels"]]
            return Reply(200, {"total": len(found), "issues": [{"key": i["key"]} for i in found]})
        if request.method == "POST" and request.path == ISSUE:
            return Reply(201, self.create(request))
        return None

    def create(self, request: Recorded) -> dict[str, Any]:
        key = f"OPS-{len(self.issues) + 1}"
        self.issues.append({"key": key, "fields": request.json()["fields"]})
        return {"id": str(10000 + len(self.issues)), "key": key, "self": f"/issue/{key}"}

    def posts(self) -> list[Recorded]:
        return [r for r in self.stub.requests if r.method == "POST"]


@pytest.fixture
def jira(settings: Any, stub: StubServer) -> FakeJira:
    settings.JIRA_URL = stub.url + "/jira/"
    settings.JIRA_API_TOKEN = "jira-pat"
    settings.JIRA_EMAIL = ""
    settings.JIRA_PROJECT_KEY = "OPS"
    settings.JIRA_ISSUE_TYPE = "Task"
    channels.reset()
    return FakeJira(stub)


PAYLOAD = {
    "summary": "Add a canary for config pushes",
    "description": "See [the review|http://localhost:8000/war-rooms/MI0000001/]",
    "due_date": "2026-12-31",
    "priority": 2,
    "labels": ["mimdesk", "MI0000001"],
}


def _create(mi: MajorIncident, key: str = "pir_action:1:jira:0", **payload: Any) -> OutboxMessage:
    services.send_operation(
        mi, "jira", "OPS", operation="create_issue", key=key, payload={**PAYLOAD, **payload}
    )
    return OutboxMessage.objects.get(idempotency_key=key)


def test_a_created_issue_carries_the_fields_the_bearer_token_and_the_rows_label(
    mi: MajorIncident, jira: FakeJira, committed: Any
) -> None:
    with committed():
        message = _create(mi)
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (OutboxStatus.SENT, "OPS-1")
    search, create = jira.stub.requests
    assert (search.method, search.path) == ("GET", SEARCH)
    assert create.headers["authorization"] == "Bearer jira-pat"
    assert search.headers["authorization"] == "Bearer jira-pat"
    assert create.json() == {
        "fields": {
            "project": {"key": "OPS"},
            "summary": "Add a canary for config pushes",
            "description": PAYLOAD["description"],
            "issuetype": {"name": "Task"},
            "duedate": "2026-12-31",
            "labels": ["mimdesk", "MI0000001", row_label(message.idempotency_key)],
        }
    }


def test_with_an_email_the_token_is_jira_clouds_basic_auth(
    mi: MajorIncident, jira: FakeJira, settings: Any, committed: Any
) -> None:
    settings.JIRA_EMAIL = "bot@example.test"
    with committed():
        _create(mi)
    expected = base64.b64encode(b"bot@example.test:jira-pat").decode()
    assert {r.headers["authorization"] for r in jira.stub.requests} == {f"Basic {expected}"}


def test_500_then_429_then_201_creates_one_issue_honouring_retry_after(
    mi: MajorIncident, jira: FakeJira, committed: Any
) -> None:
    jira.stub.script(ISSUE, Reply(500, "oops"), Reply(429, "slow", headers={"Retry-After": "90"}))
    with freeze_time("2026-03-03 09:00:00") as frozen:
        with committed():
            message = _create(mi)
        for _ in range(2):
            message.refresh_from_db()
            assert message.status == OutboxStatus.FAILED
            frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
            with committed():
                services.redrive()
        message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (OutboxStatus.SENT, "OPS-1")
    assert len(jira.issues) == 1
    assert len(jira.posts()) == 3
    attempts = DeliveryAttempt.objects.filter(message=message).order_by("number")
    assert [a.outcome for a in attempts] == ["temporary", "temporary", "sent"]
    assert attempts[1].retry_after == 90


def test_a_retry_after_a_lost_response_finds_the_issue_by_its_label_and_creates_none(
    mi: MajorIncident, jira: FakeJira, committed: Any
) -> None:
    """Jira made the issue but its answer was lost on the way (a proxy's 502): the next attempt
    searches for the row's label, finds the issue and reuses it."""

    def lost(request: Recorded) -> Reply:
        jira.create(request)
        return Reply(502, "Bad gateway")

    jira.stub.handler = lambda r: lost(r) if r.method == "POST" else jira.answer(r)
    with freeze_time("2026-03-03 09:00:00") as frozen:
        with committed():
            message = _create(mi)
        message.refresh_from_db()
        assert message.status == OutboxStatus.FAILED
        jira.stub.handler = jira.answer
        frozen.move_to(message.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
        message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (OutboxStatus.SENT, "OPS-1")
    assert len(jira.issues) == 1
    assert len(jira.posts()) == 1
    assert [r.method for r in jira.stub.requests] == ["GET", "POST", "GET"]


def test_two_rows_are_two_issues_their_labels_apart(
    mi: MajorIncident, jira: FakeJira, committed: Any
) -> None:
    with committed():
        first = _create(mi, key="pir_action:1:jira:0")
        second = _create(mi, key="pir_action:2:jira:0")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.provider_message_id, second.provider_message_id) == ("OPS-1", "OPS-2")


def test_a_400_is_dead_with_jiras_own_message(
    mi: MajorIncident, jira: FakeJira, committed: Any
) -> None:
    jira.stub.script(
        ISSUE,
        Reply(400, {"errorMessages": [], "errors": {"duedate": "Due date: is not a valid date"}}),
    )
    with committed():
        message = _create(mi)
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD
    assert "HTTP 400 duedate: Due date: is not a valid date" in message.last_error
    assert jira.issues == []


def test_a_refused_search_is_permanent_too(
    mi: MajorIncident, jira: FakeJira, committed: Any
) -> None:
    jira.stub.script(SEARCH, Reply(401, {"errorMessages": ["You are not authenticated."]}))
    with committed():
        message = _create(mi)
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD
    assert "You are not authenticated." in message.last_error
    assert jira.posts() == []


def test_off_while_jira_url_is_unset(mi: MajorIncident, settings: Any, committed: Any) -> None:
    settings.JIRA_URL = ""
    channels.reset()
    assert channels.get("jira").off_reason() == "JIRA_URL is unset"
    assert not channels.enabled("jira")
    with committed():
        ids = services.send_operation(
            mi, "jira", "OPS", operation="create_issue", key="k", payload=PAYLOAD
        )
    assert ids == []
    assert not OutboxMessage.objects.filter(channel="jira").exists()
