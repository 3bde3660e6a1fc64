"""The initial assessment: each save is a new numbered revision and a timeline row.

Scope (services, customers), impact (revenue estimate, SLA breach risk, symptoms), the root-cause
hypothesis (confirmed or not) and the ETA with its confidence. A PUT is the whole assessment: what
it leaves out is empty in the new revision, and the previous revisions are kept as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from incidents.errors import DomainError
from incidents.events import send_after_commit
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import actor_id, ensure, name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services import record
from incidents.services.common import lock_major_incident

from .. import events
from ..models import AssessmentRevision, Level
from .common import ensure_writable

TEXT_FIELDS = (
    "affected_services",
    "affected_customers",
    "revenue_impact_estimate",
    "customer_symptoms",
    "root_cause_hypothesis",
)
ASSESSMENT_FIELDS = (
    *TEXT_FIELDS,
    "sla_breach_risk",
    "root_cause_confirmed",
    "eta",
    "eta_confidence",
)
# Scope and impact are what the first 15 minutes must establish; the root cause and the ETA are
# often unknown then and may follow in a later revision.
REQUIRED_FIELDS = ("affected_services", "sla_breach_risk", "customer_symptoms")
MAX_TEXT = 10_000
MAX_LENGTHS = {"revenue_impact_estimate": 200}
LEVEL_FIELDS = ("sla_breach_risk", "eta_confidence")


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(ASSESSMENT_FIELDS))
    if unknown:
        raise DomainError(f"unknown field: {', '.join(unknown)}", field=unknown[0])
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = fields.get(name) or ""
        if not isinstance(value, str):
            raise DomainError(f"{name} must be text", field=name)
        value = value.strip()
        limit = MAX_LENGTHS.get(name, MAX_TEXT)
        if len(value) > limit:
            raise DomainError(f"{name} is longer than {limit} characters", field=name)
        values[name] = value
    for name in LEVEL_FIELDS:
        value = fields.get(name) or ""
        if value not in ("", *Level.values):
            raise DomainError(f"{name} must be one of {', '.join(Level.values)}", field=name)
        values[name] = value
    confirmed = fields.get("root_cause_confirmed", False)
    if not isinstance(confirmed, bool):
        raise DomainError(
            "root_cause_confirmed must be true or false", field="root_cause_confirmed"
        )
    values["root_cause_confirmed"] = confirmed
    eta = fields.get("eta")
    if eta is not None and not isinstance(eta, datetime):
        raise DomainError("eta must be a date and time", field="eta")
    if eta is not None and (eta.tzinfo is None or eta.utcoffset() is None):
        raise DomainError("eta must carry its time zone (e.g. 2025-03-03T10:30:00Z)", field="eta")
    values["eta"] = eta
    for name in REQUIRED_FIELDS:
        if not values[name]:
            raise DomainError(f"{name} is required", field=name)
    if eta is not None and not values["eta_confidence"]:
        raise DomainError(
            "an ETA needs its confidence (low, medium or high)", field="eta_confidence"
        )
    if eta is None and values["eta_confidence"]:
        raise DomainError("a confidence is given for an ETA: give the ETA too", field="eta")
    if confirmed and not values["root_cause_hypothesis"]:
        raise DomainError(
            "a confirmed root cause needs the hypothesis written", field="root_cause_hypothesis"
        )
    return values


def _eta(revision: AssessmentRevision) -> str:
    assert revision.eta is not None
    when = revision.eta.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"ETA {when} ({revision.eta_confidence} confidence)"


def _changes(
    old: AssessmentRevision | None, new: AssessmentRevision
) -> tuple[list[str], list[str]]:
    """What changed since ``old``, in words for the timeline, and the field names for its data."""
    if old is None:
        said = [f"SLA breach risk {new.sla_breach_risk}"]
        if new.root_cause_confirmed:
            said.append("root cause confirmed")
        if new.eta is not None:
            said.append(_eta(new))
        return said, list(ASSESSMENT_FIELDS)
    fields = [name for name in ASSESSMENT_FIELDS if getattr(old, name) != getattr(new, name)]
    said = []
    if "affected_services" in fields or "affected_customers" in fields:
        said.append("scope changed")
    if "revenue_impact_estimate" in fields:
        said.append("revenue impact estimate changed")
    if "sla_breach_risk" in fields:
        said.append(f"SLA breach risk {old.sla_breach_risk} → {new.sla_breach_risk}")
    if "customer_symptoms" in fields:
        said.append("customer symptoms changed")
    if "root_cause_hypothesis" in fields:
        said.append("root-cause hypothesis changed")
    if "root_cause_confirmed" in fields:
        said.append(
            "root cause confirmed" if new.root_cause_confirmed else "root cause unconfirmed"
        )
    if "eta" in fields:
        said.append(_eta(new) if new.eta is not None else "ETA withdrawn")
    elif "eta_confidence" in fields:
        said.append(f"ETA confidence {old.eta_confidence} → {new.eta_confidence}")
    return said, fields


@transaction.atomic
def revise_assessment(
    *, mi: MajorIncident, actor: Actor | None, **fields: Any
) -> AssessmentRevision:
    """Save the MI's assessment as its next revision (r1 is the initial assessment).

    The MI is locked (after its incident, the lock order) while the number is taken, so two
    saves at once get r(n+1) and r(n+2), never one number twice; the unique constraint
    (major_incident, revision) is the backstop. ``assessment_revised`` is sent after commit.
    """
    ensure(actor, "post_timeline", mi)  # NotAllowed, saying who may
    values = _clean(fields)
    mi = lock_major_incident(mi)
    ensure_writable(mi)
    previous = AssessmentRevision.objects.filter(major_incident=mi).order_by("-revision").first()
    number = (previous.revision if previous else 0) + 1
    revision = AssessmentRevision.objects.create(
        major_incident=mi, revision=number, author=user_of(actor), **values
    )
    said, changed = _changes(previous, revision)
    who = name_of(actor)
    if previous is None:
        message = f"Initial assessment written by {who} (r{number}): " + ", ".join(said)
    else:
        message = f"Assessment revised (r{number}) by {who}: " + (", ".join(said) or "no change")
    record(
        mi.incident,
        TimelineKind.ASSESSMENT,
        message,
        actor=actor,
        major_incident=mi,
        data={"revision": number, "revision_id": revision.pk, "changes": changed},
    )
    send_after_commit(
        events.assessment_revised,
        major_incident_id=mi.pk,
        revision_id=revision.pk,
        revision=number,
        actor_id=actor_id(actor),
    )
    return revision
