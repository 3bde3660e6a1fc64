"""Declaring major incidents over the API under gunicorn, on PostgreSQL (issue 3).

1. (Re)creates a benchmark database, migrates it and loads the background of ``api_load.py``
   (1,000 CIs, 50 users, ``--history`` incidents with timeline rows, by COPY), an on-call roster
   (communications lead, technical lead, scribe) and the incidents to declare: open P3s on a CI
   reaching 5 users, so no auto-declaration rule matches them before the API does.
2. Counts the SQL queries of one declaration in-process (Django test Client +
   ``CaptureQueriesContext``, after one warm-up declaration of another incident).
3. Starts gunicorn (sync workers, ``--workers`` default 4 on 2 cores) on a free loopback port and
   sends ``POST /api/major-incidents/`` once per incident (the documented body; IC rotating over
   the users) from a second process: first with one client at a time, then with
   ``--concurrency`` clients (a bounded thread pool, one http.client connection per thread).
   Every response must be a 201; the database must then hold one MI per request.
4. Stops gunicorn, always, and drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/declare_api.py`` (see bench/README.md for options).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import api_load
import benchlib

PATH = "/api/major-incidents/"

# Open, acknowledged P3s: what a service desk escalates by hand.
TARGETS_SQL = """
INSERT INTO incidents_incident (
    short_description, description, channel, impact, urgency, priority, priority_is_manual,
    state, assignment_group, affected_ci_id, affected_users, is_security, resolution_notes,
    detected_at, created_at, updated_at, acknowledged_at)
SELECT 'Payments slow for some customers (bench ' || g || ')', 'Reported by phone.', 'phone',
       2, 2, 3, false, 'in_progress', 'Payments Eng', %(ci)s, 5, false, '',
       now() - interval '40 minutes', now() - interval '35 minutes',
       now() - interval '30 minutes', now() - interval '30 minutes'
FROM generate_series(1, %(n)s) AS g
RETURNING id
"""


def body(number: str, manager: str) -> dict[str, Any]:
    return {
        "incident_id": number,
        "major_incident_manager": manager,
        "bridge_link": "https://meet.google.com/abc-defg-hij",
        "initial_impact_statement": "Production API gateway returning 503 for all users",
    }


def count_queries(token: str, numbers: list[str], manager: str) -> dict[str, Any]:
    """SQL of one declaration through the whole Django stack (after a warm-up declaration)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def declare(number: str) -> Any:
        payload = json.dumps(body(number, manager))
        return client.post(PATH, data=payload, content_type="application/json")

    declare(numbers[0])
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as ctx:
        response = declare(numbers[1])
    if response.status_code != 201:
        raise SystemExit(f"POST {PATH} -> {response.status_code}: {response.content[:500]!r}")
    statements = [q["sql"] for q in ctx.captured_queries]
    tx = [s for s in statements if api_load.TRANSACTION.match(s)]
    kinds = Counter(s.split(None, 1)[0].upper() for s in statements if s not in tx)
    return {
        "queries": len(statements) - len(tx),
        "transaction_statements": len(tx),
        "by_kind": dict(kinds),
        "sql": [api_load._shorten(s) for s in statements],
    }


# --- Load generator (runs in its own process) ----------------------------------------------------


def client_main(config: dict[str, Any]) -> dict[str, Any]:
    """POST one declaration per number in ``config['numbers']`` from ``config['concurrency']``
    threads (stopping at ``config['duration']`` seconds); return latencies and status codes."""
    host, port = config["host"], config["port"]
    headers = {
        "Authorization": f"Bearer {config['token']}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    numbers, managers = config["numbers"], config["managers"]
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    deadline = time.monotonic() + config["duration"]

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            while time.monotonic() < deadline:
                i = next(counter)
                if i >= len(numbers):
                    return
                payload = json.dumps(body(numbers[i], managers[i % len(managers)]))
                status, content, elapsed = benchlib.timed_request(
                    conn, "POST", PATH, body=payload, headers=headers
                )
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1
                    if status != 201 and len(failures) < 5:
                        failures.append(f"{numbers[i]} {status}: {content[:300]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(config["concurrency"])]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "wall_seconds": time.perf_counter() - started,
        "latencies": latencies,
        "statuses": dict(statuses),
        "failures": failures,
    }


def run_client(config: dict[str, Any]) -> dict[str, Any]:
    return benchlib.run_client(__file__, config)


# --- Main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--history", type=int, default=10_000, help="background incidents")
    parser.add_argument("--cis", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients, loaded phase (8)")
    parser.add_argument(
        "--declarations", type=int, default=500, help="incidents declared in the loaded phase"
    )
    parser.add_argument(
        "--single", type=int, default=100, help="incidents declared one at a time (100)"
    )
    parser.add_argument("--duration", type=float, default=120, help="max seconds per phase")
    parser.add_argument("--seed", type=int, default=api_load.SEED)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client_main(json.loads(Path(args.client).read_text()))))
        return 0

    benchlib.stop_cleanly_on_sigterm()

    url = benchlib.database_url("mimdesk_bench_declare")
    benchlib.fresh_django_database(url)

    from django.contrib.auth import get_user_model
    from django.db import connection, connections

    from incidents.models import MajorIncident, RoleRoster
    from incidents.services import set_user_roles, tokens

    gunicorn: subprocess.Popen[bytes] | None = None
    log_path = Path(tempfile.gettempdir()) / f"mimdesk-bench-declare-{os.getpid()}.log"
    phases: list[dict[str, Any]] = []
    try:
        pg_version = benchlib.postgres_version()
        loaded = api_load.load_data(args.history, args.cis, args.seed)
        user_model = get_user_model()
        for role in ("communications_lead", "technical_lead", "scribe"):
            RoleRoster.objects.create(
                role=role, user=user_model.objects.create(username=f"usr_oncall_{role}")
            )
        manager = user_model.objects.create(username="usr_bench_manager")
        set_user_roles(manager, ["itsm_manager"])
        token = tokens.issue(manager, roles=["itsm_manager"], lifetime=timedelta(hours=2))
        total = 2 + args.single + args.declarations
        with connection.cursor() as cursor:
            cursor.execute(TARGETS_SQL, {"n": total, "ci": loaded["ci_ids"][0]})
            ids = sorted(row[0] for row in cursor.fetchall())
            cursor.execute("VACUUM (ANALYZE) incidents_incident")
        numbers = [f"INC{pk:07d}" for pk in ids]
        print(
            f"loaded {loaded['incidents']:,} background incidents and {total} to declare in "
            f"{loaded['seconds']:.1f} s",
            flush=True,
        )
        queries = count_queries(token, numbers[:2], loaded["usernames"][0])
        print(
            f"POST {PATH}: {queries['queries']} queries + {queries['transaction_statements']} "
            f"BEGIN/COMMIT/SAVEPOINT {queries['by_kind']}"
        )
        for sql in queries["sql"]:
            print(f"    {sql}")
        connections.close_all()

        benchlib.wait_for_quiet(args.wait_quiet)
        port = benchlib.free_port()
        gunicorn = benchlib.start_gunicorn(url, port, args.workers, log_path)
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port} (pid {gunicorn.pid})")
        base = {"host": "127.0.0.1", "port": port, "token": token, "duration": args.duration,
                "managers": loaded["usernames"]}  # fmt: skip
        # Untimed: every worker connects and imports everything (reads only, nothing declared).
        api_load.run_client({**base, "method": "GET", "path": f"{PATH}?page_size=5",
                             "concurrency": args.workers * 2, "requests": args.workers * 10,
                             "ci_ids": [], "usernames": []})  # fmt: skip
        rest = numbers[2:]
        plan = [(1, rest[: args.single]), (args.concurrency, rest[args.single :])]
        for concurrency, batch in plan:
            load_before = benchlib.loadavg()
            result = run_client({**base, "numbers": batch, "concurrency": concurrency})
            stats = api_load.phase_stats(f"POST {PATH}", concurrency, result)
            stats["loadavg_before"] = load_before
            phases.append(stats)
            print(
                f"POST {PATH} c={concurrency:<3} {stats['requests']:>5} declarations "
                f"({stats['errors']} errors) {stats['rps']:6.1f} req/s  "
                f"p50 {benchlib.ms(stats['p50'])} ms  p95 {benchlib.ms(stats['p95'])} ms",
                flush=True,
            )
            for failure in stats["failures"]:
                print(f"    {failure}")
        declared = MajorIncident.objects.count()
        expected = 2 + sum(p["requests"] - p["errors"] for p in phases)
        if declared != expected:
            raise SystemExit(f"{declared} MIs in the database, expected {expected}")
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
        "postgres": pg_version,
        "workers": args.workers,
    }
    print(
        f"\nMeasured {meta['date']}: gunicorn {args.workers} sync workers, client, server and "
        f"PostgreSQL {pg_version} on the same {meta['machine']['cpus']} CPUs; "
        f"{loaded['incidents']:,} background incidents.\n"
    )
    rows = [
        [p["endpoint"], p["concurrency"], p["requests"], p["errors"], f"{p['rps']:.1f}",
         benchlib.ms(p["p50"]), benchlib.ms(p["p95"]), queries["queries"],
         queries["transaction_statements"], f"{p['loadavg_before']:.2f}"]
        for p in phases
    ]  # fmt: skip
    print(benchlib.markdown_table(
        ["endpoint", "clients", "declarations", "errors", "req/s", "p50 ms", "p95 ms",
         "SQL queries", "BEGIN/COMMIT/SAVEPOINT", "1-min load before"], rows))  # fmt: skip
    if args.json:
        everything = {"meta": meta, "queries": queries, "phases": phases}
        Path(args.json).write_text(json.dumps(everything, indent=2))
    failed = sum(p["errors"] for p in phases)
    if failed:
        print(f"\n{failed} declarations failed; gunicorn log: {log_path}", file=sys.stderr)
        return 1
    log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
