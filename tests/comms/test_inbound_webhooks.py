"""Monitoring webhooks in: each source's authentication, one incident per dedup key, repeats,
recovery, label rules, malformed payloads kept, and the tools' own shapes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time

from comms.models import Alert, AlertGroup, InboundEvent, InboundSource, LabelRule
from incidents.models import Incident, MajorIncident, TimelineEntry, TimelineKind
from tests.comms.inbound_fixtures import (
    alertmanager,
    am_alert,
    grafana_signature,
    post,
    source,
)
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def am() -> tuple[InboundSource, str]:
    return source("alertmanager", "prometheus-prod")


def test_a_firing_group_opens_one_incident_and_a_repeat_updates_it(client: Client, am) -> None:
    _, token = am
    first = post(client, "alertmanager", alertmanager(), token)
    assert first.status_code == 202, first.content
    assert first.json()["outcome"] == "created"
    incident = Incident.objects.get()
    assert incident.channel == "monitoring"
    assert incident.short_description == "Checkout error rate above 5%"
    again = post(client, "alertmanager", alertmanager(), token)
    assert again.json() == {**again.json(), "outcome": "updated", "incident": incident.number}
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 1
    group = AlertGroup.objects.get()
    assert group.notifications == 2 and group.incident == incident
    assert InboundEvent.objects.count() == 2


def test_a_new_alert_in_the_group_is_added_and_written_on_the_timeline(client, am) -> None:
    _, token = am
    post(client, "alertmanager", alertmanager(), token)
    two = [am_alert(), am_alert(instance="web-2")]
    response = post(client, "alertmanager", alertmanager(alerts=two), token)
    assert response.json()["outcome"] == "updated"
    assert Alert.objects.count() == 2
    incident = Incident.objects.get()
    rows = TimelineEntry.objects.filter(incident=incident, kind=TimelineKind.ALERT)
    assert any("1 more alert" in r.message for r in rows)


def test_resolved_resolves_the_incident(client, am) -> None:
    _, token = am
    post(client, "alertmanager", alertmanager(), token)
    response = post(client, "alertmanager", alertmanager(status="resolved"), token)
    assert response.json()["outcome"] == "resolved"
    incident = Incident.objects.get()
    assert incident.state == "resolved"
    assert "monitoring reports recovery" in incident.resolution_notes
    assert AlertGroup.objects.get().status == "resolved"


def test_firing_again_after_resolution_opens_a_new_incident(client, am) -> None:
    _, token = am
    post(client, "alertmanager", alertmanager(), token)
    post(client, "alertmanager", alertmanager(status="resolved"), token)
    response = post(client, "alertmanager", alertmanager(), token)
    assert response.json()["outcome"] == "created"
    assert Incident.objects.count() == 2
    assert AlertGroup.objects.count() == 1


def test_a_resolved_notification_for_an_unknown_key_is_ignored(client, am) -> None:
    _, token = am
    response = post(client, "alertmanager", alertmanager(status="resolved"), token)
    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert not Incident.objects.exists()


def test_recovery_of_an_mi_is_noted_not_resolved(client, am, alice) -> None:
    _, token = am
    post(client, "alertmanager", alertmanager(), token)
    incident = Incident.objects.get()
    mi = declare(incident, alice)
    response = post(client, "alertmanager", alertmanager(status="resolved"), token)
    assert response.json()["outcome"] == "noted"
    incident.refresh_from_db()
    assert incident.state != "resolved"
    row = TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.ALERT).last()
    assert row is not None and "monitoring reports recovery" in row.message
    assert MajorIncident.objects.get(pk=mi.pk).is_open


def test_an_alert_on_an_open_mis_ci_is_linked_as_its_child(
    client, am, alice, make_ci, make_incident
) -> None:
    _, token = am
    ci = make_ci("Checkout", users=500)
    mi = declare(make_incident(affected_ci=ci, impact=1, urgency=1), alice)
    LabelRule.objects.create(name="checkout", label="service", pattern="checkout", ci=ci)
    post(client, "alertmanager", alertmanager(), token)
    child = Incident.objects.exclude(pk=mi.incident_id).get()
    assert child.affected_ci == ci
    assert child.parent_id == mi.incident_id


def test_label_rules_place_the_incident_first_rule_per_attribute(client, am, make_ci) -> None:
    _, token = am
    payments = make_ci("Payments", users=10)
    other = make_ci("Other", users=1)
    LabelRule.objects.create(
        name="svc", order=1, label="service", pattern="check.*", ci=payments, impact=1
    )
    LabelRule.objects.create(
        name="later", order=2, label="service", pattern=".*", ci=other, impact=3, urgency=1
    )
    LabelRule.objects.create(
        name="other source", order=0, label="service", pattern=".*", urgency=3,
        source=InboundSource.objects.create(kind="webhook", name="x", secret="s"),
    )  # fmt: skip
    post(client, "alertmanager", alertmanager(), token)
    incident = Incident.objects.get()
    assert (incident.affected_ci, incident.impact, incident.urgency) == (payments, 1, 1)
    assert incident.priority == 1


def test_source_defaults_fill_what_no_rule_sets(client, make_ci) -> None:
    ci = make_ci("Search")
    _, token = source("alertmanager", "am2", default_ci=ci, default_impact=3, default_urgency=2)
    post(client, "alertmanager", alertmanager(), token)
    incident = Incident.objects.get()
    assert (incident.affected_ci, incident.impact, incident.urgency, incident.priority) == (
        ci, 3, 2, 4,
    )  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong"}, {"authorization": "Basic dXNlcjpwdw=="}],
    ids=["none", "wrong", "basic"],
)
def test_a_bad_token_is_401_and_stores_nothing(client, am, headers) -> None:
    response = post(client, "alertmanager", alertmanager(), **headers)
    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert not InboundEvent.objects.exists() and not Incident.objects.exists()


def test_another_kinds_token_and_a_disabled_source_are_refused(client, am) -> None:
    _, webhook_token = source("webhook")
    assert post(client, "alertmanager", alertmanager(), webhook_token).status_code == 401
    src, token = am
    InboundSource.objects.filter(pk=src.pk).update(enabled=False)
    assert post(client, "alertmanager", alertmanager(), token).status_code == 401
    assert not InboundEvent.objects.exists()


def test_a_rotated_secret_stops_the_old_token(client, am) -> None:
    from comms.services import inbound

    src, token = am
    new = inbound.rotate_secret(source=src, actor=None)
    assert post(client, "alertmanager", alertmanager(), token).status_code == 401
    assert post(client, "alertmanager", alertmanager(), new).status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", ""),
        ("[]", ""),
        (
            json.dumps({"version": "3", "groupKey": "g", "status": "firing", "alerts": []}),
            "version",
        ),
        (json.dumps({"version": "4", "status": "firing", "alerts": []}), "groupKey"),
        (
            json.dumps({"version": "4", "groupKey": "g", "status": "burning", "alerts": []}),
            "status",
        ),
        (json.dumps({"version": "4", "groupKey": "g", "status": "firing", "alerts": {}}), "alerts"),
        (
            json.dumps(
                {
                    "version": "4",
                    "groupKey": "g",
                    "status": "firing",
                    "alerts": [{"labels": {"a": {"deep": 1}}}],
                }
            ),
            "alerts.0.labels.a",
        ),
        (
            json.dumps(
                {
                    "version": "4",
                    "groupKey": "g",
                    "status": "firing",
                    "alerts": [{"startsAt": "yesterday"}],
                }
            ),
            "alerts.0.startsAt",
        ),
        ("[" * 5000 + "]" * 5000, ""),
        (
            json.dumps(
                {"version": "4", "groupKey": "g" * 20_000, "status": "firing", "alerts": []}
            ),
            "groupKey",
        ),
        ("\udcff".encode("utf-8", "surrogatepass"), ""),
    ],
    ids=[
        "not-json",
        "not-object",
        "version",
        "no-key",
        "status",
        "alerts-type",
        "nested-label",
        "bad-time",
        "deep",
        "long-key",
        "bad-utf8",
    ],
)
def test_a_malformed_payload_is_400_naming_the_field_and_kept(client, am, body, field) -> None:
    _, token = am
    response = post(client, "alertmanager", body, token)
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["field"] == (field or None)
    event = InboundEvent.objects.get(pk=data["event"])
    assert event.outcome == "malformed" and event.error
    assert not Incident.objects.exists()


def test_a_payload_over_the_limit_is_413(client, am, settings) -> None:
    from comms.services import inbound

    _, token = am
    body = b'{"x": "' + b"a" * (inbound.MAX_BODY + 10) + b'"}'
    response = post(client, "alertmanager", body, token)
    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


def test_only_post_is_allowed(client, am) -> None:
    response = client.get("/api/inbound/alertmanager/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["detail"]


def test_the_raw_payload_and_its_parse_result_are_kept(client, am) -> None:
    _, token = am
    body = alertmanager()
    post(client, "alertmanager", body, token)
    event = InboundEvent.objects.get()
    assert json.loads(event.body) == body
    assert event.parse_result["status"] == "firing"
    assert event.parse_result["alert_count"] == 1
    assert "Authorization" not in event.headers


# --- Grafana -------------------------------------------------------------------------------------


def _grafana(status: str = "firing") -> dict[str, Any]:
    return {
        "receiver": "mimdesk",
        "status": status,
        "orgId": 1,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "DiskFull", "service": "checkout"},
                "annotations": {"summary": "Disk 95% full"},
                "startsAt": "2026-12-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "c6eadffa33fcdf37",
                "generatorURL": "http://grafana.local/alerting/grafana/x/view",
            }
        ],
        "groupLabels": {"alertname": "DiskFull"},
        "commonLabels": {"alertname": "DiskFull", "service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://grafana.local/",
        "version": "1",
        "groupKey": '{}/{}:{alertname="DiskFull"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] DiskFull (checkout)",
        "state": "alerting",
        "message": "**Firing**\n\nDisk 95% full",
    }


def test_grafana_with_a_valid_signature_opens_an_incident(client) -> None:
    _, secret = source("grafana")
    body = json.dumps(_grafana()).encode()
    response = post(
        client, "grafana", body,
        **{"X-Grafana-Alerting-Signature": grafana_signature(secret, body)},
    )  # fmt: skip
    assert response.status_code == 202, response.content
    assert Incident.objects.get().short_description == "[FIRING:1] DiskFull (checkout)"


def test_grafana_signature_with_its_timestamp(client) -> None:
    _, secret = source("grafana")
    body = json.dumps(_grafana()).encode()
    now = str(int(time.time()))
    ok = post(
        client, "grafana", body,
        **{"X-Grafana-Alerting-Signature": grafana_signature(secret, body, now),
           "X-Grafana-Alerting-Signature-Timestamp": now},
    )  # fmt: skip
    assert ok.status_code == 202
    old = str(int(time.time()) - 3600)
    stale = post(
        client, "grafana", body,
        **{"X-Grafana-Alerting-Signature": grafana_signature(secret, body, old),
           "X-Grafana-Alerting-Signature-Timestamp": old},
    )  # fmt: skip
    assert stale.status_code == 401


@pytest.mark.parametrize("signature", ["", "00" * 32, "not-hex"])
def test_grafana_with_a_bad_signature_is_401_nothing_stored(client, signature) -> None:
    source("grafana")
    body = json.dumps(_grafana()).encode()
    headers = {"X-Grafana-Alerting-Signature": signature} if signature else {}
    response = post(client, "grafana", body, **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("HMAC")
    assert not InboundEvent.objects.exists()


def test_grafana_signature_over_another_body_is_refused(client) -> None:
    _, secret = source("grafana")
    body = json.dumps(_grafana()).encode()
    forged = grafana_signature(secret, body + b" ")
    response = post(client, "grafana", body, **{"X-Grafana-Alerting-Signature": forged})
    assert response.status_code == 401


def test_grafana_resolved_resolves(client) -> None:
    _, secret = source("grafana")
    for status in ("firing", "resolved"):
        payload = _grafana(status)
        body = json.dumps(payload).encode()
        post(client, "grafana", body,
             **{"X-Grafana-Alerting-Signature": grafana_signature(secret, body)})  # fmt: skip
    assert Incident.objects.get().state == "resolved"


# --- Datadog and the generic webhook -------------------------------------------------------------


def _datadog(transition: str = "Triggered") -> dict[str, Any]:
    return {
        "id": "7311117212412345",
        "alert_id": "123456",
        "aggregate": "a1b2c3",
        "transition": transition,
        "title": "[Triggered] Checkout latency p99 > 2s",
        "body": "p99 latency is 3.1s on checkout-api",
        "priority": "P1",
        "tags": "service:checkout,env:prod",
        "link": "https://app.datadoghq.com/monitors/123456",
        "date": "1764583200000",
        "hostname": "checkout-api-1",
    }


def test_datadog_triggered_then_recovered(client, make_ci) -> None:
    ci = make_ci("Checkout")
    _, token = source("datadog")
    LabelRule.objects.create(name="dd", label="service", pattern="checkout", ci=ci, impact=1)
    response = post(client, "datadog", _datadog(), token)
    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert (incident.affected_ci, incident.impact, incident.urgency) == (ci, 1, 1)
    assert post(client, "datadog", _datadog("Re-Triggered"), token).json()["outcome"] == "updated"
    assert post(client, "datadog", _datadog("Recovered"), token).json()["outcome"] == "resolved"
    assert Incident.objects.count() == 1


def test_datadog_without_a_title_is_400(client) -> None:
    _, token = source("datadog")
    body = {**_datadog(), "title": ""}
    response = post(client, "datadog", body, token)
    assert response.status_code == 400 and response.json()["field"] == "title"


def test_generic_webhook_firing_and_resolved(client, make_ci) -> None:
    ci = make_ci("Orders DB", users=40)
    _, token = source("webhook")
    body = {
        "dedup_key": "orders-db-replication",
        "status": "firing",
        "summary": "Orders DB replication lag 300s",
        "description": "Replica behind primary",
        "labels": {"team": "dba"},
        "ci": "Orders DB",
        "impact": 2,
        "urgency": 1,
    }
    response = post(client, "webhook", body, token)
    assert response.status_code == 202, response.content
    incident = Incident.objects.get()
    assert (incident.affected_ci, incident.priority, incident.affected_users) == (ci, 2, 40)
    done = post(client, "webhook", {"dedup_key": "orders-db-replication", "status": "resolved"},
                token)  # fmt: skip
    assert done.json()["outcome"] == "resolved"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "firing", "summary": "x"}, "dedup_key"),
        ({"dedup_key": "k"}, "summary"),
        ({"dedup_key": "k", "summary": "x", "impact": 7}, "impact"),
        ({"dedup_key": "k", "summary": "x", "urgency": "high"}, "urgency"),
        ({"dedup_key": "k", "summary": "x", "labels": []}, "labels"),
        ({"dedup_key": ["k"], "summary": "x"}, "dedup_key"),
    ],
)
def test_generic_webhook_errors_name_the_field(client, body, field) -> None:
    _, token = source("webhook")
    response = post(client, "webhook", body, token)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["errors"]


def test_an_unknown_ci_name_in_the_generic_body_falls_back_to_the_defaults(client) -> None:
    _, token = source("webhook")
    post(client, "webhook", {"dedup_key": "k", "summary": "x", "ci": "Nope"}, token)
    assert Incident.objects.get().affected_ci is None


def test_an_auto_declaration_rule_runs_on_a_webhook_incident(
    client, make_ci, roster_ic, committed
) -> None:
    make_ci("Storefront", users=5000)
    _, token = source("webhook")
    body = {"dedup_key": "k", "summary": "Storefront down", "ci": "Storefront", "impact": 1,
            "urgency": 1}  # fmt: skip
    with committed():
        post(client, "webhook", body, token)
    incident = Incident.objects.get()
    assert incident.priority == 1
    assert MajorIncident.objects.filter(incident=incident).exists()


def test_the_source_s_last_contact_is_written_once_a_minute(client: Client, am) -> None:
    source_row, token = am
    with freeze_time("2026-12-02 10:00:00"):
        post(client, "alertmanager", alertmanager(), token)
    source_row.refresh_from_db()
    first = source_row.last_received_at
    assert first is not None and first.isoformat() == "2026-12-02T10:00:00+00:00"
    with freeze_time("2026-12-02 10:00:40"):
        post(client, "alertmanager", alertmanager(), token)
    source_row.refresh_from_db()
    assert source_row.last_received_at == first  # within the minute: no write
    with freeze_time("2026-12-02 10:01:05"):
        post(client, "alertmanager", alertmanager(), token)
    source_row.refresh_from_db()
    assert source_row.last_received_at.isoformat() == "2026-12-02T10:01:05+00:00"
