"""Paging through Opsgenie's Alert API, against a local stub: create with the MI's alias, a
note for each escalation step, acknowledge and close by alias, the request id recorded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from comms import services
from comms.models import OutboxMessage, OutboxStatus
from incidents import services as incident_services
from incidents.models import MajorIncident, MIStatus, TimelineEntry, TimelineKind
from tests.comms.paging_fixtures import (  # noqa: F401
    GENIE_KEY,
    OG_ROOT,
    opsgenie_fixture,
    paged_mi_fixture,
)
from tests.incidents.mi_fixtures import declare, force_status
from tests.stub_http import Reply, StubServer

pytestmark = pytest.mark.django_db

ALERTS = OG_ROOT + "/v2/alerts"


def test_declaration_creates_an_alert_with_the_mis_alias(
    opsgenie: StubServer, paged_mi: MajorIncident
) -> None:
    mi = paged_mi
    (create,) = opsgenie.requests
    assert (create.method, create.path, create.query) == ("POST", ALERTS, {})
    assert create.headers["authorization"] == f"GenieKey {GENIE_KEY}"
    body = create.json()
    assert body["alias"] == f"mimdesk-{mi.number}"
    assert body["message"] == f"{mi.number} (P1): {mi.incident.short_description}"
    assert body["priority"] == "P1"
    assert body["description"] == "Checkout down for every customer"
    assert body["source"] == "MIM Desk"
    assert body["tags"] == ["mimdesk", "major-incident", "P1"]
    assert body["details"]["major_incident"] == mi.number
    assert all(isinstance(v, str) for v in body["details"].values())
    row = OutboxMessage.objects.get(idempotency_key=f"page:opsgenie:{mi.number}:trigger:1")
    # Opsgenie works asynchronously: its request id is what the request is looked up by.
    assert (row.status, row.provider_message_id) == (OutboxStatus.SENT, "req-1")
    paged = TimelineEntry.objects.get(major_incident=mi, kind=TimelineKind.PAGED)
    assert paged.data["provider_id"] == "req-1"


def test_the_message_is_cut_to_130_characters(
    opsgenie: StubServer, make_incident: Any, alice: Any, committed: Any
) -> None:
    with committed():
        declare(make_incident(impact=1, urgency=1, short_description="x" * 200), alice)
    assert len(opsgenie.requests[0].json()["message"]) == 130


def test_escalation_adds_a_note_then_acknowledge_and_close_by_alias(
    opsgenie: StubServer, paged_mi: MajorIncident, alice: Any, committed: Any
) -> None:
    mi = paged_mi
    MajorIncident.objects.filter(pk=mi.pk).update(media_attention=True)
    with committed():
        incident_services.evaluate_escalations(now=mi.declared_at + timedelta(minutes=1))
    with committed():
        mi = incident_services.transition_major_incident(
            mi=mi, to=MIStatus.INVESTIGATING, actor=alice
        )
    force_status(mi, MIStatus.MONITORING, monitoring_started_at=mi.declared_at)
    with freeze_time(mi.declared_at + timedelta(minutes=30)), committed():
        incident_services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=alice)
    alias = f"mimdesk-{mi.number}"
    _, note, ack, close = opsgenie.requests
    assert [(r.path, r.query) for r in (note, ack, close)] == [
        (f"{ALERTS}/{alias}/notes", {"identifierType": ["alias"]}),
        (f"{ALERTS}/{alias}/acknowledge", {"identifierType": ["alias"]}),
        (f"{ALERTS}/{alias}/close", {"identifierType": ["alias"]}),
    ]
    assert "escalation step 1, to Communications lead" in note.json()["note"]
    assert ack.json()["source"] == "MIM Desk"
    assert (
        OutboxMessage.objects.filter(
            major_incident=mi, channel="opsgenie", status=OutboxStatus.SENT
        ).count()
        == 4
    )


def test_a_422_is_dead_and_a_429_is_retried(
    opsgenie: StubServer, p1: Any, alice: Any, committed: Any
) -> None:
    opsgenie.script(ALERTS, Reply(429, {"message": "rate limited"}, headers={"Retry-After": "5"}))
    with freeze_time("2025-03-03 09:00:00") as frozen:
        with committed():
            mi = declare(p1, alice)
        row = OutboxMessage.objects.get(major_incident=mi, channel="opsgenie")
        assert row.status == OutboxStatus.FAILED
        frozen.move_to(row.next_attempt_at + timedelta(seconds=1))
        with committed():
            services.redrive()
        row.refresh_from_db()
        assert row.status == OutboxStatus.SENT and len(opsgenie.to(ALERTS)) == 2

        opsgenie.script(f"{ALERTS}/mimdesk-{mi.number}/acknowledge", Reply(422, {"message": "bad"}))
        with committed():
            incident_services.transition_major_incident(
                mi=mi, to=MIStatus.INVESTIGATING, actor=alice
            )
    ack = OutboxMessage.objects.get(idempotency_key=f"page:opsgenie:{mi.number}:acknowledge:1")
    assert ack.status == OutboxStatus.DEAD and "HTTP 422" in ack.last_error
