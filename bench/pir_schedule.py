"""The cost of ``pir.tasks.schedule_due_reviews`` over 1,000 unpublished reviews (issue 9).

In a PostgreSQL database of its own (``mimdesk_bench_pir``):

1. Migrates, and bulk-inserts ``--reviews`` (default 1,000) resolved MIs, each with its incident,
   three role holders with addresses (IC, technical lead, problem manager) and an unpublished
   review whose meeting is days away and whose deadline has not passed: nothing is due.
2. Times the idle tick (nothing to do: the every-15-minutes cost most of the time), median and
   p95 over ``--runs`` calls, and counts its SQL queries.
3. Makes ``--due`` reviews (default 100) owe each kind of work — a 24 h reminder, a 1 h reminder,
   an overdue flag — times one busy tick, counts its queries and the outbox rows it wrote; puts
   them back and repeats ``--busy-runs`` times.

Delivery is not measured: Celery runs with an in-memory broker (``memory://``), so the delivery
tasks the outbox queues after commit wait in memory; what is timed is the scheduler's own work
(the reads, the claims, the review rows, the outbox rows, the timeline rows).

Run: ``.venv/bin/python bench/pir_schedule.py`` (``--keep-db`` keeps the database).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import timedelta
from typing import Any

import benchlib


def build(reviews: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from incidents.models import Incident, MajorIncident, MIStatus, RaciRole, RoleAssignment
    from incidents.services import set_user_roles
    from pir.models import PostIncidentReview

    user_model = get_user_model()
    now = timezone.now()
    people = []
    for name, role in (("alice", "itsm_manager"), ("erin", "technician"), ("pat", "technician")):
        user = user_model.objects.create_user(username=f"usr_{name}", email=f"{name}@bench.test")
        set_user_roles(user, [role])
        people.append(user)
    resolved = now - timedelta(hours=2)
    incidents = Incident.objects.bulk_create(
        [
            Incident(
                short_description=f"Bench outage {n}",
                impact=1,
                urgency=1,
                priority=1,
                state="resolved",
                resolved_at=resolved,
            )
            for n in range(reviews)
        ],
        batch_size=1000,
    )
    mis = MajorIncident.objects.bulk_create(
        [
            MajorIncident(
                incident=incident,
                status=MIStatus.RESOLVED,
                impact_statement="Checkout down",
                bridge_link="https://bridge.bench.test/room",
                declared_at=resolved - timedelta(hours=3),
                resolved_at=resolved,
            )
            for incident in incidents
        ],
        batch_size=1000,
    )
    roles = (RaciRole.MAJOR_INCIDENT_MANAGER, RaciRole.TECHNICAL_LEAD, RaciRole.PROBLEM_MANAGER)
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(major_incident=mi, role=role, user=user)
            for mi in mis
            for role, user in zip(roles, people, strict=True)
        ],
        batch_size=2000,
    )
    PostIncidentReview.objects.bulk_create(
        [
            PostIncidentReview(
                major_incident=mi,
                title=f"Review {mi.pk}",
                meeting_at=resolved + timedelta(hours=48),
                meeting_location=mi.bridge_link,
                publish_due_at=resolved + timedelta(days=5),
            )
            for mi in mis
        ],
        batch_size=1000,
    )


def make_due(due: int) -> list[int]:
    """``due`` reviews owing a 24 h reminder, ``due`` a 1 h one, ``due`` an overdue flag."""
    from django.utils import timezone

    from pir.models import PostIncidentReview

    now = timezone.now()
    ids = list(PostIncidentReview.objects.order_by("pk").values_list("pk", flat=True)[: 3 * due])
    rows = PostIncidentReview.objects.filter
    rows(pk__in=ids[:due]).update(meeting_at=now + timedelta(hours=20), reminded_24h_for=None)
    rows(pk__in=ids[due : 2 * due]).update(
        meeting_at=now + timedelta(minutes=40), reminded_24h_for=None, reminded_1h_for=None
    )
    rows(pk__in=ids[2 * due :]).update(
        publish_due_at=now - timedelta(minutes=5), overdue_flagged_at=None
    )
    return ids


def reset(ids: list[int]) -> None:
    from django.utils import timezone

    from comms.models import OutboxMessage
    from pir.models import PostIncidentReview

    now = timezone.now()
    PostIncidentReview.objects.filter(pk__in=ids).update(
        meeting_at=now + timedelta(days=2),
        publish_due_at=now + timedelta(days=4),
        reminded_24h_for=None,
        reminded_1h_for=None,
        overdue_flagged_at=None,
    )
    OutboxMessage.objects.all().delete()  # (the timeline rows stay: it is append-only)


def _ms(samples: list[float]) -> dict[str, str]:
    summary = benchlib.summarize(samples)
    return {k: benchlib.ms(v) for k, v in summary.items() if k in ("median", "p95", "max")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--busy-runs", type=int, default=5)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    benchlib.stop_cleanly_on_sigterm()
    url = benchlib.database_url("mimdesk_bench_pir")
    os.environ["CELERY_BROKER_URL"] = "memory://"
    benchlib.fresh_django_database(url)
    try:
        from celery import current_app

        # benchlib runs tasks eagerly; here the delivery tasks wait in the in-memory broker.
        current_app.conf.task_always_eager = False
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from comms.models import OutboxMessage
        from pir.services import scheduling

        build(args.reviews)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        scheduling.schedule_due_reviews()  # warm
        idle = []
        for _ in range(args.runs):
            started = time.perf_counter()
            done = scheduling.schedule_due_reviews()
            idle.append(time.perf_counter() - started)
            assert not any(done.values()), done
        with CaptureQueriesContext(connection) as idle_queries:
            scheduling.schedule_due_reviews()
        busy = []
        busy_queries = rows = 0
        counts: dict[str, int] = {}
        for _ in range(args.busy_runs):
            ids = make_due(args.due)
            queries = [0]

            def count(execute: Any, *rest: Any, queries: list[int] = queries) -> Any:
                queries[0] += 1
                return execute(*rest)

            with connection.execute_wrapper(count):
                started = time.perf_counter()
                counts = scheduling.schedule_due_reviews()
                busy.append(time.perf_counter() - started)
            busy_queries = queries[0]
            rows = OutboxMessage.objects.count()
            assert counts["reminded_24h"] == counts["reminded_1h"] == args.due, counts
            assert counts["overdue"] == args.due, counts
            reset(ids)
        result: dict[str, Any] = {
            "reviews": args.reviews,
            "idle": _ms(idle),
            "idle_queries": len(idle_queries),
            "busy_due_each": args.due,
            "busy": _ms(busy),
            "busy_queries": busy_queries,
            "busy_outbox_rows": rows,
            "busy_counts": counts,
            "machine": benchlib.machine(),
            "postgres": benchlib.postgres_version(),
            "load_1min": benchlib.loadavg(),
        }
        print(json.dumps(result, indent=2))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            benchlib.drop_database(url)


if __name__ == "__main__":
    main()
