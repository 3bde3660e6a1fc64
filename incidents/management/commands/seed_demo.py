"""Demo data for `make run`: a SaaS CMDB, one user per role and a few incidents. Idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents import services
from incidents.models import (
    CIDependency,
    ConfigurationItem,
    Incident,
    MajorIncident,
    MIStatus,
    RaciRole,
    RoleRoster,
)

# The demo logins' password, printed by `make run` and written in the README: a demo value on
# purpose, for the demo users only (seed_demo is for a local checkout and CI, never production).
DEMO_PASSWORD = "mimdesk-demo"  # noqa: S105  # public by design, see above

USERS = [
    # username, first, last, roles, staff
    ("usr_tina_tech", "Tina", "Tech", ["technician"], False),
    ("usr_alice_johnson", "Alice", "Johnson", ["itsm_manager"], True),
    ("usr_sam_admin", "Sam", "Admin", ["super_admin"], True),
    ("usr_lee_legal", "Lee", "Legal", ["legal"], False),
]

# name, kind, direct users, criticality, owner group
CIS = [
    ("Storefront", "business_service", 12000, 1, "Web"),
    ("Checkout", "business_service", 4000, 1, "Payments"),
    ("Mobile App", "business_service", 8000, 1, "Mobile"),
    ("Partner API", "business_service", 300, 2, "Platform"),
    ("Admin Console", "business_service", 150, 3, "Internal Tools"),
    ("Internal Analytics", "business_service", 40, 4, "Data"),
    ("API Gateway", "application", 0, 1, "Platform"),
    ("Auth Service", "application", 0, 1, "Identity"),
    ("Checkout Service", "application", 0, 1, "Payments"),
    ("Payments Service", "application", 0, 1, "Payments"),
    ("Order Service", "application", 0, 2, "Commerce"),
    ("Inventory Service", "application", 0, 2, "Commerce"),
    ("Catalog Service", "application", 0, 2, "Commerce"),
    ("Search Service", "application", 0, 3, "Commerce"),
    ("Notification Service", "application", 0, 3, "Platform"),
    ("Orders DB", "database", 0, 1, "DBA"),
    ("Payments DB", "database", 0, 1, "DBA"),
    ("Users DB", "database", 0, 1, "DBA"),
    ("Catalog DB", "database", 0, 2, "DBA"),
    ("Session Cache (Redis)", "database", 0, 2, "Platform"),
    ("Event Bus (Kafka)", "database", 0, 2, "Platform"),
    ("Search Cluster (Elasticsearch)", "database", 0, 3, "Commerce"),
    ("k8s-prod-eu-1", "server", 0, 1, "SRE"),
    ("db-primary-01", "server", 0, 1, "DBA"),
    ("Load Balancer", "network", 0, 1, "Network"),
    ("CDN Edge", "network", 0, 2, "Network"),
    ("DNS", "network", 0, 1, "Network"),
    ("Stripe", "saas_dependency", 0, 1, "Payments"),
    ("SendGrid", "saas_dependency", 0, 3, "Platform"),
    ("Twilio", "saas_dependency", 0, 3, "Platform"),
]

# consumer depends on provider
DEPENDENCIES = [
    ("Storefront", "CDN Edge"), ("Storefront", "API Gateway"), ("Storefront", "Catalog Service"),
    ("Storefront", "Search Service"), ("Checkout", "Checkout Service"), ("Checkout", "API Gateway"),
    ("Mobile App", "API Gateway"), ("Mobile App", "Notification Service"),
    ("Partner API", "API Gateway"), ("Admin Console", "Auth Service"),
    ("Admin Console", "Order Service"), ("Internal Analytics", "Event Bus (Kafka)"),
    ("API Gateway", "Load Balancer"), ("API Gateway", "Auth Service"),
    ("Auth Service", "Users DB"), ("Auth Service", "Session Cache (Redis)"),
    ("Checkout Service", "Payments Service"), ("Checkout Service", "Order Service"),
    ("Checkout Service", "Inventory Service"), ("Payments Service", "Payments DB"),
    ("Payments Service", "Stripe"), ("Order Service", "Orders DB"),
    ("Order Service", "Event Bus (Kafka)"), ("Inventory Service", "Orders DB"),
    ("Catalog Service", "Catalog DB"), ("Search Service", "Search Cluster (Elasticsearch)"),
    ("Notification Service", "SendGrid"), ("Notification Service", "Twilio"),
    ("Notification Service", "Event Bus (Kafka)"),
    # A real-world cycle: password-reset mail goes through notifications, which authenticate.
    ("Auth Service", "Notification Service"), ("Notification Service", "Auth Service"),
    ("Orders DB", "db-primary-01"), ("Payments DB", "db-primary-01"),
    ("Users DB", "db-primary-01"), ("Catalog DB", "db-primary-01"),
    ("Auth Service", "k8s-prod-eu-1"), ("Checkout Service", "k8s-prod-eu-1"),
    ("Payments Service", "k8s-prod-eu-1"), ("Order Service", "k8s-prod-eu-1"),
    ("Load Balancer", "DNS"), ("CDN Edge", "DNS"),
]  # fmt: skip

INCIDENTS = [
    # short description, CI, impact, urgency, channel, minutes ago, resolution
    ("Card payments intermittently declined at checkout", "Payments Service", 2, 1, "monitoring",
     40, None),
    ("Search results slow for some product categories", "Search Service", 3, 2, "portal",
     180, None),
    ("Password reset emails delayed by up to 20 minutes", "SendGrid", 3, 3, "email", 1500,
     "SendGrid queue backlog cleared; delivery back under a minute."),
]  # fmt: skip


class Command(BaseCommand):
    help = "Create (or complete) the demo data. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = self._users()
            cis = self._cmdb()
            made = self._incidents(cis, users)
            self._roster(users)
            # The higher apps' people first (comms' stakeholders), so that the demo MI's
            # declaration notifies them; what builds on the MIs follows below.
            self._higher_apps("--before-major-incidents")
            self._major_incidents(cis, users)
        self.stdout.write(
            f"demo data ready: {len(cis)} CIs, {len(users)} users, {made} new incidents"
        )
        self._higher_apps()

    def _higher_apps(self, *args: str) -> None:
        """The higher apps' demo data, each a command named ``seed_demo_<app>`` (taking
        ``--before-major-incidents``): called by name, so this app imports none of them."""
        for name in sorted(n for n in get_commands() if n.startswith("seed_demo_")):
            call_command(name, *args, stdout=self.stdout, stderr=self.stderr)

    def _users(self) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, first, last, roles, staff in USERS:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "is_staff": staff,
                    "email": f"{username.removeprefix('usr_')}@example.com",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            services.set_user_roles(user, roles)
            users[username] = user
        return users

    def _cmdb(self) -> dict[str, ConfigurationItem]:
        cis = {}
        for name, kind, user_count, criticality, owner in CIS:
            cis[name], _ = ConfigurationItem.objects.get_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "user_count": user_count,
                    "criticality": criticality,
                    "owner_group": owner,
                },
            )
        for consumer, provider in DEPENDENCIES:
            CIDependency.objects.get_or_create(consumer=cis[consumer], provider=cis[provider])
        return cis

    def _incidents(self, cis: dict[str, ConfigurationItem], users: dict[str, Any]) -> int:
        tech = users["usr_tina_tech"]
        now = timezone.now()
        made = 0
        for text, ci, impact, urgency, channel, minutes_ago, resolution in INCIDENTS:
            if Incident.objects.filter(short_description=text).exists():
                continue
            started = now - timedelta(minutes=minutes_ago)
            incident = services.create_incident(
                actor=tech,
                short_description=text,
                affected_ci=cis[ci],
                impact=impact,
                urgency=urgency,
                channel=channel,
                impact_started_at=started,
                assignment_group=cis[ci].owner_group,
            )
            if resolution:
                services.acknowledge_incident(incident=incident, actor=tech)
                services.resolve_incident(
                    incident=incident, actor=tech, resolution_notes=resolution
                )
            made += 1
        return made

    def _roster(self, users: dict[str, Any]) -> None:
        on_call = {
            RaciRole.MAJOR_INCIDENT_MANAGER: "usr_alice_johnson",
            RaciRole.TECHNICAL_LEAD: "usr_tina_tech",
        }
        for role, username in on_call.items():
            RoleRoster.objects.get_or_create(role=role, defaults={"user": users[username]})

    def _major_incidents(self, cis: dict[str, ConfigurationItem], users: dict[str, Any]) -> None:
        alice = users["usr_alice_johnson"]
        # One MI already being worked, so the pages have something real to show.
        payments = Incident.objects.filter(short_description=INCIDENTS[0][0]).first()
        if payments is not None and not MajorIncident.objects.filter(incident=payments).exists():
            mi = services.declare_major_incident(
                incident=payments,
                manager=alice,
                actor=alice,
                initial_impact_statement="About 1 in 5 card payments declined at checkout; "
                "Stripe reports elevated latency.",
                bridge_link="https://meet.example.com/mim-payments",
            )
            services.transition_major_incident(mi=mi, to=MIStatus.INVESTIGATING, actor=alice)
        # A P1 nobody acknowledges: logged 13 minutes before seeding, so the every-minute sweep
        # declares it by rule ("P1 unacknowledged", 15 min) about two minutes after `make run`.
        # Its CI reaches 40 users, under the 50-user rule, so only the clock can trigger it.
        text = "Internal analytics dashboards show no data since the last deploy"
        if not Incident.objects.filter(short_description=text).exists():
            incident = services.create_incident(
                actor=users["usr_tina_tech"], short_description=text, impact=1, urgency=1,
                affected_ci=cis["Internal Analytics"], channel="monitoring",
                assignment_group="Data",
            )  # fmt: skip
            Incident.objects.filter(pk=incident.pk).update(
                created_at=timezone.now() - timedelta(minutes=13)
            )
