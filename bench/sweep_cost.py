"""The auto-declaration sweep's cost against the size of the incident history (issue 3).

For each history size (default 10,000 and 1,000,000 closed incidents), in a PostgreSQL database
of its own (``<name>_<size>``):

1. Migrates, and bulk-inserts (``INSERT … SELECT generate_series``) the closed
   history, then the same open set every time: 400 open P2–P4 incidents and 100 open P1
   candidates created 20 minutes ago and never acknowledged; ``VACUUM (ANALYZE)``.
2. Times ``selectors.sweep_candidates()`` (the read: which incidents the sweep looks at), median and
   p95 over ``--runs`` calls; asserts it returns exactly the 100 candidates.
3. Times full ``services.auto_declare_sweep()`` runs over the 100 in mode ``propose`` and in mode
   ``declare`` (``--sweep-runs`` each), resetting between runs by truncating the MI and candidate
   tables (and what cascades from them: timeline, roles, object permissions) and unlinking the
   problems; one extra untimed run per mode counts the SQL queries.
   Steps 2 and 3 alternate between the databases (blocks of 20 reads; one sweep each in turn),
   so that other work on the machine weighs on every size alike.
4. At the largest size prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the exact SQL sweep_candidates
   runs (captured from the connection), the same without ``incident_state_priority`` (in a
   transaction that is rolled back), and the sizes of both indexes.
5. With ``--history-mis N`` (default 5,000) it then gives N closed incidents of the history an MI
   and N/2 a rejected proposal, and times the read again with its plan: ``NOT EXISTS`` probes
   the one-to-one indexes, so past MIs and proposals should not slow it.

Run: ``.venv/bin/python bench/sweep_cost.py`` (see bench/README.md for options).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import benchlib

CANDIDATES = 100
OPEN_OTHERS = 400

# Deterministic, realistic-looking history: 5% P1, 15% P2, 40% P3, 30% P4, 10% P5; mostly closed,
# some resolved or cancelled; spread over three years; every one acknowledged.
HISTORY_SQL = """
INSERT INTO incidents_incident (
    short_description, description, channel, impact, urgency, priority, priority_is_manual,
    state, assignment_group, affected_users, is_security, resolution_notes, detected_at,
    created_at, updated_at, acknowledged_at, resolved_at, closed_at)
SELECT 'Historical incident ' || g, 'Closed long ago.',
       (ARRAY['portal','email','phone','monitoring','api','chat'])[1 + g %% 6],
       1 + g %% 3, 1 + (g / 3) %% 3, p.priority, false,
       CASE WHEN g %% 50 = 0 THEN 'cancelled' WHEN g %% 10 = 0 THEN 'resolved' ELSE 'closed' END,
       (ARRAY['Service Desk','Platform','Network Ops','DBA','SRE'])[1 + g %% 5],
       (g * 7) %% 500, g %% 97 = 0, 'Fixed.', t.created - interval '5 minutes',
       t.created, t.created + interval '3 days', t.created + interval '10 minutes',
       t.created + interval '1 day',
       CASE WHEN g %% 50 = 0 OR g %% 10 <> 0 THEN t.created + interval '3 days' END
FROM generate_series(1, %(n)s) AS g,
     LATERAL (SELECT now() - interval '1100 days' + g * (interval '1095 days' / %(n)s)
              AS created) AS t,
     LATERAL (SELECT CASE WHEN g %% 20 = 0 THEN 1 WHEN g %% 20 < 4 THEN 2 WHEN g %% 20 < 12 THEN 3
                          WHEN g %% 20 < 18 THEN 4 ELSE 5 END AS priority) AS p
"""

# Open incidents the P1 rules never match (same at every size).
OTHERS_SQL = """
INSERT INTO incidents_incident (
    short_description, description, channel, impact, urgency, priority, priority_is_manual,
    state, assignment_group, affected_users, is_security, resolution_notes, created_at,
    updated_at, acknowledged_at)
SELECT 'Open incident ' || g, '', 'portal', 2, 2, 2 + g %% 3, false,
       (ARRAY['new','in_progress','on_hold'])[1 + g %% 3], 'Service Desk', 10, false, '',
       now() - g * interval '20 minutes', now() - g * interval '20 minutes',
       CASE WHEN g %% 3 <> 0 THEN now() - g * interval '19 minutes' END
FROM generate_series(1, %(n)s) AS g
"""

# The candidates: P1, new, created 20 minutes ago, never acknowledged (rule 1 matches them).
CANDIDATES_SQL = """
INSERT INTO incidents_incident (
    short_description, description, channel, impact, urgency, priority, priority_is_manual,
    state, assignment_group, affected_users, is_security, resolution_notes, detected_at,
    created_at, updated_at)
SELECT 'Checkout returns HTTP 502 (bench candidate ' || g || ')', '', 'monitoring', 1, 1, 1,
       false, 'new', 'SRE', 0, false, '', now() - interval '21 minutes',
       now() - interval '20 minutes', now() - interval '20 minutes'
FROM generate_series(1, %(n)s) AS g
RETURNING id
"""

# Part of the history that was declared (closed MIs) or proposed and rejected.
HISTORY_MIS_SQL = """
INSERT INTO incidents_majorincident (
    incident_id, status, summary, impact_statement, bridge_link, is_security, media_attention,
    trigger_reason, cancel_reason, declared_at, updated_at, closed_at)
SELECT id, 'closed', '', 'Historical outage', '', false, false, '', '', created_at, closed_at,
       closed_at
FROM incidents_incident WHERE state = 'closed' AND id %% 3 = 0 ORDER BY id LIMIT %(n)s
"""
HISTORY_CANDIDATES_SQL = """
INSERT INTO incidents_majorincidentcandidate (
    incident_id, reason, status, decision_reason, created_at, decided_at)
SELECT id, 'P1, unacknowledged for 16 min (limit 15)', 'rejected', 'Not major', created_at,
       created_at
FROM incidents_incident WHERE state = 'closed' AND id %% 3 = 1 ORDER BY id LIMIT %(n)s
"""


def execute(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def vacuum_analyze() -> None:
    for table in (
        "incidents_incident",
        "incidents_majorincident",
        "incidents_majorincidentcandidate",
        "incidents_problem",
    ):
        execute(f"VACUUM (ANALYZE) {table}")


def build(history: int) -> tuple[list[int], float]:
    """Empty the incident tables, load ``history`` closed incidents and the open set."""
    started = time.perf_counter()
    # CASCADE reaches the MI, candidate, timeline, role and object-permission tables.
    execute("TRUNCATE incidents_incident, incidents_problem CASCADE")
    execute(HISTORY_SQL, {"n": history})
    execute(OTHERS_SQL, {"n": OPEN_OTHERS})
    ids = sorted(row[0] for row in execute(CANDIDATES_SQL, {"n": CANDIDATES}))
    vacuum_analyze()
    return ids, time.perf_counter() - started


def reset_sweep(candidate_ids: list[int]) -> None:
    """Undo a sweep: no MI, no proposal, no problem linked to the candidates."""
    execute("TRUNCATE incidents_majorincident, incidents_majorincidentcandidate CASCADE")
    execute(
        "UPDATE incidents_incident SET problem_id = NULL, priority_is_manual = false "
        "WHERE id = ANY(%(ids)s)",
        {"ids": candidate_ids},
    )
    execute("DELETE FROM incidents_problem")


def with_name(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def use_database(url: str, *, migrate: bool = False) -> None:
    """Point Django's default connection at another bench database (as the test runner does)."""
    from django.core.management import call_command
    from django.db import connection, connections

    connections.close_all()
    connection.settings_dict["NAME"] = urlsplit(url).path.lstrip("/")
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


def timed(call: Callable[[], Any], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def time_calls(call: Callable[[], Any], runs: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return benchlib.summarize(samples)


def incident_sql(call: Callable[[], Any]) -> tuple[str, int]:
    """The SQL ``call`` runs against incidents_incident, and how many queries it runs in all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()  # a full log (9,000) would make the capture come back empty
    with CaptureQueriesContext(connection) as ctx:
        call()
    statements = [q["sql"] for q in ctx.captured_queries if 'FROM "incidents_incident"' in q["sql"]]
    if len(statements) != 1:
        raise SystemExit(f"expected one incident query, got {statements}")
    return statements[0], len(ctx.captured_queries)


def explain(sql: str) -> str:
    rows = execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
    return "\n".join(row[0] for row in rows)


# Why the plan uses one index and not another: variants tried in transactions rolled back.
INDEX_VARIANTS = {
    "without incident_state_priority (rolled back)": ["DROP INDEX incident_state_priority"],
}


def explain_variants(sql: str) -> dict[str, str]:
    from django.db import transaction

    plans = {}
    for label, statements in INDEX_VARIANTS.items():
        with transaction.atomic():
            for statement in statements:
                execute(statement)
            plans[label] = explain(sql)
            transaction.set_rollback(True)
    sizes = execute(
        "SELECT pg_size_pretty(pg_relation_size('incident_state_priority')), "
        "pg_size_pretty(pg_relation_size('incident_open_by_priority'))"
    )[0]
    plans["index sizes"] = (
        f"incident_state_priority {sizes[0]}, incident_open_by_priority {sizes[1]}"
    )
    return plans


def set_mode(mode: str) -> None:
    from incidents.services import set_property

    set_property(key="major_incident_auto_declare_mode", value=mode, actor=None)


class QueryCounter:
    """An execute wrapper that counts statements (the debug query log stops at 9,000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def one_sweep(mode: str, candidate_ids: list[int], counter: QueryCounter | None = None) -> float:
    """Reset, then one full sweep over the candidates; its duration. Asserts the outcomes."""
    from django.db import connection

    from incidents.selectors import sweep_candidates
    from incidents.services import auto_declare_sweep

    reset_sweep(candidate_ids)
    sweep_candidates()  # the read, untimed: a fresh connection warms its caches
    started = time.perf_counter()
    if counter is None:
        outcomes = auto_declare_sweep()
    else:
        with connection.execute_wrapper(counter):
            outcomes = auto_declare_sweep()
    elapsed = time.perf_counter() - started
    expected = "declared" if mode == "declare" else "proposed"
    actions = [o.action for o in outcomes]
    if len(outcomes) != len(candidate_ids) or set(actions) != {expected}:
        raise SystemExit(f"sweep in mode {mode}: expected {len(candidate_ids)} {expected}, "
                         f"got {actions[:5]}… ({len(actions)})")  # fmt: skip
    if auto_declare_sweep():
        raise SystemExit("a second sweep acted again")
    return elapsed


def setup_roster() -> None:
    """An on-call incident commander (declare mode needs one) and three other roster roles."""
    from django.contrib.auth import get_user_model

    from incidents.models import RoleRoster
    from incidents.services import set_user_roles

    user_model = get_user_model()
    for role in ("major_incident_manager", "communications_lead", "technical_lead", "scribe"):
        user = user_model.objects.create(username=f"usr_oncall_{role}")
        if role == "major_incident_manager":
            set_user_roles(user, ["itsm_manager"])
        RoleRoster.objects.create(role=role, user=user)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,1000000", help="closed incidents (default: 10000,1000000)"
    )
    parser.add_argument("--runs", type=int, default=200, help="timed sweep_candidates() calls")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument(
        "--sweep-runs", type=int, default=5, help="full sweeps per mode and size (default: 5)"
    )
    parser.add_argument(
        "--history-mis",
        type=int,
        default=5_000,
        help="MIs in the history for the last read measurement (0: skip; default 5,000)",
    )
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    benchlib.stop_cleanly_on_sigterm()

    base = benchlib.database_url("mimdesk_bench_sweep")
    urls = {size: with_name(base, f"{urlsplit(base).path.lstrip('/')}_{size}") for size in sizes}
    for size in sizes:
        benchlib._bench_database(urls[size])  # refuse a non-bench name before anything else

    from django.db import connections

    results: list[dict[str, Any]] = []
    rows_by_size: dict[int, dict[str, Any]] = {}
    ids_by_size: dict[int, list[int]] = {}
    plans: dict[str, str] = {}
    variants: dict[str, str] = {}
    extra: dict[str, Any] = {}
    created: list[str] = []
    try:
        # 1. One database per size, each migrated and loaded once.
        for size in sizes:
            name = benchlib.recreate_database(urls[size])
            created.append(urls[size])
            print(f"database {name} (re)created; migrating...", flush=True)
            if size == sizes[0]:
                benchlib.setup_django(urls[size])
            else:
                use_database(urls[size], migrate=True)
            from incidents.selectors import sweep_candidates

            pg_version = benchlib.postgres_version()
            setup_roster()
            candidate_ids, load_seconds = build(size)
            print(f"{size:,} closed incidents + {OPEN_OTHERS} open P2-P4 + {CANDIDATES} "
                  f"candidates loaded in {load_seconds:.1f} s", flush=True)  # fmt: skip
            if sweep_candidates() != candidate_ids:
                raise SystemExit("sweep_candidates() did not return exactly the candidates")
            sql, read_queries = incident_sql(sweep_candidates)
            plans[f"{size}"] = explain(sql)  # before any sweep churns the candidates' rows
            if size == sizes[-1]:
                variants = explain_variants(sql)
            ids_by_size[size] = candidate_ids
            rows_by_size[size] = {
                "closed_incidents": size,
                "database": name,
                "load_seconds": load_seconds,
                "read_queries": read_queries,
                "sql": sql,
            }

        # 2. Interleaved measurements: each block alternates the sizes, so that other work on
        #    the machine weighs on every size alike.
        benchlib.wait_for_quiet(args.wait_quiet)
        load_before = benchlib.loadavg()
        block = 20
        read_samples: dict[int, list[float]] = {size: [] for size in sizes}
        for _ in range(max(1, args.runs // block)):
            for size in sizes:
                use_database(urls[size])
                timed(sweep_candidates, args.warmup)  # a fresh connection: warm it up
                read_samples[size] += timed(sweep_candidates, block)
        for size in sizes:
            rows_by_size[size]["read"] = benchlib.summarize(read_samples[size])
            rows_by_size[size]["loadavg_before"] = load_before
            print(f"{size:>9,}: sweep_candidates() median "
                  f"{benchlib.ms(rows_by_size[size]['read']['median'])} ms, p95 "
                  f"{benchlib.ms(rows_by_size[size]['read']['p95'])} ms", flush=True)  # fmt: skip
        for mode in ("propose", "declare"):
            for size in sizes:
                use_database(urls[size])
                set_mode(mode)
            samples: dict[int, list[float]] = {size: [] for size in sizes}
            for _ in range(args.sweep_runs):
                for size in sizes:
                    use_database(urls[size])
                    samples[size].append(one_sweep(mode, ids_by_size[size]))
            for size in sizes:
                use_database(urls[size])
                counter = QueryCounter()
                one_sweep(mode, ids_by_size[size], counter)
                reset_sweep(ids_by_size[size])
                summary = benchlib.summarize(samples[size])
                per_candidate = counter.count / len(ids_by_size[size])
                rows_by_size[size][mode] = {**summary, "queries_per_candidate": per_candidate,
                                            "samples": samples[size]}  # fmt: skip
                print(f"{size:>9,}: auto_declare_sweep() mode {mode}: median "
                      f"{benchlib.ms(summary['median'])} ms, runs "
                      f"{', '.join(benchlib.ms(x) for x in samples[size])} ms "
                      f"({per_candidate:.1f} queries per candidate)", flush=True)  # fmt: skip
        results = [rows_by_size[size] for size in sizes]

        largest = results[-1]
        print(f"\nsweep_candidates SQL:\n{largest['sql']}\n")
        print(f"EXPLAIN (ANALYZE, BUFFERS) at {largest['closed_incidents']:,} closed incidents:")
        print(plans[str(largest["closed_incidents"])])
        for label, plan in variants.items():
            plans[label] = plan
            print(f"\n{label}:\n{plan}")

        if args.history_mis:
            use_database(urls[sizes[-1]])
            candidate_ids = ids_by_size[sizes[-1]]
            execute(HISTORY_MIS_SQL, {"n": args.history_mis})
            execute(HISTORY_CANDIDATES_SQL, {"n": args.history_mis // 2})
            vacuum_analyze()
            counts = execute(
                "SELECT (SELECT count(*) FROM incidents_majorincident), "
                "(SELECT count(*) FROM incidents_majorincidentcandidate)"
            )[0]
            if sweep_candidates() != candidate_ids:
                raise SystemExit("with history MIs the read no longer returns the candidates")
            with_history = time_calls(sweep_candidates, args.runs, args.warmup)
            extra = {
                "history_mis": counts[0],
                "history_candidates": counts[1],
                "read": with_history,
                "plan": explain(largest["sql"]),
            }
            print(
                f"\nwith {counts[0]:,} historical MIs and {counts[1]:,} rejected proposals: "
                f"sweep_candidates() median {benchlib.ms(with_history['median'])} ms, "
                f"p95 {benchlib.ms(with_history['p95'])} ms\n\nplan:\n{extra['plan']}"
            )
    finally:
        connections.close_all()
        if not args.keep_db:
            for url in created:
                benchlib.drop_database(url)

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": benchlib.machine(),
        "postgres": pg_version,
    }
    first, last = results[0], results[-1]
    rows = []
    for label, key in (("sweep_candidates() (read)", "read"),
                       ("auto_declare_sweep() propose, 100", "propose"),
                       ("auto_declare_sweep() declare, 100", "declare")):  # fmt: skip
        a, b = first[key], last[key]
        rows.append([label, benchlib.ms(a["median"]), benchlib.ms(a["p95"]),
                     benchlib.ms(b["median"]), benchlib.ms(b["p95"]),
                     f"{b['median'] / a['median']:.2f}"])  # fmt: skip
    print(f"\nMeasured {meta['date']} on {meta['machine']['cpus']} CPUs "
          f"({meta['machine']['cpu_model']}), PostgreSQL {pg_version}; "
          f"read: {args.runs} runs, full sweeps: {args.sweep_runs} runs per mode.\n")  # fmt: skip
    print(benchlib.markdown_table(
        ["measure", f"median ms @{first['closed_incidents']:,}",
         f"p95 ms @{first['closed_incidents']:,}", f"median ms @{last['closed_incidents']:,}",
         f"p95 ms @{last['closed_incidents']:,}", "ratio of medians"], rows))  # fmt: skip
    if args.json:
        everything = {"meta": meta, "results": results, "plans": plans, "history_mis": extra}
        Path(args.json).write_text(json.dumps(everything, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
