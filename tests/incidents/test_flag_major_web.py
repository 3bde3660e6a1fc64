"""Flagging a potential major incident from the incident page, and the queue saying who flagged
it: post/redirect/get with CSRF, refusals on the page, escaped text, and who may not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from incidents import services
from incidents.models import CandidateStatus, Incident, MajorIncidentCandidate, TimelineKind
from tests.conftest import PASSWORD, make_user
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script> & more'


def login(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def page_of(incident: Incident) -> str:
    return f"/incidents/{incident.number}/"


def flag_url(incident: Incident) -> str:
    return f"/incidents/{incident.number}/flag-major/"


@pytest.fixture
def incident(make_incident: Callable[..., Incident]) -> Incident:
    return make_incident(short_description="Payroll exports fail", impact=2)


def test_a_technician_flags_from_the_page(tina: Any, incident: Incident) -> None:
    client = login(tina)
    page = client.get(page_of(incident)).content.decode()
    assert "Flag as potential major incident" in page
    response = client.post(flag_url(incident), {"reason": HOSTILE})
    assert response.status_code == 302
    assert response["Location"] == page_of(incident)
    candidate = MajorIncidentCandidate.objects.get(incident=incident)
    assert candidate.flagged_by == tina and candidate.status == CandidateStatus.PENDING
    assert incident.timeline.filter(kind=TimelineKind.FLAGGED).count() == 1
    page = client.get(page_of(incident)).content.decode()
    assert "flagged as a potential major incident" in page  # the success message
    assert f"flagged by {tina.username}" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert "Flag as potential major incident" not in page  # flagged once


def test_a_blank_reason_comes_back_on_the_form(tina: Any, incident: Incident) -> None:
    client = login(tina)
    response = client.post(flag_url(incident), {"reason": "   "}, follow=True)
    assert response.redirect_chain[-1][0].endswith("#flag")
    assert "Say why this may be a major incident." in response.content.decode()
    too_long = client.post(
        flag_url(incident), {"reason": "x" * (services.FLAG_REASON_MAX_LENGTH + 1)}, follow=True
    )
    assert "at most" in too_long.content.decode().lower()
    assert not MajorIncidentCandidate.objects.exists()


def test_a_refusal_is_a_message_on_the_page(tina: Any, alice: Any, incident: Incident) -> None:
    candidate = services.flag_major_incident(incident=incident, actor=tina, reason="first")
    services.reject_candidate(candidate=candidate, actor=alice, reason="Only one printer")
    client = login(tina)
    page = client.get(page_of(incident)).content.decode()
    assert "Rejected" in page and "Only one printer" in page and alice.username in page
    assert "Flag as potential major incident" not in page
    # A stale page posting anyway: the service refuses, the page says why.
    response = client.post(flag_url(incident), {"reason": "again"}, follow=True)
    body = response.content.decode()
    assert "not proposed again" in body and "Only one printer" in body
    assert MajorIncidentCandidate.objects.count() == 1


def test_no_button_on_a_major_incident(tina: Any, alice: Any, incident: Incident) -> None:
    declare(incident, alice)
    page = login(tina).get(page_of(incident)).content.decode()
    assert "Flag as potential major incident" not in page


def test_who_may_not_flag(client: Client, oscar: Any, incident: Incident) -> None:
    anonymous = client.post(flag_url(incident), {"reason": "x"})
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]
    assert login(oscar).post(flag_url(incident), {"reason": "x"}).status_code == 403
    reader = make_user("usr_reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_incident"))
    reader_client = login(reader)
    assert (
        "Flag as potential major incident"
        not in reader_client.get(page_of(incident)).content.decode()
    )
    assert reader_client.post(flag_url(incident), {"reason": "x"}).status_code == 403
    assert login(reader).get(flag_url(incident)).status_code == 405
    assert not MajorIncidentCandidate.objects.exists()


def test_csrf_is_required(tina: Any, incident: Incident) -> None:
    client = login(tina, enforce_csrf_checks=True)
    assert client.post(flag_url(incident), {"reason": "x"}).status_code == 403
    assert not MajorIncidentCandidate.objects.exists()


def test_the_queue_says_who_flagged_it(tina: Any, alice: Any, incident: Incident) -> None:
    services.flag_major_incident(incident=incident, actor=tina, reason=HOSTILE)
    page = login(alice).get("/major-incidents/candidates/").content.decode()
    assert 'data-testid="flagged-by"' in page and tina.username in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
