"""Django admin of major incidents: every page renders, actions and the dry run use the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.utils import timezone

from incidents import selectors, services
from incidents.models import (
    AutoDeclarationRule,
    CandidateStatus,
    EscalationFiring,
    EscalationPolicy,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    RaciActivity,
    RoleRoster,
    TimelineEntry,
    TimelineKind,
)
from tests.incidents.mi_fixtures import declare, force_status

pytestmark = pytest.mark.django_db

MI_MODELS = [
    "majorincident",
    "autodeclarationrule",
    "majorincidentcandidate",
    "roleroster",
    "raciactivity",
    "escalationpolicy",
    "escalationfiring",
]
NO_ADD = {"majorincidentcandidate", "escalationfiring"}  # made by rules / by the escalation sweep


@pytest.fixture
def world(alice: Any, sam: Any, make_incident: Any) -> dict[str, Any]:
    """An MI with a firing, a pending candidate and a roster entry."""
    mi = declare(make_incident(impact=2, urgency=2), alice)
    policy = EscalationPolicy.objects.first()
    assert policy is not None and policy.steps.exists()
    EscalationFiring.objects.create(
        major_incident=mi, step=policy.steps.first(), triggered_at=timezone.now()
    )
    rule = AutoDeclarationRule.objects.order_by("order").first()
    candidate = MajorIncidentCandidate.objects.create(
        incident=make_incident(short_description="Search slow", impact=2, urgency=2),
        rule=rule,
        reason="because",
    )
    RoleRoster.objects.update_or_create(role="scribe", defaults={"user": sam})
    return {"mi": mi, "candidate": candidate, "rule": rule}


def test_all_mi_models_are_registered() -> None:
    registered = {m._meta.model_name for m in admin.site._registry}
    assert set(MI_MODELS) <= registered


@pytest.mark.parametrize("model", MI_MODELS)
def test_changelist_add_and_change_pages_render(
    browser_for: Any, root: Any, world: dict[str, Any], model: str
) -> None:
    client = browser_for(root)
    assert client.get(f"/admin/incidents/{model}/").status_code == 200
    assert client.get(f"/admin/incidents/{model}/add/").status_code == (
        403 if model in NO_ADD else 200
    )
    from django.apps import apps

    pk = apps.get_model("incidents", model).objects.order_by("pk").values_list("pk", flat=True)[0]
    assert client.get(f"/admin/incidents/{model}/{pk}/change/").status_code == 200


def test_mi_admin_search_by_number_and_filters(
    browser_for: Any, root: Any, world: dict[str, Any]
) -> None:
    mi = world["mi"]
    client = browser_for(root)
    html = client.get(f"/admin/incidents/majorincident/?q={mi.number}").content.decode()
    assert mi.number in html and "0 results" not in html
    for query in ("status__exact=declared", "is_security__exact=0", "media_attention__exact=0"):
        assert client.get(f"/admin/incidents/majorincident/?{query}").status_code == 200


def test_mi_admin_edit_goes_through_the_service(
    browser_for: Any, root: Any, alice: Any, make_incident: Any, admin_form: Any
) -> None:
    """Status stays read-only; the descriptive fields are saved by update_major_incident: a
    timeline row per change, the incident's security flag with the MI's, and media attention
    drives its escalation (a plain .update() did none of it)."""
    mi = declare(make_incident(impact=2, urgency=2), alice)
    assert services.evaluate_escalations() == []
    client = browser_for(root)
    url = f"/admin/incidents/majorincident/{mi.pk}/change/"
    page = client.get(url)
    assert 'name="status"' not in page.content.decode()
    data = admin_form(page)
    data.update(
        {
            "status": "closed",
            "media_attention": "on",
            "is_security": "on",
            "summary": "Checkout down in the EU",
            "_save": "Save",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    mi.refresh_from_db()
    assert mi.status == MIStatus.DECLARED
    assert (mi.media_attention, mi.is_security, mi.summary) == (
        True,
        True,
        "Checkout down in the EU",
    )
    rows = TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.UPDATED)
    assert sorted(r.data["field"] for r in rows) == ["is_security", "media_attention", "summary"]
    assert {r.actor for r in rows} == {root}
    mi.incident.refresh_from_db()
    assert mi.incident.is_security is True
    fired = services.evaluate_escalations(now=timezone.now() + timedelta(minutes=1))
    assert [f.step.target_label for f in fired if f.step.policy.trigger == "media_attention"] == [
        "Communications lead"
    ]


def test_mi_admin_refusal_is_a_message_not_a_500(
    browser_for: Any, root: Any, world: dict[str, Any], admin_form: Any
) -> None:
    mi = world["mi"]
    client = browser_for(root)
    url = f"/admin/incidents/majorincident/{mi.pk}/change/"
    data = admin_form(client.get(url))
    force_status(mi, MIStatus.CANCELLED)  # cancelled meanwhile, by someone else
    data.update({"summary": "Too late", "_save": "Save"})
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert "what was declared is final" in response.content.decode()
    mi.refresh_from_db()
    assert mi.summary != "Too late"


def test_admin_add_declares_through_the_service(
    browser_for: Any, root: Any, alice: Any, make_incident: Any
) -> None:
    incident = make_incident(impact=2, urgency=2)
    response = browser_for(root).post(
        "/admin/incidents/majorincident/add/",
        {
            "incident": incident.pk,
            "major_incident_manager": alice.pk,
            "impact_statement": "Checkout down",
            "bridge_link": "",
            "summary": "",
        },
    )
    assert response.status_code == 302
    mi = MajorIncident.objects.get(incident=incident)
    assert selectors.current_commander(mi) == alice
    assert mi.problem is not None
    assert response.status_code == 302
    # A second declaration of the same incident is an error on the form, not a crash.
    again = browser_for(root).post(
        "/admin/incidents/majorincident/add/",
        {"incident": incident.pk, "major_incident_manager": alice.pk, "impact_statement": "x"},
    )
    assert again.status_code == 200
    assert MajorIncident.objects.count() == 1


def test_incident_action_declares_with_the_actor_as_ic(
    browser_for: Any, alice: Any, make_incident: Any
) -> None:
    first = make_incident(short_description="Login fails", impact=2, urgency=2)
    second = make_incident(short_description="Search down", impact=2, urgency=2)
    declare(second, alice)
    response = browser_for(alice).post(
        "/admin/incidents/incident/",
        {"action": "declare_major_incident", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    html = response.content.decode()
    mi = MajorIncident.objects.get(incident=first)
    assert mi.impact_statement == "Login fails"
    assert selectors.current_commander(mi) == alice
    assert f"{first.number}: declared" in html
    assert f"{second.number}: {second.number} already has major incident" in html


def test_incident_action_is_not_offered_to_technicians(browser_for: Any, tina: Any) -> None:
    tina.is_staff = True
    tina.save()
    html = browser_for(tina).get("/admin/incidents/incident/").content.decode()
    assert "declare_major_incident" not in html


def test_candidate_admin_actions(browser_for: Any, alice: Any, world: dict[str, Any]) -> None:
    candidate = world["candidate"]
    client = browser_for(alice)
    # Reject asks for a reason first.
    page = client.post(
        "/admin/incidents/majorincidentcandidate/",
        {"action": "reject_selected", "_selected_action": [candidate.pk]},
    )
    assert page.status_code == 200 and "Reason (required)" in page.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.PENDING
    client.post(
        "/admin/incidents/majorincidentcandidate/",
        {
            "action": "reject_selected",
            "_selected_action": [candidate.pk],
            "reason": "Planned work",
            "apply": "Reject",
        },
    )
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.REJECTED
    assert candidate.decision_reason == "Planned work"


def test_candidate_admin_accept(browser_for: Any, alice: Any, world: dict[str, Any]) -> None:
    candidate = world["candidate"]
    browser_for(alice).post(
        "/admin/incidents/majorincidentcandidate/",
        {"action": "accept_selected", "_selected_action": [candidate.pk]},
    )
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.ACCEPTED
    assert MajorIncident.objects.filter(incident=candidate.incident).exists()


def test_raci_matrix_renders(browser_for: Any, root: Any) -> None:
    response = browser_for(root).get("/admin/incidents/raciactivity/matrix/")
    assert response.status_code == 200
    html = response.content.decode()
    first = RaciActivity.objects.first()
    assert first is not None and first.name in html
    assert "Major incident manager (IC)" in html


def test_rules_changelist_is_editable_in_place(browser_for: Any, root: Any) -> None:
    html = browser_for(root).get("/admin/incidents/autodeclarationrule/").content.decode()
    assert 'name="form-0-order"' in html
    assert 'name="form-0-enabled"' in html
    assert 'name="form-0-action"' in html
    assert "/dry-run/" in html


# --- Dry run --------------------------------------------------------------------------------------


@pytest.fixture
def history(make_incident: Any, alice: Any) -> dict[str, Incident]:
    """Three days ago: a P1 nobody acknowledged for an hour; a P1 acknowledged at once; a P3.
    Twenty days ago: another unacknowledged P1, outside a 7-day window."""
    now = timezone.now()
    old_p1 = make_incident(short_description="Old unacked P1", impact=1, urgency=1)
    quick_p1 = make_incident(short_description="Quickly acked P1", impact=1, urgency=1)
    p3 = make_incident(short_description="Minor P3", impact=2, urgency=2)
    ancient = make_incident(short_description="Ancient P1", impact=1, urgency=1)
    services.acknowledge_incident(incident=quick_p1, actor=alice)
    three_days = now - timedelta(days=3)
    Incident.objects.filter(pk__in=[old_p1.pk, p3.pk]).update(created_at=three_days)
    Incident.objects.filter(pk=quick_p1.pk).update(
        created_at=three_days, acknowledged_at=three_days + timedelta(minutes=2)
    )
    Incident.objects.filter(pk=ancient.pk).update(created_at=now - timedelta(days=20))
    return {"old_p1": old_p1, "quick_p1": quick_p1, "p3": p3, "ancient": ancient}


def test_dry_run_lists_what_the_rule_would_have_declared(
    browser_for: Any, root: Any, history: dict[str, Incident]
) -> None:
    rule = AutoDeclarationRule.objects.get(unacknowledged_minutes_property__gt="")
    client = browser_for(root)
    response = client.get(f"/admin/incidents/autodeclarationrule/{rule.pk}/dry-run/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "last <strong>7</strong> days" in html
    assert history["old_p1"].number in html
    for other in ("quick_p1", "p3", "ancient"):
        assert history[other].number not in html
    assert not MajorIncident.objects.exists()  # nothing is written

    wide = client.get(f"/admin/incidents/autodeclarationrule/{rule.pk}/dry-run/?days=30")
    assert history["ancient"].number in wide.content.decode()


def test_dry_run_action_for_several_rules(
    browser_for: Any, root: Any, history: dict[str, Incident]
) -> None:
    rules = list(AutoDeclarationRule.objects.all())
    response = browser_for(root).post(
        "/admin/incidents/autodeclarationrule/",
        {"action": "dry_run_selected", "_selected_action": [r.pk for r in rules]},
    )
    assert response.status_code == 200
    html = response.content.decode()
    for rule in rules:
        assert rule.name in html
    assert history["old_p1"].number in html


def test_dry_run_unknown_rule_is_404(browser_for: Any, root: Any) -> None:
    assert (
        browser_for(root).get("/admin/incidents/autodeclarationrule/9999/dry-run/").status_code
        == 404
    )
