"""Shared helpers for the benchmarks: a private PostgreSQL database, Django set-up, statistics.

Not a Django app and not imported by the product; the scripts next to it put this folder on
``sys.path`` simply by being run as ``.venv/bin/python bench/<script>.py``.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/{name}"


def database_url(default_name: str) -> str:
    """``DATABASE_URL`` when set, else a benchmark database of our own on the local server."""
    return os.environ.get("DATABASE_URL") or DEFAULT_URL.format(name=default_name)


def _bench_database(url: str) -> tuple[str, str]:
    """(database name, URL of the server's ``postgres`` database); refuses non-bench names.

    The benchmarks fill tables with synthetic rows and drop the database afterwards, so they only
    ever run on a database that is theirs to throw away.
    """
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"the benchmarks need PostgreSQL, not {parts.scheme!r}")
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(
            f"refusing to drop and refill database {name!r}: its name must contain 'bench' "
            "(unset DATABASE_URL to use the default benchmark database)"
        )
    return name, urlunsplit(parts._replace(path="/postgres"))


def recreate_database(url: str) -> str:
    """Drop (if present) and create the benchmark database named by ``url``; return its name."""
    import psycopg
    from psycopg import sql

    name, admin_url = _bench_database(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the scripts' finally blocks stop gunicorn and drop the
    database."""

    def on_sigterm(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)


def fresh_django_database(url: str) -> None:
    """Recreate the benchmark database, migrate it and set Django up on it."""
    name = recreate_database(url)
    print(f"database {name} (re)created; migrating...", flush=True)
    setup_django(url)


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name, admin_url = _bench_database(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# DEBUG=false needs a secret; one random key per benchmark run, the same for this process (which
# issues the tokens) and the gunicorn it starts (which checks them).
_SECRET_KEY = secrets.token_urlsafe(64)


def bench_env(url: str) -> dict[str, str]:
    """The environment the product reads its settings from, for this process and for gunicorn."""
    env = {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _SECRET_KEY,
        "DATABASE_URL": url,
        "CACHE_URL": os.environ.get("CACHE_URL", "locmemcache://"),
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "DEBUG": "false",
    }
    return env


def setup_django(url: str, *, migrate: bool = True) -> None:
    os.environ.update(bench_env(url))
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)


def summarize(samples: list[float]) -> dict[str, float]:
    """Median and nearest-rank p95 (the value 95% of samples do not exceed), in seconds."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(0.95 * len(ordered)))
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p95": ordered[rank - 1],
        "min": ordered[0],
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}" if seconds < 1 else f"{seconds * 1000:.0f}"


def _run(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = ""
    for line in _run("lscpu").splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    memory = ""
    for line in _run("free", "-h").splitlines():
        if line.startswith("Mem:"):
            memory = line.split()[1]
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": cpu,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0])


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --- Other work on the machine --------------------------------------------------------------------


def loadavg() -> float:
    """The 1-minute load average: anything else running skews every figure on 2 cores."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def wait_for_quiet(max_seconds: float, threshold: float = 0.5) -> float:
    """Wait (at most ``max_seconds``) for the 1-minute load to drop below ``threshold``."""
    deadline = time.monotonic() + max_seconds
    load = loadavg()
    if load >= threshold and max_seconds > 0:
        print(f"waiting up to {max_seconds:.0f} s for load {load:.2f} < {threshold}", flush=True)
    while load >= threshold and time.monotonic() < deadline:
        time.sleep(5)
        load = loadavg()
    if load >= threshold:
        print(f"WARNING: 1-minute load is {load:.2f}: other work shares the CPUs", file=sys.stderr)
    return load


# --- Who used the CPUs during a measurement -------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.add(int(entry.name))
    return found


def postgres_backends() -> set[int]:
    """Server processes serving this benchmark's database (ours, by construction)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return {int(row[0]) for row in cursor.fetchall()}


def _machine_busy_seconds() -> float:
    try:
        parts = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = parts
    return (user + nice + system + irq + softirq + steal) / _TICK


class CpuMeter:
    """How much of the machine's CPU went to the measured processes, and how much to other work.

    ``ours`` returns the pids that belong to the measurement (called at start and at stop);
    CPU reported by a process that measured itself (the load client) is passed to ``stop``.
    """

    def __init__(self, ours: Callable[[], set[int]]) -> None:
        self.ours = ours

    def start(self) -> None:
        self.started = time.monotonic()
        self.busy = _machine_busy_seconds()
        self.before = {pid: process_cpu_seconds(pid) or 0.0 for pid in self.ours()}

    def stop(self, extra_ours: float = 0.0) -> dict[str, float]:
        wall = time.monotonic() - self.started
        busy = _machine_busy_seconds() - self.busy
        ours = extra_ours
        for pid in self.ours() | set(self.before):
            now = process_cpu_seconds(pid)
            if now is not None:
                ours += now - self.before.get(pid, 0.0)
        wall = max(wall, 1e-9)
        return {
            "wall_seconds": wall,
            "ours_seconds": ours,
            "machine_busy_cores": busy / wall,
            "ours_cores": ours / wall,
            "others_cores": max(0.0, busy - ours) / wall,
        }


def timed_request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, float]:
    """One request on a kept-alive connection: (status, body, seconds). A transport error is
    status 0 with the error as the body; the connection is closed when the server closes it
    (gunicorn's sync workers close after every response) or on error, and reopens on next use."""
    started = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        content = response.read()
        status = response.status
        if response.will_close:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        status, content = 0, repr(exc).encode()
    return status, content, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(
    url: str,
    port: int,
    workers: int,
    log_path: Path,
    *,
    probe: str = "/api/incidents/",
    extra_args: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """gunicorn (sync workers) on the bench database, once it answers ``probe`` on loopback."""
    env = {**os.environ, **bench_env(url)}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn), "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "sync",
        "--timeout", "60",
        "--graceful-timeout", "5",
        "--log-level", "warning",
        *extra_args,
    ]  # fmt: skip
    log = log_path.open("wb")
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", probe)
            conn.getresponse().read()
            conn.close()
            return proc
        except OSError:
            time.sleep(0.2)
    stop_gunicorn(proc)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_gunicorn(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to the master we started (it stops its workers), SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_client(script: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run ``script --client CONFIG`` as a separate process (the load generator) and return the
    JSON it prints, so the client's CPU never shares a process with the server's."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(config, fh)
        path = fh.name
    try:
        done = subprocess.run(
            [sys.executable, script, "--client", path],
            capture_output=True,
            text=True,
            timeout=config["duration"] + 120,
            check=False,
        )
    finally:
        os.unlink(path)
    if done.returncode != 0:
        raise SystemExit(f"load client failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)
