"""Fixtures of the paging tests: PagerDuty's Events API and Opsgenie's Alert API played by the
local stub (``tests/stub_http.py``), answering as the providers do (202 and their ids).

A test module imports the ``*_fixture`` functions; pytest knows them by their short names.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from incidents.models import Incident, MajorIncident
from tests.incidents.mi_fixtures import declare
from tests.stub_http import Recorded, Reply, StubServer

PD_PATH = "/pagerduty/v2/enqueue"
OG_ROOT = "/opsgenie"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
GENIE_KEY = "genie-0123-4567"


def pagerduty_answer(request: Recorded) -> Reply:
    body = request.json()
    return Reply(
        202, {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}
    )


@pytest.fixture(name="pagerduty")
def pagerduty_fixture(settings: Any, stub: StubServer) -> StubServer:
    settings.PAGERDUTY_ROUTING_KEY = ROUTING_KEY
    settings.PAGERDUTY_EVENTS_URL = stub.url + PD_PATH
    settings.OPSGENIE_API_KEY = ""
    stub.handler = lambda r: pagerduty_answer(r) if r.path == PD_PATH else None
    return stub


@pytest.fixture(name="opsgenie")
def opsgenie_fixture(settings: Any, stub: StubServer) -> StubServer:
    settings.OPSGENIE_API_KEY = GENIE_KEY
    settings.OPSGENIE_API_URL = stub.url + OG_ROOT + "/"
    settings.PAGERDUTY_ROUTING_KEY = ""
    ids = itertools.count(1)

    def answer(request: Recorded) -> Reply | None:
        if not request.path.startswith(OG_ROOT + "/v2/alerts"):
            return None
        return Reply(
            202,
            {"result": "Request will be processed", "took": 0.01, "requestId": f"req-{next(ids)}"},
        )

    stub.handler = answer
    return stub


@pytest.fixture(name="paged_mi")
def paged_mi_fixture(p1: Incident, alice: Any, committed: Any) -> MajorIncident:
    """``p1`` declared with paging on (the test's provider fixture comes first): the trigger is
    sent by the time the test starts."""
    with committed():
        mi = declare(p1, alice)
    return mi
