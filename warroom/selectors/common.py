"""Reads every war-room area shares."""

from __future__ import annotations

from incidents.models import MajorIncident, MIStatus

# A closed or cancelled MI's war room is a record: read, never written.
READ_ONLY_STATUSES = (MIStatus.CLOSED, MIStatus.CANCELLED)


def read_only(mi: MajorIncident, status: str | None = None) -> bool:
    """Is ``mi``'s war room read-only (``status``: the MI's state as just locked, if read anew)?"""
    return (status or mi.status) in READ_ONLY_STATUSES
