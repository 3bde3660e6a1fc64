"""Paging through PagerDuty's Events API v2, against a local stub: the shapes of trigger,
acknowledge and resolve, one dedup_key per MI, the escalation re-trigger, a 429 retried into
exactly one accepted trigger, a 400 dead and visible."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from comms import services
from comms.channels import pagerduty as pagerduty_channel
from comms.models import DeliveryAttempt, ExternalRecord, OutboxMessage, OutboxStatus
from comms.selectors import messages
from incidents import services as incident_services
from incidents.models import (
    Incident,
    MajorIncident,
    MIStatus,
    TimelineEntry,
    TimelineKind,
)
from tests.comms.paging_fixtures import (  # noqa: F401
    PD_PATH,
    ROUTING_KEY,
    paged_mi_fixture,
    pagerduty_fixture,
)
from tests.incidents.mi_fixtures import declare, force_status
from tests.stub_http import Reply, StubServer

pytestmark = pytest.mark.django_db


def _events(stub: StubServer) -> list[dict[str, Any]]:
    return [r.json() for r in stub.to(PD_PATH)]


def _paged_rows(mi: MajorIncident) -> list[TimelineEntry]:
    return list(
        TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.PAGED).order_by("id")
    )


def _move(mi: MajorIncident, to: str, actor: Any, committed: Any, **kw: Any) -> MajorIncident:
    with committed():
        return incident_services.transition_major_incident(mi=mi, to=to, actor=actor, **kw)


def test_declaration_triggers_one_page_with_the_events_api_v2_shape(
    pagerduty: StubServer, paged_mi: MajorIncident
) -> None:
    mi = paged_mi
    (event,) = _events(pagerduty)
    key = f"mimdesk-{mi.number}"
    url = messages.war_room_url(mi)
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == key
    payload = event["payload"]
    assert payload["summary"] == f"{mi.number} (P1): {mi.incident.short_description}"
    assert payload["severity"] == "critical"
    assert payload["source"] == "mimdesk"
    assert payload["class"] == "major_incident"
    assert payload["timestamp"] == mi.declared_at.isoformat()
    assert payload["custom_details"]["major_incident"] == mi.number
    assert payload["custom_details"]["incident"] == mi.incident.number
    assert payload["custom_details"]["impact"] == "Checkout down for every customer"
    assert event["links"] == [{"href": url, "text": f"War room of {mi.number}"}]
    assert (event["client"], event["client_url"]) == ("MIM Desk", url)

    row = OutboxMessage.objects.get(idempotency_key=f"page:pagerduty:{mi.number}:trigger:1")
    assert (row.status, row.purpose, row.provider_message_id) == ("sent", "page_trigger", key)
    record = ExternalRecord.objects.get(major_incident=mi, channel="pagerduty")
    assert record.external_id == key
    (paged,) = _paged_rows(mi)
    assert paged.data["event"] == "trigger" and paged.data["channel"] == "pagerduty"
    assert paged.message == f"PagerDuty: paged for {mi.number}"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [(1, "critical"), (2, "error"), (3, "warning"), (4, "info"), (5, "info"), (None, "critical")],
)
def test_severity_follows_priority(priority: int | None, severity: str) -> None:
    # Declaring makes the incident P1, so the lower priorities are the mapping's alone.
    payload = {"event": "trigger", "dedup_key": "mimdesk-MI0000001", "mi": {"priority": priority}}
    assert pagerduty_channel.event_for(payload, "rk")["payload"]["severity"] == severity


def test_acknowledge_then_resolve_carry_the_same_key_and_nothing_else(
    pagerduty: StubServer, paged_mi: MajorIncident, alice: Any, committed: Any
) -> None:
    mi = _move(paged_mi, MIStatus.INVESTIGATING, alice, committed)
    mi = _move(mi, MIStatus.IDENTIFIED, alice, committed)  # still acknowledged: no second one
    force_status(mi, MIStatus.MONITORING, monitoring_started_at=mi.declared_at)
    with freeze_time(mi.declared_at + timedelta(minutes=30)):
        mi = _move(mi, MIStatus.RESOLVED, alice, committed)
    key = f"mimdesk-{mi.number}"
    assert _events(pagerduty)[1:] == [
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": key},
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key},
    ]
    assert [r.data["event"] for r in _paged_rows(mi)] == ["trigger", "acknowledge", "resolve"]


def test_a_signal_sent_twice_pages_once(pagerduty: StubServer, paged_mi: MajorIncident) -> None:
    with freeze_time(paged_mi.declared_at + timedelta(seconds=5)):
        assert services.paging.major_incident_declared(paged_mi.pk) == []
    assert len(pagerduty.to(PD_PATH)) == 1
    assert OutboxMessage.objects.filter(major_incident=paged_mi, channel="pagerduty").count() == 1


def test_each_escalation_step_triggers_again_under_the_same_key(
    pagerduty: StubServer, paged_mi: MajorIncident, committed: Any
) -> None:
    # The seeded media-attention policy: communications lead at once, PR after 15 minutes.
    MajorIncident.objects.filter(pk=paged_mi.pk).update(media_attention=True)
    start = paged_mi.declared_at + timedelta(minutes=1)
    with committed():
        incident_services.evaluate_escalations(now=start)
    with committed():
        incident_services.evaluate_escalations(now=start + timedelta(minutes=16))
    with committed():  # nothing new is due: nothing more is paged
        incident_services.evaluate_escalations(now=start + timedelta(minutes=17))
    trigger, first, second = _events(pagerduty)
    key = f"mimdesk-{paged_mi.number}"
    assert {e["dedup_key"] for e in (trigger, first, second)} == {key}
    assert first["event_action"] == second["event_action"] == "trigger"
    assert first["payload"]["custom_details"]["escalation_step"] == 1
    assert first["payload"]["custom_details"]["escalation_target"] == "Communications lead"
    assert "media attention" in first["payload"]["custom_details"]["escalation_reason"]
    assert second["payload"]["custom_details"]["escalation_target"] == "PR"
    assert [r.data["event"] for r in _paged_rows(paged_mi)] == [
        "trigger",
        "escalation",
        "escalation",
    ]


def test_a_reopened_mi_is_paged_again_and_acknowledged_when_worked(
    pagerduty: StubServer, paged_mi: MajorIncident, alice: Any, committed: Any
) -> None:
    mi = force_status(paged_mi, MIStatus.MONITORING, monitoring_started_at=paged_mi.declared_at)
    with freeze_time(mi.declared_at + timedelta(minutes=30)):
        mi = _move(mi, MIStatus.RESOLVED, alice, committed)
        mi = _move(mi, MIStatus.INVESTIGATING, alice, committed)
        mi = _move(mi, MIStatus.IDENTIFIED, alice, committed)
    actions = [e["event_action"] for e in _events(pagerduty)]
    assert actions == ["trigger", "resolve", "trigger", "acknowledge"]
    keys = set(
        OutboxMessage.objects.filter(major_incident=mi).values_list("idempotency_key", flat=True)
    )
    assert {
        f"page:pagerduty:{mi.number}:trigger:1",
        f"page:pagerduty:{mi.number}:resolve:1",
        f"page:pagerduty:{mi.number}:trigger:2",
        f"page:pagerduty:{mi.number}:acknowledge:2",
    } <= keys
    assert {e["dedup_key"] for e in _events(pagerduty)} == {f"mimdesk-{mi.number}"}


def test_a_429_then_success_is_exactly_one_accepted_trigger(
    pagerduty: StubServer, p1: Incident, alice: Any, committed: Any
) -> None:
    pagerduty.script(PD_PATH, Reply(429, {"status": "throttled"}, headers={"Retry-After": "20"}))
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            mi = declare(p1, alice)
        row = OutboxMessage.objects.get(major_incident=mi, channel="pagerduty")
        assert row.status == OutboxStatus.FAILED
        assert _paged_rows(mi) == []  # not paged yet: nothing in the timeline
        frozen.move_to(row.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
    row.refresh_from_db()
    assert len(pagerduty.to(PD_PATH)) == 2
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    outcomes = DeliveryAttempt.objects.filter(message=row).order_by("number")
    assert [a.outcome for a in outcomes] == ["temporary", "sent"]
    assert outcomes[0].retry_after == 20
    assert len(_paged_rows(mi)) == 1
    with committed():  # the re-drive again: the sent page stays sent, nothing goes out
        services.redrive()
    assert len(pagerduty.to(PD_PATH)) == 2


def test_a_400_invalid_event_is_dead_and_visible(
    pagerduty: StubServer, p1: Incident, alice: Any, committed: Any
) -> None:
    pagerduty.script(
        PD_PATH,
        Reply(400, {"status": "invalid event", "message": "Event object is invalid"}),
    )
    with committed():
        mi = declare(p1, alice)
    row = OutboxMessage.objects.get(major_incident=mi, channel="pagerduty")
    assert row.status == OutboxStatus.DEAD
    assert "HTTP 400" in row.last_error and "invalid event" in row.last_error
    assert DeliveryAttempt.objects.get(message=row).outcome == "permanent"
    assert _paged_rows(mi) == []


def test_a_5xx_is_retried(pagerduty: StubServer, p1: Incident, alice: Any, committed: Any) -> None:
    pagerduty.script(PD_PATH, Reply(503, "unavailable"))
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            mi = declare(p1, alice)
        row = OutboxMessage.objects.get(major_incident=mi, channel="pagerduty")
        assert row.status == OutboxStatus.FAILED and "HTTP 503" in row.last_error
        frozen.move_to(row.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT
