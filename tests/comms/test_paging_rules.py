"""The paging rules, whichever provider: a later page waits for the trigger before it, a
security MI's page says no more than its number and priority, paging is off when unset."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from comms import channels, services
from comms.models import DeliveryAttempt, OutboxMessage, OutboxStatus
from incidents import services as incident_services
from incidents.models import (
    CIKind,
    ConfigurationItem,
    Incident,
    MajorIncident,
    MIStatus,
    TimelineEntry,
    TimelineKind,
)
from tests.comms.paging_fixtures import (  # noqa: F401
    GENIE_KEY,
    OG_ROOT,
    PD_PATH,
    ROUTING_KEY,
    opsgenie_fixture,
    pagerduty_answer,
    pagerduty_fixture,
)
from tests.incidents.mi_fixtures import declare
from tests.stub_http import Recorded, Reply, StubServer

pytestmark = pytest.mark.django_db


def _page(mi: MajorIncident, event: str, n: int = 1) -> OutboxMessage:
    return OutboxMessage.objects.get(idempotency_key=f"page:pagerduty:{mi.number}:{event}:{n}")


def test_an_acknowledge_waits_while_its_trigger_fails_and_follows_it_at_once(
    pagerduty: StubServer, p1: Incident, alice: Any, committed: Any
) -> None:
    pagerduty.script(PD_PATH, Reply(500, "down"), Reply(502, "down"))
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            mi = declare(p1, alice)
        with committed():
            mi = incident_services.transition_major_incident(
                mi=mi, to=MIStatus.INVESTIGATING, actor=alice
            )
        trigger, ack = _page(mi, "trigger"), _page(mi, "acknowledge")
        assert trigger.status == OutboxStatus.FAILED
        # The acknowledge was handed back untried: no request, no attempt counted.
        assert (ack.status, ack.attempts) == (OutboxStatus.PENDING, 0)
        assert f"waiting for outbox message {trigger.pk}" in ack.last_error
        assert ack.next_attempt_at > trigger.next_attempt_at
        assert not DeliveryAttempt.objects.filter(message=ack).exists()
        assert len(pagerduty.to(PD_PATH)) == 1

        # The re-drive before the trigger is due again sends neither.
        with committed():
            services.redrive()
        assert len(pagerduty.to(PD_PATH)) == 1

        trigger.refresh_from_db()
        frozen.move_to(trigger.next_attempt_at + timedelta(seconds=0.5))
        with committed():
            services.deliver([trigger.pk])  # fails again (502)
        trigger.refresh_from_db()
        frozen.move_to(trigger.next_attempt_at + timedelta(seconds=0.5))
        with committed():
            services.deliver([trigger.pk])  # accepted: the acknowledge follows in the same breath
    actions = [r.json()["event_action"] for r in pagerduty.to(PD_PATH)]
    assert actions == ["trigger", "trigger", "trigger", "acknowledge"]
    ack.refresh_from_db()
    assert (ack.status, ack.attempts) == (OutboxStatus.SENT, 1)
    paged = TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.PAGED)
    assert [p.data["event"] for p in paged.order_by("id")] == ["trigger", "acknowledge"]


def test_a_dead_trigger_lets_the_pages_after_it_go(
    pagerduty: StubServer, p1: Incident, alice: Any, committed: Any
) -> None:
    pagerduty.script(PD_PATH, Reply(500, "down"))
    with freeze_time("2025-03-03 09:00:00"):
        with committed():
            mi = declare(p1, alice)
        with committed():
            mi = incident_services.transition_major_incident(
                mi=mi, to=MIStatus.INVESTIGATING, actor=alice
            )
        pagerduty.script(PD_PATH, Reply(400, {"status": "invalid event"}))
        trigger = _page(mi, "trigger")
        with freeze_time(trigger.next_attempt_at + timedelta(seconds=1)), committed():
            services.deliver([trigger.pk])
    assert _page(mi, "trigger").status == OutboxStatus.DEAD
    # Waiting on a dead trigger cannot help: the acknowledge is released and goes.
    assert _page(mi, "acknowledge").status == OutboxStatus.SENT


def test_pages_of_two_mis_do_not_wait_for_each_other(
    pagerduty: StubServer, make_incident: Any, alice: Any, committed: Any
) -> None:
    failing: set[str] = set()

    def fail_first_mi(request: Recorded) -> Reply:
        body = request.json()
        if "First outage" in (body.get("payload") or {}).get("summary", ""):
            failing.add(body["dedup_key"])
        return Reply(500) if body["dedup_key"] in failing else pagerduty_answer(request)

    pagerduty.handler = fail_first_mi
    with committed():
        first = declare(make_incident(impact=1, urgency=1, short_description="First outage"), alice)
    assert failing == {f"mimdesk-{first.number}"}
    with committed():
        first = incident_services.transition_major_incident(
            mi=first, to=MIStatus.INVESTIGATING, actor=alice
        )
    with committed():
        second = declare(make_incident(impact=1, urgency=1), alice)
    with committed():
        incident_services.transition_major_incident(
            mi=second, to=MIStatus.INVESTIGATING, actor=alice
        )
    assert _page(first, "trigger").status == OutboxStatus.FAILED
    assert _page(first, "acknowledge").status == OutboxStatus.PENDING  # waits for its trigger
    assert _page(second, "trigger").status == OutboxStatus.SENT
    assert _page(second, "acknowledge").status == OutboxStatus.SENT


@pytest.fixture
def secret_mi(
    pagerduty: StubServer, settings: Any, p1: Incident, alice: Any, committed: Any
) -> Any:
    settings.OPSGENIE_API_KEY = GENIE_KEY
    settings.OPSGENIE_API_URL = pagerduty.url + OG_ROOT
    ci = ConfigurationItem.objects.create(
        name="HR payroll", kind=CIKind.APPLICATION, owner_group="hr-apps"
    )
    Incident.objects.filter(pk=p1.pk).update(
        affected_ci=ci, short_description="Payroll records exfiltrated by ex-employee"
    )
    p1.refresh_from_db()
    with committed():
        mi = declare(
            p1, alice, is_security=True, initial_impact_statement="Salaries of 4,000 staff leaked"
        )
    MajorIncident.objects.filter(pk=mi.pk).update(media_attention=True)
    with committed():
        incident_services.evaluate_escalations(now=mi.declared_at + timedelta(minutes=1))
    return mi


def test_a_security_mi_is_paged_with_its_number_and_priority_only(
    secret_mi: MajorIncident, pagerduty: StubServer
) -> None:
    mi = secret_mi
    assert len(pagerduty.requests) >= 4  # trigger + escalations, on both providers
    for request in pagerduty.requests:
        text = json.dumps(request.json())
        for secret in ("Payroll", "exfiltrated", "Salaries", "HR payroll", "hr-apps", "Security"):
            assert secret not in text, (request.path, secret)
    trigger = next(r.json() for r in pagerduty.to(PD_PATH) if r.json()["event_action"] == "trigger")
    assert trigger["payload"]["summary"] == f"{mi.number}: security major incident (P1)"
    assert trigger["payload"]["custom_details"] == {"major_incident": mi.number, "priority": "P1"}
    assert "component" not in trigger["payload"] and "group" not in trigger["payload"]
    create = next(r.json() for r in pagerduty.to(OG_ROOT + "/v2/alerts"))
    assert create["message"] == f"{mi.number}: security major incident (P1)"
    assert create["details"] == {"major_incident": mi.number, "priority": "P1"}
    assert "entity" not in create


def test_a_security_mis_escalation_names_the_step_only(
    secret_mi: MajorIncident, pagerduty: StubServer
) -> None:
    notes = [r for r in pagerduty.requests if r.path.endswith("/notes")]
    assert notes, "the escalation steps reach Opsgenie as notes"
    for note in notes:
        assert note.json()["note"].startswith(f"{secret_mi.number}: escalation step ")
    retriggers = [
        r.json()
        for r in pagerduty.to(PD_PATH)
        if r.json()["payload"]["custom_details"].get("escalation_step")
    ]
    assert retriggers
    for event in retriggers:
        assert set(event["payload"]["custom_details"]) == {
            "major_incident",
            "priority",
            "escalation_step",
        }


def test_paging_is_off_when_unset_and_the_admin_says_why(
    settings: Any, p1: Incident, alice: Any, committed: Any, stub: StubServer
) -> None:
    settings.PAGERDUTY_ROUTING_KEY = ""
    settings.OPSGENIE_API_KEY = ""
    with committed():
        mi = declare(p1, alice)
    with committed():
        incident_services.transition_major_incident(mi=mi, to=MIStatus.INVESTIGATING, actor=alice)
    assert not OutboxMessage.objects.filter(purpose__startswith="page_").exists()
    assert not TimelineEntry.objects.filter(kind=TimelineKind.PAGED).exists()
    reasons = channels.off_reasons()
    assert reasons["pagerduty"] == "PAGERDUTY_ROUTING_KEY is unset"
    assert reasons["opsgenie"] == "OPSGENIE_API_KEY is unset"
    assert stub.requests == []


def test_the_admin_channel_list_shows_paging_on_when_set(settings: Any) -> None:
    settings.PAGERDUTY_ROUTING_KEY = ROUTING_KEY
    settings.OPSGENIE_API_KEY = GENIE_KEY
    channels.reset()
    reasons = channels.off_reasons()
    assert (reasons["pagerduty"], reasons["opsgenie"]) == ("", "")


def test_a_page_switched_off_after_it_was_queued_is_dead_with_the_reason(
    pagerduty: StubServer, settings: Any, p1: Incident, alice: Any, committed: Any
) -> None:
    pagerduty.script(PD_PATH, Reply(503))
    with freeze_time("2025-03-03 09:00:00"):
        with committed():
            mi = declare(p1, alice)
        settings.PAGERDUTY_ROUTING_KEY = ""
        channels.reset()
        trigger = _page(mi, "trigger")
        with freeze_time(trigger.next_attempt_at + timedelta(seconds=1)), committed():
            services.deliver([trigger.pk])
    trigger.refresh_from_db()
    assert trigger.status == OutboxStatus.DEAD
    assert "PAGERDUTY_ROUTING_KEY is unset" in trigger.last_error


def test_a_cancelled_mi_resolves_its_page(
    pagerduty: StubServer, p1: Incident, alice: Any, committed: Any
) -> None:
    with committed():
        mi = declare(p1, alice)
    with committed():
        incident_services.transition_major_incident(
            mi=mi, to=MIStatus.CANCELLED, actor=alice, reason="declared in error"
        )
    assert [r.json()["event_action"] for r in pagerduty.to(PD_PATH)] == ["trigger", "resolve"]


def test_an_mi_declared_while_paging_was_off_is_not_acknowledged_later(
    pagerduty: StubServer, settings: Any, p1: Incident, alice: Any, committed: Any
) -> None:
    settings.PAGERDUTY_ROUTING_KEY = ""
    channels.reset()
    with committed():
        mi = declare(p1, alice)
    settings.PAGERDUTY_ROUTING_KEY = ROUTING_KEY
    channels.reset()
    with committed():
        incident_services.transition_major_incident(mi=mi, to=MIStatus.INVESTIGATING, actor=alice)
    assert pagerduty.requests == []
