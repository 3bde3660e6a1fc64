"""The war room's "Upstream providers" panel: each provider's indicator, description, open
incidents with links, when read, the last error; all of it escaped third-party text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from comms.models import UpstreamStatus
from incidents.models import CIKind, ConfigurationItem, Incident, MajorIncident
from tests.conftest import PASSWORD
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def watched(
    make_ci: Callable[..., ConfigurationItem], make_incident: Callable[..., Incident], alice: Any
) -> MajorIncident:
    provider = ConfigurationItem.objects.create(
        name="Stripe",
        kind=CIKind.SAAS_DEPENDENCY,
        upstream_status_url="https://status.stripe.example/",
        provider_role="payment processing partner",
    )
    UpstreamStatus.objects.create(
        ci=provider,
        indicator="major",
        description=f"Partial outage {HOSTILE}",
        incidents=[
            {
                "name": f"Card declines {HOSTILE}",
                "status": "investigating",
                "url": "https://stspg.io/a",
            }
        ],
        fetched_at=timezone.now(),
        last_error="2026-12-01 21:00 UTC: status page …: HTTP 500",
    )
    checkout = make_ci("checkout", depends_on=(provider,))
    return declare(make_incident(impact=1, urgency=1, affected_ci=checkout), alice)


def page(user: Any, mi: MajorIncident) -> Any:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client.get(f"/war-rooms/{mi.number}/")


def test_the_panel_shows_each_provider_escaped(watched: MajorIncident, alice: Any) -> None:
    response = page(alice, watched)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="upstream"' in html and "Upstream providers" in html
    assert "Stripe" in html and "payment processing partner" in html
    assert "Partial outage" in html and 'href="https://stspg.io/a"' in html
    assert "Last read failed" in html and "HTTP 500" in html
    assert HOSTILE not in html and "&lt;img src=x" in html


def test_no_panel_without_a_provider(
    make_ci: Callable[..., ConfigurationItem], make_incident: Any, alice: Any
) -> None:
    mi = declare(make_incident(impact=1, urgency=1, affected_ci=make_ci("wiki")), alice)
    assert 'data-testid="upstream"' not in page(alice, mi).content.decode()


def test_an_outsider_does_not_see_it(watched: MajorIncident, oscar: Any) -> None:
    response = page(oscar, watched)
    assert response.status_code == 403
    assert "Stripe" not in response.content.decode()
