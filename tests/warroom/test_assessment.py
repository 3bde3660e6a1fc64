"""The initial assessment: GET/PUT over the API, the page's panel, revisions, the overdue state,
its checkpoint, and who may."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents import services as incident_services
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineEntry, TimelineKind
from tests.warroom.conftest import T0, declare, force_status
from warroom import events, services
from warroom.models import AssessmentRevision, Checkpoint, Fulfilment

GOOD: dict[str, Any] = {
    "affected_services": "Checkout, payments API",
    "affected_customers": "Every EU customer",
    "revenue_impact_estimate": "~€40k per hour",
    "sla_breach_risk": "high",
    "customer_symptoms": "503 on pay",
    "root_cause_hypothesis": "Connection pool exhausted after the 08:50 deploy",
    "root_cause_confirmed": False,
    "eta": "2025-03-03T10:30:00Z",
    "eta_confidence": "medium",
}


def at(minutes: float) -> Any:
    return T0 + timedelta(seconds=round(minutes * 60))


def api_as(user: Any) -> APIClient:
    """A client logged in as ``user`` whatever the frozen clock says (a token would be dated)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(mi: MajorIncident) -> str:
    return f"/api/major-incidents/{mi.number}/assessment/"


def panel_url(mi: MajorIncident) -> str:
    return reverse("warroom:assessment", kwargs={"number": mi.number})


@pytest.fixture
def room(make_incident: Callable[..., Any], alice: Any) -> MajorIncident:
    """An MI declared at T0 by alice (its IC), with its checkpoints."""
    with freeze_time(T0):
        mi = declare(make_incident(impact=1, urgency=1), alice)
        services.open_checkpoints(mi.pk)
    return mi


@pytest.fixture
def mate(room: MajorIncident, alice: Any, person: Callable[..., Any]) -> Any:
    """A technician on ``room``'s team (technical lead)."""
    user = person("usr_bob_builder", "technician")
    incident_services.assign_role(mi=room, actor=alice, role=RaciRole.TECHNICAL_LEAD, user=user)
    return user


# --- Reading it -----------------------------------------------------------------------------------


def test_before_the_first_revision_it_is_due_fifteen_minutes_after_declaration(room, alice):
    with freeze_time(at(10)):
        body = api_as(alice).get(url(room)).json()
    assert body["revision"] is None and body["author"] is None and body["revisions"] == []
    assert body["due_at"] == "2025-03-03T09:15:00Z"
    assert body["overdue"] is False


def test_overdue_at_fifteen_minutes_and_one_second_without_a_revision(room, alice, web, mate):
    with freeze_time(at(15)):
        assert api_as(alice).get(url(room)).json()["overdue"] is False
    with freeze_time(at(15 + 1 / 60)):
        assert api_as(alice).get(url(room)).json()["overdue"] is True
        html = web(mate).get(panel_url(room)).content.decode()
    assert "wr-assessment--overdue" in html
    assert 'data-testid="assessment-overdue"' in html and "Overdue:" in html
    assert "09:15 UTC" in html


def test_a_written_assessment_is_never_overdue(room, mate, web):
    with freeze_time(at(20)):
        api_as(mate).put(url(room), GOOD, format="json")
        body = api_as(mate).get(url(room)).json()
        html = web(mate).get(panel_url(room)).content.decode()
    assert body["overdue"] is False
    assert "wr-assessment--overdue" not in html and "Overdue:" not in html


# --- Writing it -----------------------------------------------------------------------------------


def test_the_team_writes_the_initial_assessment(
    room, mate, listen, django_capture_on_commit_callbacks
):
    revised, done = listen(events.assessment_revised), listen(events.checkpoint_done)
    with freeze_time(at(12)), django_capture_on_commit_callbacks(execute=True):
        answer = api_as(mate).put(url(room), GOOD, format="json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["revision"], body["author"], body["saved_at"]) == (
        1,
        "usr_bob_builder",
        "2025-03-03T09:12:00Z",
    )
    assert {name: body[name] for name in GOOD} == GOOD
    assert [r["revision"] for r in body["revisions"]] == [1]
    row = AssessmentRevision.objects.get(major_incident=room)
    assert revised.calls == [
        {
            "major_incident_id": room.pk,
            "revision_id": row.pk,
            "revision": 1,
            "actor_id": mate.pk,
        }
    ]
    entry = TimelineEntry.objects.get(major_incident=room, kind=TimelineKind.ASSESSMENT)
    assert entry.message.startswith("Initial assessment written by usr_bob_builder (r1)")
    assert "SLA breach risk high" in entry.message and "ETA 2025-03-03 10:30 UTC" in entry.message
    assert entry.actor == mate and entry.data["revision"] == 1
    # Writing it ticks its checkpoint, automatically.
    checkpoint = Checkpoint.objects.get(
        major_incident=room, fulfilled_by=Fulfilment.ASSESSMENT_WRITTEN
    )
    assert checkpoint.done_automatically and checkpoint.done_at == at(12)
    assert [c["checkpoint_id"] for c in done.calls] == [checkpoint.pk]


def test_each_put_is_a_new_numbered_revision_and_the_old_ones_are_kept(room, mate, alice):
    with freeze_time(at(12)):
        api_as(mate).put(url(room), GOOD, format="json")
    with freeze_time(at(25)):
        answer = api_as(alice).put(
            url(room),
            {
                **GOOD,
                "sla_breach_risk": "medium",
                "root_cause_confirmed": True,
                "eta": "2025-03-03T09:45:00+00:00",
                "eta_confidence": "high",
            },
            format="json",
        )
    with freeze_time(at(30)):
        third = api_as(alice).put(
            url(room), {**GOOD, "eta": None, "eta_confidence": ""}, format="json"
        )
    assert answer.status_code == third.status_code == 200
    body = third.json()
    assert body["revision"] == 3 and body["eta"] is None
    assert [(r["revision"], r["author"]) for r in body["revisions"]] == [
        (3, "usr_alice_johnson"),
        (2, "usr_alice_johnson"),
        (1, "usr_bob_builder"),
    ]
    first = AssessmentRevision.objects.get(major_incident=room, revision=1)
    assert (first.sla_breach_risk, first.root_cause_confirmed) == ("high", False)
    messages = list(
        TimelineEntry.objects.filter(major_incident=room, kind=TimelineKind.ASSESSMENT)
        .order_by("id")
        .values_list("message", flat=True)
    )
    assert messages[1] == (
        "Assessment revised (r2) by usr_alice_johnson: SLA breach risk high → medium, "
        "root cause confirmed, ETA 2025-03-03 09:45 UTC (high confidence)"
    )
    assert messages[2] == (
        "Assessment revised (r3) by usr_alice_johnson: SLA breach risk medium → high, "
        "root cause unconfirmed, ETA withdrawn"
    )


def test_a_put_is_the_whole_assessment_and_only_scope_and_impact_are_required(room, mate):
    minimal = {
        "affected_services": "Checkout",
        "sla_breach_risk": "low",
        "customer_symptoms": "Slow",
    }
    answer = api_as(mate).put(url(room), minimal, format="json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["root_cause_hypothesis"], body["eta"], body["eta_confidence"]) == ("", None, "")


def test_revision_numbers_never_repeat(room, mate):
    for n in range(3):
        services.revise_assessment(
            mi=room, actor=mate, **{**{k: v for k, v in GOOD.items() if k != "eta"}, "eta": None,
                                    "eta_confidence": "", "affected_services": f"svc {n}"}
        )  # fmt: skip
    revisions = list(
        AssessmentRevision.objects.filter(major_incident=room).values_list("revision", flat=True)
    )
    assert sorted(revisions) == [1, 2, 3]


# --- Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sla_breach_risk": "catastrophic"}, "sla_breach_risk"),
        ({"eta_confidence": "certain"}, "eta_confidence"),
        ({"eta": "2025-03-03T10:30:00"}, "eta"),  # naive: which zone?
        ({"eta": "tomorrow-ish"}, "eta"),
        ({"eta": "2025-02-30T10:00:00Z"}, "eta"),
        ({"eta": 1741000000}, "eta"),
        ({"eta_confidence": ""}, "eta_confidence"),  # an ETA needs its confidence
        ({"eta": None}, "eta"),  # a confidence without an ETA
        ({"affected_services": ""}, "affected_services"),
        ({"affected_services": "   "}, "affected_services"),
        ({"customer_symptoms": None}, "customer_symptoms"),
        ({"affected_services": ["a", "b"]}, "affected_services"),
        ({"root_cause_confirmed": "perhaps"}, "root_cause_confirmed"),
        ({"customer_symptoms": "x" * 10_001}, "customer_symptoms"),
        ({"revenue_impact_estimate": "€" * 201}, "revenue_impact_estimate"),
        ({"root_cause_hypothesis": "", "root_cause_confirmed": True}, "root_cause_hypothesis"),
        ({"severity": "high"}, "severity"),
        ({"revision": 7}, "revision"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(room, mate, change, field):
    answer = api_as(mate).put(url(room), {**GOOD, **change}, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not AssessmentRevision.objects.filter(major_incident=room).exists()


@pytest.mark.parametrize("missing", ["affected_services", "sla_breach_risk", "customer_symptoms"])
def test_scope_and_impact_are_required(room, mate, missing):
    body = {k: v for k, v in GOOD.items() if k != missing}
    answer = api_as(mate).put(url(room), body, format="json")
    assert answer.status_code == 400
    assert missing in answer.json()


@pytest.mark.parametrize("raw", ["[1, 2]", '"text"', "{not json", ""])
def test_a_body_that_is_not_an_object_is_a_400(room, mate, raw):
    answer = api_as(mate).put(url(room), raw, content_type="application/json")
    assert answer.status_code == 400


def test_the_service_refuses_what_the_form_could_send(room, mate):
    from datetime import datetime

    from incidents.errors import DomainError

    fields = {**GOOD, "eta": datetime(2025, 3, 3, 10, 30)}  # noqa: DTZ001 - naive on purpose
    with pytest.raises(DomainError) as refused:
        services.revise_assessment(mi=room, actor=mate, **fields)
    assert refused.value.field == "eta"


# --- Who may --------------------------------------------------------------------------------------


def test_technicians_outside_the_team_and_legal_read_but_may_not_write(room, tina, lee):
    for user in (tina, lee):
        assert api_as(user).get(url(room)).status_code == 200
        refused = api_as(user).put(url(room), GOOD, format="json")
        assert refused.status_code == 403, user
        assert "may post to" in refused.json()["detail"]
    # Refused before the body is read: a bad body from an outsider is a 403 too.
    assert api_as(tina).put(url(room), {"nonsense": 1}, format="json").status_code == 403
    assert not AssessmentRevision.objects.exists()


def test_no_role_at_all_is_a_403_and_an_unknown_mi_a_404(room, oscar, alice):
    assert api_as(oscar).get(url(room)).status_code == 403
    assert api_as(oscar).put(url(room), GOOD, format="json").status_code == 403
    assert api_as(alice).get("/api/major-incidents/MI9999999/assessment/").status_code == 404
    assert (
        api_as(alice).put("/api/major-incidents/x/assessment/", GOOD, format="json").status_code
        == 404
    )


def test_bearer_tokens_work_the_same(mi, tina_api, oscar_api, bob_api):
    assert tina_api.get(url(mi)).status_code == 200
    assert tina_api.put(url(mi), GOOD, format="json").status_code == 403
    assert oscar_api.get(url(mi)).status_code == 403
    assert bob_api.put(url(mi), GOOD, format="json").status_code == 200
    assert bob_api.get(url(mi)).json()["author"] == "usr_bob_builder"


@pytest.mark.parametrize("status", [MIStatus.CLOSED, MIStatus.CANCELLED])
def test_a_closed_or_cancelled_mi_is_read_only(room, mate, status):
    force_status(room, status)
    answer = api_as(mate).put(url(room), GOOD, format="json")
    assert answer.status_code == 409
    assert status in answer.json()["detail"]
    body = api_as(mate).get(url(room)).json()
    assert body["overdue"] is False  # a closed MI's assessment is no longer chased


# --- The page's panel -----------------------------------------------------------------------------


FORM = {**GOOD, "eta": "2025-03-03T10:30", "root_cause_confirmed": ""}


def test_the_team_writes_it_on_the_page_post_redirect_get(room, mate, web):
    client = web(mate)
    with freeze_time(at(9)):
        answer = client.post(panel_url(room), FORM)
        assert answer.status_code == 302
        assert answer["Location"] == f"/war-rooms/{room.number}/#assessment"
        html = client.get(panel_url(room)).content.decode()
    revision = AssessmentRevision.objects.get(major_incident=room)
    assert revision.eta == T0 + timedelta(minutes=90)  # the form's time is UTC
    assert revision.author == mate
    assert "Checkout, payments API" in html and "2025-03-03 10:30 UTC" in html
    assert "Revise the assessment" in html
    assert 'data-testid="assessment-history"' in html and "r1 by usr_bob_builder" in html


def test_a_refused_form_comes_back_with_its_error_and_what_was_typed(room, mate, web):
    client = web(mate)
    answer = client.post(panel_url(room), {**FORM, "eta_confidence": ""})
    assert answer.status_code == 303
    html = client.get(panel_url(room)).content.decode()
    assert "An ETA needs its confidence" in html
    assert "Connection pool exhausted" in html  # kept across the redirect
    assert not AssessmentRevision.objects.exists()
    # Once: a reload shows the form as it is.
    assert "An ETA needs its confidence" not in client.get(panel_url(room)).content.decode()


def test_outsiders_read_the_panel_without_a_form_and_may_not_post(room, web, tina, oscar, mate):
    services.revise_assessment(mi=room, actor=mate, **{**GOOD, "eta": None, "eta_confidence": ""})
    html = web(tina).get(panel_url(room)).content.decode()
    assert "Checkout, payments API" in html and 'data-testid="assessment-form"' not in html
    assert web(tina).post(panel_url(room), FORM).status_code == 403
    assert web(oscar).get(panel_url(room)).status_code == 403
    assert web(oscar).post(panel_url(room), FORM).status_code == 403
    assert AssessmentRevision.objects.count() == 1


def test_a_closed_mi_has_no_form_and_a_post_says_why(room, web, mate):
    force_status(room, MIStatus.CLOSED)
    client = web(mate)
    assert 'data-testid="assessment-form"' not in client.get(panel_url(room)).content.decode()
    answer = client.post(panel_url(room), FORM)
    assert answer.status_code == 302
    assert any("read-only" in str(m) for m in answer.wsgi_request._messages)
    assert not AssessmentRevision.objects.exists()


def test_script_in_the_assessment_shows_as_text(room, mate, web):
    evil = "<script>alert('x')</script>"
    api_as(mate).put(
        url(room),
        {
            **GOOD,
            "affected_services": evil,
            "customer_symptoms": evil,
            "root_cause_hypothesis": evil,
        },
        format="json",
    )
    html = web(mate).get(panel_url(room)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
