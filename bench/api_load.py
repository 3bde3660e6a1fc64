"""The incidents API under gunicorn with 10,000 incidents in PostgreSQL.

1. (Re)creates a benchmark database, migrates it, and bulk-loads (COPY) a 1,000-CI CMDB (the
   generator of ``cmdb_impact.py``), 50 users and 10,000 incidents with realistic fields (states,
   channels, priorities from the matrix, timestamps in order, 60% with an affected CI and its
   affected users, a few parents) plus their timeline rows; then VACUUM ANALYZE.
2. Counts the SQL queries of one request of each kind in-process (Django test Client +
   ``CaptureQueriesContext``, after a warm-up request), against the same database.
3. Starts gunicorn (sync workers) on a free loopback port and drives bounded load at it from a
   second process (a thread pool, one http.client connection per thread):
   ``GET /api/incidents/?page_size=50`` and ``POST /api/incidents/``, each first with one client
   at a time (latency of a lone request) and then with several (throughput).
4. Stops gunicorn, always, and drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/api_load.py`` (see bench/README.md for options).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchlib

SEED = 20_240_601

SERVICES = [
    "Checkout", "Payments", "API gateway", "Login", "Search", "Mobile app", "CDN", "Email relay",
    "Billing", "Reporting", "VPN", "Order service", "Inventory", "Customer portal", "SSO",
]  # fmt: skip
SYMPTOMS = [
    "returns HTTP 502 errors", "is slow for all users", "fails for some customers",
    "times out intermittently", "is unreachable", "shows stale data", "error rate above 5%",
    "certificate expired", "disk almost full", "replication lag over 10 minutes",
    "login loop after deploy", "payment declines spiking",
]  # fmt: skip
GROUPS = ["Service Desk", "Platform", "Payments Eng", "Network Ops", "DBA", "Security", "SRE"]
CHANNELS = [
    ("portal", 30),
    ("email", 20),
    ("phone", 10),
    ("monitoring", 30),
    ("api", 5),
    ("chat", 5),
]
STATES = [
    ("closed", 60), ("resolved", 15), ("cancelled", 3), ("in_progress", 12), ("on_hold", 3),
    ("new", 7),
]  # fmt: skip
LEVELS = [(1, 15), (2, 35), (3, 50)]
FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
LAST = ["johnson", "smith", "lee", "garcia", "brown"]


def _pick(rng: random.Random, weighted: list[tuple[Any, int]]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


# --- Loading -------------------------------------------------------------------------------------


def copy_rows(model: Any, rows: list[dict[str, Any]]) -> int:
    """COPY ``rows`` (dicts keyed by attname) into ``model``'s table; absent fields: defaults.

    Without an ``id`` in the rows the database numbers them."""
    from django.db import connection, models

    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if f is not pk or pk.attname in rows[0]]
    defaults = {f.attname: f.get_default() for f in fields}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = model._meta.db_table
    count = 0
    connection.ensure_connection()
    with connection.connection.cursor() as cur:
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = []
                for f in fields:
                    value = row[f.attname] if f.attname in row else defaults[f.attname]
                    if isinstance(f, models.JSONField):
                        value = json.dumps(value)
                    values.append(value)
                copy.write_row(values)
                count += 1
        if model._meta.pk.column == "id":
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    return count


def load_data(n_incidents: int, n_cis: int, seed: int) -> dict[str, Any]:
    """Users, a CMDB and ``n_incidents`` incidents with their timeline rows; returns what the
    load generator needs (CI ids and usernames)."""
    from collections import defaultdict

    import cmdb_impact
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from incidents.models import Incident, TimelineEntry
    from incidents.services import PRIORITY_MATRIX

    rng = random.Random(seed)
    started = time.perf_counter()
    user_model = get_user_model()
    unusable = make_password(None)
    users = user_model.objects.bulk_create(
        [
            user_model(
                username=f"usr_{first}_{last}",
                password=unusable,
                email=f"{first}.{last}@example.com",
            )
            for first in FIRST
            for last in LAST
        ]
    )
    user_ids = [u.pk for u in users]

    graph = cmdb_impact.build_graph(n_cis, seed=seed)
    cmdb_impact.load(graph)
    consumers: dict[int, list[int]] = defaultdict(list)
    for consumer, provider in graph.edges:
        consumers[provider].append(consumer)
    users_of_ci: dict[int, int] = {}

    def affected(logical: int) -> int:
        if logical not in users_of_ci:
            reached, _ = cmdb_impact.bfs_levels(consumers, logical)
            users_of_ci[logical] = sum(graph.user_counts[k] for k in reached)
        return users_of_ci[logical]

    now = datetime.now(UTC)
    first_created = now - timedelta(days=365)
    step = timedelta(days=365) / n_incidents
    incidents: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    for pk in range(1, n_incidents + 1):
        created = first_created + step * pk + timedelta(seconds=rng.randint(0, 59))
        state = _pick(rng, STATES)
        impact, urgency = _pick(rng, LEVELS), _pick(rng, LEVELS)
        logical = rng.randrange(n_cis) if rng.random() < 0.6 else None
        caller = rng.choice(user_ids)
        detected = created - timedelta(minutes=rng.randint(0, 30))
        row: dict[str, Any] = {
            "id": pk,
            "short_description": f"{rng.choice(SERVICES)} {rng.choice(SYMPTOMS)}",
            "description": " ".join(
                f"Reported by {rng.choice(FIRST)}: {rng.choice(SERVICES).lower()} "
                f"{rng.choice(SYMPTOMS)} since {detected:%H:%M} UTC."
                for _ in range(rng.randint(1, 4))
            ),
            "caller_id": caller,
            "created_by_id": caller,
            "channel": _pick(rng, CHANNELS),
            "affected_ci_id": graph.ids[logical] if logical is not None else None,
            "affected_users": affected(logical) if logical is not None else 0,
            "impact": impact,
            "urgency": urgency,
            "priority": PRIORITY_MATRIX[(impact, urgency)],
            "priority_is_manual": False,
            "state": state,
            "assignment_group": rng.choice(GROUPS),
            "assigned_to_id": rng.choice(user_ids)
            if state != "new" or rng.random() < 0.3
            else None,
            "parent_id": pk - 1 if pk % 97 == 0 else None,  # pk - 1 is never a child itself
            "is_security": rng.random() < 0.02,
            "impact_started_at": detected - timedelta(minutes=rng.randint(0, 60))
            if rng.random() < 0.4
            else None,
            "detected_at": detected,
            "created_at": created,
            "updated_at": created,
        }
        moments = [("created", created)]
        if state != "new":
            row["acknowledged_at"] = created + timedelta(minutes=rng.randint(1, 90))
            moments.append(("acknowledged", row["acknowledged_at"]))
        if state in ("resolved", "closed"):
            row["resolved_at"] = row["acknowledged_at"] + timedelta(minutes=rng.randint(10, 2880))
            row["resolution_notes"] = "Rolled back the last deploy; error rate back to baseline."
            moments.append(("resolved", row["resolved_at"]))
        if state == "closed":
            row["closed_at"] = row["resolved_at"] + timedelta(days=rng.randint(1, 5))
            moments.append(("state_changed", row["closed_at"]))
        row["updated_at"] = moments[-1][1]
        incidents.append(row)
        for kind, moment in moments:
            timeline.append(
                {"incident_id": pk, "kind": kind, "message": f"{kind.replace('_', ' ')}",
                 "data": {}, "actor_id": rng.choice(user_ids), "created_at": moment}
            )  # fmt: skip
    copy_rows(Incident, incidents)
    copy_rows(TimelineEntry, timeline)
    with connection.cursor() as cursor:
        for model in (Incident, TimelineEntry, user_model):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    return {
        "seconds": time.perf_counter() - started,
        "incidents": len(incidents),
        "timeline_rows": len(timeline),
        "cis": graph.n,
        "ci_ids": graph.ids,
        "usernames": [u.username for u in users],
    }


# --- Requests ------------------------------------------------------------------------------------


# Every (impact, urgency) but (1, 1): a P1 over 50 users is auto-declared a major incident, which
# with eager Celery would run inside the request (measured by declare_api.py, not here).
LEVEL_PAIRS = [(i, u) for i in (1, 2, 3) for u in (1, 2, 3) if (i, u) != (1, 1)]


def post_body(
    rng: random.Random, i: int, ci_ids: list[int], usernames: list[str]
) -> dict[str, Any]:
    impact, urgency = rng.choice(LEVEL_PAIRS)
    return {
        "short_description": f"{rng.choice(SERVICES)} {rng.choice(SYMPTOMS)} (load {i})",
        "description": "Alert from monitoring: the error budget burn rate is over 10x.",
        "caller": rng.choice(usernames),
        "channel": "monitoring",
        "affected_ci": rng.choice(ci_ids),
        "impact": impact,
        "urgency": urgency,
        "assignment_group": rng.choice(GROUPS),
    }


def count_queries(token: str, ci_ids: list[int], usernames: list[str]) -> dict[str, Any]:
    """SQL queries of one GET (page of 50) and one POST, through the whole Django stack."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    rng = random.Random(1)
    out: dict[str, Any] = {}
    calls = {
        "GET /api/incidents/?page_size=50": lambda: client.get("/api/incidents/?page_size=50"),
        "GET /api/incidents/?page_size=5": lambda: client.get("/api/incidents/?page_size=5"),
        "POST /api/incidents/": lambda: client.post(
            "/api/incidents/",
            data=json.dumps(post_body(rng, 0, ci_ids, usernames)),
            content_type="application/json",
        ),
    }
    for label, call in calls.items():
        call()  # warm-up: first sight of the user, caches
        with CaptureQueriesContext(connection) as ctx:
            response = call()
        if response.status_code not in (200, 201):
            raise SystemExit(f"{label} -> {response.status_code}: {response.content[:500]!r}")
        tx = [q for q in ctx.captured_queries if TRANSACTION.match(q["sql"])]
        out[label] = {
            "queries": len(ctx.captured_queries) - len(tx),
            "transaction_statements": len(tx),
            "sql": [_shorten(q["sql"]) for q in ctx.captured_queries],
        }
    return out


TRANSACTION = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


def _shorten(sql: str, width: int = 150) -> str:
    sql = re.sub(r"\s+", " ", sql).strip()
    sql = re.sub(r'SELECT (DISTINCT )?"[^F]*? FROM', r"SELECT \1… FROM", sql)
    return sql if len(sql) <= width else sql[: width - 1] + "…"


# --- Load generator (runs in its own process) ----------------------------------------------------


def client_main(config: dict[str, Any]) -> dict[str, Any]:
    """Send ``config['requests']`` requests (or stop at ``config['duration']`` seconds) from
    ``config['concurrency']`` threads; return latencies and status codes."""
    host, port = config["host"], config["port"]
    headers = {"Authorization": f"Bearer {config['token']}", "Accept": "application/json"}
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    deadline = time.monotonic() + config["duration"]
    rng_lock = threading.Lock()
    rng = random.Random(config.get("seed", SEED))

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            while time.monotonic() < deadline:
                i = next(counter)
                if i >= config["requests"]:
                    return
                body = None
                request_headers = dict(headers)
                if config["method"] == "POST":
                    with rng_lock:
                        payload = post_body(rng, i, config["ci_ids"], config["usernames"])
                    body = json.dumps(payload)
                    request_headers["Content-Type"] = "application/json"
                status, content, elapsed = benchlib.timed_request(
                    conn, config["method"], config["path"], body=body, headers=request_headers
                )
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1
                    if status not in (200, 201) and len(failures) < 5:
                        failures.append(f"{status}: {content[:300]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(config["concurrency"])]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": wall,
        "latencies": latencies,
        "statuses": dict(statuses),
        "failures": failures,
    }


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    return benchlib.run_client(__file__, config)


# --- gunicorn -------------------------------------------------------------------------------------


# --- Main -----------------------------------------------------------------------------------------


def phase_stats(label: str, concurrency: int, result: dict[str, Any]) -> dict[str, Any]:
    summary = benchlib.summarize(result["latencies"])
    ok = sum(n for status, n in result["statuses"].items() if int(status) in (200, 201))
    total = len(result["latencies"])
    return {
        "endpoint": label,
        "concurrency": concurrency,
        "requests": total,
        "errors": total - ok,
        "statuses": result["statuses"],
        "failures": result["failures"],
        "wall_seconds": result["wall_seconds"],
        "rps": total / result["wall_seconds"],
        "p50": summary["median"],
        "p95": summary["p95"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--cis", type=int, default=1_000, help="CMDB size (default: 1,000)")
    parser.add_argument(
        "--workers", type=int, default=4, help="gunicorn sync workers (default: 4 = 2 per core)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="client threads in the loaded phase (default: 8)"
    )
    parser.add_argument(
        "--requests", type=int, default=2_000, help="per loaded phase (default: 2,000)"
    )
    parser.add_argument("--single-requests", type=int, default=300, help="per one-client phase")
    parser.add_argument(
        "--duration", type=float, default=30, help="max seconds per phase (default: 30)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for the 1-minute load to drop below 0.5",
    )
    args = parser.parse_args()
    if args.client:
        config = json.loads(Path(args.client).read_text())
        print(json.dumps(client_main(config)))
        return 0

    benchlib.stop_cleanly_on_sigterm()

    url = benchlib.database_url("mimdesk_bench_api")
    benchlib.fresh_django_database(url)

    from django.contrib.auth import get_user_model
    from django.db import connections

    from incidents.services import set_user_roles, tokens

    gunicorn: subprocess.Popen[bytes] | None = None
    log_path = Path(tempfile.gettempdir()) / f"mimdesk-bench-gunicorn-{os.getpid()}.log"
    try:
        loaded = load_data(args.incidents, args.cis, args.seed)
        print(
            f"loaded {loaded['incidents']:,} incidents, {loaded['timeline_rows']:,} timeline rows, "
            f"{loaded['cis']:,} CIs in {loaded['seconds']:.1f} s",
            flush=True,
        )
        technician = get_user_model().objects.create(username="usr_bench_technician")
        # The database decides a token's roles (the claim is for display only).
        set_user_roles(technician, ["technician"])
        token = tokens.issue(technician, lifetime=timedelta(hours=2))
        queries = count_queries(token, loaded["ci_ids"], loaded["usernames"])
        for label, q in queries.items():
            print(f"{label}: {q['queries']} queries + {q['transaction_statements']} BEGIN/COMMIT")
            for sql in q["sql"]:
                print(f"    {sql}")
        connections.close_all()

        benchlib.wait_for_quiet(args.wait_quiet)
        port = benchlib.free_port()
        gunicorn = benchlib.start_gunicorn(url, port, args.workers, log_path)
        print(
            f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port} (pid {gunicorn.pid})",
            flush=True,
        )
        phases = []
        plan = [
            ("GET", "/api/incidents/?page_size=50", 1, args.single_requests),
            ("GET", "/api/incidents/?page_size=50", args.concurrency, args.requests),
            ("POST", "/api/incidents/", 1, args.single_requests),
            ("POST", "/api/incidents/", args.concurrency, args.requests),
        ]
        base = {"host": "127.0.0.1", "port": port, "token": token, "duration": args.duration,
                "ci_ids": loaded["ci_ids"], "usernames": loaded["usernames"]}  # fmt: skip
        # One short untimed burst so that every worker has connected and imported everything.
        run_client({**base, "method": "GET", "path": plan[0][1], "concurrency": args.workers * 2,
                    "requests": args.workers * 10})  # fmt: skip
        master = gunicorn.pid
        meter = benchlib.CpuMeter(
            lambda: (
                {os.getpid(), master} | benchlib.children_of(master) | benchlib.postgres_backends()
            )
        )
        for method, path, concurrency, count in plan:
            load_before = benchlib.loadavg()
            meter.start()
            result = run_client(
                {**base, "method": method, "path": path, "concurrency": concurrency,
                 "requests": count, "seed": args.seed + concurrency}
            )  # fmt: skip
            cpu = meter.stop(result.get("cpu_seconds", 0.0))
            stats = phase_stats(f"{method} {path}", concurrency, result)
            stats["cpu"] = cpu
            # gunicorn + PostgreSQL (+ this idle parent), without the load client's own CPU.
            server = cpu["ours_seconds"] - result.get("cpu_seconds", 0.0)
            stats["server_cpu_ms_per_request"] = 1000 * server / max(1, stats["requests"])
            stats["queries"] = queries[f"{method} {path}"]["queries"]
            stats["transaction_statements"] = queries[f"{method} {path}"]["transaction_statements"]
            stats["loadavg_before"] = load_before
            phases.append(stats)
            print(
                f"{stats['endpoint']:36} c={concurrency:<3} {stats['requests']:>5} requests "
                f"({stats['errors']} errors) {stats['rps']:7.1f} req/s  "
                f"p50 {benchlib.ms(stats['p50'])} ms  p95 {benchlib.ms(stats['p95'])} ms  "
                f"CPU ours {cpu['ours_cores']:.2f} others {cpu['others_cores']:.2f} cores, "
                f"server CPU {stats['server_cpu_ms_per_request']:.1f} ms/request",
                flush=True,
            )
            for failure in stats["failures"]:
                print(f"    {failure}")
    finally:
        benchlib.stop_gunicorn(gunicorn)
        connections.close_all()
        if gunicorn is not None and gunicorn.poll() is None:
            print(f"WARNING: gunicorn pid {gunicorn.pid} still running", file=sys.stderr)
        if not args.keep_db:
            benchlib.drop_database(url)

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": benchlib.machine(),
        "workers": args.workers,
    }
    rows = [
        [p["endpoint"], p["concurrency"], f"{p['requests']:,}", p["errors"], f"{p['rps']:.1f}",
         benchlib.ms(p["p50"]), benchlib.ms(p["p95"]), p["queries"], p["transaction_statements"],
         f"{p['server_cpu_ms_per_request']:.1f}",
         f"{p['cpu']['ours_cores']:.2f} / {p['cpu']['others_cores']:.2f}"]
        for p in phases
    ]  # fmt: skip
    print(
        f"\nMeasured {meta['date']}: gunicorn {args.workers} sync workers, client, server and "
        f"PostgreSQL on the same {meta['machine']['cpus']} CPUs; "
        f"{loaded['incidents']:,} incidents.\n"
    )
    print(
        benchlib.markdown_table(
            [
                "endpoint",
                "clients",
                "requests",
                "errors",
                "req/s",
                "p50 ms",
                "p95 ms",
                "SQL queries",
                "BEGIN/COMMIT",
                "server CPU ms/request",
                "CPU cores used: this benchmark / other work",
            ],
            rows,
        )
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"meta": meta, "loaded": {k: v for k, v in loaded.items() if k not in
                        ("ci_ids", "usernames")}, "queries": queries, "phases": phases}, indent=2)
        )  # fmt: skip
    failed = sum(p["errors"] for p in phases)
    if failed:
        print(f"\n{failed} requests failed; gunicorn log: {log_path}", file=sys.stderr)
        return 1
    log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
