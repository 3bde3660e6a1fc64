"""The system properties of DESIGN: their types, defaults and bounds.

Values are stored in ``SystemProperty`` rows (created by a data migration) and read through
``incidents.services.get_property``, which caches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PropertySpec:
    key: str
    kind: type
    default: Any
    description: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()

    def validate(self, value: Any) -> Any:
        """Return ``value`` as this property's type, or raise ``ValueError`` saying why not."""
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            raise ValueError("must be true or false")
        if self.kind is int:
            # bool is an int in Python; a JSON true must not pass as 1.
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
                    value = int(value.strip())
                else:
                    raise ValueError("must be a whole number")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"must be at most {self.maximum}")
            return value
        if not isinstance(value, str):
            raise ValueError("must be a string")
        value = value.strip()
        if self.choices and value not in self.choices:
            raise ValueError(f"must be one of: {', '.join(self.choices)}")
        return value

    @property
    def type_name(self) -> str:
        if self.choices:
            return "choice"
        return {int: "integer", bool: "boolean"}.get(self.kind, "string")


SPECS: tuple[PropertySpec, ...] = (
    PropertySpec(
        "major_incident_auto_declare_threshold",
        int,
        50,
        "Affected users (through the CMDB) above which a P1 is declared a major incident.",
        1,
        10_000_000,
    ),
    PropertySpec(
        "major_incident_ack_timeout_minutes",
        int,
        15,
        "Minutes a P1 may stay unacknowledged before it is declared a major incident.",
        1,
        1440,
    ),
    PropertySpec(
        "major_incident_auto_declare_mode",
        str,
        "declare",
        "What the auto-declaration rules do: declare, propose a candidate, or nothing.",
        choices=("declare", "propose", "off"),
    ),
    PropertySpec(
        "major_incident_update_cadence_minutes",
        int,
        30,
        "Minutes between stakeholder updates while a major incident is open.",
        5,
        1440,
    ),
    PropertySpec(
        "executive_update_cadence_minutes",
        int,
        60,
        "Minutes between executive sponsor updates.",
        5,
        1440,
    ),
    PropertySpec(
        "resolution_stability_minutes",
        int,
        15,
        "Minutes a major incident must stay in monitoring before it may be resolved.",
        0,
        1440,
    ),
    PropertySpec(
        "recovery_monitoring_hours",
        int,
        2,
        "Hours of recovery monitoring after resolution.",
        0,
        168,
    ),
    PropertySpec(
        "pir_delay_hours",
        int,
        48,
        "Hours after resolution at which the post-incident review meeting is scheduled.",
        1,
        720,
    ),
    PropertySpec(
        "pir_publish_deadline_days",
        int,
        5,
        "Days after resolution by which the post-incident review must be published; past it "
        "the review is overdue and the ITSM managers are told.",
        1,
        90,
    ),
    PropertySpec(
        "escalation_resolution_hours",
        int,
        2,
        "Hours a major incident may stay open before the resolution escalation fires.",
        1,
        168,
    ),
    PropertySpec(
        "ticket_volume_escalation_factor",
        int,
        5,
        "Linked-ticket volume, as a multiple of normal, that triggers escalation.",
        2,
        100,
    ),
    PropertySpec(
        "first_customer_update_target_minutes",
        int,
        30,
        "Target minutes from declaration to the first customer update.",
        1,
        1440,
    ),
    PropertySpec(
        "security_breach_notification_hours",
        int,
        72,
        "Hours allowed to notify regulators of a personal-data breach (GDPR art. 33).",
        1,
        720,
    ),
)

REGISTRY: dict[str, PropertySpec] = {spec.key: spec for spec in SPECS}
