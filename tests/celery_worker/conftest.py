"""A real Celery worker for the tests marked ``celery_worker``.

These tests only run when all of these hold; otherwise they are skipped with the reason:

- ``RUN_CELERY_WORKER_TESTS=1`` (``.ci/run`` sets it for its PostgreSQL pass);
- the database is PostgreSQL (the worker is a second process on the same test database; SQLite's
  per-process in-memory test database cannot be shared);
- the broker is a real one (not ``filesystem://`` or ``memory://``).

The ``celery_worker`` fixture starts ``celery -A config worker`` once per session, after
pytest-django has created the test database, pointed at that database and at the same broker,
and stops it before the database is dropped. Tests that use it must commit their rows so the
worker sees them: mark them ``django_db(transaction=True)`` (tests/conftest.py puts back the
reference data of the data migrations that the flush after a transactional test removes).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60
WORKER_NAME = f"pytest-worker-{os.getpid()}@%h"


def skip_reason() -> str | None:
    """Why the real-worker tests cannot run here, or None when they can."""
    if os.environ.get("RUN_CELERY_WORKER_TESTS", "").strip().lower() not in {"1", "true", "yes"}:
        return "set RUN_CELERY_WORKER_TESTS=1 to run the tests that need a real Celery worker"
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        return f"a real Celery worker needs PostgreSQL (DATABASE_URL), not {engine}"
    broker = str(settings.CELERY_BROKER_URL)
    if broker.split("://", 1)[0] in {"filesystem", "memory"}:
        return f"a real Celery worker needs a real broker (CELERY_BROKER_URL), not {broker}"
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the real-worker tests when they cannot run; otherwise run them last of all.

    They are transactional, so the database is flushed after each of them: the role groups and
    system properties of the data migrations are gone until the next serialized test puts them
    back. pytest-django runs transactional tests after the others, but a test that asks for
    ``db`` at run time (``request.getfixturevalue``) is ordered after them and would find the
    database empty. Last of all, they leave nothing behind them to break.
    """
    worker_tests = [item for item in items if item.get_closest_marker("celery_worker")]
    if not worker_tests:
        return
    reason = skip_reason()
    if reason is not None:
        skip = pytest.mark.skip(reason=reason)
        for item in worker_tests:
            item.add_marker(skip)
        return
    # Under pytest-xdist (``make test`` runs two processes) every real-worker test goes to one
    # of them, so one Celery worker serves the broker: two, each on its own test database,
    # would take each other's tasks.
    for item in worker_tests:
        item.add_marker(pytest.mark.xdist_group("celery_worker"))
    others = [item for item in items if not item.get_closest_marker("celery_worker")]
    items[:] = others + worker_tests


def _database_url(db: dict) -> str:
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(str(db['NAME']), safe='')}"


def _worker_cache_url(broker: str) -> str:
    """The worker's cache: Redis on the broker's server, in the database after the broker's."""
    explicit = os.environ.get("CELERY_WORKER_CACHE_URL")
    if explicit:
        return explicit
    match = re.match(r"^(rediss?://[^/]+)(?:/(\d+))?", broker)
    if match:
        db = (int(match.group(2) or 0) + 1) % 16
        return f"{match.group(1)}/{db}"
    return "locmemcache://"


class Worker:
    """A running ``celery worker`` subprocess and its log."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, *, timeout: float = 20.0, count: int = 1) -> list[str]:
        """Wait until the regex ``pattern`` matches ``count`` times in the log; return matches."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            found = regex.findall(self.log())
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the Celery worker exited ({self.proc.returncode}):\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} not seen {count}x in the worker log after {timeout}s:\n"
                    + self.log()
                )
            time.sleep(0.1)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None) -> Iterator[Worker]:
    """One real worker per session, started once the test database exists, stopped before the
    database is dropped (this fixture depends on ``django_db_setup``, so it is torn down first)."""
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)

    from django.db import connections

    db = connections["default"].settings_dict  # NAME is the test database's now
    broker = str(settings.CELERY_BROKER_URL)
    var_dir = Path(tempfile.mkdtemp(prefix="mimdesk-celery-worker-"))
    log_path = Path(os.environ.get("CELERY_WORKER_LOG", var_dir / "worker.log"))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(db),
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CACHE_URL": _worker_cache_url(broker),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "MIM_VAR_DIR": str(var_dir),
        "DB_CONN_MAX_AGE": "0",  # no idle connection may hold up the flush or the DROP DATABASE
        "PYTHONUNBUFFERED": "1",
    }
    celery = Path(sys.executable).with_name("celery")
    cmd = [
        str(celery) if celery.exists() else "celery",
        "-A", "config", "worker",
        "--pool=solo", "-Q", "events,periodic", "--loglevel=INFO",
        "-n", WORKER_NAME,
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--purge",  # drop messages a previous run left in this broker database
    ]  # fmt: skip
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    worker = Worker(proc, log_path)
    try:
        worker.wait_for_log(r"\S+@\S+ ready\.", timeout=READY_TIMEOUT_S)
        yield worker
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # warm shutdown: finish the task, then exit
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log_file.close()
        sys.stderr.write(f"\n[celery_worker] worker log: {log_path}\n")


@pytest.fixture
def celery_worker(celery_worker_process: Worker) -> Iterator[Worker]:
    """The real worker, with ``delay()`` in this process going through the broker to it.

    The test settings make tasks eager; the Celery app read that from Django settings when it was
    configured, so switch it off on the app itself for this test and put it back afterwards.
    """
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield celery_worker_process
    finally:
        app.conf.task_always_eager = before
