"""``POST …/pir/draft/`` with the drafting model: a local stub of an OpenAI-compatible endpoint
answers; a good answer is the draft, a bad one gives the offline draft with a note saying why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from pir.models import PostIncidentReview
from tests.stub_http import Reply, StubServer

pytestmark = pytest.mark.django_db

PATH = "/v1/chat/completions"
GOOD = {
    "summary": "Checkout failed for an hour.",
    "detection": "An alert fired five minutes in.",
    "resolution": "The change was rolled back.",
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


def draft(client: APIClient, review: PostIncidentReview, **body: Any) -> Any:
    url = f"/api/major-incidents/{review.major_incident.number}/pir/draft/"
    return client.post(url, body, format="json")


def test_the_model_s_good_answer_is_the_draft_and_nothing_is_saved(
    model: StubServer, review: PostIncidentReview, alice_api: APIClient
) -> None:
    before = PostIncidentReview.objects.get(pk=review.pk)
    model.script(PATH, completion(GOOD))
    body = draft(alice_api, review).json()
    assert body["drafted_by"] == "copilot" and body["note"] == ""
    assert body["sections"] == GOOD
    [sent] = model.to(PATH)
    request = sent.json()
    assert request["response_format"] == {"type": "json_object"}
    assert review.major_incident.number in request["messages"][1]["content"]
    after = PostIncidentReview.objects.get(pk=review.pk)
    assert (after.summary, after.version) == (before.summary, before.version)


def test_an_unusable_answer_gives_the_offline_draft_with_a_note(
    model: StubServer, review: PostIncidentReview, alice_api: APIClient
) -> None:
    model.script(PATH, completion({"summary": "only this"}))
    body = draft(alice_api, review).json()
    assert body["drafted_by"] == "template"
    assert "no detection" in body["note"] and "template's draft" in body["note"]


def test_template_only_never_asks_the_model(
    model: StubServer, review: PostIncidentReview, alice_api: APIClient
) -> None:
    assert draft(alice_api, review, drafter="template").json()["drafted_by"] == "template"
    assert model.to(PATH) == []


def test_the_model_off_says_so_when_asked_for(
    review: PostIncidentReview, alice_api: APIClient, settings: Any
) -> None:
    settings.COPILOT_API_URL = ""
    body = draft(alice_api, review, drafter="copilot").json()
    assert body["drafted_by"] == "template" and "COPILOT_API_URL is unset" in body["note"]
