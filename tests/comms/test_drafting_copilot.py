"""The drafting model against a local stub of an OpenAI-compatible endpoint: its draft when it
answers well; the template's draft, saying why, on an error, a timeout or a bad answer."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from comms.channels import copilot
from comms.models import StakeholderUpdate
from comms.services import drafting
from incidents.models import MajorIncident
from tests.incidents.mi_fixtures import declare
from tests.stub_http import Reply, StubServer
from warroom.services.timeline import post_to_timeline

pytestmark = pytest.mark.django_db

PATH = "/v1/chat/completions"
GOOD = {
    "subject": "Checkout is down",
    "current_impact": "Customers cannot pay at checkout.",
    "current_action": "We are undoing this morning's change.",
    "user_action": "Please retry your order after 10:00.",
}


def completion(content: Any) -> Reply:
    text = content if isinstance(content, str) else json.dumps(content)
    return Reply(200, {"id": "c1", "choices": [{"index": 0, "message": {"content": text}}]})


@pytest.fixture
def model(stub: StubServer, settings: Any) -> StubServer:
    settings.COPILOT_API_URL = stub.url + "/v1"
    settings.COPILOT_MODEL = "mim-drafter"
    settings.COPILOT_API_KEY = "sk-test"
    settings.COPILOT_TIMEOUT = 1.0
    return stub


def drafts(client: APIClient, mi: MajorIncident, **body: Any) -> Any:
    return client.post(
        f"/api/major-incidents/{mi.number}/drafts/", {"type": "cadence", **body}, format="json"
    )


def test_a_good_answer_is_the_draft_and_the_request_is_a_json_mode_chat_completion(
    model: StubServer, alice_api: APIClient, mi: MajorIncident, alice: Any
) -> None:
    post_to_timeline(mi=mi, actor=alice, body="Rolling back release 4.2", kind="command_update")
    model.script(PATH, completion(GOOD))
    response = drafts(alice_api, mi)
    assert response.status_code == 200
    data = response.json()
    assert data["drafted_by"] == "copilot" and data["note"] == ""
    assert {k: data[k] for k in GOOD} == GOOD
    # The model does not pick the promise: the cadence does.
    template = drafting.default_draft(mi, "cadence")
    assert data["next_update_at"].replace("Z", "+00:00") == template.next_update_at.isoformat()
    [sent] = model.to(PATH)
    assert sent.method == "POST"
    assert sent.headers["authorization"] == "Bearer sk-test"
    request = sent.json()
    assert request["model"] == "mim-drafter"
    assert request["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert "Rolling back release 4.2" in request["messages"][1]["content"]
    assert not StakeholderUpdate.objects.exists()  # a proposal: nothing saved, nothing sent


def test_a_full_url_is_used_as_given(stub: StubServer, settings: Any) -> None:
    settings.COPILOT_API_URL = stub.url + "/openai/deployments/d1/chat/completions"
    assert copilot.endpoint() == settings.COPILOT_API_URL
    settings.COPILOT_API_URL = stub.url + "/v1/"
    assert copilot.endpoint() == stub.url + "/v1/chat/completions"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500, "upstream exploded"), "HTTP 500"),
        (Reply(429, {"error": "slow down"}, headers={"Retry-After": "3"}), "HTTP 429"),
        (Reply(401, {"error": "bad key"}), "HTTP 401"),
        (Reply(200, "this is not json"), "not a chat completion"),
        (Reply(200, {"choices": []}), "not a chat completion"),
        (completion("Sure! Here is your update: ..."), "not a chat completion"),
        (completion(["a", "list"]), "not a JSON object"),
        (completion({**GOOD, "current_action": ""}), "no current_action"),
        (completion({**GOOD, "user_action": 7}), "no user_action"),
        (completion({k: v for k, v in GOOD.items() if k != "current_impact"}), "no current_impact"),
        (completion({**GOOD, "current_impact": "x" * 5001}), "longer than 5000"),
        (completion({**GOOD, "subject": ["not", "text"]}), "subject is not text"),
    ],
)
def test_an_error_or_a_bad_answer_gives_the_template_s_draft_with_a_note(
    model: StubServer, alice_api: APIClient, mi: MajorIncident, reply: Reply, reason: str
) -> None:
    model.script(PATH, reply)
    response = drafts(alice_api, mi)
    assert response.status_code == 200
    data = response.json()
    assert data["drafted_by"] == "template"
    assert reason in data["note"] and "template's draft" in data["note"]
    template = drafting.default_draft(mi, "cadence")
    assert data["current_action"] == template.current_action
    assert len(model.to(PATH)) == 1  # asked once: a person is waiting


def test_a_timeout_gives_the_template_s_draft_within_the_timeout(
    model: StubServer, alice_api: APIClient, mi: MajorIncident
) -> None:
    model.script(PATH, Reply(200, {"choices": []}, hang=3.0))
    started = time.monotonic()
    response = drafts(alice_api, mi)
    elapsed = time.monotonic() - started
    data = response.json()
    assert data["drafted_by"] == "template" and "timed out" in data["note"]
    assert elapsed < 2.5


def test_a_refused_connection_gives_the_template_s_draft(
    settings: Any, alice_api: APIClient, mi: MajorIncident
) -> None:
    with StubServer() as gone:
        url = gone.url
    settings.COPILOT_API_URL, settings.COPILOT_MODEL = url, "m"
    data = drafts(alice_api, mi).json()
    assert data["drafted_by"] == "template" and "drafting model" in data["note"]


def test_template_only_skips_the_model(
    model: StubServer, alice_api: APIClient, mi: MajorIncident
) -> None:
    data = drafts(alice_api, mi, drafter="template").json()
    assert data["drafted_by"] == "template" and data["note"] == ""
    assert model.requests == []


def test_the_model_off_says_so_when_asked_for(
    settings: Any, alice_api: APIClient, mi: MajorIncident
) -> None:
    settings.COPILOT_API_URL = ""
    auto = drafts(alice_api, mi).json()
    assert auto["drafted_by"] == "template" and auto["note"] == ""
    asked = drafts(alice_api, mi, drafter="copilot").json()
    assert asked["drafted_by"] == "template" and "COPILOT_API_URL is unset" in asked["note"]


def test_a_security_mi_s_timeline_never_reaches_the_model(
    model: StubServer, make_incident: Any, alice: Any, alice_api: APIClient
) -> None:
    mi = declare(
        make_incident(impact=1, urgency=1),
        alice,
        is_security=True,
        initial_impact_statement="Customer PII exfiltrated via CVE-2024-1234",
    )
    post_to_timeline(mi=mi, actor=alice, body="Attacker in db-primary-01", kind="finding")
    post_to_timeline(mi=mi, actor=alice, body="Isolate db-primary-01", kind="command_update")
    model.script(PATH, completion(GOOD))
    data = drafts(alice_api, mi).json()
    assert data["drafted_by"] == "copilot" and data["security_templates"] is True
    [sent] = model.to(PATH)
    said = sent.body.decode()
    for secret in ("db-primary-01", "CVE-2024-1234", "PII", "Attacker", "usr_alice"):
        assert secret not in said, secret
    assert "security incident" in said
