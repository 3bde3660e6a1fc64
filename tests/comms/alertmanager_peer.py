"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) for the inbound tests:
started on a free port with a webhook receiver pointing at the test server, alerts fired and
resolved with Debian's ``amtool``.

Without the binaries the tests skip, except in CI (``CI`` set), where a missing peer fails.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.peers import free_port, missing_peer

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
AMTOOL = shutil.which("amtool")

CONFIG = """\
route:
  receiver: mimdesk
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: mimdesk
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def require_binaries() -> None:
    if ALERTMANAGER and AMTOOL:
        return
    missing_peer("Debian's prometheus-alertmanager (alertmanager and amtool) is not installed")


class Alertmanager:
    def __init__(self, url: str) -> None:
        self.url = url

    def amtool(self, *args: str) -> str:
        assert AMTOOL is not None
        out = subprocess.run(
            [AMTOOL, f"--alertmanager.url={self.url}", *args],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return out.stdout

    def fire(self, name: str, **labels: str) -> None:
        pairs = [f"{k}={v}" for k, v in labels.items()]
        self.amtool(
            "alert", "add", f"alertname={name}", *pairs,
            f"--annotation=summary={name} on {labels.get('service', '?')}",
        )  # fmt: skip

    def resolve(self, name: str, **labels: str) -> None:
        """The same alert with an end in the past: Alertmanager marks it resolved."""
        ended = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        started = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        pairs = [f"{k}={v}" for k, v in labels.items()]
        self.amtool(
            "alert", "add", f"alertname={name}", *pairs,
            f"--annotation=summary={name} on {labels.get('service', '?')}",
            f"--start={started}", f"--end={ended}",
        )  # fmt: skip


@contextmanager
def running_alertmanager(webhook_url: str, token: str) -> Iterator[Alertmanager]:
    require_binaries()
    assert ALERTMANAGER is not None
    folder = Path(tempfile.mkdtemp(prefix="mim-alertmanager-"))
    config = folder / "alertmanager.yml"
    config.write_text(CONFIG.format(url=webhook_url, token=token))
    port = free_port()
    log = (folder / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Alertmanager did not start: {(folder / 'alertmanager.log').read_text()}"
                )
            time.sleep(0.2)
        yield Alertmanager(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
