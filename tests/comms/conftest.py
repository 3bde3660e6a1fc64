"""Fixtures of the comms tests: the incidents suite's people and MIs, and the comms plumbing.

- ``mi``: a declared MI on a P1, alice (ITSM manager) its commander; ``bob`` its technical lead
- ``carol``: ``mi``'s communications lead (may send updates); ``lee``: legal
- ``leadership``: the seeded "IT leadership" group with two members who have addresses
- ``committed``: ``with committed(): …`` runs the after-commit hooks the block queued
- ``stub``: a local HTTP peer (``tests/stub_http.py``)
- ``channels_reset``: forget channel instances after a test that changes settings
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from comms import channels
from comms.models import StakeholderGroup
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
from tests.stub_http import StubServer


@pytest.fixture(autouse=True)
def channels_reset() -> Iterator[None]:
    channels.reset()
    yield
    channels.reset()


@pytest.fixture
def carol(mi: MajorIncident, alice: Any) -> Any:  # noqa: F811
    user = make_user("usr_carol_comms", "technician")
    user.email = "carol@example.test"
    user.save(update_fields=["email"])
    services.assign_role(mi=mi, actor=alice, role=RaciRole.COMMUNICATIONS_LEAD, user=user)
    return fresh(user)


@pytest.fixture
def carol_api(carol: Any) -> Any:
    return bearer_client(carol)


@pytest.fixture
def leadership(db: None) -> StakeholderGroup:
    group = StakeholderGroup.objects.get(slug="it-leadership")
    for name in ("cio", "cto"):
        user = make_user(f"usr_{name}")
        user.email = f"{name}@example.test"
        user.save(update_fields=["email"])
        group.users.add(user)
    return group


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Any:
    """``with committed(): …``: run what the block queued for after commit (the outbox's
    delivery tasks, the domain signals) when it ends, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def make_subscriber(db: None) -> Any:
    """``make_subscriber("a@example.test", [ci, …])``: a confirmed, active status page subscriber
    following those components (none: all)."""
    from django.utils import timezone

    from comms.models import StatusSubscriber

    def _make(email: str, components: Any = (), **fields: Any) -> StatusSubscriber:
        fields.setdefault("confirmed_at", timezone.now())
        subscriber = StatusSubscriber.objects.create(email=email, **fields)
        subscriber.components.set(components)
        return subscriber

    return _make
