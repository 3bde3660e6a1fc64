"""The MI's scratchpad over the API: saves by version, a stale one is a 409 carrying the current
text, every version kept with who saved it; who may edit and who may only read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from incidents.models import MajorIncident, MIStatus, TimelineEntry, TimelineKind
from tests.conftest import bearer_client
from tests.warroom.conftest import force_status

pytestmark = pytest.mark.django_db


def url(mi: MajorIncident, rest: str = "") -> str:
    return f"/api/major-incidents/{mi.number}/scratchpad/{rest}"


def put(client: APIClient, mi: MajorIncident, text: Any, version: Any, **extra: Any) -> Any:
    return client.put(url(mi), {"text": text, "version": version, **extra}, format="json")


def test_an_empty_scratchpad_is_version_0(bob_api: APIClient, mi: MajorIncident) -> None:
    response = bob_api.get(url(mi))
    assert response.status_code == 200, response.content
    assert response.json() | {"updated_at": None} == {
        "text": "",
        "version": 0,
        "updated_by": None,
        "updated_at": None,
    }


def test_saves_raise_the_version_and_keep_every_one(
    bob_api: APIClient, alice_api: APIClient, bob: Any, alice: Any, mi: MajorIncident
) -> None:
    first = put(bob_api, mi, "DB primary at 100% CPU", 0)
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 1
    assert first.json()["updated_by"] == bob.username
    second = put(alice_api, mi, "DB primary at 100% CPU\nfailing over", 1)
    assert second.json()["version"] == 2
    current = bob_api.get(url(mi)).json()
    assert current["text"] == "DB primary at 100% CPU\nfailing over"
    assert current["updated_by"] == alice.username

    versions = bob_api.get(url(mi, "versions/")).json()
    assert versions["count"] == 2
    assert [(v["version"], v["saved_by"]) for v in versions["results"]] == [
        (2, alice.username),
        (1, bob.username),
    ]
    assert versions["results"][1]["length"] == len("DB primary at 100% CPU")
    one = bob_api.get(url(mi, "versions/1/"))
    assert one.status_code == 200
    assert one.json()["text"] == "DB primary at 100% CPU"
    assert one.json()["saved_by"] == bob.username
    assert bob_api.get(url(mi, "versions/3/")).status_code == 404


def test_a_stale_version_is_a_409_with_the_current_text(
    bob_api: APIClient, alice_api: APIClient, alice: Any, mi: MajorIncident
) -> None:
    put(bob_api, mi, "v1", 0)
    put(alice_api, mi, "alice's v2", 1)
    response = put(bob_api, mi, "bob edited v1", 1)
    assert response.status_code == 409, response.content
    body = response.json()
    assert "version 2" in body["detail"]
    assert body["current"]["text"] == "alice's v2"
    assert body["current"]["version"] == 2
    assert body["current"]["updated_by"] == alice.username
    assert body["current"]["updated_at"]
    # Nothing of bob's was saved; once he names the current version, his save goes through.
    assert bob_api.get(url(mi)).json()["text"] == "alice's v2"
    assert put(bob_api, mi, "merged", 2).json()["version"] == 3


def test_a_version_ahead_of_the_pad_is_stale_too(bob_api: APIClient, mi: MajorIncident) -> None:
    response = put(bob_api, mi, "from the future", 5)
    assert response.status_code == 409
    assert response.json()["current"]["version"] == 0


def test_the_same_text_again_is_no_new_version(bob_api: APIClient, mi: MajorIncident) -> None:
    put(bob_api, mi, "same", 0)
    again = put(bob_api, mi, "same", 1)
    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert bob_api.get(url(mi, "versions/")).json()["count"] == 1


def test_crlf_line_breaks_are_kept_as_lf(bob_api: APIClient, mi: MajorIncident) -> None:
    assert put(bob_api, mi, "a\r\nb", 0).json()["text"] == "a\nb"


def test_a_timeline_row_when_work_on_the_pad_starts_not_for_every_save(
    bob_api: APIClient, bob: Any, mi: MajorIncident
) -> None:
    client = APIClient()
    client.force_authenticate(bob)  # tokens and a frozen clock do not mix
    start = timezone.now() + timedelta(minutes=1)

    def rows() -> list[str]:
        return list(
            TimelineEntry.objects.filter(
                major_incident=mi, kind=TimelineKind.UPDATED, data__has_key="scratchpad_version"
            ).values_list("message", flat=True)
        )

    with freeze_time(start) as clock:
        for version in range(3):
            assert put(client, mi, f"text {version}", version).status_code == 200
            clock.tick(timedelta(minutes=2))
        assert rows() == [f"Scratchpad edited by {bob.username} (version 1)"]
        clock.tick(timedelta(minutes=15))
        put(client, mi, "after a quiet spell", 3)
        assert rows()[-1] == f"Scratchpad edited by {bob.username} (version 4)"
        assert len(rows()) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": 123, "version": 0}, "text"),
        ({"text": None, "version": 0}, "text"),
        ({"text": "x" * 100_001, "version": 0}, "text"),
        ({"text": "ok", "version": "0"}, "version"),
        ({"text": "ok", "version": 1.5}, "version"),
        ({"text": "ok", "version": True}, "version"),
        ({"text": "ok", "version": -1}, "version"),
        ({"text": "ok"}, "version"),
        ({"version": 0}, "text"),
        ({"text": "ok", "version": 0, "txt": "typo"}, "txt"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    bob_api: APIClient, mi: MajorIncident, body: dict[str, Any], field: str
) -> None:
    response = bob_api.put(url(mi), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_the_largest_text_is_saved(bob_api: APIClient, mi: MajorIncident) -> None:
    response = put(bob_api, mi, "x" * 100_000, 0)
    assert response.status_code == 200
    assert len(response.json()["text"]) == 100_000


def test_a_technician_outside_the_team_reads_but_may_not_edit(
    tina_api: APIClient, bob_api: APIClient, mi: MajorIncident
) -> None:
    put(bob_api, mi, "team notes", 0)
    assert tina_api.get(url(mi)).json()["text"] == "team notes"
    assert tina_api.get(url(mi, "versions/")).status_code == 200
    refused = put(tina_api, mi, "tina was here", 1)
    assert refused.status_code == 403
    assert "scratchpad" in refused.json()["detail"]
    assert bob_api.get(url(mi)).json()["version"] == 1


def test_legal_reads_but_may_not_edit(lee: Any, mi: MajorIncident) -> None:
    client = bearer_client(lee)
    assert client.get(url(mi)).status_code == 200
    assert put(client, mi, "legal", 0).status_code == 403


def test_an_outsider_gets_403_and_an_unknown_mi_404(
    oscar_api: APIClient, bob_api: APIClient, mi: MajorIncident
) -> None:
    assert oscar_api.get(url(mi)).status_code == 403
    assert put(oscar_api, mi, "x", 0).status_code == 403
    assert oscar_api.get(url(mi, "versions/")).status_code == 403
    assert bob_api.get("/api/major-incidents/MI9999999/scratchpad/").status_code == 404
    assert bob_api.get("/api/major-incidents/nonsense/scratchpad/").status_code == 404
    assert APIClient().get(url(mi)).status_code == 401


@pytest.mark.parametrize("status", [MIStatus.CLOSED, MIStatus.CANCELLED])
def test_a_finished_mi_is_read_only(bob_api: APIClient, mi: MajorIncident, status: str) -> None:
    put(bob_api, mi, "before", 0)
    force_status(mi, status)
    response = put(bob_api, mi, "after", 1)
    assert response.status_code == 409
    assert status in response.json()["detail"]
    assert bob_api.get(url(mi)).json()["text"] == "before"


def test_the_versions_read_in_the_same_queries_for_2_and_12(
    bob_api: APIClient, bob: Any, alice: Any, mi: MajorIncident
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from warroom import services

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert bob_api.get(url(mi, "versions/")).status_code == 200
        return len(ctx.captured_queries)

    for version in range(2):
        services.save_scratchpad(mi=mi, actor=bob, text=f"t{version}", version=version)
    few = count()
    for version in range(2, 12):
        who = alice if version % 2 else bob
        services.save_scratchpad(mi=mi, actor=who, text=f"t{version}", version=version)
    assert count() == few
