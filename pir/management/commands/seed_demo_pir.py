"""The PIR part of the demo data (``manage.py seed_demo`` runs it after the demo MIs). Idempotent.

Two MIs of their own, so the demo's open MI stays open: one resolved, its review pre-filled and
in draft with two action items (one not ready to publish, to show the blocker); one closed, its
review published.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from incidents import services
from incidents.models import ConfigurationItem, Incident, MajorIncident, MIStatus

from ...models import PostIncidentReview, ReviewStatus
from ...services import (
    add_action_item,
    create_review,
    publish_review,
    update_review,
)

RESOLVED_DEMO = "Order history page failing for EU customers"
CLOSED_DEMO = "Mobile app login errors after release 5.2"


class Command(BaseCommand):
    help = "Create (or complete) the PIR demo data: a review in draft and a published one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--before-major-incidents", action="store_true", help="Nothing to do before the MIs."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["before_major_incidents"]:
            return
        users = get_user_model().objects.filter(username__in=["usr_alice_johnson", "usr_tina_tech"])
        people = {u.username: u for u in users}
        alice = people.get("usr_alice_johnson")
        if alice is None:
            self.stdout.write("PIR demo data skipped: run seed_demo first (no demo users)")
            return
        draft = self._resolved_mi(RESOLVED_DEMO, "Storefront", alice)
        self._draft(draft, alice)
        published = self._resolved_mi(CLOSED_DEMO, "Mobile App", alice)
        self._publish(published, alice)
        self.stdout.write(
            f"PIR demo data ready: {draft.number} in {draft.pir.status}, "
            f"{published.number} {published.status}"
        )

    def _resolved_mi(self, text: str, service: str, alice: Any) -> MajorIncident:
        incident = Incident.objects.filter(short_description=text).first()
        if incident is None:
            ci = ConfigurationItem.objects.filter(name=service).first()
            incident = services.create_incident(
                actor=alice, short_description=text, affected_ci=ci, impact=1, urgency=1
            )
        mi = MajorIncident.objects.filter(incident=incident).first()
        if mi is None:
            mi = services.declare_major_incident(
                incident=incident,
                manager=alice,
                actor=alice,
                initial_impact_statement=f"{text}: users cannot complete the affected journey.",
                summary=text,
            )
        if mi.status not in (MIStatus.MONITORING, MIStatus.RESOLVED, MIStatus.CLOSED):
            services.transition_major_incident(mi=mi, to=MIStatus.MONITORING, actor=alice)
            mi.refresh_from_db()
        if mi.status == MIStatus.MONITORING:
            # The demo cannot wait out the stability period: its commander overrides it.
            services.transition_major_incident(
                mi=mi,
                to=MIStatus.RESOLVED,
                actor=alice,
                override_stability=True,
                reason="Demo data: service restored and verified",
            )
            mi.refresh_from_db()
        create_review(mi=mi)  # the receiver makes it after commit; here at once, the same row
        return mi

    def _draft(self, mi: MajorIncident, alice: Any) -> None:
        review = PostIncidentReview.objects.get(major_incident=mi)
        if review.action_items.exists():
            return
        update_review(
            review=review,
            actor=alice,
            changes={
                "root_causes": "A cache key change in the order service missed the EU shard.",
                "trigger": "Release 2026.11.3 of the order service.",
                "lessons_went_well": "The war room formed within ten minutes.",
                "authors": [alice.username],
            },
        )
        due = (timezone.now() + timedelta(days=14)).date().isoformat()
        add_action_item(
            review=review,
            actor=alice,
            fields={"title": "Add an EU shard to the cache key tests", "kind": "prevent",
                    "owner": alice.username, "due_date": due, "priority": 2},
        )  # fmt: skip
        add_action_item(
            review=review,
            actor=alice,
            fields={"title": "Alert on order history error rate per region", "kind": "detect"},
        )

    def _publish(self, mi: MajorIncident, alice: Any) -> None:
        review = PostIncidentReview.objects.get(major_incident=mi)
        if review.status != ReviewStatus.PUBLISHED:
            if not review.action_items.exists():
                due = (timezone.now() + timedelta(days=30)).date().isoformat()
                add_action_item(
                    review=review,
                    actor=alice,
                    fields={"title": "Canary the mobile login flow before full rollout",
                            "kind": "prevent", "owner": alice.username, "due_date": due,
                            "priority": 2},
                )  # fmt: skip
            update_review(
                review=review,
                actor=alice,
                changes={
                    "root_causes": "Release 5.2 sent an expired OAuth client secret.",
                    "resolution": "Rolled the app config back; secrets now rotate in CI.",
                    "authors": [alice.username],
                },
            )
            publish_review(review=review, actor=alice)
        mi.refresh_from_db()
        if mi.status == MIStatus.RESOLVED:
            services.transition_major_incident(mi=mi, to=MIStatus.CLOSED, actor=alice)
            mi.refresh_from_db()
