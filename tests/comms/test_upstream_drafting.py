"""The drafter says "our payment processing partner is experiencing issues" for an MI whose CI
is (or depends on) a SaaS provider whose own status page reports an issue; never its name."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from comms.models import UpstreamStatus
from comms.models.plan import UpdateType
from comms.services import drafting
from incidents.models import CIKind, ConfigurationItem, Incident, MajorIncident
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db

PHRASE = "our payment processing partner is experiencing issues"


@pytest.fixture
def provider() -> ConfigurationItem:
    return ConfigurationItem.objects.create(
        name="Stripe",
        kind=CIKind.SAAS_DEPENDENCY,
        upstream_status_url="https://status.stripe.example/",
        provider_role="payment processing partner",
    )


@pytest.fixture
def worked_mi(
    provider: ConfigurationItem,
    make_ci: Callable[..., ConfigurationItem],
    make_incident: Callable[..., Incident],
    alice: Any,
) -> MajorIncident:
    checkout = make_ci(
        "checkout", users=500, depends_on=(make_ci("payments", depends_on=(provider,)),)
    )
    return declare(make_incident(impact=1, urgency=1, affected_ci=checkout), alice)


def says(indicator: str, provider: ConfigurationItem) -> None:
    UpstreamStatus.objects.update_or_create(
        ci=provider, defaults={"indicator": indicator, "description": "Partial System Outage"}
    )


def draft(mi: MajorIncident, alice: Any, kind: str = UpdateType.CADENCE) -> drafting.Draft:
    return drafting.draft_update(mi=mi, actor=alice, update_type=kind, drafter="template")


@pytest.mark.parametrize("kind", [UpdateType.INITIAL, UpdateType.CADENCE, UpdateType.STATUS_PAGE])
def test_an_issue_upstream_is_said_by_role(
    worked_mi: MajorIncident, provider: ConfigurationItem, alice: Any, kind: str
) -> None:
    says("major", provider)
    text = draft(worked_mi, alice, kind)
    assert PHRASE in text.current_impact
    every_part = " ".join(
        [text.subject, text.current_impact, text.current_action, text.user_action]
    )
    assert "Stripe" not in every_part


def test_nothing_said_when_the_page_is_fine_or_unread(
    worked_mi: MajorIncident, provider: ConfigurationItem, alice: Any
) -> None:
    assert "experiencing issues" not in draft(worked_mi, alice).current_impact
    says("none", provider)
    assert "experiencing issues" not in draft(worked_mi, alice).current_impact


def test_a_provider_without_a_role_is_a_third_party(
    worked_mi: MajorIncident, provider: ConfigurationItem, alice: Any
) -> None:
    ConfigurationItem.objects.filter(pk=provider.pk).update(provider_role="")
    says("minor", provider)
    assert "a third-party provider we rely on is experiencing issues" in (
        draft(worked_mi, alice).current_impact
    )


def test_a_provider_the_mi_does_not_depend_on_is_not_said(
    provider: ConfigurationItem, make_ci: Any, make_incident: Any, alice: Any
) -> None:
    says("critical", provider)
    mi = declare(make_incident(impact=1, urgency=1, affected_ci=make_ci("wiki")), alice)
    assert "experiencing issues" not in draft(mi, alice).current_impact


def test_the_drafting_model_is_told_the_same_fact(
    worked_mi: MajorIncident, provider: ConfigurationItem, alice: Any
) -> None:
    says("major", provider)
    base = draft(worked_mi, alice)
    prompt = drafting._prompt(worked_mi, base)
    facts = json.loads(prompt.split("\n", 1)[1])
    assert PHRASE in facts["upstream_provider"]
    assert "never name the provider" in facts["upstream_provider"]
    assert "Stripe" not in prompt
