"""`make run` (scripts/run.sh): where its logs go, that a restart keeps them, what it starts.

The script runs for real, from a copy of the checkout's layout whose ``.venv/bin/celery`` and
``.venv/bin/gunicorn`` are stand-ins that log their arguments; the web server "crashes" after a
moment, as a real crash would end `make run`. Nothing else of the script is replaced.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CELERY = """#!/usr/bin/env bash
echo "celery $* (run $MIM_TEST_RUN)"
exec sleep 60
"""
GUNICORN = """#!/usr/bin/env bash
echo "gunicorn $* (run $MIM_TEST_RUN)"
sleep 0.5
echo "gunicorn crashed (run $MIM_TEST_RUN)" >&2
exit 3
"""


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "run.sh", root / "scripts" / "run.sh")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in (("celery", CELERY), ("gunicorn", GUNICORN), ("python", "#!/bin/sh\n")):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return root


def _run(root: Path, var: Path, n: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIM_VAR_DIR": str(var), "MIM_TEST_RUN": str(n), "PORT": "8999"}
    return subprocess.run(
        ["bash", str(root / "scripts" / "run.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_logs_go_under_mim_var_dir_and_survive_a_restart(tmp_path):
    root, var = _checkout(tmp_path), tmp_path / "var"
    first = _run(root, var, 1)
    assert first.returncode == 3, first.stderr  # the crash ends `make run`, with its status
    second = _run(root, var, 2)
    assert second.returncode == 3, second.stderr

    logs = var / "log"
    assert not (root / "var").exists()
    web = (logs / "web.log").read_text()
    # The crash of the first run is still there after the second start.
    assert "gunicorn crashed (run 1)" in web
    assert "gunicorn crashed (run 2)" in web
    assert web.index("(run 1)") < web.index("(run 2)")
    assert web.count("make run started") == 2
    for name in ("worker-events", "worker-periodic", "beat"):
        text = (logs / f"{name}.log").read_text()
        assert "(run 1)" in text and "(run 2)" in text, name


def test_one_worker_per_queue_with_a_pool_that_enforces_time_limits(tmp_path):
    root, var = _checkout(tmp_path), tmp_path / "var"
    _run(root, var, 1)
    logs = var / "log"
    events = (logs / "worker-events.log").read_text()
    periodic = (logs / "worker-periodic.log").read_text()
    assert "worker --queues=events " in events
    assert "worker --queues=periodic " in periodic
    for text in (events, periodic):
        # Threads and solo pools ignore the tasks' soft and hard time limits.
        assert "--pool=prefork" in text
        assert "threads" not in text and "solo" not in text
    assert " beat " in (logs / "beat.log").read_text()
