"""Two clients create a CI with one name at once, on PostgreSQL: the loser gets a 400, not a 500."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from incidents.models import ConfigurationItem
from tests.conftest import bearer_client

pytestmark = [pytest.mark.postgres]


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        # pg_locks, not pg_stat_activity: the latter is a snapshot frozen for the transaction.
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return int(cursor.fetchone()[0])


def test_ci_created_twice_at_once_is_400_naming_the_name(transactional_db: None, alice: Any):
    client = bearer_client(alice)
    result: dict[str, Any] = {}

    def create() -> None:
        try:
            response = client.post(
                "/api/cis/", {"name": "Search", "kind": "application"}, format="json"
            )
            result["response"] = response
        except BaseException as exc:  # a 500 surfaces here as the raised IntegrityError
            result["error"] = exc
        finally:
            connection.close()

    # The first creation holds its row uncommitted: the API's uniqueness check cannot see it,
    # and the API's INSERT waits on the unique index until the first one commits. That is the
    # window two simultaneous requests race through, made certain.
    with transaction.atomic():
        ConfigurationItem.objects.create(name="Search", kind="application")
        thread = threading.Thread(target=create)
        thread.start()
        deadline = time.monotonic() + 30
        while _waiting_on_a_lock() == 0:
            assert thread.is_alive(), result
            assert time.monotonic() < deadline, "the second INSERT never waited on the first"
            time.sleep(0.05)
    thread.join(timeout=30)

    assert "error" not in result, result.get("error")
    response = result["response"]
    assert response.status_code == 400, response.content
    assert "name" in response.json()
    assert ConfigurationItem.objects.filter(name="Search").count() == 1
