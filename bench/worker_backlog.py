"""The Celery worker of `make run` (SQLite, filesystem broker) under mixed incident traffic.

Two phases, each on a fresh ``MIM_VAR_DIR`` of its own (migrate + ``seed_demo``), with the
stack started exactly as ``make run`` starts it (``scripts/run.sh`` of ``--repo``):

``load``
    ``--clients`` threads (default 8) in a separate process send mixed incident traffic for
    ``--duration`` seconds: POST an incident (35%), PATCH one of its own (25%), GET a page of
    open incidents (30%), GET one incident (10%); and every ``--edit-every`` seconds a manager
    changes the user count of a top-level CI (Storefront / Mobile App), which changes the
    affected users of every open incident on the CIs they depend on. Every second it counts the
    messages waiting in the broker folder, per queue. Afterwards it reads the beat and worker
    logs: for every run of ``incidents.tasks.auto_declare`` and ``evaluate_escalations``, the
    lag from beat sending it to the worker starting it (the k-th send of a task matched to the
    k-th run or discard of it: the filesystem queue is FIFO).
``kill``
    ``--open`` open P3 incidents (default 900) on the CIs Storefront depends on, created with
    eager Celery before the stack starts (no message waits). Then one CMDB edit (Storefront's
    user count + 1,000, which reaches all of them); the moment the worker takes the message
    from the broker folder, SIGKILL the worker (and its pool). Count open incidents whose
    ``affected_users`` differs from the CMDB (recomputed here in SQL): right after the kill,
    and after ``make run`` is started again, every 5 s for ``--after-restart`` seconds.

Run the same script against the old code to get the "before" figures::

    git -C /work/main archive 0795b08 | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    ln -s /work/main/.venv /tmp/before/.venv
    .venv/bin/python bench/worker_backlog.py --repo /tmp/before --json /tmp/before.json
    .venv/bin/python bench/worker_backlog.py --json /tmp/after.json

Reads the SQLite database with the standard library only, so it measures any version of the
code. Every process it starts is in a session of its own and is stopped in a ``finally``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import benchlib

SEED = 20_261_122
PERIODIC = ("incidents.tasks.auto_declare", "incidents.tasks.evaluate_escalations")
TOP_LEVEL = ("Storefront", "Mobile App")
GROUPS = ["Service Desk", "Platform", "Payments", "Network", "DBA", "SRE"]
LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): (\w+)/([^\]]+)\] (.*)$")


# --- The stack -----------------------------------------------------------------------------------


def product_env(var: Path) -> dict[str, str]:
    """The environment of `make run` on a fresh machine, nothing inherited that changes it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "CELERY_", "CACHE_", "DJANGO_", "MIM_", "JWT_"))
        and k not in ("DEBUG", "SECRET_KEY", "LOG_LEVEL")
    }
    env.update(
        {
            "MIM_VAR_DIR": str(var),
            "SECRET_KEY": "bench-worker-backlog-" + "x" * 40,  # the same key for every process
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def manage(repo: Path, var: Path, *args: str, extra: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(repo / ".venv/bin/python"), "manage.py", *args],
        cwd=repo,
        env={**product_env(var), **(extra or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def log_dir(repo: Path, var: Path) -> Path:
    """Where run.sh writes its logs: under MIM_VAR_DIR now, under the checkout before."""
    return var / "log" if (var / "log").exists() else repo / "var" / "log"


class Stack:
    """``scripts/run.sh`` of one checkout: gunicorn, worker(s) and beat."""

    def __init__(self, repo: Path, var: Path, port: int) -> None:
        self.repo, self.var, self.port = repo, var, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_before: dict[Path, int] = {}

    def start(self) -> None:
        out = (self.var / "run.sh.out").open("ab")
        self.proc = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=self.repo,
            env={**product_env(self.var), "PORT": str(self.port)},
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"run.sh exited: {(self.var / 'run.sh.out').read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/incidents/")
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise SystemExit("gunicorn did not answer within 90 s")
        # Every worker log has a new "ready." line (one worker before, two after the change).
        up = time.monotonic()
        while time.monotonic() < deadline:
            logs = worker_logs(log_dir(self.repo, self.var))
            if (
                logs
                and all(ready_since(p, self.ready_before.get(p, 0)) for p in logs)
                and time.monotonic() - up > 3
            ):
                return
            time.sleep(0.3)
        raise SystemExit("the worker did not get ready within 90 s")

    def note_ready(self) -> None:
        """Remember how long the worker logs are, so that the next start waits for a new
        "ready." line (after that point, or anywhere if run.sh truncated the log)."""
        logs = worker_logs(log_dir(self.repo, self.var))
        self.ready_before = {p: p.stat().st_size for p in logs}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # run.sh's trap stops its children
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=40)
        # Anything of its session still alive (a worker ignoring TERM) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)

    def pids(self) -> set[int]:
        """run.sh and everything under it."""
        if self.proc is None:
            return set()
        found, todo = {self.proc.pid}, [self.proc.pid]
        while todo:
            for child in benchlib.children_of(todo.pop()):
                found.add(child)
                todo.append(child)
        return found

    def worker_pids(self) -> list[int]:
        """The celery worker processes (main and pool) under run.sh, not beat."""
        assert self.proc is not None
        found = []
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            for child in benchlib.children_of(pid):
                todo.append(child)
                try:
                    cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                if b"celery" in cmd and b" worker" in cmd:
                    found.append(child)
        return found


def worker_logs(logs: Path) -> list[Path]:
    return sorted(logs.glob("worker*.log"))


def ready_lines(path: Path) -> int:
    try:
        return path.read_text(errors="replace").count(" ready.")
    except OSError:
        return 0


def ready_since(path: Path, offset: int) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if len(data) < offset:  # truncated by a restart
        offset = 0
    return b" ready." in data[offset:]


def queue_counts(var: Path) -> Counter[str]:
    """Messages waiting in the filesystem broker, per queue (``<ms>_<uuid>.<queue>.msg``)."""
    counts: Counter[str] = Counter()
    try:
        names = os.listdir(var / "broker" / "queue")
    except OSError:
        return counts
    for name in names:
        if name.endswith(".msg"):
            counts[name.partition(".")[2].removesuffix(".msg")] += 1
    return counts


# --- HTTP ----------------------------------------------------------------------------------------


def call(
    port: int, token: str, method: str, path: str, body: Any = None, timeout: float = 60
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw[:300]


def token(repo: Path, var: Path, username: str, role: str) -> str:
    out = manage(repo, var, "issue_token", username, "--role", role, "--minutes", "240")
    return out.strip().splitlines()[-1]


def ci_ids(port: int, manager: str) -> dict[str, int]:
    status, body = call(port, manager, "GET", "/api/cis/?page_size=200")
    if status != 200:
        raise SystemExit(f"GET /api/cis/ -> {status}: {body}")
    rows = body["results"] if isinstance(body, dict) else body
    return {row["name"]: row["id"] for row in rows}


# --- Load client (its own process) ---------------------------------------------------------------


def client_main(config: dict[str, Any]) -> dict[str, Any]:
    port, deadline = config["port"], time.monotonic() + config["duration"]
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    failures: list[str] = []
    edits: list[float] = []

    def note(kind: str, status: int, started: float, body: Any) -> None:
        with lock:
            statuses[f"{kind} {status}"] += 1
            latencies.append(time.perf_counter() - started)
            if status >= 400 and len(failures) < 10:
                failures.append(f"{kind} {status}: {str(body)[:200]}")

    def worker(n: int) -> None:
        rng = random.Random(config["seed"] + n)
        mine: list[str] = []
        tech = config["technician"]
        while time.monotonic() < deadline:
            roll = rng.random()
            started = time.perf_counter()
            try:
                if roll < 0.35 or not mine:
                    impact, urgency = rng.choice([(i, u) for i in (1, 2, 3) for u in (1, 2, 3)
                                                  if (i, u) != (1, 1)])  # fmt: skip
                    status, body = call(port, tech, "POST", "/api/incidents/", {
                        "short_description": f"Load {n}: {rng.choice(config['ci_names'])} slow",
                        "affected_ci": rng.choice(config["ci_ids"]),
                        "impact": impact, "urgency": urgency, "channel": "monitoring",
                        "assignment_group": rng.choice(GROUPS),
                    })  # fmt: skip
                    if status == 201:
                        mine.append(body["number"])
                    note("POST", status, started, body)
                elif roll < 0.60:
                    number = rng.choice(mine[-50:])
                    status, body = call(port, tech, "PATCH", f"/api/incidents/{number}/", {
                        "assignment_group": rng.choice(GROUPS), "urgency": rng.choice((2, 3)),
                    })  # fmt: skip
                    note("PATCH", status, started, body)
                elif roll < 0.90:
                    status, body = call(
                        port, tech, "GET", "/api/incidents/?state=in_progress&page_size=20"
                    )
                    note("GET list", status, started, body)
                else:
                    status, body = call(
                        port, tech, "GET", f"/api/incidents/{rng.choice(mine[-50:])}/"
                    )
                    note("GET one", status, started, body)
            except (OSError, http.client.HTTPException) as exc:
                note("error", 0, started, repr(exc))

    def editor() -> None:
        k = 0
        while True:
            wait = (
                config["edit_every"] - (time.monotonic() - config["started"]) % config["edit_every"]
            )
            if time.monotonic() + wait >= deadline:
                return
            time.sleep(wait)
            name = TOP_LEVEL[k % len(TOP_LEVEL)]
            k += 1
            started = time.perf_counter()
            status, body = call(port, config["manager"], "PATCH", f"/api/cis/{config['ci'][name]}/",
                                {"user_count": config["base_users"][name] + k})  # fmt: skip
            note("PATCH ci", status, started, body)
            edits.append(time.time())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(config["clients"])]
    threads.append(threading.Thread(target=editor))
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "wall_seconds": wall,
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "statuses": dict(statuses),
        "errors": sum(n for k, n in statuses.items() if not k.split()[-1].startswith("2")),
        "failures": failures,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0,
        "p95_ms": 1000 * benchlib.summarize(latencies)["p95"] if latencies else 0,
        "edits": edits,
    }


# --- Logs ----------------------------------------------------------------------------------------


def parse_time(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp()


def read_log(path: Path) -> list[tuple[float, str]]:
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        m = LOG_LINE.match(line)
        if m:
            rows.append((parse_time(m.group(1)), m.group(4)))
    return rows


def periodic_lags(logs: Path, since: float, until: float) -> dict[str, Any]:
    """For each periodic task: beat's sends in [since, until] and how late the worker started
    each (or discarded it as expired)."""
    beat = read_log(logs / "beat.log")
    runs: dict[str, list[tuple[float, str]]] = {name: [] for name in PERIODIC}
    succeeded = re.compile(r"Task (\S+)\[([0-9a-f-]+)\] succeeded in ([0-9.e-]+)s")
    dropped = re.compile(r"(?:Discarding revoked task|expired)\S*:? ?(\S+)\[([0-9a-f-]+)\]")
    for path in worker_logs(logs):
        for ts, message in read_log(path):
            m = succeeded.search(message)
            if m and m.group(1) in runs:
                runs[m.group(1)].append((ts - float(m.group(3)), "ran"))
                continue
            m = dropped.search(message)
            if m and m.group(1) in runs:
                runs[m.group(1)].append((ts, "expired"))
    out: dict[str, Any] = {}
    for name in PERIODIC:
        sends = [ts for ts, msg in beat if f"Sending due task {name} " in msg or
                 msg.endswith(f"Sending due task {name}")]  # fmt: skip
        done = sorted(runs[name])
        pairs = [
            (sent, started, how)
            for sent, (started, how) in zip(sends, done, strict=False)
            if since <= sent <= until
        ]
        lags = [started - sent for sent, started, _ in pairs]
        out[name] = {
            "sent": sum(1 for s in sends if since <= s <= until),
            "started": sum(1 for _, _, how in pairs if how == "ran"),
            "expired": sum(1 for _, _, how in pairs if how == "expired"),
            "not_reached_by_end": sum(1 for s in sends if since <= s <= until) - len(pairs),
            "lag_median_s": statistics.median(lags) if lags else None,
            "lag_max_s": max(lags) if lags else None,
        }
    return out


def worker_throughput(logs: Path, since: float, until: float) -> dict[str, Any]:
    succeeded = re.compile(r"Task (\S+)\[[0-9a-f-]+\] succeeded in ([0-9.e-]+)s")
    by_task: Counter[str] = Counter()
    for path in worker_logs(logs):
        for ts, message in read_log(path):
            m = succeeded.search(message)
            if m and since <= ts <= until:
                by_task[m.group(1)] += 1
    total = sum(by_task.values())
    return {"succeeded": total, "per_second": total / max(1e-9, until - since), "by_task": by_task}


# --- SQLite --------------------------------------------------------------------------------------

OPEN = ("new", "in_progress", "on_hold")


def stale_counts(var: Path) -> tuple[int, int]:
    """(open incidents whose affected_users differs from the CMDB, open incidents with a CI)."""
    db = sqlite3.connect(f"file:{var / 'mimdesk.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute(
            f"""
            WITH RECURSIVE reach(root, id) AS (
                SELECT DISTINCT affected_ci_id, affected_ci_id FROM incidents_incident
                WHERE affected_ci_id IS NOT NULL AND state IN {OPEN}
                UNION
                SELECT r.root, d.consumer_id FROM incidents_cidependency d
                JOIN reach r ON d.provider_id = r.id
            ),
            totals AS (
                SELECT r.root AS ci, SUM(c.user_count) AS users FROM reach r
                JOIN incidents_configurationitem c ON c.id = r.id GROUP BY r.root
            )
            SELECT SUM(i.affected_users != t.users), COUNT(*) FROM incidents_incident i
            JOIN totals t ON t.ci = i.affected_ci_id WHERE i.state IN {OPEN}
            """
        ).fetchone()
    finally:
        db.close()
    return int(rows[0] or 0), int(rows[1] or 0)


# --- Phases --------------------------------------------------------------------------------------


def fresh_var(tag: str) -> Path:
    var = Path(tempfile.mkdtemp(prefix=f"mimdesk-bench-worker-{tag}-"))
    return var


def prepare(repo: Path, var: Path) -> None:
    manage(repo, var, "migrate", "--noinput")
    manage(repo, var, "seed_demo")


def phase_load(args: argparse.Namespace, repo: Path) -> dict[str, Any]:
    var = fresh_var("load")
    prepare(repo, var)
    stack = Stack(repo, var, benchlib.free_port())
    samples: list[tuple[float, dict[str, int]]] = []
    try:
        stack.start()
        manager = token(repo, var, "usr_alice_johnson", "itsm_manager")
        tech = token(repo, var, "usr_tina_tech", "technician")
        cis = ci_ids(stack.port, manager)
        _status, body = call(stack.port, manager, "GET", "/api/cis/?page_size=200")
        rows = body["results"] if isinstance(body, dict) else body
        base_users = {row["name"]: row["user_count"] for row in rows}
        config = {
            "port": stack.port, "duration": args.duration, "clients": args.clients,
            "seed": args.seed, "technician": tech, "manager": manager, "ci": cis,
            "ci_ids": list(cis.values()), "ci_names": list(cis), "base_users": base_users,
            "edit_every": args.edit_every, "started": time.monotonic(),
        }  # fmt: skip
        meter = benchlib.CpuMeter(stack.pids)
        meter.start()
        load_before = benchlib.loadavg()
        since = time.time()
        result: dict[str, Any] = {}
        runner = threading.Thread(
            target=lambda: result.update(benchlib.run_client(__file__, config))
        )
        runner.start()
        while runner.is_alive():
            samples.append((time.time() - since, dict(queue_counts(var))))
            time.sleep(1)
        until = time.time()
        # How far behind is the worker when the load stops: keep watching the backlog a while.
        tail_end = time.time() + args.tail
        while time.time() < tail_end:
            samples.append((time.time() - since, dict(queue_counts(var))))
            time.sleep(1)
        cpu = meter.stop(result.get("cpu_seconds", 0.0))
        logs = log_dir(repo, var)
        lags = periodic_lags(logs, since, until)
        throughput = worker_throughput(logs, since, until)
    finally:
        stack.stop()
    totals = [sum(c.values()) for _, c in samples]
    during = [sum(c.values()) for t, c in samples if t <= until - since]
    per_queue_peak: Counter[str] = Counter()
    for _, c in samples:
        for q, n in c.items():
            per_queue_peak[q] = max(per_queue_peak[q], n)
    return {
        "var": str(var),
        "client": {k: v for k, v in result.items() if k != "edits"},
        "cmdb_edits": len(result.get("edits", [])),
        "backlog_peak": max(totals, default=0),
        "backlog_at_end_of_load": during[-1] if during else 0,
        "backlog_after_tail": totals[-1] if totals else 0,
        "backlog_peak_per_queue": dict(per_queue_peak),
        "backlog_series": [(round(t), sum(c.values())) for t, c in samples[:: max(1, len(samples)
                                                                                // 60)]],
        "periodic": lags,
        "worker": throughput,
        "loadavg_before": load_before,
        "cpu_cores_ours": cpu["ours_cores"],
        "cpu_cores_others": cpu["others_cores"],
    }  # fmt: skip


SEED_OPEN = """
import random
from incidents import services
from incidents.models import ConfigurationItem
from django.contrib.auth import get_user_model
top = ConfigurationItem.objects.get(name="Storefront")
# every CI Storefront depends on, directly or not: walk provider links up from it
seen, todo = set(), [top.pk]
from incidents.models import CIDependency
while todo:
    ci = todo.pop()
    for p in CIDependency.objects.filter(consumer_id=ci).values_list("provider_id", flat=True):
        if p not in seen:
            seen.add(p); todo.append(p)
cis = list(ConfigurationItem.objects.filter(pk__in=seen | {top.pk}))
tech = get_user_model().objects.get(username="usr_tina_tech")
rng = random.Random(7)
for n in range(int(COUNT)):
    services.create_incident(actor=tech, short_description=f"Seeded {n}",
                             affected_ci=rng.choice(cis), impact=3, urgency=3)
print(len(cis))
"""


def phase_kill(args: argparse.Namespace, repo: Path) -> dict[str, Any]:
    var = fresh_var("kill")
    prepare(repo, var)
    manage(repo, var, "shell", "-c", SEED_OPEN.replace("COUNT", str(args.open)),
           extra={"CELERY_TASK_ALWAYS_EAGER": "true"})  # fmt: skip
    stack = Stack(repo, var, benchlib.free_port())
    out: dict[str, Any] = {"var": str(var)}
    try:
        stack.start()
        manager = token(repo, var, "usr_alice_johnson", "itsm_manager")
        cis = ci_ids(stack.port, manager)
        deadline = time.monotonic() + 120
        while sum(queue_counts(var).values()) and time.monotonic() < deadline:
            time.sleep(0.5)  # the start-up messages, if any
        stale, total = stale_counts(var)
        out["before_edit"] = {"stale": stale, "open_with_ci": total}
        before = set(os.listdir(var / "broker" / "queue"))
        status, body = call(stack.port, manager, "GET", f"/api/cis/{cis['Storefront']}/")
        status, body = call(stack.port, manager, "PATCH", f"/api/cis/{cis['Storefront']}/",
                            {"user_count": body["user_count"] + 1000})  # fmt: skip
        if status != 200:
            raise SystemExit(f"PATCH ci -> {status}: {body}")
        edited = time.monotonic()
        new = set(os.listdir(var / "broker" / "queue")) - before
        new = {n for n in new if not n.endswith((".periodic.msg",))}
        # The worker takes the message: the file leaves the folder. Kill at that moment.
        while new & set(os.listdir(var / "broker" / "queue")):
            if time.monotonic() - edited > 60:
                raise SystemExit("the worker did not take the refresh message within 60 s")
            time.sleep(0.002)
        taken = time.monotonic() - edited
        time.sleep(args.kill_delay)
        pids = stack.worker_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        out["killed"] = {"pids": len(pids), "seconds_after_edit": taken}
        time.sleep(1)
        stale, total = stale_counts(var)
        out["after_kill"] = {"stale": stale, "open_with_ci": total}
        stack.stop()  # run.sh has noticed (or not): stop what is left, as an operator would
        stack.note_ready()
        stack.start()  # `make run` again
        restarted = time.monotonic()
        series = []
        while time.monotonic() - restarted < args.after_restart:
            time.sleep(5)
            stale, total = stale_counts(var)
            series.append((round(time.monotonic() - restarted), stale))
        out["after_restart"] = series
        zero = [t for t, s in series if s == 0]
        out["stale_zero_after_s"] = zero[0] if zero else None
        out["stale_final"] = series[-1][1] if series else None
        out["open_with_ci"] = total
        logs = log_dir(repo, var)
        out["worker_log_kept"] = any(
            p.read_text(errors="replace").count(" ready.") >= 2 for p in worker_logs(logs)
        )
    finally:
        stack.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--repo", default=str(benchlib.REPO), help="checkout to run (run.sh)")
    parser.add_argument("--phases", default="load,kill")
    parser.add_argument("--duration", type=float, default=300, help="load seconds (300)")
    parser.add_argument("--tail", type=float, default=30, help="watch the backlog after (30 s)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--edit-every", type=float, default=30, help="CMDB edit period (30 s)")
    parser.add_argument("--open", type=int, default=900, help="open incidents, kill phase")
    parser.add_argument("--after-restart", type=float, default=120)
    parser.add_argument(
        "--kill-delay", type=float, default=0.0, help="seconds from taking the message to SIGKILL"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client_main(json.loads(Path(args.client).read_text()))))
        return 0
    benchlib.stop_cleanly_on_sigterm()
    repo = Path(args.repo).resolve()
    git = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %s"],
                         capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    report: dict[str, Any] = {
        "repo": str(repo),
        "commit": git or "(not a git checkout)",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": benchlib.machine(),
    }
    print(f"{repo}: {report['commit']}", flush=True)
    for phase in args.phases.split(","):
        t0 = time.monotonic()
        report[phase] = {"load": phase_load, "kill": phase_kill}[phase](args, repo)
        report[phase]["seconds"] = time.monotonic() - t0
        print(json.dumps({phase: report[phase]}, indent=1, default=str), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
