"""The services queue tasks by name: every process that runs a service must know those names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from incidents.services import enqueue

REPO = Path(__file__).resolve().parents[2]


def _queued_task_names() -> list[str]:
    source = Path(enqueue.__file__).read_text()
    names = sorted({part.split('"')[0] for part in source.split('"incidents.tasks.')[1:]})
    return [f"incidents.tasks.{name}" for name in names]


def test_enqueue_names_tasks():
    assert "incidents.tasks.evaluate_incident" in _queued_task_names()


@pytest.mark.parametrize("name", _queued_task_names())
def test_a_web_process_knows_every_queued_task(name):
    # A fresh process, as gunicorn or manage.py starts one: nothing has imported incidents.tasks.
    code = (
        "import django; django.setup(); from celery import current_app; "
        f"print({name!r} in current_app.tasks)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr
