"""The major-incident REST API (issue 3, points 2–6): declaration, reading, lifecycle, milestones,
RACI roles and the candidate queue, for every persona."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents import services
from incidents.models import (
    MILESTONES,
    AutoDeclarationRule,
    CandidateStatus,
    Change,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    Priority,
    RaciRole,
    RoleAssignment,
    TimelineEntry,
    TimelineKind,
)
from tests.conftest import bearer_client, make_user
from tests.incidents.mi_fixtures import IC, declare, force_status, fresh

User = get_user_model()
pytestmark = pytest.mark.django_db

DOCUMENTED_BODY = {
    "incident_id": "INC0001234",
    "major_incident_manager": "usr_alice_johnson",
    "bridge_link": "https://meet.google.com/abc-defg-hij",
    "initial_impact_statement": "Production API gateway returning 503 for all users",
}


def url(mi: MajorIncident | str, tail: str = "") -> str:
    number = mi if isinstance(mi, str) else mi.number
    return f"/api/major-incidents/{number}/{tail}"


def body(incident: Incident, manager: str = "usr_alice_johnson", **extra: Any) -> dict[str, Any]:
    return {
        **DOCUMENTED_BODY,
        "incident_id": incident.number,
        "major_incident_manager": manager,
        **extra,
    }


@pytest.fixture
def p3(make_incident: Callable[..., Incident]) -> Incident:
    """A P3 (impact 2 × urgency 2): declaring it raises it to P1."""
    return make_incident(impact=2, urgency=2)


@pytest.fixture
def mi(p3: Incident, alice: Any) -> MajorIncident:
    return declare(p3, alice)


@pytest.fixture
def clients(
    api: APIClient, oscar: Any, tina: Any, alice: Any, sam: Any, lee: Any
) -> dict[str, APIClient]:
    return {
        "anonymous": api,
        "oscar": bearer_client(oscar),
        "tina": bearer_client(tina),
        "alice": bearer_client(alice),
        "sam": bearer_client(sam),
        "lee": bearer_client(lee),
    }


# --- Declaration ----------------------------------------------------------------------------------


def test_documented_body_works_as_it_is(alice_api: APIClient, alice: Any) -> None:
    incident = Incident.objects.create(
        id=1234, short_description="API gateway 503", impact=2, urgency=2, priority=3
    )
    response = alice_api.post("/api/major-incidents/", DOCUMENTED_BODY, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    mi = MajorIncident.objects.get(incident=incident)
    assert data["number"] == mi.number
    assert data["status"] == "declared"
    assert data["incident"] == "INC0001234"
    assert data["bridge_link"] == DOCUMENTED_BODY["bridge_link"]
    assert data["impact_statement"] == DOCUMENTED_BODY["initial_impact_statement"]
    assert data["declared_by"] == "usr_alice_johnson"
    assert data["war_room"] == f"/war-rooms/{mi.number}/"
    assert data["timeline"] == f"/api/major-incidents/{mi.number}/timeline/"
    assert [(r["role"], r["user"]) for r in data["roles"]] == [(IC, "usr_alice_johnson")]
    assert set(data["milestones"]) == set(MILESTONES)
    assert data["milestones"]["declared_at"] is not None
    assert data["milestones"]["resolved_at"] is None
    assert data["allowed_transitions"] == ["investigating", "identified", "monitoring", "cancelled"]
    incident.refresh_from_db()
    assert data["problem"] == incident.problem.number
    assert incident.priority == Priority.CRITICAL
    assert TimelineEntry.objects.filter(
        incident=incident, kind=TimelineKind.PRIORITY_CHANGED, major_incident=mi
    ).exists()


def test_declare_optional_fields(sam_api: APIClient, sam: Any, alice: Any, p3: Incident) -> None:
    response = sam_api.post(
        "/api/major-incidents/", body(p3, is_security=True, summary="Gateway down"), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["is_security"] is True
    assert response.json()["summary"] == "Gateway down"
    assert response.json()["declared_by"] == sam.username


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("oscar", 403), ("tina", 403), ("lee", 403), ("alice", 201), ("sam", 201)],
)
def test_who_may_declare(
    clients: dict[str, APIClient], p3: Incident, who: str, expected: int
) -> None:
    response = clients[who].post("/api/major-incidents/", body(p3), format="json")
    assert response.status_code == expected, response.content
    assert MajorIncident.objects.filter(incident=p3).exists() == (expected == 201)
    if expected != 201:
        assert response.json()["detail"]


def test_technician_is_refused_before_the_body_is_read(tina_api: APIClient) -> None:
    response = tina_api.post("/api/major-incidents/", {}, format="json")
    assert response.status_code == 403


def test_duplicate_declaration_is_409_naming_the_mi(
    alice_api: APIClient, mi: MajorIncident, p3: Incident
) -> None:
    response = alice_api.post("/api/major-incidents/", body(p3), format="json")
    assert response.status_code == 409
    assert mi.number in response.json()["detail"]
    assert MajorIncident.objects.filter(incident=p3).count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"incident_id": "INC9999999"}, "incident_id"),
        ({"incident_id": "not-a-number"}, "incident_id"),
        ({"incident_id": "CHG0000001"}, "incident_id"),
        ({"incident_id": 42}, "incident_id"),
        ({"major_incident_manager": "usr_nobody"}, "major_incident_manager"),
        ({"major_incident_manager": None}, "major_incident_manager"),
        ({"initial_impact_statement": ""}, "initial_impact_statement"),
        ({"initial_impact_statement": "   "}, "initial_impact_statement"),
        ({"bridge_link": "not a url"}, "bridge_link"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    alice_api: APIClient, p3: Incident, change: dict[str, Any], field: str
) -> None:
    response = alice_api.post("/api/major-incidents/", body(p3) | change, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not MajorIncident.objects.exists()


@pytest.mark.parametrize(
    "missing", ["incident_id", "major_incident_manager", "initial_impact_statement"]
)
def test_missing_field_is_400_naming_it(alice_api: APIClient, p3: Incident, missing: str) -> None:
    data = body(p3)
    del data[missing]
    response = alice_api.post("/api/major-incidents/", data, format="json")
    assert response.status_code == 400
    assert missing in response.json()


def test_closed_incident_cannot_be_declared(alice_api: APIClient, alice: Any, p3: Incident) -> None:
    services.resolve_incident(incident=p3, actor=alice, resolution_notes="fixed")
    response = alice_api.post("/api/major-incidents/", body(p3), format="json")
    assert response.status_code == 409
    assert "incident_id" in response.json()


def test_inactive_manager_is_400(alice_api: APIClient, p3: Incident, person: Any) -> None:
    bob = person("usr_bob", "itsm_manager")
    bob.is_active = False
    bob.save()
    response = alice_api.post("/api/major-incidents/", body(p3, manager="usr_bob"), format="json")
    assert response.status_code == 400
    assert "major_incident_manager" in response.json()


# --- Reading --------------------------------------------------------------------------------------


def test_detail_shows_problem_changes_and_children(
    tina_api: APIClient, mi: MajorIncident, alice: Any, make_incident: Callable[..., Incident]
) -> None:
    change = Change.objects.create(short_description="Roll back gateway", problem=mi.problem)
    children = [make_incident(short_description=f"child {i}") for i in range(2)]
    for child in children:
        services.link_incident(incident=child, parent=mi.incident, actor=alice)
    response = tina_api.get(url(mi))
    assert response.status_code == 200
    data = response.json()
    assert data["problem"] == mi.problem.number
    assert data["changes"] == [change.number]
    assert data["child_incidents_count"] == 2
    assert data["child_incidents"] == sorted(c.number for c in children)
    assert data["incident_short_description"] == mi.incident.short_description
    assert data["trigger_rule"] is None


def test_unknown_or_malformed_number_is_json_404(alice_api: APIClient, mi: MajorIncident) -> None:
    for number in ("MI9999999", "nope", "INC0000001"):
        response = alice_api.get(url(number))
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_list_filters(
    alice_api: APIClient, alice: Any, make_incident: Callable[..., Incident]
) -> None:
    a = declare(make_incident(), alice)
    b = declare(make_incident(), alice, is_security=True)
    c = force_status(declare(make_incident(), alice), MIStatus.RESOLVED)
    d = force_status(declare(make_incident(), alice), MIStatus.CANCELLED)

    def numbers(query: str) -> set[str]:
        response = alice_api.get(f"/api/major-incidents/?{query}")
        assert response.status_code == 200, response.content
        return {row["number"] for row in response.json()["results"]}

    assert numbers("") == {a.number, b.number, c.number, d.number}
    assert numbers("status=resolved&status=cancelled") == {c.number, d.number}
    assert numbers("is_security=true") == {b.number}
    assert numbers("is_security=false") == {a.number, c.number, d.number}
    assert numbers("open=true") == {a.number, b.number}
    assert numbers("open=false") == {c.number, d.number}
    assert alice_api.get("/api/major-incidents/?status=bogus").status_code == 400


def test_list_costs_the_same_for_5_and_50(
    alice_api: APIClient, alice: Any, make_incident: Callable[..., Incident]
) -> None:
    def make(n: int) -> None:
        for i in range(n):
            owner = make_user(f"usr_owner_{MajorIncident.objects.count()}_{i}", "itsm_manager")
            mi = declare(make_incident(), owner)
            services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=alice, actor=owner)
            Change.objects.create(short_description="fix", problem=mi.problem)
            child = make_incident(short_description="child")
            services.link_incident(incident=child, parent=mi.incident, actor=owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = alice_api.get("/api/major-incidents/")
        assert response.status_code == 200
        return len(queries)

    make(5)
    five = count()
    make(45)
    assert MajorIncident.objects.count() == 50
    assert count() == five


# --- Every endpoint for every persona -------------------------------------------------------------


def _endpoints(
    mi: MajorIncident, spare: Incident, candidate: MajorIncidentCandidate
) -> dict[str, tuple[str, str, Any]]:
    scribe = RoleAssignment.objects.get(major_incident=mi, role=RaciRole.SCRIBE)
    return {
        "list": ("get", "/api/major-incidents/", None),
        "detail": ("get", url(mi), None),
        "declare": ("post", "/api/major-incidents/", body(spare)),
        "transition": ("post", url(mi, "transition/"), {"to": "investigating"}),
        "milestones": (
            "patch",
            url(mi, "milestones/"),
            {"detected_at": (mi.declared_at - timedelta(minutes=5)).isoformat()},
        ),
        "roles": ("get", url(mi, "roles/"), None),
        "assign_role": (
            "post",
            url(mi, "roles/"),
            {"role": "support_lead", "user": "usr_lee_legal"},
        ),
        "remove_role": ("delete", url(mi, f"roles/{scribe.pk}/"), None),
        "timeline": ("get", url(mi, "timeline/"), None),
        "raci": ("get", url(mi, "raci/?activity=declare"), None),
        "candidates": ("get", "/api/major-incident-candidates/", None),
        "candidate": ("get", f"/api/major-incident-candidates/{candidate.pk}/", None),
        "accept": ("post", f"/api/major-incident-candidates/{candidate.pk}/accept/", {}),
        "reject": (
            "post",
            f"/api/major-incident-candidates/{candidate.pk}/reject/",
            {"reason": "a blip"},
        ),
    }


_OK = {
    "list": 200, "detail": 200, "declare": 201, "transition": 200, "milestones": 200,
    "roles": 200, "assign_role": 201, "remove_role": 204, "timeline": 200, "raci": 200,
    "candidates": 200, "candidate": 200, "accept": 201, "reject": 200,
}  # fmt: skip
_READ_MI = {"list", "detail", "roles", "timeline", "raci"}
_PERSONAS = ["anonymous", "oscar", "tina", "lee", "alice", "sam"]


def _expected(who: str, endpoint: str) -> int:
    if who == "anonymous":
        return 401
    if who in ("alice", "sam"):
        return _OK[endpoint]
    if who in ("tina", "lee") and endpoint in _READ_MI:
        return 200
    return 403


@pytest.mark.parametrize("endpoint", list(_OK))
@pytest.mark.parametrize("who", _PERSONAS)
def test_every_endpoint_for_every_persona(
    clients: dict[str, APIClient],
    alice: Any,
    tina: Any,
    make_incident: Callable[..., Incident],
    who: str,
    endpoint: str,
) -> None:
    mi = declare(make_incident(), alice)
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=tina, actor=alice)
    spare = make_incident(short_description="spare")
    candidate = MajorIncidentCandidate.objects.create(
        incident=make_incident(short_description="proposed"),
        rule=AutoDeclarationRule.objects.first(),
        reason="P1 unacknowledged for 16 min",
    )
    method, path, data = _endpoints(mi, spare, candidate)[endpoint]
    response = getattr(clients[who], method)(path, data, format="json")
    assert response.status_code == _expected(who, endpoint), response.content
    if response.status_code in (401, 403):
        assert response.json()["detail"]


def test_a_team_member_without_the_view_permission_reads_their_mi(
    alice_api: APIClient,
    alice: Any,
    oscar: Any,
    oscar_api: APIClient,
    mi: MajorIncident,
    make_incident: Callable[..., Incident],
) -> None:
    assert oscar_api.get(url(mi)).status_code == 403
    alice_api.post(url(mi, "roles/"), {"role": "scribe", "user": oscar.username}, format="json")
    assert bearer_client(fresh(oscar)).get(url(mi)).status_code == 200
    # The list shows a team member without a role the MIs they are on, and only those.
    other = declare(make_incident(short_description="another one"), alice)
    listed = bearer_client(fresh(oscar)).get("/api/major-incidents/")
    assert listed.status_code == 200
    assert [row["number"] for row in listed.json()["results"]] == [mi.number]
    assert bearer_client(fresh(oscar)).get(url(other)).status_code == 403


# --- Lifecycle ------------------------------------------------------------------------------------


def move(client: APIClient, mi: MajorIncident, to: str, **extra: Any) -> Any:
    return client.post(url(mi, "transition/"), {"to": to, **extra}, format="json")


def test_lifecycle_through_the_api(alice: Any, mi: MajorIncident) -> None:
    client = APIClient()
    client.force_authenticate(alice)  # tokens and a frozen clock do not mix
    start = timezone.now() + timedelta(minutes=1)
    with freeze_time(start) as clock:
        response = move(client, mi, "investigating")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "investigating"
        assert move(client, mi, "identified").json()["milestones"]["root_cause_identified_at"]
        data = move(client, mi, "monitoring").json()
        assert data["status"] == "monitoring"
        # Resolving waits for the stability period: not allowed yet, and the body says until when.
        assert data["allowed_transitions"] == ["investigating", "identified", "cancelled"]
        assert data["milestones"]["monitoring_started_at"] is not None
        waiting = next(t for t in data["transitions"] if t["to"] == "resolved")
        ready = timezone.now() + timedelta(minutes=15)
        assert waiting["allowed"] is False
        assert waiting["can_override"] is True  # alice is the IC
        # The time carries its date when it falls on another day (a run near midnight UTC).
        assert f"{ready:%H:%M} UTC, in 15 min" in waiting["reason"]
        assert "may be resolved at" in waiting["reason"]
        assert waiting["possible_at"] == ready.isoformat().replace("+00:00", "Z")

        clock.tick(timedelta(minutes=14, seconds=59))
        refused = move(client, mi, "resolved")
        assert refused.status_code == 409
        assert "monitoring for 14 min" in refused.json()["to"][0]
        assert "in 1 min" in refused.json()["to"][0]

        clock.tick(timedelta(seconds=2))
        listed = client.get(url(mi)).json()
        assert "resolved" in listed["allowed_transitions"]
        resolved = move(client, mi, "resolved", reason="error rate at baseline")
        assert resolved.status_code == 200, resolved.content
        assert resolved.json()["milestones"]["resolved_at"] is not None
        assert resolved.json()["next_update_due_at"] is None
        assert resolved.json()["allowed_transitions"] == ["investigating"]  # no PIR: no closing

        no_pir = move(client, mi, "closed")
        assert no_pir.status_code == 409
        assert "post-incident review" in no_pir.json()["to"][0]
        MajorIncident.objects.filter(pk=mi.pk).update(pir_published_at=timezone.now())
        closed = move(client, mi, "closed")
        assert closed.status_code == 200
        assert closed.json()["status"] == "closed"
        assert closed.json()["allowed_transitions"] == []
    mi.incident.refresh_from_db()
    assert mi.incident.state == "closed"  # resolved with the MI, closed with it
    messages = list(
        TimelineEntry.objects.filter(major_incident=mi).values_list("message", flat=True)
    )
    assert any("monitoring → resolved" in m for m in messages)


def test_regression_from_monitoring_is_allowed_and_recorded(
    alice_api: APIClient, mi: MajorIncident
) -> None:
    assert move(alice_api, mi, "monitoring").status_code == 200
    response = move(alice_api, mi, "investigating", reason="errors are back")
    assert response.status_code == 200
    assert TimelineEntry.objects.filter(
        major_incident=mi, message__startswith="Regression:"
    ).exists()


def test_stability_override_only_by_the_ic_with_a_reason(
    alice: Any, sam: Any, mi: MajorIncident
) -> None:
    as_alice, as_sam = APIClient(), APIClient()
    as_alice.force_authenticate(alice)
    as_sam.force_authenticate(sam)
    with freeze_time(timezone.now() + timedelta(minutes=1)) as clock:
        assert move(as_alice, mi, "monitoring").status_code == 200
        clock.tick(timedelta(minutes=3))
        no_reason = move(as_alice, mi, "resolved", override_stability=True)
        assert no_reason.status_code == 400
        assert "reason" in no_reason.json()
        not_ic = move(as_sam, mi, "resolved", override_stability=True, reason="fine now")
        assert not_ic.status_code == 403
        assert "incident commander" in not_ic.json()["detail"]
        ok = move(as_alice, mi, "resolved", override_stability=True, reason="fix verified")
        assert ok.status_code == 200, ok.content
        assert ok.json()["status"] == "resolved"
    assert TimelineEntry.objects.filter(
        major_incident=mi, message__contains="stability period overridden"
    ).exists()


def test_moves_the_status_refuses_are_409_unknown_ones_400(
    alice_api: APIClient, mi: MajorIncident
) -> None:
    response = move(alice_api, mi, "resolved")
    assert response.status_code == 409
    assert "cannot move from declared to resolved" in response.json()["to"][0]
    assert move(alice_api, mi, "sideways").status_code == 400


def test_cancel_needs_a_reason_and_a_manager(
    alice: Any, alice_api: APIClient, mi: MajorIncident, person: Any
) -> None:
    bob = person("usr_bob_tech", "technician")
    assert (
        alice_api.post(
            url(mi, "roles/"), {"role": IC, "user": bob.username}, format="json"
        ).status_code
        == 201
    )
    bob_api = bearer_client(bob)
    # Bob commands this MI: he runs its lifecycle but may not cancel it.
    assert move(bob_api, mi, "investigating").status_code == 200
    refused = move(bob_api, mi, "cancelled", reason="declared in error")
    assert refused.status_code == 403
    no_reason = move(alice_api, mi, "cancelled")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()
    ok = move(alice_api, mi, "cancelled", reason="declared in error")
    assert ok.status_code == 200
    assert ok.json()["status"] == "cancelled"
    assert ok.json()["cancel_reason"] == "declared in error"


# --- Milestones -----------------------------------------------------------------------------------


def test_backfill_milestones(alice_api: APIClient, mi: MajorIncident) -> None:
    impact = mi.declared_at - timedelta(minutes=30)
    detected = mi.declared_at - timedelta(minutes=10)
    response = alice_api.patch(
        url(mi, "milestones/"),
        {"impact_started_at": impact.isoformat(), "detected_at": detected.isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    mi.refresh_from_db()
    assert (mi.impact_started_at, mi.detected_at) == (impact, detected)
    assert TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.MILESTONE).count() == 2


def test_milestones_unknown_key_and_order(alice_api: APIClient, mi: MajorIncident) -> None:
    unknown = alice_api.patch(url(mi, "milestones/"), {"lunch_at": None}, format="json")
    assert unknown.status_code == 400
    assert "lunch_at" in unknown.json()
    late = (mi.declared_at + timedelta(minutes=1)).isoformat()
    order = alice_api.patch(url(mi, "milestones/"), {"detected_at": late}, format="json")
    assert order.status_code == 400
    assert order.json() == {"detected_at": ["declared_at must not be before detected_at"]}
    bad = alice_api.patch(url(mi, "milestones/"), {"detected_at": "yesterday"}, format="json")
    assert bad.status_code == 400
    assert "detected_at" in bad.json()
    empty = alice_api.patch(url(mi, "milestones/"), {}, format="json")
    assert empty.status_code == 400


# --- Roles ----------------------------------------------------------------------------------------


def assign(client: APIClient, mi: MajorIncident, role: str, user: Any) -> Any:
    return client.post(url(mi, "roles/"), {"role": role, "user": user.username}, format="json")


def test_assigning_another_ic_hands_over(
    alice: Any, alice_api: APIClient, mi: MajorIncident, person: Any
) -> None:
    bob = person("usr_bob", "technician")
    assert fresh(alice).has_perm("incidents.manage_majorincident", mi)
    response = assign(alice_api, mi, IC, bob)
    assert response.status_code == 201, response.content
    assert response.json()["role"] == IC
    assert response.json()["user"] == "usr_bob"
    roles = alice_api.get(url(mi, "roles/")).json()
    assert [r["user"] for r in roles if r["role"] == IC] == ["usr_bob"]
    assert (
        RoleAssignment.objects.filter(major_incident=mi, role=IC, removed_at__isnull=True).count()
        == 1
    )
    assert fresh(bob).has_perm("incidents.manage_majorincident", mi)
    assert not fresh(alice).has_perm("incidents.manage_majorincident", mi)
    assert TimelineEntry.objects.filter(major_incident=mi, message__contains="handed over").exists()


def test_ic_may_not_be_technical_lead_either_way(
    alice: Any, alice_api: APIClient, mi: MajorIncident, person: Any
) -> None:
    refused = assign(alice_api, mi, RaciRole.TECHNICAL_LEAD, alice)
    assert refused.status_code == 409
    assert "user" in refused.json()
    bob = person("usr_bob", "technician")
    assert assign(alice_api, mi, RaciRole.TECHNICAL_LEAD, bob).status_code == 201
    refused = assign(alice_api, mi, IC, bob)
    assert refused.status_code == 409
    assert "technical lead" in refused.json()["user"][0]


def test_removing_the_ic_is_400(alice_api: APIClient, mi: MajorIncident) -> None:
    ic = RoleAssignment.objects.get(major_incident=mi, role=IC)
    response = alice_api.delete(url(mi, f"roles/{ic.pk}/"))
    assert response.status_code == 400
    assert "incident commander" in response.json()["role"][0]


def test_technical_lead_gains_and_loses_timeline_permission(
    alice_api: APIClient, tina: Any, mi: MajorIncident
) -> None:
    perm = "incidents.post_timeline_majorincident"
    assert not fresh(tina).has_perm(perm, mi)
    response = assign(alice_api, mi, RaciRole.TECHNICAL_LEAD, tina)
    assert response.status_code == 201
    assert fresh(tina).has_perm(perm, mi)
    removed = alice_api.delete(url(mi, f"roles/{response.json()['id']}/"))
    assert removed.status_code == 204
    assert not fresh(tina).has_perm(perm, mi)
    # Removed holders are gone from the list; a second DELETE finds nothing.
    assert all(r["user"] != tina.username for r in alice_api.get(url(mi, "roles/")).json())
    assert alice_api.delete(url(mi, f"roles/{response.json()['id']}/")).status_code == 404


def test_role_input_errors(alice_api: APIClient, mi: MajorIncident) -> None:
    bad_role = alice_api.post(
        url(mi, "roles/"), {"role": "chef", "user": "usr_alice_johnson"}, format="json"
    )
    assert bad_role.status_code == 400
    assert "role" in bad_role.json()
    bad_user = alice_api.post(
        url(mi, "roles/"), {"role": "scribe", "user": "usr_nobody"}, format="json"
    )
    assert bad_user.status_code == 400
    assert "user" in bad_user.json()
    assert alice_api.delete(url(mi, "roles/999999/")).status_code == 404


def test_the_ic_manages_roles_but_a_technician_outside_does_not(
    alice_api: APIClient, tina: Any, tina_api: APIClient, mi: MajorIncident, person: Any
) -> None:
    bob = person("usr_bob", "technician")
    assert assign(tina_api, mi, RaciRole.SCRIBE, bob).status_code == 403
    assert assign(alice_api, mi, IC, tina).status_code == 201
    assert assign(bearer_client(fresh(tina)), mi, RaciRole.SCRIBE, bob).status_code == 201


# --- Timeline and RACI ----------------------------------------------------------------------------


def test_timeline_has_the_mi_and_incident_rows(tina_api: APIClient, mi: MajorIncident) -> None:
    # The war room's timeline (warroom/api/timeline.py): newest first, by cursor.
    response = tina_api.get(url(mi, "timeline/"))
    assert response.status_code == 200
    rows = response.json()["results"]
    kinds = [row["kind"] for row in rows]
    assert kinds[-1] == TimelineKind.CREATED  # the incident's own row, before the MI existed
    assert TimelineKind.DECLARED in kinds
    assert TimelineKind.ROLE_ASSIGNED in kinds
    assert set(rows[0]) == {
        "id", "kind", "body", "body_html", "thread", "author", "created_at", "corrects",
        "corrected_by",
    }  # fmt: skip


def test_raci_holders(alice: Any, tina_api: APIClient, tina: Any, mi: MajorIncident) -> None:
    services.assign_role(mi=mi, role=RaciRole.TECHNICAL_LEAD, user=tina, actor=alice)
    response = tina_api.get(url(mi, "raci/?activity=declare"))
    assert response.status_code == 200
    data = response.json()
    assert data["activity"] == "declare"
    assert data["A"] == [alice.username]
    assert data["C"] == [tina.username]
    assert set(data) == {"activity", "R", "A", "C", "I"}
    unknown = tina_api.get(url(mi, "raci/?activity=karaoke"))
    assert unknown.status_code == 400
    assert "activity" in unknown.json()
    assert tina_api.get(url(mi, "raci/")).status_code == 400


# --- Candidates -----------------------------------------------------------------------------------


@pytest.fixture
def candidate(make_incident: Callable[..., Incident]) -> MajorIncidentCandidate:
    return MajorIncidentCandidate.objects.create(
        incident=make_incident(short_description="Login slow", impact=2, urgency=2),
        rule=AutoDeclarationRule.objects.get(name="P1 unacknowledged"),
        reason="P1 unacknowledged for 16 min (limit 15)",
    )


def test_candidate_list_and_filter(alice_api: APIClient, candidate: MajorIncidentCandidate) -> None:
    rows = alice_api.get("/api/major-incident-candidates/").json()["results"]
    assert [(r["id"], r["status"], r["incident"], r["rule"]) for r in rows] == [
        (candidate.pk, "pending", candidate.incident.number, "P1 unacknowledged")
    ]
    assert alice_api.get("/api/major-incident-candidates/?status=rejected").json()["results"] == []
    assert (
        len(alice_api.get("/api/major-incident-candidates/?status=pending").json()["results"]) == 1
    )


def test_accept_candidate(
    alice: Any, alice_api: APIClient, candidate: MajorIncidentCandidate
) -> None:
    response = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/accept/",
        {"bridge_link": "https://meet.example/x"},
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "declared"
    assert data["incident"] == candidate.incident.number
    assert data["trigger_rule"] == "P1 unacknowledged"
    assert data["bridge_link"] == "https://meet.example/x"
    assert [(r["role"], r["user"]) for r in data["roles"]] == [(IC, alice.username)]
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.ACCEPTED
    assert candidate.major_incident.number == data["number"]
    again = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/accept/", {}, format="json"
    )
    assert again.status_code == 409
    rejected = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/reject/", {"reason": "x"}, format="json"
    )
    assert rejected.status_code == 409


def test_accept_with_another_commander(
    alice_api: APIClient, candidate: MajorIncidentCandidate, sam: Any
) -> None:
    response = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/accept/",
        {"major_incident_manager": sam.username},
        format="json",
    )
    assert response.status_code == 201
    assert [r["user"] for r in response.json()["roles"] if r["role"] == IC] == [sam.username]
    unknown = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/accept/",
        {"major_incident_manager": "usr_nobody"},
        format="json",
    )
    assert unknown.status_code == 400


def test_reject_candidate(alice_api: APIClient, candidate: MajorIncidentCandidate) -> None:
    no_reason = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/reject/", {}, format="json"
    )
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()
    response = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/reject/",
        {"reason": "a short blip"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["decision_reason"] == "a short blip"
    assert response.json()["decided_by"] == "usr_alice_johnson"
    assert not MajorIncident.objects.exists()
    again = alice_api.post(
        f"/api/major-incident-candidates/{candidate.pk}/reject/", {"reason": "x"}, format="json"
    )
    assert again.status_code == 409
    assert (
        alice_api.post(
            f"/api/major-incident-candidates/{candidate.pk}/accept/", {}, format="json"
        ).status_code
        == 409
    )


def test_unknown_candidate_is_404(alice_api: APIClient) -> None:
    assert alice_api.get("/api/major-incident-candidates/999/").status_code == 404
    for decision, body in [("accept", {}), ("reject", {"reason": "not major"})]:
        response = alice_api.post(
            f"/api/major-incident-candidates/999/{decision}/", body, format="json"
        )
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


# --- Schema ---------------------------------------------------------------------------------------


def test_schema_lists_every_endpoint(alice_api: APIClient) -> None:
    response = alice_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"] if response["Content-Type"].endswith("json") else None
    if paths is None:
        import yaml

        paths = yaml.safe_load(response.content)["paths"]
    expected = {
        "/api/major-incidents/": {"get", "post"},
        "/api/major-incidents/{number}/": {"get", "patch"},
        "/api/major-incidents/{number}/transition/": {"post"},
        "/api/major-incidents/{number}/milestones/": {"patch"},
        "/api/major-incidents/{number}/roles/": {"get", "post"},
        "/api/major-incidents/{number}/roles/{role_id}/": {"delete"},
        "/api/major-incidents/{number}/timeline/": {"get"},
        "/api/major-incidents/{number}/raci/": {"get"},
        "/api/major-incident-candidates/": {"get"},
        "/api/major-incident-candidates/{id}/": {"get"},
        "/api/major-incident-candidates/{id}/accept/": {"post"},
        "/api/major-incident-candidates/{id}/reject/": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
