"""The reconcile and the per-event refresh, twice at once, in two processes on PostgreSQL.

DESIGN, "Periodic tasks": each task is safe to run twice at once. Two reconciles over the same
recorded CMDB changes claim them with ``select_for_update(skip_locked=True)``; both may touch the
same incidents, which they lock in ascending id order, so they queue behind each other instead of
deadlocking, and an incident's figure changes (and gets its timeline row) once. The harness is the
one of the MI race tests: two subprocesses released by one starting gun.
"""

from __future__ import annotations

from collections import Counter

import pytest

from incidents.models import (
    CIDependency,
    ConfigurationItem,
    Incident,
    PendingImpactRefresh,
    TimelineEntry,
    TimelineKind,
)
from incidents.selectors import cmdb
from tests.incidents.test_mi_race_pg import _check_clean, _run_twice_at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def _cmdb_with_incidents(n_cis: int, per_ci: int) -> tuple[list[ConfigurationItem], list[int]]:
    """A chain of CIs (each depends on the previous one) and open P3s on each."""
    cis = ConfigurationItem.objects.bulk_create(
        ConfigurationItem(name=f"ci-{k}", kind="application", user_count=1) for k in range(n_cis)
    )
    CIDependency.objects.bulk_create(
        CIDependency(consumer=cis[k], provider=cis[k - 1]) for k in range(1, n_cis)
    )
    incidents = Incident.objects.bulk_create(
        Incident(short_description=f"slow {k}", affected_ci=ci, impact=3, urgency=3, priority=5,
                 affected_users=0)
        for ci in cis for k in range(per_ci)
    )  # fmt: skip
    return cis, [i.pk for i in incidents]


def _stale(ids: list[int]) -> int:
    return sum(
        1
        for i in Incident.objects.filter(pk__in=ids)
        if i.affected_users != cmdb.affected_users(i.affected_ci_id)
    )


def _impact_rows_once(ids: list[int]) -> None:
    rows = Counter(
        TimelineEntry.objects.filter(kind=TimelineKind.IMPACT_CHANGED).values_list(
            "incident_id", flat=True
        )
    )
    assert set(rows) == set(ids) and set(rows.values()) == {1}


def test_two_reconciles_at_once_share_the_recorded_changes(tmp_path):
    # 600 CIs on their own, one incident each, one recorded change each: three batches that
    # touch different incidents, so neither run waits for the other.
    cis = ConfigurationItem.objects.bulk_create(
        ConfigurationItem(name=f"solo-{k}", kind="server", user_count=3) for k in range(600)
    )
    ids = [
        i.pk
        for i in Incident.objects.bulk_create(
            Incident(short_description="down", affected_ci=ci, priority=5) for ci in cis
        )
    ]
    PendingImpactRefresh.objects.bulk_create(PendingImpactRefresh(ci_id=ci.pk) for ci in cis)

    counts = _check_clean(_run_twice_at_once("reconcile", tmp_path))

    # Both did part of the work: they really ran at once, and skip_locked shared it out.
    assert all(counts), f"the runs did not overlap: {counts}"
    assert sum(counts) == 600, counts
    assert _stale(ids) == 0
    assert not PendingImpactRefresh.objects.exists()
    _impact_rows_once(ids)


def test_two_reconciles_over_the_same_incidents_change_each_once(tmp_path):
    cis, ids = _cmdb_with_incidents(n_cis=40, per_ci=10)  # 400 incidents, all stale
    # 600 recorded changes (three batches), every CI several times over.
    PendingImpactRefresh.objects.bulk_create(
        PendingImpactRefresh(ci_id=cis[k % len(cis)].pk) for k in range(600)
    )
    assert _stale(ids) == 400

    counts = _check_clean(_run_twice_at_once("reconcile", tmp_path))

    assert _stale(ids) == 0
    assert not PendingImpactRefresh.objects.exists()
    # Each incident changed once, by whichever run locked it first; the other, waiting on the
    # lock (ascending ids: no deadlock), found it current.
    _impact_rows_once(ids)
    assert sum(counts) == 400, counts
