"""What the war room's answers hold, the schema allows: found by the fuzz run (response_schema
conformance) on an MI whose checkpoints nobody ticked and whose assessment gave no ETA."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from incidents.models import MajorIncident
from tests.incidents.test_api_contract import schema
from warroom import services


def _component(name: str) -> dict[str, Any]:
    return schema()["components"]["schemas"][name]


def test_an_unticked_checkpoint_s_done_by_is_null_and_the_schema_says_it_may_be(
    bob_api: APIClient, mi: MajorIncident
) -> None:
    services.open_checkpoints(mi.pk)  # its declaration's receiver runs after commit
    rows = bob_api.get(f"/api/major-incidents/{mi.number}/checkpoints/").json()
    assert rows and rows[0]["done_by"] is None
    assert _component("WarRoomCheckpoint")["properties"]["done_by"].get("nullable") is True


def test_a_revision_without_an_eta_has_a_blank_confidence_and_the_schema_allows_it(
    bob_api: APIClient, bob: Any, mi: MajorIncident
) -> None:
    services.revise_assessment(
        mi=mi, actor=bob, affected_services="API", sla_breach_risk="high", customer_symptoms="503"
    )
    data = bob_api.get(f"/api/major-incidents/{mi.number}/assessment/").json()
    assert data["revisions"][0]["eta_confidence"] == ""
    field = _component("WarRoomAssessmentRevision")["properties"]["eta_confidence"]
    allowed = {ref["$ref"].rsplit("/", 1)[1] for ref in field.get("oneOf", [])}
    assert "BlankEnum" in allowed
    assert _component("WarRoomAssessmentRevision")["properties"]["author"].get("nullable") is True
