"""Two processes submitting the same address at once, on PostgreSQL: one subscriber row, one
confirmation mail (the conditional UPDATE on ``confirmation_sent_at`` decides).

SQLite serialises writers, so the proof needs PostgreSQL:
``DATABASE_URL=postgres://… pytest tests/comms/test_subscribers_race_pg.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from comms.models import OutboxMessage, StatusSubscriber
from comms.services import subscribers
from tests.incidents.test_mi_race_pg import _run_two_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SCRIPT = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, os.environ["MIM_REPO"])
import django
django.setup()
from django.db import connection
from comms.services import subscribers
connection.ensure_connection()
Path(os.environ["READY_FILE"]).touch()
gun = Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not gun.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
for _ in range(5):
    subscribers.subscribe(email="race@example.test")
print(json.dumps({"ok": True}))
"""


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def test_two_submissions_at_once_make_one_row_and_one_mail(tmp_path: Any) -> None:
    results = _run_two_at_once(SCRIPT, [{}, {}], tmp_path)
    for code, out, err in results:
        assert code == 0, err
        assert json.loads(out.strip().splitlines()[-1]) == {"ok": True}
    assert StatusSubscriber.objects.filter(email="race@example.test").count() == 1
    rows = OutboxMessage.objects.filter(purpose=subscribers.PURPOSE_CONFIRM)
    assert rows.count() == 1
