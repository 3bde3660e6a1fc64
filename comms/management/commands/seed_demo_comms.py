"""The comms part of the demo data (``manage.py seed_demo`` runs it: the people before it declares
the demo MI, the rest after). Idempotent.

Who hears of the demo MI and what they heard: IT leadership with two people, a Payments
department that depends on the Checkout service (which the demo MI's outage reaches), an
external address, the MI's communications lead, and two sent updates (the initial notification
from the pre-approved template, a 30-minute update the communications lead wrote), so the war
room, the status page and the outbox have content.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from comms import services as comms_services
from comms.models import (
    InboundSource,
    LabelRule,
    ScheduledMaintenance,
    StakeholderGroup,
    StakeholderUpdate,
    UpdateStatus,
    UpdateType,
)
from comms.services import inbound, maintenance
from incidents import services
from incidents.management.commands.seed_demo import DEMO_PASSWORD, INCIDENTS
from incidents.models import ConfigurationItem, MajorIncident, RaciRole
from incidents.selectors import active_roles

# username, first, last, MIM Desk roles, the stakeholder group (slug) they belong to
PEOPLE = [
    ("usr_carol_comms", "Carol", "Comms", ["technician"], None),
    ("usr_chris_cio", "Chris", "Chen", [], "it-leadership"),
    ("usr_dana_director", "Dana", "Director", [], "it-leadership"),
    ("usr_frank_finance", "Frank", "Finance", [], "payments-department"),
]

# slug, name, description, services (CI names), external addresses
DEPARTMENTS = [
    (
        "payments-department",
        "Payments department",
        "Heads of payments and finance operations: hear of every MI that reaches checkout",
        ["Checkout"],
        ["payments-oncall@partner.example.net"],
    ),
]

MAINTENANCE_NAME = "Analytics warehouse upgrade"
DEMO_SOURCE = "prometheus-alertmanager"

CADENCE_UPDATE = {
    "current_impact": "About 1 in 5 card payments at checkout is declined; other payment "
    "methods work.",
    "current_action": "Payments engineering is routing card traffic away from the degraded Stripe "
    "region and watching the decline rate.",
    "user_action": "Customers who see a decline can retry or pay by PayPal; support should use "
    "the canned response in the war room.",
}


class Command(BaseCommand):
    help = "Create (or complete) the comms demo data: stakeholders, the demo MI's updates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--before-major-incidents",
            action="store_true",
            help="Only the people and groups (seed_demo runs this before it declares the demo "
            "MI, so that the declaration's notifications reach them).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            people = self._people()
            self._groups(people)
            if options["before_major_incidents"]:
                return
            mi = self._demo_mi()
            sent = self._updates(mi, people) if mi is not None else 0
            self._maintenance()
            self._providers()
            self._monitoring()
        self.stdout.write(
            f"comms demo data ready: {StakeholderGroup.objects.count()} stakeholder groups, "
            f"{sent} new updates sent"
        )

    def _people(self) -> dict[str, Any]:
        user_model = get_user_model()
        people = {}
        for username, first, last, roles, _ in PEOPLE:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username.removeprefix('usr_')}@example.com",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            services.set_user_roles(user, roles)
            people[username] = user
        return people

    def _groups(self, people: dict[str, Any]) -> None:
        for slug, name, description, service_names, addresses in DEPARTMENTS:
            group, created = StakeholderGroup.objects.get_or_create(
                slug=slug,
                defaults={"name": name, "description": description, "external_emails": addresses},
            )
            if created:
                group.services.add(*ConfigurationItem.objects.filter(name__in=service_names))
        for username, _first, _last, _roles, member_of in PEOPLE:
            if member_of is not None:
                # An operator's group edits are theirs: only a missing member is added back.
                StakeholderGroup.objects.get(slug=member_of).users.add(people[username])

    def _demo_mi(self) -> MajorIncident | None:
        return (
            MajorIncident.objects.filter(incident__short_description=INCIDENTS[0][0])
            .select_related("incident")
            .first()
        )

    def _updates(self, mi: MajorIncident, people: dict[str, Any]) -> int:
        if not mi.is_open:
            return 0
        carol = people["usr_carol_comms"]
        commander = next(
            (r.user for r in active_roles(mi) if r.role == RaciRole.MAJOR_INCIDENT_MANAGER), None
        )
        if commander is None:
            return 0
        if not any(
            r.role == RaciRole.COMMUNICATIONS_LEAD and r.user_id == carol.pk
            for r in active_roles(mi)
        ):
            services.assign_role(
                mi=mi, role=RaciRole.COMMUNICATIONS_LEAD, user=carol, actor=commander
            )
        sent = 0
        updates = StakeholderUpdate.objects.filter(major_incident=mi)
        # The receivers may have sent the initial notification when the MI was declared.
        if not updates.filter(update_type=UpdateType.INITIAL).exists() and (
            comms_services.from_template(mi=mi, update_type=UpdateType.INITIAL, slot="initial")
        ):
            sent += 1
        if not updates.filter(
            update_type=UpdateType.CADENCE, automatic=False, author=carol
        ).exists():
            update = comms_services.create_update(
                mi=mi,
                actor=carol,
                update_type=UpdateType.CADENCE,
                next_update_at=timezone.now() + timedelta(minutes=30),
                **CADENCE_UPDATE,
            )
            update = comms_services.send_update(update=update, actor=carol)
            sent += update.status == UpdateStatus.SENT
        return sent

    def _maintenance(self) -> None:
        """A window announced for tomorrow night, so the status page shows planned work."""
        if ScheduledMaintenance.objects.filter(name=MAINTENANCE_NAME).exists():
            return
        admin = get_user_model().objects.filter(username="usr_sam_admin").first()
        service = ConfigurationItem.objects.filter(name="Internal Analytics").first()
        if admin is None or service is None:
            return
        start = (timezone.now() + timedelta(days=1)).replace(
            hour=2, minute=0, second=0, microsecond=0
        )
        maintenance.create_maintenance(
            actor=admin,
            name=MAINTENANCE_NAME,
            components=[service.pk],
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=2),
            notes="Dashboards and exports are read-only while the warehouse is upgraded.",
        )

    def _providers(self) -> None:
        """Stripe, the payment processor the demo MI's service depends on, with a role for the
        drafter and a status page for the war room's "Upstream providers" panel. The demo has no
        internet, so the page it reads is this site's own status page, standing in for
        status.stripe.com (an operator points it at the provider's real page)."""
        stripe = ConfigurationItem.objects.filter(name="Stripe").first()
        if stripe is None or stripe.provider_role:
            return
        services.save_configuration_item(
            actor=None,
            ci=stripe,
            provider_role="payment processing partner",
            upstream_status_url=settings.MIM_BASE_URL.rstrip("/") + "/status/",
        )

    def _monitoring(self) -> None:
        """An Alertmanager source (its secret: rotate it in the admin to see one) and a label rule
        sending alerts of ``service="checkout"`` to the Checkout Service as P2s."""
        if InboundSource.objects.filter(name=DEMO_SOURCE).exists():
            return
        checkout = ConfigurationItem.objects.filter(name="Checkout Service").first()
        source, _ = inbound.create_source(kind="alertmanager", name=DEMO_SOURCE, actor=None)
        LabelRule.objects.create(
            name="Checkout alerts",
            order=10,
            source=source,
            label="service",
            pattern="checkout",
            ci=checkout,
            impact=2,
            urgency=1,
        )
