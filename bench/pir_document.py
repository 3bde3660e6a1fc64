"""The review document with 500 timeline rows: ``GET …/pir/`` and ``GET …/pir/export.md``.

1. (Re)creates a benchmark database (PostgreSQL, see bench/README.md), migrates it, declares an
   MI, resolves it (its review is made), adds ``--rows`` timeline rows (bulk insert), 20 action
   items and 20 comments; VACUUM ANALYZE.
2. In-process, through the real URL and the whole Django stack (test Client, JWT bearer): the
   size of each answer and p50/p95 over ``--requests`` requests of each (the query counts are
   pinned by ``tests/pir/test_review_api.py``).
3. Drops the database (unless ``--keep-db``).

Run: ``.venv/bin/python bench/pir_document.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

import benchlib


def build(rows: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from incidents import services
    from incidents.models import ConfigurationItem, MIStatus, TimelineEntry, TimelineKind
    from incidents.services import tokens
    from pir import services as pir_services
    from pir.models import PostIncidentReview, ReviewComment

    user_model = get_user_model()
    alice = user_model.objects.create_user("usr_alice_johnson")
    services.set_user_roles(alice, ["itsm_manager"])
    ci = ConfigurationItem.objects.create(name="Checkout", kind="business_service", user_count=9)
    incident = services.create_incident(
        actor=alice, short_description="Checkout down", affected_ci=ci, impact=1, urgency=1
    )
    mi = services.declare_major_incident(
        incident=incident, manager=alice, actor=alice, initial_impact_statement="Nobody can pay"
    )
    services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
    services.transition_major_incident(
        mi=mi, to=MIStatus.RESOLVED, actor=alice, override_stability=True, reason="bench"
    )
    pir_services.create_review(mi=mi)
    review = PostIncidentReview.objects.get(major_incident=mi)
    start = timezone.now() - timedelta(hours=5)
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            incident=incident,
            major_incident=mi,
            kind=TimelineKind.NOTE,
            message=f"Note {i}: checked the pool and the gateway",
            actor=alice,
            created_at=start + timedelta(seconds=20 * i),
        )
        for i in range(rows)
    )
    for i in range(20):
        pir_services.add_action_item(
            review=review, actor=alice, fields={"title": f"Fix {i}", "owner": alice.username}
        )
        ReviewComment.objects.create(review=review, author=alice, body=f"Comment {i}")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "number": mi.number,
        "token": tokens.issue(alice),
        "rows": mi.timeline.count(),
    }


def measure(number: str, token: str, requests: int) -> dict[str, dict[str, float]]:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    figures = {}
    for label, path in (
        ("GET pir/", f"/api/major-incidents/{number}/pir/"),
        ("export.md", f"/api/major-incidents/{number}/pir/export.md"),
    ):
        response = client.get(path)
        assert response.status_code == 200, response.content[:300]
        samples = []
        for _ in range(requests):
            began = time.perf_counter()
            client.get(path)
            samples.append(time.perf_counter() - began)
        figures[label] = {
            "bytes": len(response.content),
            **benchlib.summarize(samples),
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500, help="timeline rows to add")
    parser.add_argument("--requests", type=int, default=50, help="requests per endpoint")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    benchlib.stop_cleanly_on_sigterm()
    url = benchlib.database_url("mimdesk_bench_pir")
    benchlib.fresh_django_database(url)
    from django.db import connections

    try:
        world = build(args.rows)
        for label, f in measure(world["number"], world["token"], args.requests).items():
            print(
                f"{world['rows']:>5} timeline rows  {label:10} "
                f"{f['bytes']:,} bytes  p50 {benchlib.ms(f['median'])} ms  "
                f"p95 {benchlib.ms(f['p95'])} ms",
                flush=True,
            )
    finally:
        connections.close_all()
        if not args.keep_db:
            benchlib.drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
