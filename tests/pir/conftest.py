"""Fixtures of the PIR tests: the comms suite's people and MIs, and a resolved MI with its review.

- ``resolved``: ``mi`` (alice its commander, a P1) moved to monitoring and then resolved an hour
  after it was declared, through the lifecycle, with the after-commit receivers run: its review
  exists
- ``review``: ``resolved``'s review
- ``resolve(mi, actor, committed)``: the same for another MI
- ``bob``: a technician on the MI's team (technical lead); ``tina``: a technician outside it
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from incidents import services
from incidents.models import MajorIncident, MIStatus, RaciRole
from pir.models import PostIncidentReview
from tests.comms.conftest import (  # noqa: F401
    T0,
    browser_for,
    carol,
    carol_api,
    channels_reset,
    committed,
    declare,
    force_status,
    fresh,
    leadership,
    listen,
    mi,
    p1,
    person,
    root,
    roster_ic,
    stub,
)
from tests.conftest import make_user


def resolve(mi: MajorIncident, actor: Any, committed: Any, at: Any = None) -> MajorIncident:  # noqa: F811
    """Monitoring for 30 minutes, then resolved at ``at`` (default: an hour after it was
    declared), the after-commit receivers run."""
    at = at or mi.declared_at + timedelta(hours=1)
    with freeze_time(at - timedelta(minutes=30)), committed():
        services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=actor)
    with freeze_time(at), committed():
        services.transition_major_incident(mi=mi, to=MIStatus.RESOLVED, actor=actor)
    mi.refresh_from_db()
    return mi


@pytest.fixture
def bob(mi: MajorIncident, alice: Any) -> Any:  # noqa: F811
    user = make_user("usr_bob_tech", "technician")
    user.email = "bob@example.test"
    user.save(update_fields=["email"])
    services.assign_role(mi=mi, actor=alice, role=RaciRole.TECHNICAL_LEAD, user=user)
    return fresh(user)


@pytest.fixture
def resolved(mi: MajorIncident, alice: Any, committed: Any) -> MajorIncident:  # noqa: F811
    return resolve(mi, alice, committed)


@pytest.fixture
def review(resolved: MajorIncident) -> PostIncidentReview:
    return PostIncidentReview.objects.get(major_incident=resolved)
