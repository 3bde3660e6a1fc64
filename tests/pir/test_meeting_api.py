"""The review meeting's API and its form: moving it (the IC and managers only), the .ics
download, and every refusal — 401 without a token, 403 for an outsider and for a team member who
does not run the MI, 404 for an unknown MI, 400 naming the field, 409 when published, CSRF."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from freezegun import freeze_time
from icalendar import Calendar
from rest_framework.test import APIClient

from comms.models import OutboxMessage
from incidents.models import MajorIncident
from pir.models import PostIncidentReview
from tests.conftest import bearer_client
from tests.incidents.test_api_contract import schema
from tests.pir.conftest import T0, declare, resolve

pytestmark = pytest.mark.django_db

RESOLVED_AT = T0 + timedelta(hours=1)
MEETING_AT = RESOLVED_AT + timedelta(hours=48)
NOW = RESOLVED_AT + timedelta(hours=2)
LATER = "2025-03-07T14:30:00Z"


@pytest.fixture
def mi(p1: Any, alice: Any, committed: Any) -> MajorIncident:  # the resolved MI, clock fixed
    alice.email = "alice@example.test"
    alice.save(update_fields=["email"])
    with freeze_time(T0):
        declared = declare(p1, alice, bridge_link="https://bridge.example.test/x")
    return resolve(declared, alice, committed, at=RESOLVED_AT)


def url(mi: MajorIncident, rest: str = "meeting/") -> str:
    return f"/api/major-incidents/{mi.number}/pir/{rest}"


def test_the_ic_moves_the_meeting_and_gets_it_back(
    mi: MajorIncident, alice: Any, committed: Any
) -> None:
    with freeze_time(NOW), committed():
        response = bearer_client(alice).post(
            url(mi), {"meeting_at": LATER, "minutes": 45}, format="json"
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["meeting_at"] == LATER and body["minutes"] == 45 and body["sequence"] == 1
    assert body["status"] == "scheduled" and body["location"] == "https://bridge.example.test/x"
    assert body["invitees"] == [
        {"email": "alice@example.test", "name": "usr_alice_johnson", "role": "CHAIR"}
    ]
    assert body["ics_url"].endswith(url(mi, "meeting.ics"))
    assert OutboxMessage.objects.filter(purpose="pir_invitation").count() == 2
    with freeze_time(NOW):
        assert bearer_client(alice).get(url(mi)).json()["sequence"] == 1


def test_the_ics_download_is_the_current_invitation(
    mi: MajorIncident, alice: Any, tina: Any
) -> None:
    with freeze_time(NOW):
        response = bearer_client(tina).get(url(mi, "meeting.ics"))  # a reader may download it
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; method=REQUEST; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert str(calendar["method"]) == "REQUEST"
    assert event.decoded("dtstart") == MEETING_AT and str(event["uid"]) == review.ical_uid


def test_without_a_token_it_is_a_401(api: APIClient, mi: MajorIncident) -> None:
    assert api.get(url(mi)).status_code == 401
    assert api.get(url(mi, "meeting.ics")).status_code == 401
    assert api.post(url(mi), {"meeting_at": LATER}, format="json").status_code == 401


def test_an_outsider_and_a_team_member_who_does_not_run_the_mi_get_a_403(
    mi: MajorIncident, oscar: Any, bob: Any, tina: Any
) -> None:
    with freeze_time(NOW):
        for user in (oscar, bob, tina):
            client = bearer_client(user)
            # Refused before the body is read: a bad body is still a 403.
            assert (
                client.post(url(mi), {"meeting_at": "nonsense"}, format="json").status_code == 403
            )
            assert client.post(url(mi), {"meeting_at": LATER}, format="json").status_code == 403
        assert bearer_client(oscar).get(url(mi)).status_code == 403
        assert bearer_client(oscar).get(url(mi, "meeting.ics")).status_code == 403
    assert PostIncidentReview.objects.get(major_incident=mi).meeting_sequence == 0


def test_an_unknown_mi_is_a_404(alice: Any, mi: MajorIncident) -> None:
    client = bearer_client(alice)
    for path in (
        "/api/major-incidents/MI9999999/pir/meeting/",
        "/api/major-incidents/x/pir/meeting.ics",
    ):
        assert client.get(path).status_code == 404
    missing = client.post("/api/major-incidents/MI9999999/pir/meeting/", {}, format="json")
    assert missing.status_code == 404


def test_an_mi_not_resolved_has_no_meeting(p1: Any, alice: Any, make_incident: Any) -> None:
    other = declare(make_incident(impact=1, urgency=1), alice)
    client = bearer_client(alice)
    assert client.get(url(other)).status_code == 404
    assert client.get(url(other, "meeting.ics")).status_code == 404
    refused = client.post(url(other), {"meeting_at": LATER}, format="json")
    assert refused.status_code == 409 and "resolved" in refused.json()["meeting_at"][0]


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "meeting_at"),
        ({"meeting_at": "2025-03-07T14:30:00"}, "meeting_at"),  # no zone
        ({"meeting_at": "next tuesday"}, "meeting_at"),
        ({"meeting_at": "2025-03-03T08:00:00Z"}, "meeting_at"),  # the past
        ({"meeting_at": "2027-03-03T08:00:00Z"}, "meeting_at"),  # more than a year out
        ({"meeting_at": 12}, "meeting_at"),
        ({"meeting_at": LATER, "minutes": 0}, "minutes"),
        ({"meeting_at": LATER, "minutes": "60"}, "minutes"),
        ({"meeting_at": LATER, "minutes": 10_000}, "minutes"),
        ({"meeting_at": LATER, "room": "B"}, "room"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    mi: MajorIncident, alice: Any, body: dict[str, Any], field: str
) -> None:
    with freeze_time(NOW):
        response = bearer_client(alice).post(url(mi), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_published_reviews_meeting_is_a_409(mi: MajorIncident, alice: Any) -> None:
    PostIncidentReview.objects.filter(major_incident=mi).update(status="published")
    with freeze_time(NOW):
        response = bearer_client(alice).post(url(mi), {"meeting_at": LATER}, format="json")
    assert response.status_code == 409 and "published" in response.json()["meeting_at"][0]


def test_the_endpoints_are_in_the_schema_with_their_refusals() -> None:
    paths = schema()["paths"]
    meeting = paths["/api/major-incidents/{number}/pir/meeting/"]
    assert {"401", "403", "409"} <= set(meeting["post"]["responses"])
    ics = paths["/api/major-incidents/{number}/pir/meeting.ics"]["get"]
    assert "text/calendar" in ics["responses"]["200"]["content"]


# --- The page's form ------------------------------------------------------------------------------


def web_url(mi: MajorIncident) -> str:
    return f"/war-rooms/{mi.number}/pir/meeting/"


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_form_moves_the_meeting_and_says_so(
    mi: MajorIncident, alice: Any, browser_for: Any, committed: Any
) -> None:
    client = browser_for(alice)
    with freeze_time(NOW), committed():
        response = client.post(web_url(mi), {"meeting_at": "2025-03-07T14:30", "minutes": "30"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"/war-rooms/{mi.number}/")
    assert any("Review meeting set for Fri 07 Mar 2025 14:30 UTC" in m for m in _messages(response))
    review = PostIncidentReview.objects.get(major_incident=mi)
    assert review.meeting_minutes == 30 and review.meeting_sequence == 1


def test_the_form_shows_refusals_as_messages(
    mi: MajorIncident, alice: Any, browser_for: Any
) -> None:
    client = browser_for(alice)
    with freeze_time(NOW):
        past = client.post(web_url(mi), {"meeting_at": "2025-03-01T10:00"})
        bad = client.post(web_url(mi), {"meeting_at": "soon", "minutes": "2"})
    assert past.status_code == bad.status_code == 302
    assert any("in the past" in m for m in _messages(past))
    texts = _messages(bad)
    assert any(m.startswith("Meeting (UTC)") for m in texts)
    assert any(m.startswith("Length (minutes)") for m in texts)
    assert PostIncidentReview.objects.get(major_incident=mi).meeting_sequence == 0


def test_the_form_refuses_who_may_not_and_needs_csrf(
    mi: MajorIncident, alice: Any, bob: Any, oscar: Any, browser_for: Any
) -> None:
    form = {"meeting_at": "2025-03-07T14:30"}
    with freeze_time(NOW):
        assert browser_for(bob).post(web_url(mi), form).status_code == 403
        assert browser_for(oscar).post(web_url(mi), form).status_code == 403
        anonymous = Client().post(web_url(mi), form)
        assert anonymous.status_code == 302 and "login" in anonymous["Location"]
        assert browser_for(alice).get(web_url(mi)).status_code == 405
        assert browser_for(alice).post("/war-rooms/MI9999999/pir/meeting/", form).status_code == 404
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(alice)
        assert strict.post(web_url(mi), form).status_code == 403
    assert PostIncidentReview.objects.get(major_incident=mi).meeting_sequence == 0
