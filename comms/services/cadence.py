"""The cadence, from the due times in the database (filled in by the cadence work)."""

from __future__ import annotations


def send_due_updates() -> dict[str, int]:
    return {}
