"""An alert storm: 1,000 Alertmanager notifications in 50 groups, sent within 10 s to the
inbound webhook under gunicorn on PostgreSQL.

1. (Re)creates a benchmark database, migrates it, creates an Alertmanager source.
2. Starts gunicorn (sync workers) on a free loopback port.
3. Sends the 1,000 notifications from a pool of client threads, paced to start within 10 s, in
   a shuffled order (each group's 20 notifications interleaved with the others'), each group's
   alerts growing as a real storm's do; records every answer's status and latency.
4. Checks: exactly 50 incidents, 1,000 stored payloads, every answer 202 (nothing lost).
5. Stops gunicorn and drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/alert_storm.py`` (``--groups 50 --per-group 20 --window 10
--clients 16 --workers 4``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import benchlib


def payload(group: int, n: int) -> str:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": f"Storm{group}", "instance": f"web-{i}", "service": "checkout"},
            "annotations": {"summary": f"Storm {group} on web-{i}"},
            "startsAt": "2026-12-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{group:04d}{i:04d}",
        }
        for i in range(1 + n % 5)
    ]
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="Storm{group}"}}',
            "status": "firing",
            "receiver": "mimdesk",
            "groupLabels": {"alertname": f"Storm{group}"},
            "commonLabels": {"alertname": f"Storm{group}", "service": "checkout"},
            "commonAnnotations": {"summary": f"Storm {group}"},
            "externalURL": "http://alertmanager.local",
            "alerts": alerts,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--per-group", type=int, default=20)
    parser.add_argument("--window", type=float, default=10.0, help="seconds to start them all in")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    benchlib.stop_cleanly_on_sigterm()
    url = benchlib.database_url("mimdesk_bench_alerts")
    benchlib.fresh_django_database(url)

    from comms.models import InboundEvent
    from comms.services import inbound
    from incidents.models import Incident

    _, token = inbound.create_source(kind="alertmanager", name="storm", actor=None)
    jobs = [(g, n) for g in range(args.groups) for n in range(args.per_group)]
    random.Random(7).shuffle(jobs)
    bodies = [payload(g, n) for g, n in jobs]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    port = benchlib.free_port()
    log = Path(tempfile.gettempdir()) / "alert_storm_gunicorn.log"
    server = benchlib.start_gunicorn(url, port, args.workers, log)
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    local = threading.local()
    load_before = benchlib.loadavg()
    try:
        interval = args.window / len(bodies)
        started = time.perf_counter()

        def send(index: int) -> None:
            # Pace the starts: request i leaves no earlier than i × interval.
            delay = started + index * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status, _, seconds = benchlib.timed_request(
                conn, "POST", "/api/inbound/alertmanager/", body=bodies[index], headers=headers
            )
            with lock:
                results.append((status, seconds))

        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(send, range(len(bodies))))
        wall = time.perf_counter() - started
    finally:
        benchlib.stop_gunicorn(server)
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    latency = benchlib.summarize([s for _, s in results])
    incidents = Incident.objects.count()
    events = InboundEvent.objects.count()
    print(benchlib.machine())
    print(f"load average before: {load_before:.2f}, after: {benchlib.loadavg():.2f}")
    headings = ["notifications", "groups", "all sent in", "answers", "p50 ms", "p95 ms",
                "incidents", "payloads stored"]  # fmt: skip
    row = [len(bodies), args.groups, f"{wall:.1f} s", statuses, benchlib.ms(latency["median"]),
           benchlib.ms(latency["p95"]), incidents, events]  # fmt: skip
    print(benchlib.markdown_table(headings, [row]))
    ok = incidents == args.groups and events == len(bodies) and statuses == {202: len(bodies)}
    if not args.keep_db:
        from django.db import connections

        connections.close_all()
        benchlib.drop_database(url)
    if not ok:
        sys.exit("FAILED: the storm lost or duplicated something")


if __name__ == "__main__":
    main()
