"""Fixtures and helpers for the major-incident service tests.

``tests/incidents/conftest.py`` imports the fixtures from here, so every test of the directory can
ask for them; the helpers are imported by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.dispatch import Signal

from incidents import services
from incidents.models import (
    Incident,
    MajorIncident,
    MIStatus,
    RaciRole,
    RoleRoster,
)
from tests.conftest import make_user

User = get_user_model()

IC = RaciRole.MAJOR_INCIDENT_MANAGER
# A Monday morning, UTC: the clock most MI tests freeze at.
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def fresh(user: Any) -> Any:
    """The user re-read from the database: Django caches permissions on the user object."""
    return User.objects.get(pk=user.pk)


def declare(incident: Incident, manager: Any, actor: Any = None, **fields: Any) -> MajorIncident:
    """Declare ``incident`` through the service with a default impact statement."""
    fields.setdefault("initial_impact_statement", "Checkout down for every customer")
    return services.declare_major_incident(
        incident=incident, manager=manager, actor=actor if actor is not None else manager, **fields
    )


def force_status(mi: MajorIncident, status: str, **fields: Any) -> MajorIncident:
    """Put an MI in ``status`` without the lifecycle (to test the moves out of it)."""
    MajorIncident.objects.filter(pk=mi.pk).update(status=status, **fields)
    mi.refresh_from_db()
    return mi


class Receiver:
    """A signal receiver that remembers its calls (connected for the test only)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, sender: Any = None, **kwargs: Any) -> None:
        kwargs.pop("signal", None)
        self.calls.append(kwargs)


@pytest.fixture
def listen() -> Iterator[Callable[[Signal], Receiver]]:
    """``listen(events.major_incident_declared)``: a Receiver connected until the test ends."""
    connected: list[tuple[Signal, Receiver]] = []

    def _listen(signal: Signal) -> Receiver:
        receiver = Receiver()
        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))
        return receiver

    yield _listen
    for signal, receiver in connected:
        signal.disconnect(receiver)


@pytest.fixture
def person(db: None) -> Callable[..., Any]:
    """``person("usr_bob", "technician")``: one more user with those role groups."""
    return make_user


@pytest.fixture
def roster_ic(alice: Any) -> Any:
    """Alice is the on-call incident commander, so rules may declare."""
    RoleRoster.objects.create(role=IC, user=alice)
    return alice


@pytest.fixture
def p1(make_incident: Callable[..., Incident]) -> Incident:
    """An open P1 (impact 1 × urgency 1), unacknowledged."""
    return make_incident(impact=1, urgency=1)


@pytest.fixture
def mi(p1: Incident, alice: Any) -> MajorIncident:
    """A declared MI on a P1, alice (ITSM manager) its incident commander."""
    return declare(p1, alice)


__all__ = [
    "IC",
    "T0",
    "MIStatus",
    "Receiver",
    "declare",
    "force_status",
    "fresh",
    "listen",
    "mi",
    "p1",
    "person",
    "roster_ic",
]
