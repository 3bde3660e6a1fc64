"""The monthly KPI report to the ITSM managers."""

from __future__ import annotations

from typing import Any


def send_monthly_report() -> dict[str, Any]:
    return {}
