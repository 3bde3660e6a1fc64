"""The escalation sweep's linked-ticket count (issue 10, item 4) on PostgreSQL.

1. (Re)creates a benchmark database, migrates it, and bulk-inserts a 4-ary CMDB tree of ``--cis``
   CIs (each CI's consumers are its four children, so an outage of a CI near the root reaches
   hundreds), four weeks of history (``--history`` incidents spread over the CIs), and for each of
   ``--mis`` open MIs (on CIs at every depth) its incident, six children and six incidents on CIs
   its outage reaches, logged in the last hour.
2. ANALYZEs, then times ``services.evaluate_escalations(now=…)`` once it has nothing new to
   fire (every due step fired by a first run), median and p95 over ``--runs`` calls, with the
   SQL query count, for each MI count in turn (more MIs are added between rounds).
3. Drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/ticket_volume.py`` (``--mis 50,200 --runs 20``).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import benchlib

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cis", type=int, default=1000)
    parser.add_argument("--history", type=int, default=50_000)
    parser.add_argument("--mis", default="50,200")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    url = benchlib.database_url("mimdesk_bench_paging")
    benchlib.stop_cleanly_on_sigterm()
    benchlib.fresh_django_database(url)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            benchlib.drop_database(url)


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents import services
    from incidents.models import (
        CIDependency,
        ConfigurationItem,
        Incident,
        IncidentState,
        MajorIncident,
        MIStatus,
    )

    cis = ConfigurationItem.objects.bulk_create(
        ConfigurationItem(name=f"ci-{n}", kind="application", user_count=10)
        for n in range(args.cis)
    )
    CIDependency.objects.bulk_create(
        CIDependency(consumer=cis[n], provider=cis[(n - 1) // 4]) for n in range(1, len(cis))
    )
    span = timedelta(days=28).total_seconds()
    Incident.objects.bulk_create(
        (
            Incident(
                short_description=f"history {n}",
                affected_ci=cis[(n * 7) % len(cis)],
                state=IncidentState.CLOSED,
                impact=3,
                urgency=3,
                priority=5,
                created_at=NOW - timedelta(days=29) + timedelta(seconds=span * n / args.history),
            )
            for n in range(args.history)
        ),
        batch_size=5000,
    )
    declared = NOW - timedelta(minutes=50)

    def add_mis(count: int, offset: int) -> None:
        for n in range(offset, offset + count):
            ci = cis[(n * 37) % len(cis)]
            incident = Incident.objects.create(
                short_description=f"outage {n}", affected_ci=ci, impact=1, urgency=1, priority=1,
                state=IncidentState.IN_PROGRESS, created_at=declared,
            )  # fmt: skip
            MajorIncident.objects.create(
                incident=incident, status=MIStatus.INVESTIGATING, impact_statement="down",
                declared_at=declared,
            )  # fmt: skip
            reached = [c for c in cis if c.pk in _reach(ci.pk, len(cis), cis)][:6] or [ci]
            Incident.objects.bulk_create(
                [
                    Incident(short_description=f"child {n}.{k}", parent=incident,
                             created_at=NOW - timedelta(minutes=20))
                    for k in range(6)
                ]
                + [
                    Incident(short_description=f"on ci {n}.{k}",
                             affected_ci=reached[k % len(reached)],
                             created_at=NOW - timedelta(minutes=10))
                    for k in range(6)
                ]
            )  # fmt: skip

    rows: list[list[object]] = []
    total = 0
    for target in [int(x) for x in args.mis.split(",")]:
        add_mis(target - total, total)
        total = target
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have by now
        services.evaluate_escalations(now=NOW)  # fire what is due, warm the property cache
        samples = []
        for _ in range(args.runs):
            started = time.perf_counter()
            fired = services.evaluate_escalations(now=NOW)
            samples.append(time.perf_counter() - started)
            assert fired == [], fired
        with CaptureQueriesContext(connection) as queries:
            services.evaluate_escalations(now=NOW)
        stats = benchlib.summarize(samples)
        rows.append([total, benchlib.ms(stats["median"]), benchlib.ms(stats["p95"]), len(queries)])
        print(f"{total} open MIs: median {benchlib.ms(stats['median'])}", flush=True)
    print()
    print(f"{args.cis} CIs (4-ary tree), {args.history} history incidents, 12 linked per MI")
    print(benchlib.markdown_table(["open MIs", "sweep median", "sweep p95", "queries"], rows))
    print(benchlib.machine())


def _reach(root_pk: int, size: int, cis: list[Any]) -> set[int]:
    """The CIs an outage of ``root_pk`` reaches in the 4-ary tree (children of n: 4n+1…4n+4)."""
    index = {c.pk: i for i, c in enumerate(cis)}
    out: set[int] = set()
    todo = [index[root_pk]]
    while todo:
        i = todo.pop()
        out.add(cis[i].pk)
        todo += [j for j in range(4 * i + 1, 4 * i + 5) if j < size]
    return out


if __name__ == "__main__":
    main()
