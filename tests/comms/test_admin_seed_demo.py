"""``manage.py seed_demo`` gives the comms pages something real to show; run again, nothing new."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from comms.models import OutboxMessage, StakeholderGroup, StakeholderUpdate
from comms.selectors.audience import reached_ci_ids
from incidents.management.commands.seed_demo import INCIDENTS
from incidents.models import MajorIncident, RaciRole
from incidents.selectors import active_roles

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts() -> tuple[int, ...]:
    return (
        get_user_model().objects.count(),
        StakeholderGroup.objects.count(),
        StakeholderUpdate.objects.count(),
        OutboxMessage.objects.count(),
        sum(g.users.count() for g in StakeholderGroup.objects.all()),
    )


def test_the_demo_has_stakeholders_a_comms_lead_and_sent_updates_and_is_idempotent(
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        out = _seed()
    assert "comms demo data ready" in out
    # The demo's open MI (seed_demo_pir adds two resolved ones of its own).
    mi = MajorIncident.objects.get(incident__short_description=INCIDENTS[0][0])
    leadership = StakeholderGroup.objects.get(slug="it-leadership")
    assert leadership.users.count() == 2
    assert all(u.email for u in leadership.users.all())
    department = StakeholderGroup.objects.get(slug="payments-department")
    assert department.external_emails == ["payments-oncall@partner.example.net"]
    # The department's service is one the demo MI's outage reaches: it hears of the MI.
    assert set(department.services.values_list("pk", flat=True)) <= reached_ci_ids(mi)
    lead = [r.user.username for r in active_roles(mi) if r.role == RaciRole.COMMUNICATIONS_LEAD]
    assert lead == ["usr_carol_comms"]
    sent = StakeholderUpdate.objects.filter(major_incident=mi, status="sent")
    assert {u.update_type for u in sent} >= {"initial", "cadence"}
    assert sent.filter(is_public=True).exists()  # the status page has an update to show
    initial = OutboxMessage.objects.filter(update__update_type="initial", channel="email")
    assert {
        "chris_cio@example.com",
        "frank_finance@example.com",
        "payments-oncall@partner.example.net",
    } <= set(initial.values_list("recipient", flat=True))
    assert set(initial.values_list("status", flat=True)) == {"sent"}

    before = _counts()
    with django_capture_on_commit_callbacks(execute=True):
        again = _seed()
    assert "0 new updates sent" in again
    assert _counts() == before
