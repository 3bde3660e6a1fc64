# ruff: noqa: F811  (the fixtures imported from test_status_fixtures are pytest arguments)
"""The public status page: what it says during an MI's life, and what it never says."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time

from comms.models import UpdateType
from comms.selectors import status
from comms.services import post_public_postmortem, updates
from incidents import services
from incidents.models import MajorIncident, MIStatus, RaciRole
from tests.conftest import make_user
from tests.incidents.mi_fixtures import T0, force_status
from warroom.services.scratchpad import save_scratchpad
from warroom.services.timeline import post_to_timeline

from .test_status_fixtures import ENDPOINTS, Shop, get, get_json, outage, publish, shop  # noqa: F401

pytestmark = pytest.mark.django_db


def component(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in doc["components"] if c["name"] == name)


def test_all_operational_without_an_mi(shop: Shop) -> None:
    doc = get_json("/status/api/v2/summary.json")
    assert [c["name"] for c in doc["components"]] == ["Checkout", "Payroll"]
    assert {c["status"] for c in doc["components"]} == {"operational"}
    assert doc["incidents"] == []
    assert doc["status"] == {"indicator": "none", "description": "All Systems Operational"}


def test_only_business_services_are_components(shop: Shop) -> None:
    names = {c["name"] for c in get_json("/status/api/v2/components.json")["components"]}
    assert names == {"Checkout", "Payroll"}  # not checkout-app nor payments-db


def test_declared_p1_on_the_service_is_a_major_outage(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    mi = outage(shop.checkout)
    doc = get_json("/status/api/v2/summary.json")
    assert component(doc, "Checkout")["status"] == "major_outage"
    assert component(doc, "Payroll")["status"] == "operational"
    [incident] = doc["incidents"]
    assert incident["id"] == mi.number
    assert incident["status"] == "investigating"
    assert incident["impact"] == "critical"
    assert incident["name"] == "Service disruption: Checkout"
    assert [c["name"] for c in incident["components"]] == ["Checkout"]
    assert doc["status"] == {"indicator": "critical", "description": "Major System Outage"}


def test_p2_on_the_service_is_a_partial_outage(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    outage(shop.checkout, priority=2)
    doc = get_json("/status/api/v2/summary.json")
    assert component(doc, "Checkout")["status"] == "partial_outage"
    assert doc["incidents"][0]["impact"] == "major"
    assert doc["status"]["indicator"] == "major"


def test_an_outage_below_reaches_the_service_through_its_dependencies(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    outage(shop.db)
    doc = get_json("/status/api/v2/summary.json")
    assert component(doc, "Checkout")["status"] == "partial_outage"
    assert component(doc, "Payroll")["status"] == "operational"
    assert doc["incidents"][0]["components"][0]["name"] == "Checkout"


def test_a_p2_below_the_service_degrades_it(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    outage(shop.app, priority=2)
    assert component(get_json("/status/summary.json"), "Checkout")["status"] == (
        "degraded_performance"
    )


def test_the_worst_of_two_mis_wins(shop: Shop, outage: Callable[..., MajorIncident]) -> None:
    outage(shop.db)  # partial
    outage(shop.checkout, short_description="Checkout down too")  # major
    doc = get_json("/status/api/v2/components.json")
    assert component(doc, "Checkout")["status"] == "major_outage"


def test_the_life_of_an_mi(shop: Shop, outage: Callable[..., MajorIncident], alice: Any) -> None:
    with freeze_time(T0):
        mi = outage(shop.checkout)
    with freeze_time(T0 + timedelta(minutes=5)):
        first = publish(mi, alice, impact="Nobody can pay.")
    with freeze_time(T0 + timedelta(minutes=10)):
        services.transition_major_incident(mi=mi, to=MIStatus.IDENTIFIED, actor=alice)
    with freeze_time(T0 + timedelta(minutes=12)):
        second = publish(mi, alice, impact="Payments fail over.")
    with freeze_time(T0 + timedelta(minutes=20)):
        services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
        doc = get_json("/status/api/v2/incidents/unresolved.json")
        [incident] = doc["incidents"]
        assert incident["status"] == "monitoring"
        assert incident["monitoring_at"] == "2025-03-03T09:20:00.000Z"
        # Newest first, each with the incident's status when it was sent.
        assert [(u["id"], u["status"]) for u in incident["incident_updates"]] == [
            (str(second.pk), "identified"),
            (str(first.pk), "investigating"),
        ]
        assert incident["incident_updates"][0]["body"].startswith(
            "Current impact: Payments fail over.\nWhat we are doing: "
        )
        summary = get_json("/status/api/v2/summary.json")
        assert component(summary, "Checkout")["status"] == "degraded_performance"
    with freeze_time(T0 + timedelta(minutes=40)):
        services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
        summary = get_json("/status/api/v2/summary.json")
        assert summary["incidents"] == []
        assert component(summary, "Checkout")["status"] == "operational"
        [incident] = get_json("/status/api/v2/incidents.json")["incidents"]
        assert incident["status"] == "resolved"
        assert incident["resolved_at"] == "2025-03-03T09:40:00.000Z"
        ours = get_json("/status/summary.json")
        assert ours["incidents"] == []
        assert [i["id"] for i in ours["recent_incidents"]] == [mi.number]
    # A published review alone stays internal; the public postmortem makes it "postmortem".
    MajorIncident.objects.filter(pk=mi.pk).update(pir_published_at=T0 + timedelta(days=2))
    [incident] = get_json("/status/api/v2/incidents.json")["incidents"]
    assert incident["status"] == "resolved"
    with freeze_time(T0 + timedelta(days=2)):
        post_public_postmortem(mi=mi, text="A bad deploy; we added a canary.", actor=alice)
    [incident] = get_json("/status/api/v2/incidents.json")["incidents"]
    assert incident["status"] == "postmortem"
    assert incident["incident_updates"][0]["status"] == "postmortem"
    assert incident["incident_updates"][0]["body"].startswith(
        "Current impact: A bad deploy; we added a canary."
    )


def test_a_cancelled_mi_is_never_shown(shop: Shop, outage: Callable[..., MajorIncident]) -> None:
    mi = outage(shop.checkout)
    force_status(mi, MIStatus.CANCELLED, cancel_reason="declared in error")
    for path in ENDPOINTS:
        body = get(path).content.decode()
        assert mi.number not in body, path
    assert component(get_json("/status/summary.json"), "Checkout")["status"] == "operational"


def test_resolved_long_ago_leaves_the_page_but_stays_in_incidents_json(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    with freeze_time(T0):
        mi = outage(shop.checkout)
    force_status(mi, MIStatus.RESOLVED, resolved_at=T0 + timedelta(hours=1))
    with freeze_time(T0 + timedelta(days=8)):
        assert get_json("/status/summary.json")["recent_incidents"] == []
        assert mi.number not in get("/status/").content.decode()
        assert [i["id"] for i in get_json("/status/api/v2/incidents.json")["incidents"]] == [
            mi.number
        ]


def test_incidents_json_lists_the_50_most_recent_and_every_open_one(
    shop: Shop, outage: Callable[..., MajorIncident]
) -> None:
    with freeze_time(T0 - timedelta(days=30)):
        old_open = outage(shop.payroll, short_description="Payroll slow")
    for n in range(51):
        with freeze_time(T0 + timedelta(minutes=n)):
            mi = outage(shop.checkout, short_description=f"Checkout {n}")
        force_status(mi, MIStatus.RESOLVED, resolved_at=T0 + timedelta(minutes=n, seconds=30))
    listed = get_json("/status/api/v2/incidents.json")["incidents"]
    assert len(listed) == 50
    unresolved = get_json("/status/api/v2/incidents/unresolved.json")["incidents"]
    assert [i["id"] for i in unresolved] == [old_open.number]


def test_drafts_and_unsent_updates_never_show(
    shop: Shop, outage: Callable[..., MajorIncident], alice: Any
) -> None:
    mi = outage(shop.checkout)
    updates.create_update(
        mi=mi,
        actor=alice,
        update_type=UpdateType.STATUS_PAGE,
        current_impact="DRAFTWORD impact",
        current_action="acting",
        user_action="wait",
        next_update_at=timezone.now() + timedelta(minutes=30),
    )
    for path in ENDPOINTS:
        assert "DRAFTWORD" not in get(path).content.decode(), path


def test_internal_text_never_appears(
    shop: Shop, outage: Callable[..., MajorIncident], alice: Any
) -> None:
    """A command update, a note, the scratchpad, the summary and the impact statement carry a
    secret word; no endpoint shows it, though the public update sent afterwards is there."""
    mi = outage(
        shop.checkout,
        summary="ZEBRAWORD summary",
        initial_impact_statement="ZEBRAWORD impact statement",
        short_description="ZEBRAWORD short description",
    )
    post_to_timeline(
        mi=mi, actor=alice, body="ZEBRAWORD in the command update", kind="command_update"
    )
    post_to_timeline(mi=mi, actor=alice, body="ZEBRAWORD in a note", kind="note")
    save_scratchpad(mi=mi, actor=alice, text="ZEBRAWORD on the scratchpad", version=0)
    services.transition_major_incident(
        mi=mi, to=MIStatus.IDENTIFIED, actor=alice, reason="ZEBRAWORD reason"
    )
    publish(mi, alice, impact="Checkout is unavailable for everyone.")
    for path in ENDPOINTS:
        body = get(path).content.decode()
        assert "zebraword" not in body.lower(), path
    assert "Checkout is unavailable for everyone." in get("/status/").content.decode()


def test_user_text_is_escaped(shop: Shop, outage: Callable[..., MajorIncident], alice: Any) -> None:
    shop.payroll.name = "<script>alert('name')</script>"
    shop.payroll.save()
    mi = outage(shop.checkout)
    publish(mi, alice, impact="<img src=x onerror=alert(1)> & more")
    html = get("/status/").content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; more" in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html


def test_security_mi_shows_only_its_legal_approved_public_updates(
    shop: Shop, outage: Callable[..., MajorIncident], alice: Any, lee: Any
) -> None:
    mi = outage(
        shop.checkout,
        is_security=True,
        summary="Ransomware on SECRETHOST",
        initial_impact_statement="SECRETHOST encrypted",
    )
    # The automatic update of a security MI waits for legal: not on the page.
    waiting = updates.from_template(mi=mi, update_type=UpdateType.STATUS_PAGE)
    sent = publish(
        mi,
        alice,
        impact="Some users cannot use Checkout.",
        approver=lee,
    )
    doc = get_json("/status/api/v2/incidents/unresolved.json")
    [incident] = doc["incidents"]
    assert incident["name"] == "Service disruption: Checkout"
    assert [u["id"] for u in incident["incident_updates"]] == [str(sent.pk)]
    if waiting is not None:
        assert str(waiting.pk) not in {u["id"] for u in incident["incident_updates"]}
    for path in ENDPOINTS:
        assert "SECRETHOST" not in get(path).content.decode(), path


def test_non_public_update_types_stay_off_the_page(
    shop: Shop, outage: Callable[..., MajorIncident], alice: Any
) -> None:
    mi = outage(shop.checkout)
    sponsor = make_user("usr_sponsor", "technician")
    services.assign_role(mi=mi, actor=alice, role=RaciRole.EXECUTIVE_SPONSOR, user=sponsor)
    update = publish(mi, alice, impact="EXECWORD for the sponsor", update_type=UpdateType.EXECUTIVE)
    assert not update.is_public
    for path in ENDPOINTS:
        assert "EXECWORD" not in get(path).content.decode(), path


def test_impact_is_raised_by_wide_reach(shop: Shop, outage: Callable[..., MajorIncident]) -> None:
    shop.db.user_count = status.WIDE_IMPACT_USERS
    shop.db.save()
    outage(shop.db, priority=2)  # P2: major, one level worse for its reach
    assert get_json("/status/api/v2/summary.json")["incidents"][0]["impact"] == "critical"


def test_an_mi_without_an_affected_ci_still_shows(
    make_incident: Callable[..., Any], alice: Any, shop: Shop
) -> None:
    from tests.incidents.mi_fixtures import declare

    declare(make_incident(impact=1, urgency=1), alice)
    doc = get_json("/status/api/v2/summary.json")
    [incident] = doc["incidents"]
    assert incident["name"] == "Service disruption"
    assert incident["components"] == []
    assert doc["status"] == {"indicator": "critical", "description": "Major System Outage"}


def test_reach_survives_a_dependency_cycle(
    shop: Shop, outage: Callable[..., MajorIncident], make_ci: Callable[..., Any]
) -> None:
    from incidents.models import CIDependency

    # payments-db → checkout-app → payments-db: a cycle the walk must stop.
    CIDependency.objects.create(consumer=shop.db, provider=shop.app)
    make_ci("Online store", kind="business_service", depends_on=(shop.checkout,))
    outage(shop.app)
    doc = get_json("/status/api/v2/components.json")
    assert component(doc, "Checkout")["status"] == "partial_outage"
    assert component(doc, "Online store")["status"] == "partial_outage"
    assert component(doc, "Payroll")["status"] == "operational"


def test_reached_of_kind_answers_for_many_roots_at_once(shop: Shop) -> None:
    from incidents.selectors import cmdb

    reached = cmdb.reached_of_kind(
        [shop.db.pk, shop.app.pk, shop.checkout.pk, shop.payroll.pk], "business_service"
    )
    assert reached == {
        shop.db.pk: {shop.checkout.pk},
        shop.app.pk: {shop.checkout.pk},
        shop.checkout.pk: {shop.checkout.pk},
        shop.payroll.pk: {shop.payroll.pk},
    }
    assert cmdb.reached_of_kind([], "business_service") == {}
