"""A technician flags a potential major incident (issue 10, item 1): the service and
``POST /api/incidents/{number}/flag-major/``, for every persona."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents import events, services
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import (
    CandidateStatus,
    Incident,
    IncidentState,
    MajorIncidentCandidate,
    TimelineKind,
)
from tests.incidents.mi_fixtures import declare, listen  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _flag_url(incident: Incident) -> str:
    return f"/api/incidents/{incident.number}/flag-major/"


@pytest.fixture
def incident(make_incident: Callable[..., Incident]) -> Incident:
    return make_incident(short_description="Payroll exports fail for every region", impact=2)


def test_a_technician_flags_an_incident(
    tina: Any,
    tina_api: APIClient,
    incident: Incident,
    listen: Any,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    proposed = listen(events.major_incident_proposed)
    with django_capture_on_commit_callbacks(execute=True):
        response = tina_api.post(
            _flag_url(incident), {"reason": "  Six calls in ten minutes  "}, format="json"
        )
    assert response.status_code == 201, response.content
    data = response.json()
    candidate = MajorIncidentCandidate.objects.get(incident=incident)
    assert data["id"] == candidate.pk
    assert data["incident"] == incident.number
    assert data["status"] == "pending"
    assert data["reason"] == "Six calls in ten minutes"
    assert data["flagged_by"] == tina.username
    assert data["rule"] is None
    assert data["created_at"]
    assert candidate.rule is None and candidate.flagged_by == tina
    rows = list(incident.timeline.filter(kind=TimelineKind.FLAGGED))
    assert len(rows) == 1
    assert rows[0].actor == tina
    assert "Six calls in ten minutes" in rows[0].message
    assert proposed.calls == [{"candidate_id": candidate.pk, "incident_id": incident.pk}]


def test_the_incident_detail_shows_its_candidate(
    tina: Any, tina_api: APIClient, incident: Incident
) -> None:
    detail = tina_api.get(f"/api/incidents/{incident.number}/").json()
    assert detail["major_incident_candidate"] is None
    services.flag_major_incident(incident=incident, actor=tina, reason="Looks wide")
    nested = tina_api.get(f"/api/incidents/{incident.number}/").json()["major_incident_candidate"]
    assert nested["status"] == "pending"
    assert nested["flagged_by"] == tina.username
    assert nested["reason"] == "Looks wide"
    assert nested["decided_by"] is None


def test_the_queue_lists_who_flagged_it(
    tina: Any, alice_api: APIClient, incident: Incident
) -> None:
    services.flag_major_incident(incident=incident, actor=tina, reason="Looks wide")
    rows = alice_api.get("/api/major-incident-candidates/").json()["results"]
    assert [(r["incident"], r["flagged_by"], r["rule"]) for r in rows] == [
        (incident.number, tina.username, None)
    ]


def test_a_flagged_candidate_is_accepted_like_a_proposal(
    tina: Any, alice: Any, alice_api: APIClient, incident: Incident
) -> None:
    candidate = services.flag_major_incident(incident=incident, actor=tina, reason="Looks wide")
    response = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/accept/", {}, format="json"
    )
    assert response.status_code == 201, response.content
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.ACCEPTED
    assert candidate.major_incident is not None
    again = APIClient()
    again.force_authenticate(tina)
    refused = again.post(_flag_url(incident), {"reason": "again"}, format="json")
    assert refused.status_code == 409
    assert candidate.major_incident.number in refused.json()["incident"][0]


def test_who_may_not_flag(
    api: APIClient,
    lee: Any,
    oscar_api: APIClient,
    as_user: Callable[[Any], APIClient],
    incident: Incident,
) -> None:
    body = {"reason": "Looks wide"}
    assert api.post(_flag_url(incident), body, format="json").status_code == 401
    assert oscar_api.post(_flag_url(incident), body, format="json").status_code == 403
    # Legal reads timelines but does not work incidents.
    refused = as_user(lee).post(_flag_url(incident), body, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"]
    assert not MajorIncidentCandidate.objects.exists()
    with pytest.raises(NotAllowed):
        services.flag_major_incident(incident=incident, actor=lee, reason="x")
    with pytest.raises(NotAllowed):
        services.flag_major_incident(incident=incident, actor=None, reason="x")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "   "},
        {"reason": None},
        {"reason": ["a"]},
        {"reason": {"deep": {"deeper": "x"}}},
        {"reason": "x" * (services.FLAG_REASON_MAX_LENGTH + 1)},
    ],
)
def test_a_reason_is_required_and_bounded(
    tina_api: APIClient, incident: Incident, body: dict[str, Any]
) -> None:
    response = tina_api.post(_flag_url(incident), body, format="json")
    assert response.status_code == 400, response.content
    assert "reason" in response.json()
    assert not MajorIncidentCandidate.objects.exists()


def test_unknown_fields_and_odd_bodies_are_400(tina_api: APIClient, incident: Incident) -> None:
    extra = tina_api.post(_flag_url(incident), {"reason": "x", "rule": 1}, format="json")
    assert extra.status_code == 400 and "rule" in extra.json()
    listed = tina_api.post(_flag_url(incident), ["x"], format="json")
    assert listed.status_code == 400
    garbage = tina_api.post(_flag_url(incident), b"{not json", content_type="application/json")
    assert garbage.status_code == 400


def test_the_service_refuses_a_blank_reason(tina: Any, incident: Incident) -> None:
    with pytest.raises(DomainError) as refused:
        services.flag_major_incident(incident=incident, actor=tina, reason="  ")
    assert refused.value.field == "reason"


def test_an_unknown_number_is_404(tina_api: APIClient) -> None:
    for number in ("INC9999999", "nonsense", "INC" + "9" * 40):
        response = tina_api.post(
            f"/api/incidents/{number}/flag-major/", {"reason": "x"}, format="json"
        )
        assert response.status_code == 404, number


def test_already_a_major_incident_is_409(
    tina_api: APIClient, alice: Any, incident: Incident
) -> None:
    mi = declare(incident, alice)
    response = tina_api.post(_flag_url(incident), {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert mi.number in response.json()["incident"][0]


def test_already_pending_is_409(tina: Any, tina_api: APIClient, incident: Incident) -> None:
    services.flag_major_incident(incident=incident, actor=tina, reason="first")
    response = tina_api.post(_flag_url(incident), {"reason": "second"}, format="json")
    assert response.status_code == 409
    assert "waiting" in response.json()["incident"][0]
    assert tina.username in response.json()["incident"][0]
    assert MajorIncidentCandidate.objects.count() == 1
    assert incident.timeline.filter(kind=TimelineKind.FLAGGED).count() == 1


def test_a_rule_proposal_pending_is_409(tina_api: APIClient, incident: Incident) -> None:
    MajorIncidentCandidate.objects.create(incident=incident, reason="rule said so")
    response = tina_api.post(_flag_url(incident), {"reason": "x"}, format="json")
    assert response.status_code == 409


def test_rejected_before_is_409_saying_who_and_why(
    tina: Any, alice: Any, tina_api: APIClient, incident: Incident
) -> None:
    candidate = services.flag_major_incident(incident=incident, actor=tina, reason="first")
    services.reject_candidate(candidate=candidate, actor=alice, reason="One user, one printer")
    response = tina_api.post(_flag_url(incident), {"reason": "really"}, format="json")
    assert response.status_code == 409
    message = response.json()["incident"][0]
    assert alice.username in message and "One user, one printer" in message


@pytest.mark.parametrize(
    "state", [IncidentState.RESOLVED, IncidentState.CLOSED, IncidentState.CANCELLED]
)
def test_an_incident_no_longer_open_is_409(
    tina_api: APIClient, incident: Incident, state: str
) -> None:
    Incident.objects.filter(pk=incident.pk).update(state=state)
    response = tina_api.post(_flag_url(incident), {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert state in response.json()["incident"][0]
    assert not MajorIncidentCandidate.objects.exists()


def test_the_conflict_is_a_domain_conflict(tina: Any, incident: Incident) -> None:
    services.flag_major_incident(incident=incident, actor=tina, reason="first")
    with pytest.raises(Conflict):
        services.flag_major_incident(incident=incident, actor=tina, reason="second")
