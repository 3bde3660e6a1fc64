"""The inbound records in the admin and ``create_inbound_source``: who may, and what they see."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from comms.models import InboundEvent, InboundSource, LabelRule
from tests.comms.inbound_fixtures import alertmanager, post, source
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_the_command_prints_url_and_token_last_and_the_token_works(client: Client) -> None:
    out = StringIO()
    call_command("create_inbound_source", "alertmanager", "prom-eu", stdout=out)
    *_, url, token = out.getvalue().strip().splitlines()
    assert url.endswith("/api/inbound/alertmanager/")
    assert InboundSource.objects.get(name="prom-eu").secret == token
    assert post(client, "alertmanager", alertmanager(), token).status_code == 202


def test_the_command_refuses_a_duplicate_name_and_an_unknown_ci() -> None:
    call_command("create_inbound_source", "webhook", "dup", stdout=StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_inbound_source", "webhook", "dup", stdout=StringIO())
    with pytest.raises(CommandError, match="no CI"):
        call_command("create_inbound_source", "webhook", "x", "--ci", "Nope", stdout=StringIO())


def _staff(role: str) -> Client:
    client = Client()
    client.force_login(make_user(f"usr_{role}_x", role, staff=True))
    return client


def test_a_super_admin_adds_a_source_and_sees_the_secret_once() -> None:
    sam = _staff("super_admin")
    response = sam.post(
        "/admin/comms/inboundsource/add/",
        {"name": "grafana-prod", "kind": "grafana", "enabled": "on", "default_impact": 2,
         "default_urgency": 2, "assignment_group": ""},
        follow=True,
    )  # fmt: skip
    source = InboundSource.objects.get(name="grafana-prod")
    assert source.secret in response.content.decode()
    page = sam.get(f"/admin/comms/inboundsource/{source.pk}/change/").content.decode()
    assert source.secret not in page and source.secret[-4:] in page


def test_a_manager_reads_sources_but_may_not_add_or_rotate() -> None:
    src, secret = source("webhook")
    alice = _staff("itsm_manager")
    assert alice.get("/admin/comms/inboundsource/").status_code == 200
    assert secret not in alice.get(f"/admin/comms/inboundsource/{src.pk}/change/").content.decode()
    assert alice.get("/admin/comms/inboundsource/add/").status_code == 403
    alice.post(
        "/admin/comms/inboundsource/",
        {"action": "rotate_secrets", "_selected_action": [src.pk]},
    )
    assert InboundSource.objects.get(pk=src.pk).secret == secret


def test_a_super_admin_rotates_a_secret() -> None:
    src, secret = source("webhook")
    sam = _staff("super_admin")
    response = sam.post(
        "/admin/comms/inboundsource/",
        {"action": "rotate_secrets", "_selected_action": [src.pk]},
        follow=True,
    )
    new = InboundSource.objects.get(pk=src.pk).secret
    assert new != secret and new in response.content.decode()


def test_a_technician_sees_no_inbound_admin() -> None:
    tess = _staff("technician")
    for page in ("inboundsource", "inboundevent", "alertgroup", "labelrule"):
        assert tess.get(f"/admin/comms/{page}/").status_code == 403


def test_a_label_rule_with_a_bad_pattern_is_refused_by_the_form() -> None:
    alice = _staff("itsm_manager")
    response = alice.post(
        "/admin/comms/labelrule/add/",
        {"name": "bad", "order": 1, "enabled": "on", "label": "service", "pattern": "(unclosed",
         "assignment_group": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert "not a regular expression" in response.content.decode()
    assert not LabelRule.objects.exists()


def test_payloads_are_read_only_and_escaped(client: Client) -> None:
    _, token = source("webhook")
    post(client, "webhook", {"dedup_key": "<script>x</script>", "summary": "<b>hi</b>"}, token)
    event = InboundEvent.objects.get()
    alice = _staff("itsm_manager")
    page = alice.get(f"/admin/comms/inboundevent/{event.pk}/change/").content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert alice.post(f"/admin/comms/inboundevent/{event.pk}/delete/").status_code == 403
