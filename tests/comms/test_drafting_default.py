"""The default drafter: the template's words with the MI's state, the same every time; a security
MI's drafts carry nothing of its timeline until the investigation is complete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient

from comms import services
from comms.models import OutboxMessage, StakeholderUpdate
from comms.services import drafting
from incidents.models import MajorIncident, MIStatus
from tests.conftest import bearer_client
from tests.incidents.mi_fixtures import T0, declare, force_status
from warroom.services.timeline import post_to_timeline

pytestmark = pytest.mark.django_db

SECRET = "CVE-2024-1234 on db-primary-01"


@pytest.fixture
def frozen() -> Iterator[Any]:
    """T0 (Monday 09:00 UTC), for the whole test and the fixtures after it."""
    with freeze_time(T0) as clock:
        yield clock


@pytest.fixture
def worked(frozen: Any, mi: MajorIncident, alice: Any) -> MajorIncident:
    post_to_timeline(mi=mi, actor=alice, body="Rolling back release 4.2", kind="command_update")
    post_to_timeline(mi=mi, actor=alice, body="Roll back rather than hotfix", kind="decision")
    post_to_timeline(mi=mi, actor=alice, body="Pool exhausted after the deploy", kind="finding")
    post_to_timeline(mi=mi, actor=alice, body="A note nobody should quote", kind="note")
    return mi


@pytest.fixture
def security_mi(frozen: Any, make_incident: Any, alice: Any) -> MajorIncident:
    mi = declare(make_incident(impact=1, urgency=1), alice, is_security=True)
    post_to_timeline(mi=mi, actor=alice, body=f"Attacker used {SECRET}", kind="finding")
    post_to_timeline(mi=mi, actor=alice, body=f"Isolate {SECRET}", kind="command_update")
    return mi


def draft(mi: MajorIncident, actor: Any, kind: str) -> drafting.Draft:
    return drafting.draft_update(mi=mi, actor=actor, update_type=kind, drafter="template")


NEXT = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
EXPECTED = {
    "initial": (
        "[{n}] Major incident: Checkout returns 503",
        "Checkout down for every customer",
        "A major incident was declared at 09:00 UTC. The response team is assembled and "
        "investigating.",
        "No action needed; the next update follows by 09:30 UTC.",
        NEXT,
    ),
    "cadence": (
        "[{n}] Investigating: Checkout returns 503",
        "Checkout down for every customer",
        "Rolling back release 4.2",  # the latest command update
        "No action needed; the next update follows by 09:30 UTC.",
        NEXT,
    ),
    "status_page": (
        "Checkout returns 503: Investigating",
        "Checkout down for every customer",
        "We are investigating the cause.",
        "No action needed; the next update follows by 09:30 UTC.",
        NEXT,
    ),
    "resolution": (
        "[{n}] Resolved: Checkout returns 503",
        "Checkout returns 503 is working again since 09:00 UTC.",
        "The fix is in place; we keep monitoring for 2 h before the all-clear.",
        "Retry anything that failed during the incident. Contact the service desk if problems "
        "remain.",
        None,
    ),
    "pir_summary": (
        "[{n}] Post-incident review: Checkout returns 503",
        "Checkout down for every customer",
        "The post-incident review is published.",
        "Read the review for root cause and follow-up actions.",
        None,
    ),
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_every_type_drafts_the_same_text_every_time(
    worked: MajorIncident, alice: Any, kind: str
) -> None:
    subject, impact, action, user_action, next_at = EXPECTED[kind]
    first = draft(worked, alice, kind)
    assert first.drafted_by == "template" and first.note == ""
    assert first.subject == subject.format(n=worked.number)
    assert (first.current_impact, first.current_action, first.user_action) == (
        impact,
        action,
        user_action,
    )
    assert first.next_update_at == next_at
    assert draft(worked, alice, kind) == first
    assert first.sources == [
        "Command update: Rolling back release 4.2",
        "Decision: Roll back rather than hotfix",
        "Finding: Pool exhausted after the deploy",
        "Major incident manager (IC): usr_alice_johnson",
    ]


def test_an_internal_update_s_body_carries_the_war_room_and_a_public_one_s_does_not(
    worked: MajorIncident, alice: Any
) -> None:
    internal = draft(worked, alice, "pir_summary")
    assert not internal.is_public
    assert internal.body == (
        "Latest from the war room:\n"
        "- Command update: Rolling back release 4.2\n"
        "- Decision: Roll back rather than hotfix\n"
        "- Finding: Pool exhausted after the deploy\n"
        "\n"
        "Response team:\n"
        "- Major incident manager (IC): usr_alice_johnson"
    )
    for kind in ("initial", "cadence", "status_page", "resolution"):
        public = draft(worked, alice, kind)
        assert public.is_public and public.body == "", kind
    assert all("nobody should quote" not in line for line in internal.sources)


def test_the_next_update_time_is_a_cadence_from_now_to_the_minute(
    frozen: Any, mi: MajorIncident, alice: Any
) -> None:
    frozen.move_to("2025-03-03 09:07:20")
    assert draft(mi, alice, "cadence").next_update_at == datetime(2025, 3, 3, 9, 38, tzinfo=UTC)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_security_mi_s_draft_has_nothing_of_its_timeline(
    security_mi: MajorIncident, alice: Any, kind: str
) -> None:
    proposal = draft(security_mi, alice, kind)
    assert proposal.security_templates and proposal.sources == [] and proposal.body == ""
    text = " ".join(str(v) for v in proposal.as_dict().values())
    assert SECRET not in text and "Attacker" not in text and "Isolate" not in text
    assert "Checkout down for every customer" not in text  # the impact statement is internal


def test_after_the_investigation_the_security_mi_s_draft_may_say_more(
    security_mi: MajorIncident, alice: Any, lee: Any
) -> None:
    services.complete_investigation(mi=security_mi, actor=lee)
    proposal = draft(security_mi, alice, "cadence")
    assert not proposal.security_templates
    assert proposal.current_action == f"Isolate {SECRET}"


def test_drafting_saves_and_sends_nothing(worked: MajorIncident, alice: Any) -> None:
    for kind in EXPECTED:
        draft(worked, alice, kind)
    assert not StakeholderUpdate.objects.exists()
    assert not OutboxMessage.objects.exists()


# --- the API -------------------------------------------------------------------------------------


def drafts_url(mi: MajorIncident) -> str:
    return f"/api/major-incidents/{mi.number}/drafts/"


def test_the_api_returns_the_draft_and_posting_it_writes_the_update(
    worked: MajorIncident, alice: Any
) -> None:
    client = bearer_client(alice)
    response = client.post(drafts_url(worked), {"type": "cadence"}, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["drafted_by"] == "template" and data["note"] == ""
    assert data["type"] == "cadence"
    assert data["current_action"] == "Rolling back release 4.2"
    assert data["next_update_at"] == "2025-03-03T09:30:00Z"
    assert not StakeholderUpdate.objects.exists()
    fields = ("current_impact", "current_action", "user_action", "next_update_at", "subject")
    written = client.post(
        f"/api/major-incidents/{worked.number}/updates/",
        {"type": "cadence", "drafted_by": data["drafted_by"], **{k: data[k] for k in fields}},
        format="json",
    )
    assert written.status_code == 201 and written.json()["drafted_by"] == "template"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "weekly"}, "type"),
        ({"type": "executive"}, "type"),  # the system's, not a person's to draft
        ({}, "type"),
        ({"type": ["cadence"]}, "type"),
        ({"type": "cadence", "drafter": "gpt"}, "drafter"),
        ({"type": "cadence", "tone": "calm"}, "tone"),
    ],
)
def test_a_bad_draft_request_is_a_400_naming_the_field(
    alice_api: APIClient, mi: MajorIncident, payload: dict[str, Any], field: str
) -> None:
    response = alice_api.post(drafts_url(mi), payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_who_may_not_draft(
    tina_api: APIClient, oscar_api: APIClient, api: APIClient, lee: Any, mi: MajorIncident
) -> None:
    assert api.post(drafts_url(mi), {"type": "cadence"}, format="json").status_code == 401
    assert oscar_api.post(drafts_url(mi), {"type": "cadence"}, format="json").status_code == 403
    assert tina_api.post(drafts_url(mi), {"type": "cadence"}, format="json").status_code == 403
    legal = bearer_client(lee).post(drafts_url(mi), {"type": "cadence"}, format="json")
    assert legal.status_code == 403


def test_a_finished_mi_drafts_only_final_updates(alice_api: APIClient, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.RESOLVED)
    assert alice_api.post(drafts_url(mi), {"type": "cadence"}, format="json").status_code == 409
    ok = alice_api.post(drafts_url(mi), {"type": "resolution"}, format="json")
    assert ok.status_code == 200 and ok.json()["next_update_at"] is None


def test_a_security_mi_speaks_in_its_security_templates(
    security_mi: MajorIncident, alice: Any
) -> None:
    cadence = draft(security_mi, alice, "cadence")
    assert cadence.subject == f"[{security_mi.number}] Security incident update"
    assert cadence.current_action == "The investigation continues."
    # No security-safe PIR template is seeded: fixed words without detail.
    pir = draft(security_mi, alice, "pir_summary")
    assert pir.subject == f"[{security_mi.number}] Security incident: PIR summary"
    assert pir.current_impact == "A security incident affected Checkout returns 503."
