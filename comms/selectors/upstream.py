"""Which upstream providers' pages matter now: the ``saas_dependency`` CIs with an
``upstream_status_url`` that an open MI's affected CI is, or depends on (directly or
transitively), walked in the database as the CMDB's impact analysis is.

The walk goes consumer -> provider from each MI's affected CI (the opposite direction of the
impact walk: an outage of the provider reaches the consumer). ``UNION`` keeps each (MI, CI) pair
once and stops cycles, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from incidents.models import (
    OPEN_MI_STATUSES,
    CIDependency,
    CIKind,
    ConfigurationItem,
    Incident,
    MajorIncident,
)

from ..models import UpstreamStatus

_CI = ConfigurationItem._meta.db_table
_DEP = CIDependency._meta.db_table
_INC = Incident._meta.db_table
_MI = MajorIncident._meta.db_table


def _watched(mi_ids: list[int] | None) -> list[tuple[int, int]]:
    """(MI id, provider CI id) for the open MIs (or those of ``mi_ids``, open or not)."""
    if mi_ids is not None and not mi_ids:
        return []
    if mi_ids is None:
        where = "m.status IN (" + ", ".join(["%s"] * len(OPEN_MI_STATUSES)) + ")"
        params: list[int | str] = [str(s) for s in OPEN_MI_STATUSES]
    else:
        where = "m.id IN (" + ", ".join(["%s"] * len(mi_ids)) + ")"
        params = [int(pk) for pk in mi_ids]
    sql = f"""
        WITH RECURSIVE reach(mi_id, id) AS (
            SELECT m.id, i.affected_ci_id FROM {_MI} m JOIN {_INC} i ON i.id = m.incident_id
            WHERE {where} AND i.affected_ci_id IS NOT NULL
            UNION
            SELECT r.mi_id, d.provider_id FROM {_DEP} d JOIN reach r ON d.consumer_id = r.id
        )
        SELECT r.mi_id, ci.id FROM reach r JOIN {_CI} ci ON ci.id = r.id
        WHERE ci.kind = %s AND ci.upstream_status_url <> ''
        ORDER BY ci.id, r.mi_id
    """  # noqa: S608 (table names from the models' metadata; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, str(CIKind.SAAS_DEPENDENCY)])
        return [(int(mi_id), int(ci_id)) for mi_id, ci_id in cursor.fetchall()]


def watched_providers() -> dict[int, list[int]]:
    """Each provider CI to read now, with the open MIs it is under (one read per CI per tick,
    however many MIs share it)."""
    providers: dict[int, list[int]] = {}
    for mi_id, ci_id in _watched(None):
        providers.setdefault(ci_id, []).append(mi_id)
    return providers


@dataclass(frozen=True)
class ProviderStatus:
    """One provider of an MI and what its page said when last read (``status`` None: never)."""

    ci: ConfigurationItem
    status: UpstreamStatus | None

    @property
    def reports_issue(self) -> bool:
        return bool(self.status and self.status.indicator and self.status.indicator != "none")


def providers_of(mi: MajorIncident) -> list[ProviderStatus]:
    """The upstream providers an MI depends on, with their last read (the war-room panel, the
    drafter); two queries whatever the number of providers."""
    ci_ids = sorted({ci_id for _, ci_id in _watched([mi.pk])})
    return providers_of_cis(ci_ids)


def providers_of_cis(ci_ids: Iterable[int]) -> list[ProviderStatus]:
    ids = sorted(set(ci_ids))
    if not ids:
        return []
    cis = list(
        ConfigurationItem.objects.filter(pk__in=ids)
        .select_related("upstream_status")
        .order_by("name", "pk")
    )
    result = []
    for ci in cis:
        try:
            status: UpstreamStatus | None = ci.upstream_status
        except UpstreamStatus.DoesNotExist:
            status = None
        result.append(ProviderStatus(ci=ci, status=status))
    return result
