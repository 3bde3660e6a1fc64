"""Reads of an MI's bridge: who is on it now, and every stay so far."""

from __future__ import annotations

from django.db.models import QuerySet

from incidents.models import MajorIncident

from ..models import BridgeAttendance


def bridge_attendances(mi: MajorIncident) -> QuerySet[BridgeAttendance]:
    """Every stay on the MI's bridge, newest first, with who and who recorded it."""
    return (
        BridgeAttendance.objects.filter(major_incident=mi)
        .select_related("user", "recorded_by")
        .order_by("-joined_at", "-id")
    )


def on_bridge_now(mi: MajorIncident) -> QuerySet[BridgeAttendance]:
    """The open stays: who is on the bridge now, longest there first."""
    return (
        BridgeAttendance.objects.filter(major_incident=mi, left_at__isnull=True)
        .select_related("user", "recorded_by")
        .order_by("joined_at", "id")
    )


def open_stay(mi: MajorIncident, user_id: int) -> BridgeAttendance | None:
    return BridgeAttendance.objects.filter(
        major_incident=mi, user_id=user_id, left_at__isnull=True
    ).first()
