"""Which plan entries apply to an MI."""

from __future__ import annotations

from django.db.models import QuerySet

from incidents.models import MajorIncident

from ..models import CommunicationPlanEntry, SecurityScope


def entries_for(mi: MajorIncident, update_type: str) -> QuerySet[CommunicationPlanEntry]:
    """The enabled plan entries of ``update_type`` that apply to this MI (security scope)."""
    rows = CommunicationPlanEntry.objects.filter(enabled=True, update_type=update_type)
    excluded = SecurityScope.NEVER_SECURITY if mi.is_security else SecurityScope.SECURITY_ONLY
    return rows.exclude(security_scope=excluded).select_related("raci_activity")


def is_public(mi: MajorIncident, update_type: str) -> bool:
    """Does the plan publish this kind of update on the status page?"""
    return entries_for(mi, update_type).filter(status_page=True).exists()
