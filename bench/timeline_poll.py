"""The war room's timeline: a 10,000-entry MI read by page and polled by 200 clients.

1. (Re)creates a benchmark database (PostgreSQL, like every benchmark here; see bench/README.md),
   migrates it, declares one MI and gives its timeline 100 entries, then 10,000 (bulk insert);
   VACUUM ANALYZE after each fill.
2. In-process, through the real URL and the whole Django stack (test Client, JWT bearer), at 100
   and at 10,000 entries: the SQL queries of ``GET …/timeline/`` (first page) and of an empty
   ``GET …/timeline/?since=<cursor>`` (which tables each reads), and p50/p95 over
   ``--requests`` requests of each.
3. Starts gunicorn (sync workers) on a free loopback port and runs ``--clients`` pollers from a
   second process for ``--duration`` seconds: each reads the first page for its cursor, then
   polls with ``?since=`` every ``--interval`` seconds (spread over the interval), carrying the
   cursor each answer hands back, while one more client posts a note every ``--post-every``
   seconds so that polls find something now and then. Reports requests/s, p50/p95, errors, and
   the CPU: this benchmark's processes (gunicorn, its PostgreSQL backends, the client), other
   work on the machine, and what was left idle.
4. Stops gunicorn, always, and drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/timeline_poll.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import resource
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import benchlib

SEED = 20_261_201
TRANSACTION = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


# --- Data -----------------------------------------------------------------------------------------


def declare_mi() -> dict[str, Any]:
    """One declared MI, its IC (a manager) and a technician on its team, with their tokens."""
    from django.contrib.auth import get_user_model

    from incidents import services
    from incidents.models import RaciRole
    from incidents.services import set_user_roles, tokens

    User = get_user_model()
    manager = User.objects.create(username="usr_bench_ic")
    set_user_roles(manager, ["itsm_manager"])
    reader = User.objects.create(username="usr_bench_reader")
    set_user_roles(reader, ["technician"])
    incident = services.create_incident(
        actor=manager, short_description="Checkout down", impact=1, urgency=1
    )
    mi = services.declare_major_incident(
        incident=incident,
        manager=manager,
        actor=manager,
        initial_impact_statement="Checkout fails for every customer",
    )
    services.assign_role(mi=mi, actor=manager, role=RaciRole.TECHNICAL_LEAD, user=reader)
    lifetime = timedelta(hours=2)
    return {
        "mi": mi,
        "number": mi.number,
        "users": [manager, reader],
        "reader_token": tokens.issue(reader, lifetime=lifetime),
        "poster_token": tokens.issue(manager, lifetime=lifetime),
    }


def fill(mi: Any, users: list[Any], upto: int, rng: random.Random) -> int:
    """Add notes, findings and decisions until the MI's timeline holds ``upto`` entries."""
    from django.db import connection

    from incidents.models import TimelineEntry

    have = TimelineEntry.objects.filter(incident_id=mi.incident_id).count()
    kinds = ["note"] * 6 + ["finding"] * 3 + ["decision"]
    rows = [
        TimelineEntry(
            incident_id=mi.incident_id,
            major_incident=mi,
            kind=rng.choice(kinds),
            message=f"Entry {i}: **p95** at {rng.randint(100, 9000)} ms on `checkout-{i % 7}`",
            actor=rng.choice(users),
        )
        for i in range(have, upto)
    ]
    TimelineEntry.objects.bulk_create(rows, batch_size=2_000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) incidents_timelineentry")
    return TimelineEntry.objects.filter(incident_id=mi.incident_id).count()


# --- In process: queries and latency through the whole stack --------------------------------------


def _table(sql: str) -> str:
    match = re.search(r'\bFROM\s+"([^"]+)"', sql)
    return match.group(1) if match else sql.split()[0]


def in_process(number: str, token: str, requests: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    base = f"/api/major-incidents/{number}/timeline/"
    first = client.get(base)
    if first.status_code != 200:
        raise SystemExit(f"GET {base} -> {first.status_code}: {first.content[:300]!r}")
    since = first.json()["since"]
    out: dict[str, Any] = {}
    for label, path in (("first page", base), ("empty poll", f"{base}?since={since}")):
        client.get(path)  # warm-up
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, response.content[:300]
        if label == "empty poll":
            assert response.json()["results"] == [], "the poll was meant to find nothing"
        sql = [q["sql"] for q in ctx.captured_queries if not TRANSACTION.match(q["sql"])]
        tables = [_table(s) for s in sql]
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path)
            samples.append(time.perf_counter() - started)
        summary = benchlib.summarize(samples)
        out[label] = {
            "queries": len(sql),
            "tables": tables,
            "product_queries": sum(
                1 for t in tables if t in ("incidents_majorincident", "incidents_timelineentry")
            ),
            "timeline_queries": sum(1 for t in tables if t == "incidents_timelineentry"),
            "p50": summary["median"],
            "p95": summary["p95"],
            "entries": len(response.json()["results"]),
        }
    return out


# --- Load generator (runs in its own process) -----------------------------------------------------


def client_main(config: dict[str, Any]) -> dict[str, Any]:
    """``config['clients']`` pollers every ``interval`` s, and one poster, for ``duration`` s."""
    host, port = config["host"], config["port"]
    path = f"/api/major-incidents/{config['number']}/timeline/"
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    found = Counter[str]()
    start_at = time.monotonic() + 1.0
    deadline = start_at + config["duration"]

    def call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            conn.request(method, url, body=data, headers=headers)
            response = conn.getresponse()
            content = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            status, content = 0, repr(exc).encode()
        finally:
            conn.close()
        return status, content, time.perf_counter() - started

    def poller(n: int) -> None:
        rng = random.Random(config["seed"] + n)
        status, content, _ = call("GET", path, config["reader_token"])
        since = json.loads(content)["since"] if status == 200 else ""
        # Spread the clients over the interval, as real browsers opened at random moments are.
        next_at = start_at + rng.uniform(0, config["interval"])
        while True:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() >= deadline:
                return
            status, content, elapsed = call(
                "GET", f"{path}?{urlencode({'since': since})}", config["reader_token"]
            )
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
                if status != 200 and len(failures) < 5:
                    failures.append(f"{status}: {content[:300]!r}")
            if status == 200:
                body = json.loads(content)
                since = body["since"]
                with lock:
                    found["with entries" if body["results"] else "empty"] += 1
            next_at += config["interval"]

    def poster() -> None:
        i = 0
        next_at = start_at + config["post_every"]
        while True:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() >= deadline:
                return
            status, content, _ = call(
                "POST", path, config["poster_token"], {"body": f"bench post {i}", "kind": "note"}
            )
            with lock:
                found["posts" if status == 201 else "failed posts"] += 1
                if status != 201 and len(failures) < 5:
                    failures.append(f"POST {status}: {content[:300]!r}")
            i += 1
            next_at += config["post_every"]

    threads = [threading.Thread(target=poller, args=(n,)) for n in range(config["clients"])]
    if config["post_every"] > 0:
        threads.append(threading.Thread(target=poster))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": config["duration"],
        "latencies": latencies,
        "statuses": dict(statuses),
        "failures": failures,
        "found": dict(found),
    }


# --- gunicorn -------------------------------------------------------------------------------------


# --- Main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="per in-process measurement")
    parser.add_argument("--clients", type=int, default=200, help="pollers against gunicorn")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of polling")
    parser.add_argument("--post-every", type=float, default=5.0, help="0: no poster")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    args = parser.parse_args()
    if args.client:
        config = json.loads(Path(args.client).read_text())
        print(json.dumps(client_main(config)))
        return 0

    benchlib.stop_cleanly_on_sigterm()
    url = benchlib.database_url("mimdesk_bench_timeline")
    benchlib.fresh_django_database(url)
    from django.db import connections

    gunicorn: subprocess.Popen[bytes] | None = None
    log_path = Path(tempfile.gettempdir()) / f"mimdesk-bench-timeline-{os.getpid()}.log"
    rng = random.Random(args.seed)
    results: dict[str, Any] = {"in_process": {}}
    try:
        world = declare_mi()
        for size in (100, args.entries):
            total = fill(world["mi"], world["users"], size, rng)
            figures = in_process(world["number"], world["reader_token"], args.requests)
            results["in_process"][total] = figures
            for label, f in figures.items():
                print(
                    f"{total:>6,} entries  {label:10}  {f['queries']} queries "
                    f"({f['product_queries']} on the MI and its timeline: {f['tables']})  "
                    f"p50 {benchlib.ms(f['p50'])} ms  p95 {benchlib.ms(f['p95'])} ms",
                    flush=True,
                )
        connections.close_all()

        load_before = benchlib.wait_for_quiet(args.wait_quiet)
        port = benchlib.free_port()
        gunicorn = benchlib.start_gunicorn(
            url,
            port,
            args.workers,
            log_path,
            probe="/api/schema/",
            extra_args=("--backlog", "2048"),
        )
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port}", flush=True)
        master = gunicorn.pid
        meter = benchlib.CpuMeter(
            lambda: (
                {os.getpid(), master} | benchlib.children_of(master) | benchlib.postgres_backends()
            )
        )
        config = {
            "host": "127.0.0.1",
            "port": port,
            "number": world["number"],
            "reader_token": world["reader_token"],
            "poster_token": world["poster_token"],
            "clients": args.clients,
            "interval": args.interval,
            "duration": args.duration,
            "post_every": args.post_every,
            "seed": args.seed,
        }
        meter.start()
        run = benchlib.run_client(__file__, config)
        cpu = meter.stop(run.get("cpu_seconds", 0.0))
        summary = benchlib.summarize(run["latencies"] or [0.0])
        ok = run["statuses"].get("200", 0)
        total = len(run["latencies"])
        cores = os.cpu_count() or 1
        results["load"] = {
            "clients": args.clients,
            "interval": args.interval,
            "duration": args.duration,
            "workers": args.workers,
            "polls": total,
            "errors": total - ok + run["found"].get("failed posts", 0),
            "rps": total / args.duration,
            "target_rps": args.clients / args.interval,
            "p50": summary["median"],
            "p95": summary["p95"],
            "max": summary["max"],
            "statuses": run["statuses"],
            "failures": run["failures"],
            "found": run["found"],
            "cpu": cpu,
            "idle_cores": max(0.0, cores - cpu["machine_busy_cores"]),
            "loadavg_before": load_before,
        }
        load = results["load"]
        print(
            f"{args.clients} clients every {args.interval:g} s for {args.duration:g} s: "
            f"{total:,} polls ({load['errors']} errors) {load['rps']:.1f} req/s "
            f"(target {load['target_rps']:.0f})  p50 {benchlib.ms(load['p50'])} ms  "
            f"p95 {benchlib.ms(load['p95'])} ms  max {benchlib.ms(load['max'])} ms  "
            f"found {run['found']}\nCPU cores: this benchmark {cpu['ours_cores']:.2f} "
            f"(client {run['cpu_seconds'] / args.duration:.2f}), other work "
            f"{cpu['others_cores']:.2f}, idle {load['idle_cores']:.2f} of {cores}",
            flush=True,
        )
        for failure in run["failures"]:
            print(f"    {failure}")
    finally:
        benchlib.stop_gunicorn(gunicorn)
        connections.close_all()
        if not args.keep_db:
            benchlib.drop_database(url)

    results["meta"] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": benchlib.machine(),
        "loadavg": benchlib.loadavg(),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
