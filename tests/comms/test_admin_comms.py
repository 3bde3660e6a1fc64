"""The comms admin: forms that refuse what the services could not use (a bad address, an
unknown channel or role, a template part that does not render), read-only records, the
channels' on/off state over the outbox, and "Retry now" through ``services.retry_now``.

Who may open which page is in tests/incidents/test_admin_permissions.py (every persona × page);
query counts in tests/incidents/test_admin_query_counts.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from comms import channels
from comms.admin.plan import sample_context
from comms.models import (
    CommunicationPlanEntry,
    DeliveryAttempt,
    MessageTemplate,
    OutboxMessage,
    StakeholderGroup,
    StakeholderUpdate,
)
from comms.selectors.messages import mi_context
from incidents.models import MajorIncident
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _errors(response: Any) -> dict[str, list[str]]:
    """The admin form's errors by field, from the page's context."""
    form = response.context["adminform"].form
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


# --- stakeholder groups ---------------------------------------------------------------------------


def _group_form(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Finance department",
        "slug": "finance",
        "description": "",
        "external_emails": "",
        "slack_channel": "",
        "sns_topic_arn": "",
        "teams_webhook_url": "",
        "webhook_url": "",
        **fields,
    }


def test_a_group_with_a_bad_external_address_is_refused_naming_it(alice: Any) -> None:
    response = _login(alice).post(
        "/admin/comms/stakeholdergroup/add/",
        _group_form(external_emails="cfo@example.test\nnot an address, ok@example.test"),
    )
    assert response.status_code == 200
    assert _errors(response) == {"external_emails": ["Not an email address: not an address"]}
    assert not StakeholderGroup.objects.filter(slug="finance").exists()


def test_a_manager_adds_a_department_with_members_services_and_addresses(
    alice: Any, make_ci: Any
) -> None:
    checkout = make_ci("Checkout", users=100, kind="business_service")
    cfo = make_user("usr_cfo")
    response = _login(alice).post(
        "/admin/comms/stakeholdergroup/add/",
        _group_form(
            external_emails="cfo@example.test; Board@Example.test\nboard@example.test",
            users=[cfo.pk],
            services=[checkout.pk],
            teams_webhook_url="teams.example.test/hook",
        ),
    )
    assert response.status_code == 302, _errors(response)
    group = StakeholderGroup.objects.get(slug="finance")
    # One a line or separated; the same address twice is kept once.
    assert group.external_emails == ["cfo@example.test", "Board@Example.test"]
    assert list(group.users.all()) == [cfo]
    assert list(group.services.all()) == [checkout]
    assert group.teams_webhook_url == "https://teams.example.test/hook"
    page = _login(alice).get(f"/admin/comms/stakeholdergroup/{group.pk}/change/")
    assert "cfo@example.test\nBoard@Example.test" in page.content.decode()


def test_the_groups_list_counts_members_and_says_which_are_departments(
    alice: Any, make_ci: Any
) -> None:
    group = StakeholderGroup.objects.create(name="Ops <b>team</b>", slug="ops")
    group.users.add(make_user("usr_a"), make_user("usr_b"))
    group.services.add(make_ci("Storefront", users=10))
    body = _login(alice).get("/admin/comms/stakeholdergroup/").content.decode()
    assert "Ops &lt;b&gt;team&lt;/b&gt;" in body and "<b>team</b>" not in body
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Ops &lt;b&gt;(?:(?!</tr>).)*</tr>", body, re.S)
    assert row is not None
    assert '<td class="field-member_count">2</td>' in row.group(0)
    assert "icon-yes" in row.group(0)


def test_only_a_super_admin_deletes_a_group(alice: Any, sam: Any) -> None:
    group = StakeholderGroup.objects.create(name="Temp", slug="temp")
    url = f"/admin/comms/stakeholdergroup/{group.pk}/delete/"
    refused = _login(alice).post(url, {"post": "yes"})
    assert refused.status_code == 403
    assert "Only super admins may delete stakeholder groups." in refused.content.decode()
    assert _login(sam).post(url, {"post": "yes"}).status_code == 302
    assert not StakeholderGroup.objects.filter(pk=group.pk).exists()


# --- the communication plan -----------------------------------------------------------------------


def _entry_form(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Finance hears of resolutions",
        "order": "9",
        "enabled": "on",
        "update_type": "resolution",
        "trigger": "mi_resolved",
        "security_scope": "any",
        "channels": ["email"],
        **fields,
    }


def test_a_plan_entry_names_only_registered_channels_and_known_roles(alice: Any) -> None:
    response = _login(alice).post(
        "/admin/comms/communicationplanentry/add/",
        _entry_form(channels=["email", "carrier_pigeon"], roles=["chief_vibes_officer"]),
    )
    assert response.status_code == 200
    errors = _errors(response)
    assert set(errors) == {"channels", "roles"}
    assert "carrier_pigeon is not one of the available choices" in errors["channels"][0]
    assert "chief_vibes_officer is not one of the available choices" in errors["roles"][0]
    # Every registered channel is offered, nothing else.
    page = _login(alice).get("/admin/comms/communicationplanentry/add/").content.decode()
    offered = set(re.findall(r'name="channels" value="([a-z_]+)"', page))
    assert offered == set(channels.REGISTRY)


def test_a_plan_entry_tells_someone_through_a_channel_or_the_status_page(alice: Any) -> None:
    client = _login(alice)
    response = client.post("/admin/comms/communicationplanentry/add/", _entry_form(channels=[]))
    assert _errors(response) == {
        "channels": ["Choose a channel, or tick Status page for a public update."]
    }
    response = client.post(
        "/admin/comms/communicationplanentry/add/", _entry_form(channels=[], status_page="on")
    )
    assert response.status_code == 302, _errors(response)
    assert CommunicationPlanEntry.objects.get(name="Finance hears of resolutions").channels == []


def test_a_manager_adds_a_plan_entry_and_the_list_keeps_the_plans_order(alice: Any) -> None:
    response = _login(alice).post(
        "/admin/comms/communicationplanentry/add/",
        _entry_form(order="0", channels=["email", "teams"], roles=["communications_lead"]),
    )
    assert response.status_code == 302, _errors(response)
    entry = CommunicationPlanEntry.objects.get(name="Finance hears of resolutions")
    assert entry.channels == ["email", "teams"]
    assert entry.roles == ["communications_lead"]
    cl = _login(alice).get("/admin/comms/communicationplanentry/").context["cl"]
    names = [e.name for e in cl.result_list]
    assert names[0] == "Finance hears of resolutions"  # order 0 comes first
    assert [e.order for e in cl.result_list] == sorted(e.order for e in cl.result_list)


# --- message templates ----------------------------------------------------------------------------


def _template_form(**fields: Any) -> dict[str, Any]:
    return {
        "update_type": "cadence",
        "channel": "teams",
        "subject": "[{{ mi.number }}] {{ status_label }}",
        "current_impact": "{{ public_impact }}",
        "current_action": "We are {{ status_phrase }}.",
        "user_action": "{{ user_action_default }}",
        "body": "",
        "pre_approved": "on",
        **fields,
    }


def test_a_template_part_that_does_not_render_is_a_form_error_naming_the_part(
    alice: Any,
) -> None:
    response = _login(alice).post(
        "/admin/comms/messagetemplate/add/",
        _template_form(current_action="{% if %}broken", body="{{ service|nosuchfilter }}"),
    )
    assert response.status_code == 200
    errors = _errors(response)
    assert set(errors) == {"current_action", "body"}
    assert errors["current_action"][0].startswith("The current action does not render:")
    assert "nosuchfilter" in errors["body"][0]
    assert not MessageTemplate.objects.filter(channel="teams").exists()


def test_a_template_that_renders_is_saved(alice: Any) -> None:
    response = _login(alice).post("/admin/comms/messagetemplate/add/", _template_form())
    assert response.status_code == 302, _errors(response)
    template = MessageTemplate.objects.get(update_type="cadence", channel="teams")
    assert template.subject == "[{{ mi.number }}] {{ status_label }}"


def test_the_sample_context_has_every_value_a_real_mi_gives_templates(
    mi: MajorIncident,
) -> None:
    assert set(sample_context()) == set(mi_context(mi))


def test_every_seeded_template_renders_on_the_sample() -> None:
    from comms.admin.plan import MessageTemplateForm

    for template in MessageTemplate.objects.all():
        form = MessageTemplateForm(
            data={
                "update_type": template.update_type,
                "channel": template.channel,
                "subject": template.subject,
                "current_impact": template.current_impact,
                "current_action": template.current_action,
                "user_action": template.user_action,
                "body": template.body,
                "security_safe": "on" if template.security_safe else "",
                "pre_approved": "on" if template.pre_approved else "",
            },
            instance=template,
        )
        assert form.is_valid(), (str(template), form.errors)


# --- the records ---------------------------------------------------------------------------------


@pytest.fixture
def sent(mi: MajorIncident, alice: Any) -> StakeholderUpdate:
    update = StakeholderUpdate.objects.create(
        major_incident=mi,
        update_type="cadence",
        subject="<script>alert(1)</script> update",
        current_impact="Checkout <b>down</b>",
        current_action="Failing over",
        user_action="Retry in 10 minutes",
        status="sent",
        author=alice,
        approver=alice,
    )
    for i, status in enumerate(["sent", "failed", "dead"]):
        message = OutboxMessage.objects.create(
            idempotency_key=f"test:{status}",
            channel="email",
            recipient=f"{status}@example.test",
            major_incident=mi,
            update=update,
            purpose="cadence",
            subject=update.subject,
            payload={"text": "Current impact: Checkout down"},
            status=status,
            attempts=i + 1,
            last_error="" if status == "sent" else "421 try later",
        )
        DeliveryAttempt.objects.create(message=message, number=1, outcome="temporary")
    return update


def test_an_updates_page_shows_its_four_parts_and_outbox_rows_read_only_and_escaped(
    alice: Any, sent: StakeholderUpdate
) -> None:
    client = _login(alice)
    response = client.get(f"/admin/comms/stakeholderupdate/{sent.pk}/change/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Checkout &lt;b&gt;down&lt;/b&gt;" in body and "<b>down</b>" not in body
    assert "<script>alert(1)</script>" not in body
    for text in ("Failing over", "Retry in 10 minutes", "failed@example.test", "dead@example.test"):
        assert text in body
    assert 'name="current_impact"' not in body  # nothing to edit
    refused = client.post(f"/admin/comms/stakeholderupdate/{sent.pk}/change/", {"subject": "x"})
    assert refused.status_code == 403
    assert "Stakeholder updates are records" in refused.content.decode()


def test_the_outbox_list_filters_and_searches_by_recipient_key_and_mi_number(
    alice: Any, sent: StakeholderUpdate, mi: MajorIncident
) -> None:
    client = _login(alice)

    def shown(query: str) -> set[str]:
        response = client.get(f"/admin/comms/outboxmessage/{query}")
        assert response.status_code == 200
        return {m.recipient for m in response.context["cl"].result_list}

    everyone = {"sent@example.test", "failed@example.test", "dead@example.test"}
    assert shown("?status=failed") == {"failed@example.test"}
    assert shown("?channel=email") == everyone
    assert shown("?purpose=cadence") == everyone
    assert shown("?q=dead%40example") == {"dead@example.test"}
    assert shown("?q=test%3Asent") == {"sent@example.test"}
    assert shown(f"?q={mi.number}") == everyone
    assert shown("?q=MI9999999") == set()


def test_an_outbox_rows_page_lists_its_attempts(alice: Any, sent: StakeholderUpdate) -> None:
    row = OutboxMessage.objects.get(idempotency_key="test:failed")
    body = _login(alice).get(f"/admin/comms/outboxmessage/{row.pk}/change/").content.decode()
    assert "delivery attempts" in body.lower()
    assert "Temporary error" in body
    assert "421 try later" in body


def test_the_outbox_says_which_channels_are_off_and_why(
    alice: Any, settings: Any, sent: StakeholderUpdate
) -> None:
    settings.SLACK_BOT_TOKEN = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    channels.reset()
    body = _login(alice).get("/admin/comms/outboxmessage/").content.decode()
    header = body[body.index('id="channel-states"') :]
    header = header[: header.index("</div>")]
    for name in channels.REGISTRY:
        assert f"<strong>{name}</strong>" in header
    assert "<strong>email</strong>: on" in header
    assert "<strong>slack</strong>: off (SLACK_BOT_TOKEN is unset)" in header


def test_retry_now_puts_failed_and_dead_rows_back_and_they_are_delivered(
    alice: Any, sent: StakeholderUpdate, committed: Any
) -> None:
    ids = list(OutboxMessage.objects.values_list("pk", flat=True))
    with committed():
        response = _login(alice).post(
            "/admin/comms/outboxmessage/",
            {"action": "retry_selected", "_selected_action": ids},
            follow=True,
        )
    assert response.status_code == 200
    notes = [str(m) for m in response.context["messages"]]
    assert "2 messages queued to be sent again now." in notes
    assert any("1 message was left alone" in n for n in notes)
    statuses = dict(OutboxMessage.objects.values_list("recipient", "status"))
    assert statuses == {
        "sent@example.test": "sent",
        "failed@example.test": "sent",
        "dead@example.test": "sent",
    }
    # Delivered once each, the one sent before not again.
    assert sorted(m.to[0] for m in mail.outbox) == ["dead@example.test", "failed@example.test"]


def test_retry_now_is_not_offered_or_done_for_staff_without_comms(
    sent: StakeholderUpdate,
) -> None:
    tess = make_user("usr_tess_tech", "technician", staff=True)
    ids = list(OutboxMessage.objects.values_list("pk", flat=True))
    response = _login(tess).post(
        "/admin/comms/outboxmessage/", {"action": "retry_selected", "_selected_action": ids}
    )
    assert response.status_code == 403
    assert "Only ITSM managers and super admins may see outbox messages." in (
        response.content.decode()
    )
    assert OutboxMessage.objects.filter(status="failed").count() == 1
    assert len(mail.outbox) == 0


def test_every_seeded_plan_entry_and_group_passes_its_admin_form() -> None:
    from django.forms.models import model_to_dict

    from comms.admin.plan import PlanEntryForm, StakeholderGroupForm

    for entry in CommunicationPlanEntry.objects.all():
        data = model_to_dict(entry)
        data["audiences"] = [g.pk for g in data["audiences"]]
        data = {k: v for k, v in data.items() if v is not None and v is not False}
        form = PlanEntryForm(data=data, instance=entry)
        assert form.is_valid(), (entry.name, form.errors)
    for group in StakeholderGroup.objects.all():
        data = model_to_dict(group)
        for name in ("users", "django_groups", "services"):
            data[name] = [o.pk for o in data[name]]
        group_form = StakeholderGroupForm(data=data, instance=group)
        assert group_form.is_valid(), (group.name, group_form.errors)


def test_a_failed_rows_page_offers_retry_now_and_a_sent_ones_does_not(
    alice: Any, sent: StakeholderUpdate, committed: Any
) -> None:
    client = _login(alice)
    rows = {m.status: m for m in OutboxMessage.objects.all()}
    button = '<button type="submit" class="button">Retry now</button>'
    assert (
        button
        in client.get(f"/admin/comms/outboxmessage/{rows['failed'].pk}/change/").content.decode()
    )
    assert (
        button
        not in client.get(f"/admin/comms/outboxmessage/{rows['sent'].pk}/change/").content.decode()
    )
    with committed():
        response = client.post(
            "/admin/comms/outboxmessage/",
            {"action": "retry_selected", "_selected_action": [rows["failed"].pk]},
        )
    assert response.status_code == 302
    assert [m.to[0] for m in mail.outbox] == ["failed@example.test"]
