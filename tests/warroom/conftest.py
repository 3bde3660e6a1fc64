"""Fixtures of the war-room tests: the people and MIs of the incidents suite, plus its team.

- ``mi``: a declared MI on a P1, alice (ITSM manager) its incident commander
- ``bob``: a technician on ``mi``'s team (technical lead)
- tina: a technician outside the team (reads, may not write); oscar: no role at all
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from incidents import services
from incidents.models import MajorIncident, RaciRole
from tests.conftest import bearer_client, make_user
from tests.incidents.conftest import browser_for, root  # noqa: F401
from tests.incidents.mi_fixtures import (  # noqa: F401
    T0,
    declare,
    force_status,
    fresh,
    listen,
    mi,
    p1,
    person,
    roster_ic,
)


@pytest.fixture
def bob(mi: MajorIncident, alice: Any) -> Any:  # noqa: F811 (the fixture, imported above)
    """A technician on ``mi``'s team: its technical lead."""
    user = make_user("usr_bob_builder", "technician")
    services.assign_role(mi=mi, actor=alice, role=RaciRole.TECHNICAL_LEAD, user=user)
    return fresh(user)


@pytest.fixture
def bob_api(bob: Any) -> Any:
    return bearer_client(bob)


@pytest.fixture
def web(browser_for: Callable[[Any], Client]) -> Callable[[Any], Client]:  # noqa: F811
    """``web(bob)``: a logged-in browser session (Django's test client) as that user."""
    return browser_for
