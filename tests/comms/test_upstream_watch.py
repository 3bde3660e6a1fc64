"""The upstream status watch against a local peer serving Statuspage's ``summary.json``
(``tests/stub_http.py``): a change is one timeline row per MI, no change none, a 304 honours
the ETag, a failing page is recorded and never raises, nothing is read without an open MI, and a
provider two MIs share is read once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from comms.channels import upstream as channel
from comms.channels.base import TransportError
from comms.models import UpstreamStatus
from comms.services import upstream
from incidents.models import (
    CIKind,
    ConfigurationItem,
    Incident,
    MajorIncident,
    MIStatus,
    TimelineEntry,
    TimelineKind,
)
from tests.incidents.mi_fixtures import declare, force_status
from tests.stub_http import Reply, StubServer

pytestmark = pytest.mark.django_db

PATH = "/api/v2/summary.json"


def summary(
    indicator: str = "none",
    description: str = "All Systems Operational",
    incidents: list[Any] | None = None,
) -> dict[str, Any]:
    return {
        "page": {
            "id": "stripe",
            "name": "Stripe",
            "url": "https://status.stripe.example",
            "updated_at": "2026-12-01T21:00:00.000Z",
        },
        "status": {"indicator": indicator, "description": description},
        "components": [
            {"id": "c1", "name": "API", "status": "operational", "group": False},
            {"id": "g1", "name": "A group", "status": "operational", "group": True},
        ],
        "incidents": incidents or [],
        "scheduled_maintenances": [],
    }


OUTAGE = summary(
    "major",
    "Partial System Outage",
    [
        {
            "id": "inc1",
            "name": "Elevated card declines",
            "status": "investigating",
            "impact": "major",
            "shortlink": "https://stspg.io/abc",
            "updated_at": "2026-12-01T21:05:00.000Z",
        }
    ],
)


@pytest.fixture
def provider(stub: StubServer) -> ConfigurationItem:
    return ConfigurationItem.objects.create(
        name="Stripe",
        kind=CIKind.SAAS_DEPENDENCY,
        upstream_status_url=stub.url + "/",
        provider_role="payment processing partner",
    )


@pytest.fixture
def checkout(make_ci: Callable[..., ConfigurationItem], provider: ConfigurationItem) -> Any:
    """Checkout depends on payments, which depends on Stripe: the MI's CI reaches it in two."""
    payments = make_ci("payments", depends_on=(provider,))
    return make_ci("checkout", users=500, depends_on=(payments,))


def open_mi(make_incident: Callable[..., Incident], ci: ConfigurationItem, manager: Any) -> Any:
    return declare(make_incident(impact=1, urgency=1, affected_ci=ci), manager)


def upstream_rows(mi: MajorIncident) -> list[TimelineEntry]:
    return list(
        TimelineEntry.objects.filter(major_incident=mi, kind=TimelineKind.UPSTREAM_STATUS).order_by(
            "id"
        )
    )


def test_a_change_is_one_timeline_row_and_no_change_none(
    stub: StubServer, provider: ConfigurationItem, checkout: Any, make_incident: Any, alice: Any
) -> None:
    mi = open_mi(make_incident, checkout, alice)
    stub.default = Reply(200, summary())
    first = upstream.watch_upstream_status()
    assert first["read"] == 1 and first["timeline_rows"] == 1
    status = UpstreamStatus.objects.get(ci=provider)
    assert (status.indicator, status.description) == ("none", "All Systems Operational")
    assert [c["name"] for c in status.components] == ["API"]
    assert status.fetched_at is not None and status.last_error == ""
    assert status.page_updated_at is not None

    assert upstream.watch_upstream_status()["timeline_rows"] == 0  # the same page: nothing new
    assert len(upstream_rows(mi)) == 1

    stub.default = Reply(200, OUTAGE)
    assert upstream.watch_upstream_status()["timeline_rows"] == 1
    rows = upstream_rows(mi)
    assert len(rows) == 2
    assert "Partial System Outage" in rows[-1].message
    assert "Elevated card declines (investigating)" in rows[-1].message
    assert rows[-1].incident_id == mi.incident_id
    assert rows[-1].data["indicator"] == "major"
    status.refresh_from_db()
    assert status.incidents[0]["url"] == "https://stspg.io/abc"
    assert upstream.watch_upstream_status()["timeline_rows"] == 0
    # The incident's status moving on is news; the page's updated_at alone is not.
    resolved = {**OUTAGE, "incidents": [{**OUTAGE["incidents"][0], "status": "monitoring"}]}
    stub.default = Reply(200, resolved)
    assert upstream.watch_upstream_status()["timeline_rows"] == 1
    later = {**resolved, "page": {**resolved["page"], "updated_at": "2026-12-01T22:00:00Z"}}
    stub.default = Reply(200, later)
    assert upstream.watch_upstream_status()["timeline_rows"] == 0
    assert all(r.path == PATH for r in stub.requests)


def test_a_304_keeps_the_state_and_sends_the_etag(
    stub: StubServer, provider: ConfigurationItem, checkout: Any, make_incident: Any, alice: Any
) -> None:
    mi = open_mi(make_incident, checkout, alice)
    stub.script(
        PATH,
        Reply(200, OUTAGE, headers={"ETag": '"v1"'}),
        Reply(304, b"", headers={"ETag": '"v1"'}),
    )
    upstream.watch_upstream_status()
    outcome = upstream.watch_upstream_status()
    assert outcome["not_modified"] == 1 and outcome["timeline_rows"] == 0
    assert "if-none-match" not in stub.requests[0].headers
    assert stub.requests[1].headers["if-none-match"] == '"v1"'
    status = UpstreamStatus.objects.get(ci=provider)
    assert status.indicator == "major" and status.etag == '"v1"'
    assert len(upstream_rows(mi)) == 1


@pytest.mark.parametrize(
    "reply, said",
    [
        (Reply(500, "boom"), "HTTP 500"),
        (Reply(404, "no"), "HTTP 404"),
        (Reply(200, "<html>not json</html>"), "not JSON"),
        (Reply(200, {"status": "fine"}), "status.indicator"),
        (Reply(200, [1, 2]), "no object"),
        (Reply(200, {"status": {"indicator": "purple"}}), "unknown status indicator"),
        (Reply(200, "[" * 100_000), "not JSON"),
    ],
)
def test_a_failing_page_is_recorded_not_raised(
    stub: StubServer,
    provider: ConfigurationItem,
    checkout: Any,
    make_incident: Any,
    alice: Any,
    reply: Reply,
    said: str,
) -> None:
    mi = open_mi(make_incident, checkout, alice)
    stub.default = reply
    outcome = upstream.watch_upstream_status()
    assert outcome["failed"] == 1
    status = UpstreamStatus.objects.get(ci=provider)
    assert said in status.last_error
    assert status.fetched_at is None
    assert upstream_rows(mi) == []
    # It recovers on the next good read, and the error is gone.
    stub.default = Reply(200, OUTAGE)
    assert upstream.watch_upstream_status()["timeline_rows"] == 1
    status.refresh_from_db()
    assert status.last_error == ""


def test_a_timeout_is_recorded(
    stub: StubServer, provider: ConfigurationItem, checkout: Any, make_incident: Any, alice: Any
) -> None:
    open_mi(make_incident, checkout, alice)
    stub.default = Reply(200, OUTAGE, hang=1.5)
    with override_settings(MIM_UPSTREAM_TIMEOUT=0.3):
        assert upstream.watch_upstream_status()["failed"] == 1
    assert "no answer within 0.3 s" in UpstreamStatus.objects.get(ci=provider).last_error


def test_a_refused_connection_is_recorded(
    provider: ConfigurationItem, checkout: Any, make_incident: Any, alice: Any
) -> None:
    gone = StubServer()
    url = gone.url
    gone._server.server_close()  # never started, now closed: nothing listens on its port
    ConfigurationItem.objects.filter(pk=provider.pk).update(upstream_status_url=url)
    open_mi(make_incident, checkout, alice)
    assert upstream.watch_upstream_status()["failed"] == 1
    assert "ConnectionError" in UpstreamStatus.objects.get(ci=provider).last_error


def test_a_huge_page_is_refused(
    stub: StubServer, provider: ConfigurationItem, checkout: Any, make_incident: Any, alice: Any
) -> None:
    open_mi(make_incident, checkout, alice)
    stub.default = Reply(200, b" " * (channel.MAX_BODY_BYTES + 10))
    assert upstream.watch_upstream_status()["failed"] == 1
    assert "bytes" in UpstreamStatus.objects.get(ci=provider).last_error


def test_nothing_is_read_without_an_open_mi(
    stub: StubServer, provider: ConfigurationItem, checkout: Any, make_incident: Any, alice: Any
) -> None:
    stub.default = Reply(200, OUTAGE)
    make_incident(impact=1, urgency=1, affected_ci=checkout)  # an incident, no MI
    assert upstream.watch_upstream_status()["providers"] == 0
    mi = open_mi(make_incident, checkout, alice)
    force_status(mi, MIStatus.RESOLVED)
    assert upstream.watch_upstream_status()["providers"] == 0
    assert stub.requests == []


def test_a_provider_the_mi_does_not_reach_is_not_read(
    stub: StubServer,
    provider: ConfigurationItem,
    make_ci: Callable[..., ConfigurationItem],
    make_incident: Any,
    alice: Any,
) -> None:
    from incidents import services

    # The provider depends on the MI's CI, not the other way round: its page is not the MI's.
    reporting = make_ci("reporting")
    services.set_dependencies(ci=provider, providers=[reporting])
    open_mi(make_incident, reporting, alice)
    lonely = make_ci("wiki")
    open_mi(make_incident, lonely, alice)
    stub.default = Reply(200, OUTAGE)
    assert upstream.watch_upstream_status()["providers"] == 0
    assert stub.requests == []


def test_a_provider_two_mis_share_is_read_once(
    stub: StubServer,
    provider: ConfigurationItem,
    checkout: Any,
    make_incident: Any,
    alice: Any,
    make_ci: Callable[..., ConfigurationItem],
) -> None:
    first = open_mi(make_incident, checkout, alice)
    second = open_mi(make_incident, provider, alice)  # the provider itself is the affected CI
    stub.default = Reply(200, OUTAGE)
    outcome = upstream.watch_upstream_status()
    assert outcome["providers"] == 1 and outcome["timeline_rows"] == 2
    assert len(stub.requests) == 1
    assert len(upstream_rows(first)) == 1 and len(upstream_rows(second)) == 1
    # An MI opened later hears what the page says now, though it has not changed.
    third = open_mi(make_incident, checkout, alice)
    assert upstream.watch_upstream_status()["timeline_rows"] == 1
    assert len(upstream_rows(third)) == 1 and len(upstream_rows(first)) == 1


def test_a_cycle_in_the_cmdb_is_walked_once(
    stub: StubServer,
    provider: ConfigurationItem,
    make_ci: Callable[..., ConfigurationItem],
    make_incident: Any,
    alice: Any,
) -> None:
    from incidents import services

    a = make_ci("a", depends_on=(provider,))
    b = make_ci("b", depends_on=(a,))
    services.set_dependencies(ci=a, providers=[provider, b])
    open_mi(make_incident, b, alice)
    stub.default = Reply(200, OUTAGE)
    assert upstream.watch_upstream_status()["providers"] == 1
    assert len(stub.requests) == 1


def test_one_failing_provider_does_not_stop_the_others(
    stub: StubServer,
    provider: ConfigurationItem,
    checkout: Any,
    make_incident: Any,
    alice: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = ConfigurationItem.objects.create(
        name="Mailer", kind=CIKind.SAAS_DEPENDENCY, upstream_status_url=stub.url + "/mailer/"
    )
    open_mi(make_incident, checkout, alice)
    open_mi(make_incident, other, alice)
    stub.script(PATH, Reply(500))
    stub.default = Reply(200, OUTAGE)
    outcome = upstream.watch_upstream_status()
    assert (outcome["failed"], outcome["read"]) == (1, 1)
    assert [r.path for r in stub.requests] == [PATH, "/mailer" + PATH]


@pytest.mark.parametrize(
    "given, expected",
    [
        ("https://status.stripe.com", "https://status.stripe.com/api/v2/summary.json"),
        ("https://status.stripe.com/", "https://status.stripe.com/api/v2/summary.json"),
        ("https://status.stripe.com/?x=1#y", "https://status.stripe.com/api/v2/summary.json"),
        (
            "https://status.stripe.com/api/v2/status.json",
            "https://status.stripe.com/api/v2/summary.json",
        ),
        (
            "https://status.stripe.com/api/v2/summary.json",
            "https://status.stripe.com/api/v2/summary.json",
        ),
        ("https://example.com/status/", "https://example.com/status/api/v2/summary.json"),
        ("https://example.com/status/api/v2", "https://example.com/status/api/v2/summary.json"),
    ],
)
def test_summary_url(given: str, expected: str) -> None:
    assert channel.summary_url(given) == expected


@pytest.mark.parametrize("bad", ["ftp://x/", "javascript:alert(1)", "status.stripe.com", ""])
def test_summary_url_refuses_what_is_no_web_page(bad: str) -> None:
    with pytest.raises(TransportError):
        channel.summary_url(bad)


def test_third_party_links_are_kept_only_if_http() -> None:
    body = summary(
        "minor",
        "Minor",
        [
            {"id": "x", "name": "Evil", "status": "identified", "shortlink": "javascript:alert(1)"},
            {"id": "y", "name": "", "status": "identified"},
            "not an object",
        ],
    )
    import json

    parsed = channel.parse_summary(json.dumps(body).encode())
    assert [(i.name, i.url) for i in parsed.incidents] == [
        ("Evil", "https://status.stripe.example/incidents/x")
    ]
