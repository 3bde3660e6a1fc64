"""The KPIs over 1,000,000 incidents and 10,000 MIs on PostgreSQL (issue 9): SQL aggregation
against the same figures computed by iterating the rows in Python.

1. (Re)creates its own database (``mimdesk_bench_kpis``), migrates it and fills it with
   ``INSERT … SELECT generate_series``: 20 business services, ``--incidents`` incidents over
   three years up to now (priorities 5/15/40/30/10 % for P1–P5, acknowledged after 1–60 min,
   detection known for a third, resolved after 1–48 h), an MI on every ``incidents/mis``-th
   incident (2 % cancelled; impact start known for half; a first customer update 5–59 min in;
   three automatic cadence updates each, sent 0–119 s after their slot), a review per MI (due 5
   days after resolution, published before or after) and two action items each; ``VACUUM
   (ANALYZE)``.
2. Times ``GET /api/metrics/`` through Django's test client as an ITSM manager (session), for
   the default period (the last 12 months) and for a 3-year period (every row): median and p95
   over ``--runs``, and the number of SQL queries of one request.
3. Times a naive implementation (this file only): the same KPIs computed by reading every row
   of the period into Python (``values_list(...).iterator()``) and summing there, over
   ``--naive-runs``; checks its figures equal the SQL ones; prints the ratio.
4. Drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/metrics.py`` (``--incidents 100000 --mis 1000`` for a quick look).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import benchlib

SERVICES = 20

SERVICES_SQL = """
INSERT INTO incidents_configurationitem (name, kind, user_count, owner_group, criticality,
    description, created_at, updated_at)
SELECT 'Business service ' || g, 'business_service', 1000 * g, 'Ops', 1 + g %% 4, '', now(), now()
FROM generate_series(1, %(n)s) AS g
"""

INCIDENTS_SQL = """
INSERT INTO incidents_incident (
    short_description, description, channel, impact, urgency, priority, priority_is_manual,
    state, assignment_group, affected_users, is_security, resolution_notes, affected_ci_id,
    impact_started_at, detected_at, created_at, updated_at, acknowledged_at, resolved_at,
    closed_at)
SELECT 'Bench incident ' || g, '', 'portal', 2, 2, p.priority, false,
       CASE WHEN g %% 10 = 0 THEN 'in_progress' ELSE 'closed' END, 'Service Desk', 0, false, '',
       CASE WHEN g %% 7 = 0 THEN NULL ELSE (SELECT min(id) FROM incidents_configurationitem)
            + g %% %(services)s END,
       CASE WHEN g %% 3 = 0 THEN t.created - (1 + g %% 30) * interval '1 minute' END,
       CASE WHEN g %% 3 = 0 THEN t.created - (g %% 5) * interval '10 seconds' END,
       t.created, t.created,
       CASE WHEN g %% 20 <> 1 THEN t.created + (1 + g %% 60) * interval '1 minute' END,
       CASE WHEN g %% 10 <> 0 THEN t.created + (1 + g %% 48) * interval '1 hour' END,
       CASE WHEN g %% 10 <> 0 THEN t.created + interval '3 days' END
FROM generate_series(1, %(n)s) AS g,
     LATERAL (SELECT now() - interval '1095 days' + g * (interval '1095 days' / %(n)s)
              AS created) AS t,
     LATERAL (SELECT CASE WHEN g %% 20 = 0 THEN 1 WHEN g %% 20 < 4 THEN 2 WHEN g %% 20 < 12 THEN 3
                          WHEN g %% 20 < 18 THEN 4 ELSE 5 END AS priority) AS p
"""

MIS_SQL = """
INSERT INTO incidents_majorincident (
    incident_id, status, summary, impact_statement, bridge_link, bridge_dial_in, is_security,
    media_attention, trigger_reason, cancel_reason, impact_started_at, declared_at,
    first_customer_update_at, resolved_at, updated_at)
SELECT i.id, CASE WHEN i.id %% 50 = 0 THEN 'cancelled' ELSE 'resolved' END, '', 'Outage', '', '',
       false, false, '', '',
       CASE WHEN i.id %% 2 = 0 THEN i.created_at - interval '15 minutes' END,
       i.created_at + (1 + i.id %% 30) * interval '1 minute',
       i.created_at + (6 + i.id %% 54) * interval '1 minute',
       i.created_at + (2 + i.id %% 40) * interval '1 hour', now()
FROM incidents_incident i WHERE i.id %% %(every)s = 0
"""

CADENCE_SQL = """
INSERT INTO comms_stakeholderupdate (
    major_incident_id, update_type, subject, current_impact, current_action, user_action, body,
    status, automatic, is_public, drafted_by, created_at, updated_at, sent_at, slot)
SELECT m.id, 'cadence', '', 'x', 'y', 'z', '', 'sent', true, false, 'template', now(), now(),
       s.due + ((m.id + k) %% 120) * interval '1 second',
       'cadence:' || to_char(s.due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00'
FROM incidents_majorincident m, generate_series(1, 3) AS k,
     LATERAL (SELECT date_trunc('second', m.declared_at) + k * interval '30 minutes' AS due) AS s
"""

ACTION_ITEMS_SQL = """
INSERT INTO pir_reviewactionitem (review_id, title, description, kind, status, tracker_key,
    tracker_url, due_date, created_at, updated_at)
SELECT r.id, 'Fix it', '', 'prevent',
       CASE WHEN (r.id + k) %% 3 = 0 THEN 'done' ELSE 'open' END, '', '',
       (r.created_at + (k * 20) * interval '1 day')::date, now(), now()
FROM pir_postincidentreview r, generate_series(1, 2) AS k
"""


def reviews_sql() -> str:
    from pir.models import PostIncidentReview

    text = [
        f.column
        for f in PostIncidentReview._meta.concrete_fields
        if not f.null
        and f.get_internal_type() in ("TextField", "CharField")
        and f.column not in ("status", "revenue_currency", "distribution")
    ]
    return f"""
INSERT INTO pir_postincidentreview (major_incident_id, status, version, meeting_minutes,
    meeting_sequence, revenue_currency, distribution, post_publicly, timeline, created_at,
    updated_at, publish_due_at, published_at, {", ".join(text)})
SELECT m.id, CASE WHEN m.id %% 4 = 0 THEN 'draft' ELSE 'published' END, 1, 60, 0, 'USD',
       'internal', false, '[]', m.resolved_at, now(), m.resolved_at + interval '5 days',
       CASE WHEN m.id %% 4 <> 0 THEN m.resolved_at + (1 + m.id %% 8) * interval '1 day' END,
       {", ".join("''" for _ in text)}
FROM incidents_majorincident m WHERE m.resolved_at IS NOT NULL
"""


def execute(sql: str, params: dict[str, Any] | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})  # always params: the SQL writes %% for %


def build(incidents: int, mis: int) -> float:
    started = time.perf_counter()
    execute(SERVICES_SQL, {"n": SERVICES})
    execute(INCIDENTS_SQL, {"n": incidents, "services": SERVICES})
    execute(MIS_SQL, {"every": max(1, incidents // mis)})
    execute(CADENCE_SQL)
    execute(reviews_sql())
    execute(ACTION_ITEMS_SQL)
    for table in (
        "incidents_configurationitem",
        "incidents_incident",
        "incidents_majorincident",
        "comms_stakeholderupdate",
        "pir_postincidentreview",
        "pir_reviewactionitem",
    ):
        execute(f"VACUUM (ANALYZE) {table}", None)
    return time.perf_counter() - started


# --- the naive implementation: every row into Python ---


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def naive(start: datetime, end: datetime, now: datetime) -> dict[str, float | None]:
    """The KPIs the selector computes, by iterating the period's rows in Python."""
    from comms.models import StakeholderUpdate
    from incidents.models import Incident, MajorIncident
    from incidents.selectors.properties import get_property
    from pir.models import PostIncidentReview, ReviewActionItem

    mtta, mttd, mttr = [], [], []
    by_priority: dict[int, list[float]] = defaultdict(list)
    for created, acked, impact, detected, resolved, priority in (
        Incident.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list(
            "created_at",
            "acknowledged_at",
            "impact_started_at",
            "detected_at",
            "resolved_at",
            "priority",
        )
        .iterator(chunk_size=20_000)
    ):
        if acked:
            mtta.append((acked - created).total_seconds())
        if detected and impact:
            mttd.append((detected - impact).total_seconds())
        if resolved:
            mttr.append((resolved - created).total_seconds())
            by_priority[priority].append((resolved - created).total_seconds())
    target = timedelta(minutes=int(get_property("first_customer_update_target_minutes")))
    mi_ids: set[int] = set()
    mi_mttr, declare, customer, within = [], [], [], 0
    starts: dict[int, list[datetime]] = defaultdict(list)
    months: dict[tuple[int, int], int] = defaultdict(int)
    for pk, declared, impact, resolved, first, created, ci in (
        MajorIncident.objects.filter(declared_at__gte=start, declared_at__lt=end)
        .exclude(status="cancelled")
        .values_list(
            "pk",
            "declared_at",
            "impact_started_at",
            "resolved_at",
            "first_customer_update_at",
            "incident__created_at",
            "incident__affected_ci_id",
        )
        .iterator(chunk_size=20_000)
    ):
        mi_ids.add(pk)
        begin = impact or declared
        if resolved:
            mi_mttr.append((resolved - begin).total_seconds())
        declare.append((declared - created).total_seconds())
        if first:
            customer.append((first - declared).total_seconds())
            within += first <= declared + target
        if ci:
            starts[ci].append(begin)
        months[(declared.year, declared.month)] += 1
    gaps = []
    for moments in starts.values():
        moments.sort()
        gaps += [(b - a).total_seconds() for a, b in itertools.pairwise(moments)]
    on_time = total = 0
    for mi_id, slot, sent in (
        StakeholderUpdate.objects.filter(
            update_type="cadence", slot__startswith="cadence:", sent_at__isnull=False
        )
        .values_list("major_incident_id", "slot", "sent_at")
        .iterator(chunk_size=20_000)
    ):
        if mi_id in mi_ids:
            total += 1
            on_time += sent <= datetime.fromisoformat(slot[8:]) + timedelta(seconds=60)
    pir_total = pir_on_time = 0
    for mi_id, due, published in (
        PostIncidentReview.objects.filter(publish_due_at__isnull=False)
        .values_list("major_incident_id", "publish_due_at", "published_at")
        .iterator(chunk_size=20_000)
    ):
        if mi_id in mi_ids and (published or due < now):
            pir_total += 1
            pir_on_time += bool(published and published <= due)
    today = now.date()
    overdue = sum(
        1
        for mi_id, status, due in ReviewActionItem.objects.values_list(
            "review__major_incident_id", "status", "due_date"
        ).iterator(chunk_size=20_000)
        if mi_id in mi_ids and status in ("open", "in_progress") and due and due < today
    )
    return {
        "mtta": _mean(mtta),
        "mttd": _mean(mttd),
        "mttr": _mean(mttr),
        "mi_mttr": _mean(mi_mttr),
        "time_to_declare": _mean(declare),
        "time_to_first_customer_update": _mean(customer),
        "first_customer_update_within_target": (
            round(100.0 * within / len(customer), 1) if customer else None
        ),
        "cadence_adherence": round(100.0 * on_time / total, 1) if total else None,
        "pirs_on_time": round(100.0 * pir_on_time / pir_total, 1) if pir_total else None,
        "overdue_action_items": float(overdue),
        "mi_count": float(len(mi_ids)),
        "mtbf": _mean(gaps),
        "by_priority_rows": float(len(by_priority)),
        "months": float(len(months)),
    }


# --- measuring ---


def timed(call: Any, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def measure_period(
    client: Any, start: datetime, end: datetime, now: datetime, args: argparse.Namespace
) -> dict[str, Any]:
    from django.db import connection

    from incidents.models import Incident
    from pir.selectors import metrics

    params = {"from": start.isoformat(), "to": end.isoformat()}

    def request() -> None:
        response = client.get("/api/metrics/", params)
        if response.status_code != 200:
            raise SystemExit(f"GET /api/metrics/: {response.status_code} {response.content!r}")

    request()  # warm-up
    counted: list[str] = []

    def count(execute: Any, sql: str, *rest: Any) -> Any:
        counted.append(sql)
        return execute(sql, *rest)

    # Not CaptureQueriesContext: a request's start empties connection.queries.
    with connection.execute_wrapper(count):
        request()
    load_before = benchlib.loadavg()
    api = benchlib.summarize(timed(request, args.runs))
    sql = metrics.metrics(metrics.Period(start=start, end=end), now=now)
    naive_figures: dict[str, Any] = {}

    def run_naive() -> None:
        naive_figures.update(naive(start, end, now))

    slow = benchlib.summarize(timed(run_naive, args.naive_runs))
    load_after = benchlib.loadavg()
    sql_figures = {k.key: k.value for k in sql.kpis}
    mismatched = {
        key: (sql_figures[key], value)
        for key, value in naive_figures.items()
        if key in sql_figures
        and value != sql_figures[key]
        and not (value is not None and abs(value - (sql_figures[key] or 0)) <= 0.2)
    }
    if mismatched:
        print(f"  figures differ (sql, naive): {mismatched}", flush=True)
    ratio = slow["median"] / api["median"]
    print(f"  API median {benchlib.ms(api['median'])} ms, naive {benchlib.ms(slow['median'])} ms")
    return {
        "incidents": Incident.objects.filter(created_at__gte=start, created_at__lt=end).count(),
        "queries": len(counted),
        "api": api,
        "naive": slow,
        "ratio": round(ratio, 1),
        "load": [load_before, load_after],
        "mismatched": mismatched,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--mis", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9, help="timed API requests per period")
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    args = parser.parse_args()
    benchlib.stop_cleanly_on_sigterm()
    url = benchlib.database_url("mimdesk_bench_kpis")
    benchlib.fresh_django_database(url)
    try:
        return measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            benchlib.drop_database(url)


def measure(args: argparse.Namespace) -> int:
    from django.test import Client
    from django.utils import timezone

    from incidents import services
    from incidents.models import Incident, MajorIncident
    from pir.selectors import metrics

    print(f"filling: {args.incidents:,} incidents, {args.mis:,} MIs ...", flush=True)
    fill = build(args.incidents, args.mis)
    print(
        f"filled in {fill:.0f} s: {Incident.objects.count():,} incidents, "
        f"{MajorIncident.objects.count():,} MIs",
        flush=True,
    )
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.create_user("usr_bench_manager", password="x")
    services.set_user_roles(manager, ["itsm_manager"])
    client = Client(HTTP_HOST="localhost")
    client.force_login(manager)
    if args.wait_quiet:
        benchlib.wait_for_quiet(args.wait_quiet)

    now = timezone.now()
    periods = {
        "last 12 months (default)": metrics.default_period(now),
        "3 years (every row)": (now - timedelta(days=1100), now + timedelta(days=1)),
    }
    results: dict[str, Any] = {
        "machine": benchlib.machine(),
        "postgres": benchlib.postgres_version(),
        "incidents": args.incidents,
        "mis": args.mis,
        "fill_seconds": round(fill, 1),
        "periods": {},
    }
    rows = []
    for label, (start, end) in periods.items():
        period = measure_period(client, start, end, now, args)
        results["periods"][label] = period
        api, slow, counted = period["api"], period["naive"], period["queries"]
        load_before, load_after = period["load"]
        incidents, ratio = period["incidents"], period["ratio"]
        rows.append(
            [
                label,
                f"{incidents:,}",
                counted,
                benchlib.ms(api["median"]),
                benchlib.ms(api["p95"]),
                benchlib.ms(slow["median"]),
                f"{ratio:.1f}×",
                f"{load_before:.2f} / {load_after:.2f}",
            ]
        )
    print()
    print(
        benchlib.markdown_table(
            [
                "period",
                "incidents in it",
                "queries",
                "API median ms",
                "API p95 ms",
                "naive median ms",
                "naive / API",
                "load 1 min before / after",
            ],
            rows,
        )
    )
    print(f"\nmachine: {results['machine']}; PostgreSQL {results['postgres']}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
