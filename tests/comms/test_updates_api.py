"""The updates API: write, list, change, submit, approve, send, discard; who may; what not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from comms.models import OutboxMessage, StakeholderUpdate
from incidents.models import MajorIncident, MIStatus, TimelineEntry, TimelineKind
from tests.conftest import bearer_client
from tests.incidents.mi_fixtures import declare, force_status
from tests.incidents.test_api_contract import schema

pytestmark = pytest.mark.django_db

NEXT = "2030-01-01T10:30:00Z"
PARTS = {
    "current_impact": "Checkout fails for all customers.",
    "current_action": "We are rolling back the 09:10 release.",
    "user_action": "Retry failed orders after 10:00.",
}


def url(mi: MajorIncident, rest: str = "") -> str:
    return f"/api/major-incidents/{mi.number}/updates/{rest}"


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "cadence", **PARTS, "next_update_at": NEXT}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def write(client: APIClient, mi: MajorIncident, **overrides: Any) -> Any:
    return client.post(url(mi), body(**overrides), format="json")


@pytest.fixture
def security_mi(make_incident: Any, alice: Any) -> MajorIncident:
    return declare(make_incident(impact=1, urgency=1), alice, is_security=True)


# --- the contract -------------------------------------------------------------------------------


def test_the_ic_writes_a_draft_and_it_is_listed_with_its_four_parts(
    alice_api: APIClient, mi: MajorIncident, alice: Any
) -> None:
    response = write(alice_api, mi, subject="Checkout down")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft"
    assert data["type"] == "cadence"
    assert data["author"] == alice.username and data["approver"] is None
    assert data["next_update_at"] == "2030-01-01T10:30:00Z"
    assert data["subject"] == "Checkout down"
    assert {k: data[k] for k in PARTS} == PARTS
    assert data["delivery"] == {
        "pending": 0, "sending": 0, "sent": 0, "failed": 0, "dead": 0, "total": 0
    }  # fmt: skip
    listed = alice_api.get(url(mi)).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == data["id"]


def test_the_list_is_newest_first(alice_api: APIClient, mi: MajorIncident) -> None:
    first = write(alice_api, mi).json()["id"]
    second = write(alice_api, mi).json()["id"]
    ids = [row["id"] for row in alice_api.get(url(mi)).json()["results"]]
    assert ids == [second, first]
    # Written earlier (created_at), listed later, whatever its id.
    earlier = StakeholderUpdate.objects.get(pk=first).created_at - timedelta(minutes=5)
    StakeholderUpdate.objects.filter(pk=second).update(created_at=earlier)
    ids = [row["id"] for row in alice_api.get(url(mi)).json()["results"]]
    assert ids == [first, second]


def test_send_true_sends_at_once_and_counts_its_deliveries(
    alice_api: APIClient, mi: MajorIncident, leadership: Any, committed: Any, alice: Any
) -> None:
    with committed():
        response = write(alice_api, mi, send=True)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "sent" and data["sent_at"] and data["approver"] == alice.username
    assert data["automatic"] is False
    update_id = data["id"]
    rows = OutboxMessage.objects.filter(update_id=update_id)
    assert rows.count() >= 2
    fetched = alice_api.get(url(mi, f"{update_id}/")).json()
    assert fetched["delivery"]["total"] == rows.count()
    assert fetched["delivery"]["sent"] == rows.filter(status="sent").count() >= 2
    assert sorted(m.to[0] for m in mail.outbox if "cio" in m.to[0] or "cto" in m.to[0]) == [
        "cio@example.test",
        "cto@example.test",
    ]
    assert TimelineEntry.objects.filter(
        major_incident=mi, kind=TimelineKind.STAKEHOLDER_UPDATE
    ).exists()


def test_the_list_takes_the_same_queries_for_2_and_8_updates(
    alice_api: APIClient, mi: MajorIncident, django_assert_max_num_queries: Any, committed: Any
) -> None:
    with committed():
        write(alice_api, mi, send=True)
        write(alice_api, mi)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert alice_api.get(url(mi)).status_code == 200
    with committed():
        for _ in range(6):
            write(alice_api, mi, send=True)
    with CaptureQueriesContext(connection) as large:
        assert len(alice_api.get(url(mi)).json()["results"]) == 8
    assert len(large) == len(small)


def test_a_draft_is_changed_submitted_approved_and_sent(
    alice_api: APIClient, carol_api: APIClient, mi: MajorIncident, committed: Any, carol: Any
) -> None:
    update_id = write(carol_api, mi).json()["id"]
    patched = carol_api.patch(
        url(mi, f"{update_id}/"), {"current_action": "Rollback done."}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["current_action"] == "Rollback done."
    submitted = carol_api.post(url(mi, f"{update_id}/submit/"))
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending_approval"
    approved = alice_api.post(url(mi, f"{update_id}/approve/"))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    with committed():
        sent = carol_api.post(url(mi, f"{update_id}/send/"))
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    # Sent is final: every change is a 409 now.
    for rest in ("send/", "approve/", "submit/", "discard/"):
        assert carol_api.post(url(mi, f"{update_id}/{rest}")).status_code == 409, rest
    response = carol_api.patch(url(mi, f"{update_id}/"), {"body": "x"}, format="json")
    assert response.status_code == 409
    assert "sent" in response.json()["detail"]


def test_a_discarded_update_cannot_be_sent(alice_api: APIClient, mi: MajorIncident) -> None:
    update_id = write(alice_api, mi).json()["id"]
    discarded = alice_api.post(url(mi, f"{update_id}/discard/"))
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert alice_api.post(url(mi, f"{update_id}/send/")).status_code == 409


def test_a_final_update_needs_no_next_update_time(alice_api: APIClient, mi: MajorIncident) -> None:
    for kind in ("resolution", "all_clear", "pir_summary"):
        response = write(alice_api, mi, type=kind, next_update_at=...)
        assert response.status_code == 201, (kind, response.json())
        assert response.json()["next_update_at"] is None


def test_another_mi_s_update_is_a_404(
    alice_api: APIClient, mi: MajorIncident, make_incident: Any, alice: Any
) -> None:
    other = declare(make_incident(impact=1, urgency=1), alice)
    update_id = write(alice_api, other).json()["id"]
    assert alice_api.get(url(mi, f"{update_id}/")).status_code == 404
    assert alice_api.post(url(mi, f"{update_id}/send/")).status_code == 404
    assert alice_api.get(url(mi, "999999/")).status_code == 404
    assert alice_api.get("/api/major-incidents/MI9999999/updates/").status_code == 404


def test_a_finished_mi_takes_only_a_final_update(alice_api: APIClient, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.RESOLVED)
    response = write(alice_api, mi)
    assert response.status_code == 409
    assert write(alice_api, mi, type="resolution", next_update_at=...).status_code == 201


def test_every_endpoint_is_in_the_schema() -> None:
    paths = schema()["paths"]
    base = "/api/major-incidents/{number}/"
    expected = {
        "updates/": {"get", "post"},
        "updates/{update_id}/": {"get", "patch"},
        "updates/{update_id}/submit/": {"post"},
        "updates/{update_id}/approve/": {"post"},
        "updates/{update_id}/send/": {"post"},
        "updates/{update_id}/discard/": {"post"},
        "drafts/": {"post"},
        "security-investigation/complete/": {"post"},
        "canned-responses/": {"get"},
    }
    for rest, methods in expected.items():
        item = paths[base + rest]
        assert methods <= set(item), rest
        for method in methods:
            assert "403" in item[method]["responses"] and "401" in item[method]["responses"]
    assert "409" in paths[base + "updates/{update_id}/send/"]["post"]["responses"]
    request = paths[base + "updates/"]["post"]["requestBody"]["content"]["application/json"]
    assert request["schema"]["$ref"].endswith("StakeholderUpdateInputRequest")


def test_options_answers_without_a_500(alice_api: APIClient, mi: MajorIncident) -> None:
    update_id = write(alice_api, mi).json()["id"]
    for path in (
        url(mi),
        url(mi, f"{update_id}/"),
        url(mi, f"{update_id}/send/"),
        f"/api/major-incidents/{mi.number}/drafts/",
        f"/api/major-incidents/{mi.number}/canned-responses/",
    ):
        assert alice_api.options(path).status_code == 200, path


# --- 400s naming the field ----------------------------------------------------------------------


@pytest.mark.parametrize("part", ["current_impact", "current_action", "user_action"])
def test_a_missing_or_blank_part_is_a_400_naming_it(
    alice_api: APIClient, mi: MajorIncident, part: str
) -> None:
    missing = write(alice_api, mi, **{part: ...})
    assert missing.status_code == 400 and list(missing.json()) == [part]
    blank = write(alice_api, mi, **{part: "   "})
    assert blank.status_code == 400 and list(blank.json()) == [part]
    not_text = write(alice_api, mi, **{part: 42})
    assert not_text.status_code == 400 and list(not_text.json()) == [part]
    assert not StakeholderUpdate.objects.exists()


def test_a_missing_next_update_time_is_a_400_naming_it(
    alice_api: APIClient, mi: MajorIncident
) -> None:
    for value in (..., None):
        response = write(alice_api, mi, next_update_at=value)
        assert response.status_code == 400
        assert list(response.json()) == ["next_update_at"]


@pytest.mark.parametrize(
    "value",
    [
        "2030-01-01T10:30:00",
        "tomorrow",
        "2030-13-45T99:00:00Z",
        1700000000,
        "9" * 500,
        "2020-01-01T10:30:00Z",  # in the past
    ],
)
def test_a_naive_or_invalid_next_update_time_is_a_400(
    alice_api: APIClient, mi: MajorIncident, value: Any
) -> None:
    response = write(alice_api, mi, next_update_at=value)
    assert response.status_code == 400
    assert list(response.json()) == ["next_update_at"]


@pytest.mark.parametrize("value", ["weekly", "", None, 3, "reminder", "canned_response"])
def test_a_bad_type_is_a_400_naming_type(
    alice_api: APIClient, mi: MajorIncident, value: Any
) -> None:
    response = write(alice_api, mi, type=value)
    assert response.status_code == 400
    assert list(response.json()) == ["type"]


def test_odd_input_is_a_400_not_a_500(alice_api: APIClient, mi: MajorIncident) -> None:
    huge = write(alice_api, mi, current_impact="x" * 5001)
    assert huge.status_code == 400 and list(huge.json()) == ["current_impact"]
    assert write(alice_api, mi, subject="s" * 301).status_code == 400
    assert list(write(alice_api, mi, send="yes").json()) == ["send"]
    assert list(write(alice_api, mi, urgancy=1).json()) == ["urgancy"]
    assert write(alice_api, mi, current_impact="nul \x00 byte").status_code in (201, 400)
    listy = alice_api.post(url(mi), [1, 2], format="json")
    assert listy.status_code == 400
    garbage = alice_api.post(url(mi), b"{not json", content_type="application/json")
    assert garbage.status_code == 400
    update_id = write(alice_api, mi).json()["id"]
    empty = alice_api.patch(url(mi, f"{update_id}/"), {}, format="json")
    assert empty.status_code == 400 and "detail" in empty.json()
    cleared = alice_api.patch(url(mi, f"{update_id}/"), {"user_action": ""}, format="json")
    assert cleared.status_code == 400 and list(cleared.json()) == ["user_action"]
    assert alice_api.patch(url(mi, f"{update_id}/"), {"type": "initial"}, format="json").json() == {
        "type": ["unknown field"]
    }


# --- who may ------------------------------------------------------------------------------------


def test_without_a_token_every_endpoint_is_a_401(api: APIClient, mi: MajorIncident) -> None:
    for method, path in (
        ("get", url(mi)),
        ("post", url(mi)),
        ("get", url(mi, "1/")),
        ("patch", url(mi, "1/")),
        ("post", url(mi, "1/send/")),
        ("post", f"/api/major-incidents/{mi.number}/drafts/"),
        ("get", f"/api/major-incidents/{mi.number}/canned-responses/"),
        ("post", f"/api/major-incidents/{mi.number}/security-investigation/complete/"),
    ):
        assert getattr(api, method)(path, {}, format="json").status_code == 401, path


def test_a_technician_outside_the_team_reads_but_may_not_write(
    tina_api: APIClient, alice_api: APIClient, mi: MajorIncident
) -> None:
    update_id = write(alice_api, mi).json()["id"]
    assert tina_api.get(url(mi)).status_code == 200
    assert tina_api.get(url(mi, f"{update_id}/")).status_code == 200
    assert write(tina_api, mi).status_code == 403
    assert tina_api.patch(url(mi, f"{update_id}/"), {"body": "x"}, format="json").status_code == 403
    for rest in ("submit/", "approve/", "send/", "discard/"):
        assert tina_api.post(url(mi, f"{update_id}/{rest}")).status_code == 403, rest
    drafts = tina_api.post(f"/api/major-incidents/{mi.number}/drafts/", {"type": "cadence"})
    assert drafts.status_code == 403
    assert StakeholderUpdate.objects.get(pk=update_id).status == "draft"


def test_a_403_comes_before_the_body_is_read(tina_api: APIClient, mi: MajorIncident) -> None:
    assert tina_api.post(url(mi), {"type": "nonsense"}, format="json").status_code == 403


def test_an_outsider_gets_403_everywhere(
    oscar_api: APIClient, alice_api: APIClient, mi: MajorIncident
) -> None:
    update_id = write(alice_api, mi).json()["id"]
    assert oscar_api.get(url(mi)).status_code == 403
    assert oscar_api.get(url(mi, f"{update_id}/")).status_code == 403
    assert write(oscar_api, mi).status_code == 403
    assert oscar_api.post(url(mi, f"{update_id}/send/")).status_code == 403
    assert oscar_api.get(f"/api/major-incidents/{mi.number}/canned-responses/").status_code == 403


def test_the_communications_lead_may_send(
    carol_api: APIClient, mi: MajorIncident, committed: Any
) -> None:
    with committed():
        response = write(carol_api, mi, send=True)
    assert response.status_code == 201 and response.json()["status"] == "sent"


def test_legal_reads_but_may_not_write_an_ordinary_mi_s_update(
    lee: Any, alice_api: APIClient, mi: MajorIncident
) -> None:
    client = bearer_client(lee)
    update_id = write(alice_api, mi).json()["id"]
    assert client.get(url(mi)).status_code == 200
    assert write(client, mi).status_code == 403
    assert client.post(url(mi, f"{update_id}/approve/")).status_code == 403


def test_a_security_mi_s_update_needs_legal_approval_before_it_is_sent(
    alice_api: APIClient, lee: Any, security_mi: MajorIncident, committed: Any
) -> None:
    refused = write(alice_api, security_mi, send=True)
    assert refused.status_code == 409
    assert "legal approver" in refused.json()["detail"]
    assert not StakeholderUpdate.objects.filter(major_incident=security_mi).exists()
    update_id = write(alice_api, security_mi).json()["id"]
    assert alice_api.post(url(security_mi, f"{update_id}/send/")).status_code == 409
    # The IC may not approve it, only a legal user.
    not_legal = alice_api.post(url(security_mi, f"{update_id}/approve/"))
    assert not_legal.status_code == 403 and "legal" in not_legal.json()["detail"]
    assert OutboxMessage.objects.filter(update_id=update_id).count() == 0
    approved = bearer_client(lee).post(url(security_mi, f"{update_id}/approve/"))
    assert approved.status_code == 200
    assert approved.json()["approver"] == lee.username
    with committed():
        sent = alice_api.post(url(security_mi, f"{update_id}/send/"))
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    # Legal approves, it does not send.
    other = write(alice_api, security_mi).json()["id"]
    bearer_client(lee).post(url(security_mi, f"{other}/approve/"))
    assert bearer_client(lee).post(url(security_mi, f"{other}/send/")).status_code == 403


def test_an_approved_update_edited_goes_back_to_draft(
    alice_api: APIClient, lee: Any, security_mi: MajorIncident
) -> None:
    update_id = write(alice_api, security_mi).json()["id"]
    bearer_client(lee).post(url(security_mi, f"{update_id}/approve/"))
    patched = alice_api.patch(
        url(security_mi, f"{update_id}/"), {"current_impact": "More."}, format="json"
    )
    assert patched.json()["status"] == "draft" and patched.json()["approver"] is None
    assert alice_api.post(url(security_mi, f"{update_id}/send/")).status_code == 409


def test_the_investigation_is_marked_complete_by_legal_or_the_ic(
    lee: Any, tina_api: APIClient, security_mi: MajorIncident, mi: MajorIncident
) -> None:
    path = f"/api/major-incidents/{security_mi.number}/security-investigation/complete/"
    assert tina_api.post(path).status_code == 403
    response = bearer_client(lee).post(path)
    assert response.status_code == 200
    assert response.json()["investigation_completed_by"] == lee.username
    again = bearer_client(lee).post(path)
    assert again.json() == response.json()
    ordinary = f"/api/major-incidents/{mi.number}/security-investigation/complete/"
    assert bearer_client(lee).post(ordinary).status_code == 409


def test_itsm_managers_and_super_admins_write_any_mi_s_updates(
    sam_api: APIClient, mi: MajorIncident, person: Any
) -> None:
    manager = bearer_client(person("usr_mia_manager", "itsm_manager"))
    assert write(manager, mi).status_code == 201
    assert write(sam_api, mi).status_code == 201
    drafted = sam_api.post(
        f"/api/major-incidents/{mi.number}/drafts/", {"type": "initial"}, format="json"
    )
    assert drafted.status_code == 200
