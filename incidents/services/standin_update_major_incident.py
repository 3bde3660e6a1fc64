"""STAND-IN for rules' ``update_major_incident`` (incidents/services/majors.py on branch ``rules``).

Only here so the MI edit endpoint and form of this branch can be tested before that service lands.
Drop this module and its import in ``services/__init__.py`` at merge; keep rules' version.
Same signature and contract: IC or ITSM manager only, one timeline row per changed field,
``DomainError(field=…)`` on bad input, ``Conflict`` once the MI is closed or cancelled.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ..errors import Conflict, DomainError, NotAllowed
from ..models import Incident, MajorIncident, MIStatus, TimelineKind
from ..selectors.access import can_manage
from ..selectors.actors import Actor, name_of
from .common import record

_FIELDS = ("impact_statement", "summary", "bridge_link", "is_security", "media_attention")


@transaction.atomic
def update_major_incident(
    *, mi: MajorIncident, actor: Actor | None, **fields: Any
) -> MajorIncident:
    if not can_manage(actor, mi):
        raise NotAllowed(f"only {mi.number}'s incident commander or an ITSM manager may do this")
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise DomainError(f"unknown or read-only fields: {', '.join(unknown)}", field=unknown[0])
    if "impact_statement" in fields and not str(fields["impact_statement"]).strip():
        raise DomainError("the impact statement cannot be empty", field="impact_statement")
    incident = Incident.objects.select_for_update().get(pk=mi.incident_id)
    mi = MajorIncident.objects.select_for_update().get(pk=mi.pk)
    if mi.status in (MIStatus.CLOSED, MIStatus.CANCELLED):
        raise Conflict(f"{mi.number} is {mi.status}; what was declared is final")
    changed = {n: v for n, v in fields.items() if getattr(mi, n) != v}
    for name, value in changed.items():
        record(
            incident,
            TimelineKind.UPDATED,
            f"{mi.number}: {name.replace('_', ' ')} changed by {name_of(actor)}",
            actor=actor,
            major_incident=mi,
            data={"field": name, "from": getattr(mi, name), "to": value},
        )
        setattr(mi, name, value)
    if changed:
        mi.save(update_fields=[*changed, "updated_at"])
    if "is_security" in changed and incident.is_security != mi.is_security:
        incident.is_security = mi.is_security
        incident.save(update_fields=["is_security", "updated_at"])
    mi.incident = incident
    return mi
