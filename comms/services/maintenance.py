"""Scheduled maintenance: the windows' lifecycle, their public updates and the incidents logged
on a component while it is under maintenance."""

from __future__ import annotations


def incident_logged(incident_id: int) -> None:
    """Flag an incident logged on a component under maintenance (``mark_under_maintenance``)."""
