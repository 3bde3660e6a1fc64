"""One stakeholder update to 10,000 email recipients through Amazon SES (moto's server on
loopback), delivered by two real Celery worker processes.

The stack: PostgreSQL (``mimdesk_bench_ses``, dropped afterwards), Redis as the broker
(``redis://127.0.0.1:6379/<--broker-db>``) and as the cache the workers' send-rate limiter
shares (``/<--cache-db>``), moto's server (``python -m moto.server``) as SES, and two
``celery -A config worker -c 1`` processes consuming ``events``. The product's own path: an MI,
the IT leadership group with ``--recipients`` external addresses, one cadence update from the
pre-approved template (``services.from_template``) → one outbox row per address → delivery
tasks after commit → anymail's SES backend → moto.

Reports: time from the update to the last row sent; SES SendEmail calls (moto's accepted
messages read over its HTTP API ``/moto-api/data.json``, and the delivery attempts recorded);
duplicates (distinct addresses vs outbox rows vs messages moto accepted, and addresses moto got
more than once); deliveries/s per worker (from each worker's log: messages sent by its tasks,
over the wall time and over its busy time); the most sends in any one second (the pacer's cap,
``--rate``, holds across both workers).

    .venv/bin/python bench/ses_fanout.py                     # 10,000 recipients, --rate 1000
    .venv/bin/python bench/ses_fanout.py --recipients 1000 --rate 20 --json /tmp/ses.json

moto's own SES answers MaxSendRate 1/s (its sandbox value), so ``--rate`` (``MIM_SES_SEND_RATE``)
sets the pace; 0 would ask moto and crawl at 1/s.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import benchlib

REGION = "eu-west-1"
SENDER = "major-incidents@bench.example"
SUCCEEDED = re.compile(r"Task comms\.tasks\.deliver\[[^\]]+\] succeeded in ([\d.]+)s: (\{.*\})")


def redis_url(db: int) -> str:
    return f"redis://127.0.0.1:6379/{db}"


def product_env(args: argparse.Namespace, moto_url: str, database_url: str) -> dict[str, str]:
    """What this process and both workers read their settings from."""
    return {
        **benchlib.bench_env(database_url),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": redis_url(args.broker_db),
        "CACHE_URL": redis_url(args.cache_db),
        "EMAIL_BACKEND": "ses",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MIM_SENDER_EMAIL": SENDER,
        "MIM_SES_SEND_RATE": str(args.rate),
        "MIM_VAR_DIR": args.var,
        "LOG_LEVEL": "WARNING",
    }


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port}")


def start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "events",
            "-c",
            "1",
            "-P",
            "prefork",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
            f"--logfile={log}",
        ],
        cwd=benchlib.REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(logs: list[Path], procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a worker exited: " + " | ".join(p.read_text()[-1500:] for p in logs))
        if all(p.exists() and " ready." in p.read_text() for p in logs):
            return
        time.sleep(0.2)
    raise SystemExit("the workers did not get ready within 60 s")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def worker_figures(log: Path) -> dict[str, float]:
    sent = tasks = 0
    busy = 0.0
    for line in log.read_text().splitlines():
        match = SUCCEEDED.search(line)
        if match:
            tasks += 1
            busy += float(match.group(1))
            sent += int(ast.literal_eval(match.group(2)).get("sent", 0))
    return {"tasks": tasks, "sent": sent, "busy_s": busy}


def make_update(recipients: int) -> tuple[Any, float, float]:
    """The MI, the group of ``recipients`` addresses and one cadence update: (update, started,
    committed) as ``time.time()`` moments."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from comms import services as comms
    from comms.models import StakeholderGroup
    from incidents import services as incidents

    manager = get_user_model().objects.create_user(username="bench_manager", password="x" * 20)
    incidents.set_user_roles(manager, ["itsm_manager"])
    incident = incidents.create_incident(
        actor=manager, short_description="Checkout returns 503", impact=1, urgency=1
    )
    mi = incidents.declare_major_incident(
        incident=incident,
        manager=manager,
        actor=manager,
        initial_impact_statement="Checkout down for every customer",
    )
    group = StakeholderGroup.objects.get(slug="it-leadership")
    group.external_emails = [f"stakeholder{i:05d}@bench.example" for i in range(recipients)]
    group.save(update_fields=["external_emails"])
    started = time.time()
    with transaction.atomic():
        update = comms.from_template(mi=mi, update_type="cadence", slot="bench-fanout")
    committed = time.time()
    if update is None:
        raise SystemExit("no update was made (the cadence template is missing?)")
    return update, started, committed


def wait_delivered(update: Any, expected: int, timeout: float) -> float:
    from comms.models import OutboxMessage, OutboxStatus

    deadline = time.monotonic() + timeout
    last_report = 0.0
    while time.monotonic() < deadline:
        counts = Counter(
            OutboxMessage.objects.filter(update=update).values_list("status", flat=True)
        )
        done = counts[OutboxStatus.SENT] + counts[OutboxStatus.DEAD]
        if time.monotonic() - last_report > 10:
            print(f"  {dict(counts)}", flush=True)
            last_report = time.monotonic()
        if done >= expected:
            return time.time()
        time.sleep(0.25)
    raise SystemExit(f"not delivered within {timeout} s: {dict(counts)}")


def moto_messages(moto_url: str) -> list[dict[str, Any]]:
    import requests

    data = requests.get(f"{moto_url}/moto-api/data.json", timeout=120).json()
    return list(data.get("ses", {}).get("RawMessage", []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="MIM_SES_SEND_RATE (per s)")
    parser.add_argument("--broker-db", type=int, default=11)
    parser.add_argument("--cache-db", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    benchlib.stop_cleanly_on_sigterm()

    import redis

    for db in (args.broker_db, args.cache_db):
        redis.Redis.from_url(redis_url(db)).flushdb()

    database_url = benchlib.database_url("mimdesk_bench_ses")
    work = Path(tempfile.mkdtemp(prefix="bench-ses-"))
    args.var = str(work / "var")
    moto_port = benchlib.free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    moto: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = []
    try:
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(moto_port, moto, "moto")
        env = product_env(args, moto_url, database_url)
        os.environ.update(env)
        benchlib.recreate_database(database_url)
        print(f"database recreated; migrating; moto on {moto_url}", flush=True)
        # Not benchlib.setup_django: its environment makes Celery eager, and this process must
        # enqueue to the broker for the workers.
        os.environ.update(env)
        sys.path.insert(0, str(benchlib.REPO))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        from django.conf import settings

        assert not settings.CELERY_TASK_ALWAYS_EAGER and settings.EMAIL_BACKEND.startswith(
            "anymail"
        ), "the bench settings did not take"
        import boto3

        boto3.client("ses", region_name=REGION, endpoint_url=moto_url).verify_email_identity(
            EmailAddress=SENDER
        )

        logs = [work / "worker-1.log", work / "worker-2.log"]
        workers = [start_worker(f"ses{i + 1}", env, log) for i, log in enumerate(logs)]
        wait_ready(logs, workers)
        load_before = os.getloadavg()
        print(f"workers ready; one update to {args.recipients} recipients", flush=True)

        update, started, committed = make_update(args.recipients)
        finished = wait_delivered(update, args.recipients, args.timeout)
        load_after = os.getloadavg()

        from django.db.models import Count

        from comms.models import DeliveryAttempt, OutboxMessage, OutboxStatus

        rows = OutboxMessage.objects.filter(update=update)
        statuses = Counter(rows.values_list("status", flat=True))
        distinct = rows.values("recipient").distinct().count()
        attempts = DeliveryAttempt.objects.filter(message__update=update).count()
        per_second = Counter(
            int(moment.timestamp()) for moment in rows.values_list("sent_at", flat=True) if moment
        )
        messages = moto_messages(moto_url)
        got = Counter(
            address
            for message in messages
            for address in {parseaddr(d)[1].lower() for d in message["destinations"]}
        )
        figures: dict[str, Any] = {
            "recipients": args.recipients,
            "rate_cap_per_s": args.rate,
            "enqueue_s": round(committed - started, 2),
            "deliver_all_s": round(finished - started, 2),
            "outbox_rows": rows.count(),
            "distinct_recipients": distinct,
            "sent": statuses[OutboxStatus.SENT],
            "dead": statuses[OutboxStatus.DEAD],
            "delivery_attempts": attempts,
            "ses_calls_accepted_by_moto": len(messages),
            "moto_distinct_recipients": len(got),
            "moto_duplicates": sum(n - 1 for n in got.values() if n > 1),
            "rows_attempted_twice": rows.filter(attempts__gt=1).count(),
            "max_sends_in_one_second": max(per_second.values()) if per_second else 0,
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in load_after],
            "cores": os.cpu_count(),
        }
        wall = finished - committed
        for i, log in enumerate(logs, 1):
            w = worker_figures(log)
            figures[f"worker_{i}"] = {
                **w,
                "busy_s": round(w["busy_s"], 1),
                "per_s_wall": round(w["sent"] / wall, 1) if wall else 0,
                "per_s_busy": round(w["sent"] / w["busy_s"], 1) if w["busy_s"] else 0,
            }
        assert not rows.values("recipient").annotate(n=Count("id")).filter(n__gt=1).exists()
        print(json.dumps(figures, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
    finally:
        for proc in workers:
            stop(proc)
        stop(moto)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            benchlib.drop_database(database_url)


if __name__ == "__main__":
    main()
