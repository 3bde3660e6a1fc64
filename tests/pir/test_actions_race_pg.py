"""Two managers convert one action item into a problem task at once, on PostgreSQL: one problem
task, and the second is a 409 naming it (the MI and item locks serialise them), not a second
task or a 500. SQLite serialises writers, so the proof needs PostgreSQL:
``DATABASE_URL=postgres://… pytest tests/pir/test_actions_race_pg.py``."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from incidents.models import ProblemTask
from pir.models import PostIncidentReview, ReviewActionItem
from pir.services.actions import convert_action_item
from tests.conftest import bearer_client
from tests.incidents.mi_fixtures import declare

pytestmark = [pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race tests need PostgreSQL (DATABASE_URL=postgres://…)")


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return int(cursor.fetchone()[0])


def test_two_conversions_at_once_make_one_problem_task_and_a_409(
    transactional_db: None, alice: Any, sam: Any, make_incident: Any
) -> None:
    mi = declare(make_incident(), alice)
    review = PostIncidentReview.objects.create(major_incident=mi)
    item = ReviewActionItem.objects.create(review=review, title="Add a canary", priority=2)
    url = f"/api/major-incidents/{mi.number}/pir/action-items/{item.pk}/convert/"
    result: dict[str, Any] = {}

    def convert() -> None:
        try:
            result["response"] = bearer_client(sam).post(url, {"to": "problem_task"}, format="json")
        except BaseException as exc:
            result["error"] = exc
        finally:
            connection.close()

    # The first conversion holds its locks uncommitted; the second waits on them, then sees
    # the task the first made.
    with transaction.atomic():
        convert_action_item(item=item, actor=alice, to="problem_task")
        thread = threading.Thread(target=convert)
        thread.start()
        deadline = time.monotonic() + 30
        while _waiting_on_a_lock() == 0:
            assert thread.is_alive(), result
            assert time.monotonic() < deadline, "the second conversion never waited"
            time.sleep(0.05)
    thread.join(timeout=30)

    assert "error" not in result, result.get("error")
    response = result["response"]
    assert response.status_code == 409, response.content
    task = ProblemTask.objects.get()
    assert task.number in response.json()["to"][0]
    assert ReviewActionItem.objects.get(pk=item.pk).problem_task_id == task.pk
