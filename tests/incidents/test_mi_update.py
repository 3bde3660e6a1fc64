"""Editing what was declared: ``update_major_incident``, one timeline row per changed field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from incidents import services
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import EscalationFiring, MajorIncident, MIStatus, TimelineKind
from tests.incidents.mi_fixtures import T0, declare, force_status


def _updated_rows(mi):
    return list(mi.timeline.filter(kind=TimelineKind.UPDATED).order_by("id"))


def test_each_changed_field_gets_a_timeline_row(mi, alice):
    services.update_major_incident(
        mi=mi, actor=alice, summary="Payments API down", bridge_link="https://meet.example/mi"
    )
    mi.refresh_from_db()
    assert (mi.summary, mi.bridge_link) == ("Payments API down", "https://meet.example/mi")
    rows = _updated_rows(mi)
    assert sorted(r.data["field"] for r in rows) == ["bridge_link", "summary"]
    assert all(r.actor == alice and r.incident_id == mi.incident_id for r in rows)


def test_unchanged_fields_are_a_no_op(mi, alice):
    services.update_major_incident(mi=mi, actor=alice, impact_statement=mi.impact_statement)
    services.update_major_incident(mi=mi, actor=alice)
    assert _updated_rows(mi) == []


def test_security_flag_is_set_on_the_incident_too(mi, alice):
    services.update_major_incident(mi=mi, actor=alice, is_security=True)
    mi.refresh_from_db()
    mi.incident.refresh_from_db()
    assert mi.is_security and mi.incident.is_security
    services.update_major_incident(mi=mi, actor=alice, is_security=False)
    mi.incident.refresh_from_db()
    assert not mi.incident.is_security


def test_raising_media_attention_fires_its_escalation(p1, alice):
    with freeze_time(T0):
        mi = declare(p1, alice)
        services.update_major_incident(mi=mi, actor=alice, media_attention=True)
    services.evaluate_escalations(now=T0 + timedelta(minutes=1))
    fired = EscalationFiring.objects.filter(major_incident=mi).select_related("step__policy")
    assert [f.step.target_label for f in fired] == ["Communications lead"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"status": "resolved"}, "status"),
        ({"urgancy": 1}, "urgancy"),
        ({"impact_statement": "  "}, "impact_statement"),
        ({"bridge_link": "javascript:alert(1)"}, "bridge_link"),
        ({"bridge_link": "https://x.example/" + "a" * 500}, "bridge_link"),
        ({"is_security": "yes"}, "is_security"),
        ({"summary": 3}, "summary"),
    ],
)
def test_unknown_or_invalid_fields_are_refused_naming_the_field(mi, alice, fields, field):
    with pytest.raises(DomainError) as caught:
        services.update_major_incident(mi=mi, actor=alice, **fields)
    assert caught.value.field == field
    assert _updated_rows(mi) == []


def test_only_who_runs_the_mi_may_edit_it(mi, tina):
    with pytest.raises(NotAllowed):
        services.update_major_incident(mi=mi, actor=tina, summary="x")


def test_a_closed_or_cancelled_mi_is_final(mi, alice):
    force_status(mi, MIStatus.CANCELLED)
    with pytest.raises(Conflict):
        services.update_major_incident(mi=mi, actor=alice, summary="x")


@pytest.mark.parametrize("link", ["ftp://bridge.example.com/room", "javascript:alert(1)", "meet"])
def test_declaring_refuses_a_bridge_link_editing_would_refuse(p1, alice, link):
    """Declared with a link the edit form refuses, the MI could not be edited without changing it
    (every save re-checks it); the declaration applies the same rule."""
    with pytest.raises(DomainError) as refused:
        declare(p1, alice, bridge_link=link)
    assert refused.value.field == "bridge_link"
    assert not MajorIncident.objects.filter(incident=p1).exists()


def test_declaring_keeps_an_http_bridge_link(p1, alice):
    mi = declare(p1, alice, bridge_link="  https://meet.example.com/abc-defg-hij ")
    assert mi.bridge_link == "https://meet.example.com/abc-defg-hij"
