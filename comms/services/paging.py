"""Paging the on-call: PagerDuty Events API v2 and Opsgenie's Alert API, through the outbox, on
declaration, on each escalation step, and as the MI is acknowledged and resolved."""

from __future__ import annotations


def major_incident_declared(major_incident_id: int) -> None:
    """Trigger a page for a newly declared MI (each configured paging channel)."""


def escalation_triggered(major_incident_id: int, step_id: int) -> None:
    """Page again for an escalation step."""


def major_incident_state_changed(major_incident_id: int, from_status: str, to_status: str) -> None:
    """Acknowledge the page when the MI is being worked, resolve it when the MI is resolved."""
