"""The outbox on real workers (Redis + PostgreSQL) and a real SMTP server (aiosmtpd on loopback).

- An update's messages, delivered by a worker: each exactly once.
- A worker killed with SIGKILL while the SMTP server holds its answer to DATA: the server had
  the whole message but never said 250, so it never took it (a server commits a message when it
  answers, RFC 5321 §4.1.1.4 and §6.1); the row is left ``sending``. The broker redelivers the
  task once its visibility timeout passes and the redelivered task skips the row (it is claimed);
  ``comms.tasks.deliver_pending`` takes the row back after the lease and it is sent once.
  Not tested, because no client can close it: the server said 250 and the worker died before it
  read it (or before it wrote ``sent``). The re-drive sends again and the provider sees it twice
  (the outbox's docstring; the ``X-MIM-Message`` header carries the idempotency key so a
  receiving system can drop the copy).
- ``comms.tasks.deliver_pending`` twice at once, on two workers: every row due is sent once.

The workers here are this module's own (not the session's worker of conftest.py): they send mail
by SMTP to the test's server, use a short sending lease, and one of them is killed. Their tasks
go to a queue of this test run, so the session's worker (if another test started it) takes none.

Skipped unless RUN_CELERY_WORKER_TESTS=1 on PostgreSQL with a real broker (see conftest.py).
"""

from __future__ import annotations

import asyncio
import email
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from comms import services
from comms.models import DeliveryAttempt, OutboxMessage, OutboxStatus, StakeholderGroup
from comms.tasks import deliver_pending
from incidents.models import Incident, MajorIncident
from tests.conftest import make_user
from tests.peers import free_port

from .conftest import READY_TIMEOUT_S, REPO, Worker, _database_url, _worker_cache_url

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

QUEUE = f"comms-delivery-test-{os.getpid()}"
LEASE_SECONDS = 2
# The workers' hard time limit, and so Redis' visibility timeout (3x, config/settings.py): how
# long a killed worker's unacknowledged task waits before the broker hands it out again.
TIME_LIMIT_SECONDS = 6


# --- the SMTP server ------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd's handler: takes a message when it answers 250, can hold that answer."""

    def __init__(self) -> None:
        self.accepted: list[Message] = []
        self.received = 0  # DATA complete (answered or not)
        self.aborted = 0  # the client went away while the answer was held
        self.delay = 0.0
        self.hold = threading.Event()  # set: hold every answer to DATA until cleared
        self.holding = threading.Event()  # set once an answer is being held
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.received += 1
        try:
            if self.hold.is_set():
                self.holding.set()
                while self.hold.is_set():
                    await asyncio.sleep(0.05)
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            # aiosmtpd cancels the session when its connection is lost: no 250, nothing taken.
            with self._lock:
                self.aborted += 1
            raise
        message = email.message_from_bytes(envelope.content)
        with self._lock:
            self.accepted.append(message)
        return "250 Message accepted for delivery"

    def keys(self) -> Counter[str]:
        with self._lock:
            return Counter(str(m["X-MIM-Message"]) for m in self.accepted)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        mailbox.hold.clear()
        controller.stop()


# --- the workers ----------------------------------------------------------------------------------


@pytest.fixture
def routed_here() -> Iterator[None]:
    """Delivery and re-drive tasks go to this run's queue, through the broker (not eagerly)."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_routes)
    app.conf.task_always_eager = False
    app.conf.task_routes = {
        **(app.conf.task_routes or {}),
        "comms.tasks.deliver": {"queue": QUEUE},
        "comms.tasks.deliver_pending": {"queue": QUEUE},
    }
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)  # a cached property holding the old table
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_routes = before
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)


@pytest.fixture
def start_worker(
    django_db_setup: None, routed_here: None, smtp: tuple[Mailbox, int]
) -> Iterator[Callable[[str], Worker]]:
    """``start_worker("a")``: a solo worker on this run's queue, sending mail to ``smtp``."""
    from django.db import connections

    db = connections["default"].settings_dict
    broker = str(settings.CELERY_BROKER_URL)
    var_dir = Path(tempfile.mkdtemp(prefix="mimdesk-comms-worker-"))
    started: list[tuple[Worker, Any]] = []

    def start(name: str) -> Worker:
        log_path = var_dir / f"worker-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _database_url(db),
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CACHE_URL": _worker_cache_url(broker),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp[1]),
            "EMAIL_TIMEOUT": "60",
            "COMMS_SENDING_LEASE_SECONDS": str(LEASE_SECONDS),
            "CELERY_TASK_SOFT_TIME_LIMIT": str(TIME_LIMIT_SECONDS - 2),
            "CELERY_TASK_TIME_LIMIT": str(TIME_LIMIT_SECONDS),
            "MIM_VAR_DIR": str(var_dir / name),
            "DB_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
            "MIM_TEST_COMMS_QUEUE": QUEUE,
        }
        celery = Path(sys.executable).with_name("celery")
        cmd = [
            str(celery) if celery.exists() else "celery",
            "-A", "tests.celery_worker.comms_worker_app", "worker",
            "--pool=solo", "-Q", QUEUE, "--loglevel=INFO",
            "-n", f"comms-{name}-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        log_file = log_path.open("wb")
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        worker = Worker(proc, log_path)
        started.append((worker, log_file))
        worker.wait_for_log(r"\S+@\S+ ready\.", timeout=READY_TIMEOUT_S)
        return worker

    yield start
    for worker, log_file in started:
        if worker.proc.poll() is None:
            os.killpg(worker.proc.pid, signal.SIGTERM)
            try:
                worker.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait(timeout=5)
        log_file.close()
        sys.stderr.write(f"\n[comms delivery] worker log: {worker.log_path}\n")


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def _mi() -> MajorIncident:
    # Made directly, not declared: the declaration's own notifications are not this test's.
    incident = Incident.objects.create(short_description="Checkout down", impact=1, urgency=1)
    return MajorIncident.objects.create(incident=incident, impact_statement="Checkout is down")


def _message(mi: MajorIncident, i: int) -> services.NewMessage:
    return services.NewMessage(
        channel="email",
        recipient=f"person{i}@example.test",
        key=f"delivery-test:{mi.pk}:{i}",
        purpose="cadence",
        subject=f"[{mi.number}] update",
        payload={"text": "Current impact: Checkout is down"},
        major_incident_id=mi.pk,
    )


# --- the tests ------------------------------------------------------------------------------------


def test_an_updates_messages_are_delivered_by_a_worker_exactly_once(
    start_worker: Callable[[str], Worker], smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    start_worker("a")
    mi = _mi()
    leadership = StakeholderGroup.objects.get(slug="it-leadership")
    for name in ("cio", "cto", "ciso"):
        user = make_user(f"usr_{name}")
        user.email = f"{name}@example.test"
        user.save(update_fields=["email"])
        leadership.users.add(user)

    update = services.from_template(mi=mi, update_type="initial", slot="initial")
    assert update is not None and update.status == "sent"
    rows = OutboxMessage.objects.filter(update=update, channel="email")
    keys = set(rows.values_list("idempotency_key", flat=True))
    assert len(keys) == 3

    _wait(lambda: set(mailbox.keys()) >= keys, "the three emails")
    _wait(lambda: set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}, "rows sent")
    # The every-minute re-drive, meanwhile: nothing more.
    deliver_pending.delay()
    time.sleep(2)
    assert {key: mailbox.keys()[key] for key in keys} == dict.fromkeys(keys, 1)
    recipients = sorted(m["To"] for m in mailbox.accepted if m["X-MIM-Message"] in keys)
    assert recipients == ["cio@example.test", "ciso@example.test", "cto@example.test"]
    assert set(rows.values_list("attempts", flat=True)) == {1}


def test_a_worker_killed_while_the_smtp_server_holds_its_answer_sends_the_message_once(
    start_worker: Callable[[str], Worker], smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    first = start_worker("first")
    mi = _mi()
    mailbox.hold.set()
    with transaction.atomic():
        (row_id,) = services.enqueue([_message(mi, 1)])
    row = OutboxMessage.objects.get(pk=row_id)

    # The worker sent the whole message and waits for the answer to DATA: kill it there.
    assert mailbox.holding.wait(timeout=30), first.log()
    task_id = re.findall(r"Task comms\.tasks\.deliver\[([0-9a-f-]+)\] received", first.log())[0]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.SENDING, 1)
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=10)
    _wait(lambda: mailbox.aborted == 1, "the SMTP server to see the connection lost")
    mailbox.hold.clear()
    assert mailbox.accepted == []

    second = start_worker("second")
    # Past the lease (the row was claimed before the kill), the re-drive takes it back and sends
    # it. Within the lease it would leave it alone: a slow worker may still be sending
    # (tests/comms/test_outbox.py).
    row.refresh_from_db()
    assert row.claimed_at is not None
    time.sleep(max(0.0, LEASE_SECONDS + 0.5 - (timezone.now() - row.claimed_at).total_seconds()))
    deliver_pending.delay()
    _wait(lambda: OutboxMessage.objects.get(pk=row_id).status == OutboxStatus.SENT, "resent")
    # The killed worker's task comes back from the broker after the visibility timeout: the row
    # is not claimable, so it sends nothing.
    redelivered = second.wait_for_log(
        rf"Task comms\.tasks\.deliver\[{task_id}\] succeeded in \S+: (.*)",
        timeout=3 * TIME_LIMIT_SECONDS + 30,
    )
    assert "'sent': 0" in redelivered[0] and "'skipped': 1" in redelivered[0]

    assert mailbox.keys() == Counter({row.idempotency_key: 1})
    assert mailbox.received == 2  # the held one (never answered) and the one it took
    row.refresh_from_db()
    assert row.attempts == 2
    attempts = list(DeliveryAttempt.objects.filter(message=row).values_list("number", "outcome"))
    assert attempts == [(1, ""), (2, "sent")]  # the first never finished: its worker died


def test_deliver_pending_twice_at_once_sends_each_message_once(
    start_worker: Callable[[str], Worker], smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    mailbox.delay = 0.05  # each send takes a while, so the two workers' runs overlap
    first, second = start_worker("one"), start_worker("two")
    mi = _mi()
    count = 30
    past = timezone.now() - timedelta(minutes=5)
    # Rows a failed first attempt left for the re-drive (no delivery task of their own in flight).
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            idempotency_key=m.key,
            channel=m.channel,
            recipient=m.recipient,
            purpose=m.purpose,
            subject=m.subject,
            payload=m.payload,
            major_incident=mi,
            status=OutboxStatus.FAILED,
            attempts=1,
            next_attempt_at=past,
            created_at=past,
        )
        for m in (_message(mi, i) for i in range(count))
    )
    deliver_pending.delay()
    deliver_pending.delay()
    for worker in (first, second):
        worker.wait_for_log(r"comms\.tasks\.deliver_pending\[\S+\] succeeded", count=1)
    rows = OutboxMessage.objects.filter(major_incident=mi)
    _wait(lambda: rows.filter(status=OutboxStatus.SENT).count() == count, "every row sent")
    time.sleep(1)
    keys = mailbox.keys()
    assert len(keys) == count and set(keys.values()) == {1}, keys
    assert set(rows.values_list("attempts", flat=True)) == {2}
    assert DeliveryAttempt.objects.filter(message__major_incident=mi).count() == count
    # Both re-drives queued every row; the two workers' deliveries split them by their claims.
    done = [
        result
        for worker in (first, second)
        for result in re.findall(
            r"comms\.tasks\.deliver\[\S+\] succeeded in \S+: (.*)", worker.log()
        )
    ]
    sent = sum(int(re.search(r"'sent': (\d+)", result).group(1)) for result in done)
    assert sent == count, done
