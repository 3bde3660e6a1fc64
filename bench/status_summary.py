"""The public status page's ``/status/api/v2/summary.json`` under 200 concurrent clients, next to a
static file served by the same stack (whitenoise: ``/static/css/status.css``).

1. (Re)creates a benchmark database (PostgreSQL, see bench/README.md), migrates it and builds an
   outage: ``--services`` business services, each over an application over a shared database,
   two open MIs (one on a service, one on the shared database, so every service is reached) with
   three public updates each, and 20 resolved MIs.
2. In-process, through the whole Django stack: the SQL queries of a request that builds the
   snapshot and of one served from the cache, and p50/p95 of each.
3. Starts gunicorn (sync workers) on a free loopback port and runs ``--clients`` client threads
   from a second process for ``--duration`` seconds per target, each with its own keep-alive
   connection, back to back: requests/s, p50/p95, errors, and the CPU (ours / other work).
4. Stops gunicorn, always, and drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/status_summary.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
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

SUMMARY = "/status/api/v2/summary.json"
STATIC = "/static/css/status.css"


def build_outage(services: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from comms.models import UpdateType
    from comms.services import updates
    from incidents import services as incident_services
    from incidents.models import ConfigurationItem, MajorIncident, MIStatus
    from incidents.services import set_user_roles

    manager = get_user_model().objects.create(username="usr_bench_ic")
    set_user_roles(manager, ["itsm_manager"])
    shared = ConfigurationItem.objects.create(name="shared-db", kind="database", user_count=5)
    business = []
    for n in range(services):
        app = ConfigurationItem.objects.create(name=f"app-{n}", kind="application")
        incident_services.set_dependencies(ci=app, providers=[shared])
        service = ConfigurationItem.objects.create(
            name=f"Service {n:03d}", kind="business_service", user_count=100 + n
        )
        incident_services.set_dependencies(ci=service, providers=[app])
        business.append(service)

    def declare(ci: Any, text: str) -> Any:
        incident = incident_services.create_incident(
            actor=manager, short_description=text, impact=1, urgency=1, affected_ci=ci
        )
        return incident_services.declare_major_incident(
            incident=incident,
            manager=manager,
            actor=manager,
            initial_impact_statement=f"{text} for every customer",
        )

    def publish(mi: Any, n: int) -> None:
        update = updates.create_update(
            mi=mi,
            actor=manager,
            update_type=UpdateType.STATUS_PAGE,
            current_impact=f"Update {n}: customers cannot use the service.",
            current_action="Engineers are moving traffic to the second data centre.",
            user_action="Please retry after the next update.",
            next_update_at=timezone.now() + timedelta(minutes=30),
        )
        updates.send_update(update=update, actor=manager)

    for n in range(20):
        mi = declare(business[n % services], f"Old outage {n}")
        publish(mi, 1)
        MajorIncident.objects.filter(pk=mi.pk).update(
            status=MIStatus.RESOLVED, resolved_at=timezone.now()
        )
    for mi in (declare(business[0], "Checkout down"), declare(shared, "Shared database down")):
        for n in range(3):
            publish(mi, n)
    return {"services": services, "open_mis": 2, "resolved_mis": 20}


def in_process(requests: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from comms.web import status

    client = Client()
    out: dict[str, Any] = {}
    status.forget()
    with CaptureQueriesContext(connection) as building:
        response = client.get(SUMMARY)
    assert response.status_code == 200, response.content[:300]
    out["build_queries"] = len(building.captured_queries)
    out["bytes"] = len(response.content)
    doc = response.json()
    out["indicator"] = doc["status"]["indicator"]
    out["degraded_components"] = sum(1 for c in doc["components"] if c["status"] != "operational")
    with CaptureQueriesContext(connection) as cached:
        client.get(SUMMARY)
    out["cached_queries"] = len(cached.captured_queries)
    for label, forget in (("build", True), ("cached", False)):
        samples = []
        for _ in range(requests):
            if forget:
                status.forget()
            started = time.perf_counter()
            client.get(SUMMARY)
            samples.append(time.perf_counter() - started)
        summary = benchlib.summarize(samples)
        out[f"{label}_p50"], out[f"{label}_p95"] = summary["median"], summary["p95"]
    return out


def client_main(config: dict[str, Any]) -> dict[str, Any]:
    """``config['clients']`` threads, each on its own keep-alive connection, GET ``path`` back
    to back for ``duration`` seconds."""
    host, port, path = config["host"], config["port"], config["path"]
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    start = threading.Barrier(config["clients"] + 1)
    deadline: list[float] = [0.0]

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        start.wait()
        try:
            while time.monotonic() < deadline[0]:
                status, content, elapsed = benchlib.timed_request(
                    conn, "GET", path, headers={"Accept-Encoding": "identity"}
                )
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1
                    if status != 200 and len(failures) < 5:
                        failures.append(f"{status}: {content[:200]!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(config["clients"])]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + config["duration"]
    began = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": wall,
        "latencies": latencies,
        "statuses": dict(statuses),
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--services", type=int, default=30, help="business services (30)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (200)")
    parser.add_argument("--duration", type=float, default=20, help="seconds per target (20)")
    parser.add_argument("--requests", type=int, default=200, help="in-process samples (200)")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client_main(json.loads(Path(args.client).read_text()))))
        return 0

    benchlib.stop_cleanly_on_sigterm()
    url = benchlib.database_url("mimdesk_bench_status")
    benchlib.fresh_django_database(url)
    from django.db import connections

    gunicorn: subprocess.Popen[bytes] | None = None
    log_path = Path(tempfile.gettempdir()) / f"mimdesk-bench-status-{os.getpid()}.log"
    results: dict[str, Any] = {}
    try:
        results["data"] = build_outage(args.services)
        results["in_process"] = ip = in_process(args.requests)
        print(
            f"in process: build {ip['build_queries']} queries, "
            f"p50 {benchlib.ms(ip['build_p50'])} ms p95 {benchlib.ms(ip['build_p95'])} ms; "
            f"cached {ip['cached_queries']} queries, p50 {benchlib.ms(ip['cached_p50'])} ms "
            f"p95 {benchlib.ms(ip['cached_p95'])} ms; {ip['bytes']:,} bytes, indicator "
            f"{ip['indicator']}, {ip['degraded_components']} components not operational",
            flush=True,
        )
        connections.close_all()
        benchlib.wait_for_quiet(args.wait_quiet)
        port = benchlib.free_port()
        gunicorn = benchlib.start_gunicorn(url, port, args.workers, log_path, probe=SUMMARY)
        master = gunicorn.pid
        meter = benchlib.CpuMeter(lambda: {os.getpid(), master} | benchlib.children_of(master))
        base = {"host": "127.0.0.1", "port": port, "duration": args.duration}
        benchlib.run_client(__file__, {**base, "path": SUMMARY, "clients": 8, "duration": 2})
        results["phases"] = []
        for path in (SUMMARY, STATIC):
            load = benchlib.loadavg()
            meter.start()
            out = benchlib.run_client(__file__, {**base, "path": path, "clients": args.clients})
            cpu = meter.stop(out["cpu_seconds"])
            summary = benchlib.summarize(out["latencies"])
            total = len(out["latencies"])
            ok = out["statuses"].get("200", 0)
            phase = {
                "path": path,
                "clients": args.clients,
                "requests": total,
                "errors": total - ok,
                "rps": total / out["wall_seconds"],
                "p50": summary["median"],
                "p95": summary["p95"],
                "loadavg_before": load,
                "cpu": cpu,
                "failures": out["failures"],
            }
            results["phases"].append(phase)
            print(
                f"{path:32} c={args.clients} {total:>6} requests ({phase['errors']} errors) "
                f"{phase['rps']:7.1f} req/s  p50 {benchlib.ms(phase['p50'])} ms  "
                f"p95 {benchlib.ms(phase['p95'])} ms  load before {load:.2f}  "
                f"CPU ours {cpu['ours_cores']:.2f} others {cpu['others_cores']:.2f} cores",
                flush=True,
            )
            for failure in out["failures"]:
                print(f"    {failure}")
    finally:
        benchlib.stop_gunicorn(gunicorn)
        connections.close_all()
        if not args.keep_db:
            benchlib.drop_database(url)
    results["meta"] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": benchlib.machine(),
        "workers": args.workers,
        "cache": os.environ.get("CACHE_URL", "locmemcache://"),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
