"""Mail in: a mailbox of 5,000 messages polled into incidents, against a real Dovecot.

Starts its own Dovecot (``tests/comms/dovecot_peer.py``), APPENDs the messages (every tenth a
reply to an earlier one, every twentieth an auto-reply), then runs ``poll_mailbox`` until the
folder is drained (``MIM_IMAP_BATCH`` per tick, 500 by default) and once more with nothing new.
Prints the drain time, messages/s, each tick, and the empty poll's time.

```sh
.venv/bin/python bench/mailbox_poll.py                  # SQLite, then PostgreSQL (~2 min)
.venv/bin/python bench/mailbox_poll.py --database sqlite --messages 1000
```

PostgreSQL: ``DATABASE_URL`` or ``…/mimdesk_bench_mailbox`` (dropped and recreated).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import benchlib


def run(database: str, messages: int, batch: int) -> None:
    from tests.comms import dovecot_peer

    var = tempfile.mkdtemp(prefix="mim-bench-mailbox-")
    os.environ["MIM_VAR_DIR"] = var
    os.environ["MIM_IMAP_BATCH"] = str(batch)
    if database == "sqlite":
        url = f"sqlite:///{var}/bench.sqlite3"
        benchlib.setup_django(url)
    else:
        url = benchlib.database_url("mimdesk_bench_mailbox")
        benchlib.fresh_django_database(url)
    server = dovecot_peer.start()
    try:
        from django.conf import settings

        from comms.models import InboundMail
        from comms.services import mailbox
        from incidents.models import Incident

        settings.MIM_IMAP_URL = server.url("INBOX")
        started = time.perf_counter()
        raws = []
        for n in range(messages):
            headers = {}
            if n % 10 == 9:
                headers["In-Reply-To"] = f"<m{n - 9}@bench.example>"
            if n % 20 == 19:
                headers["Auto-Submitted"] = "auto-replied"
            raws.append(
                dovecot_peer.mail(
                    f"Bench mail {n}",
                    f"Message {n}: the checkout fails for some customers.\n" * 5,
                    message_id=f"<m{n}@bench.example>",
                    headers=headers,
                )
            )
        client = server.client()
        for raw in raws:
            client.append("INBOX", "", "", raw)
        client.logout()
        print(f"[{database}] appended {messages} messages in {time.perf_counter() - started:.1f} s")

        ticks, totals = [], dict.fromkeys(["created", "replied", "ignored", "failed", "skipped"], 0)
        started = time.perf_counter()
        while True:
            tick = time.perf_counter()
            counts = mailbox.poll_mailbox()
            ticks.append(time.perf_counter() - tick)
            for key in totals:
                totals[key] += counts.get(key, 0)
            if not counts.get("pending"):
                break
        drained = time.perf_counter() - started
        tick = time.perf_counter()
        empty = mailbox.poll_mailbox()
        empty_seconds = time.perf_counter() - tick
        assert sum(empty.values()) == 0, empty
        assert InboundMail.objects.count() == messages
        print(f"[{database}] outcomes {totals}; incidents {Incident.objects.count()}")
        print(
            f"[{database}] drained {messages} in {drained:.1f} s over {len(ticks)} ticks "
            f"(batch {batch}): {messages / drained:.0f} messages/s; "
            f"tick median {benchlib.ms(sorted(ticks)[len(ticks) // 2])}, "
            f"max {benchlib.ms(max(ticks))}"
        )
        print(f"[{database}] second poll (nothing new): {benchlib.ms(empty_seconds)}")
        print(f"[{database}] load average (1 min): {benchlib.loadavg():.2f}")
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
        shutil.rmtree(var, ignore_errors=True)
        if database == "postgres":
            from django.db import connections

            connections.close_all()
            benchlib.drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    if args.database != "both":
        run(args.database, args.messages, args.batch)
        return
    # One Django per process: each database in a process of its own.
    for database in ("sqlite", "postgres"):
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--database",
                database,
                "--messages",
                str(args.messages),
                "--batch",
                str(args.batch),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
