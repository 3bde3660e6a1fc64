"""The war room's stakeholder-updates panel through Django's test client: what it shows, its
forms, who sees which buttons, and that the server refuses what a hidden button would do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from comms import services
from comms.models import OutboxMessage, OutboxStatus, StakeholderUpdate
from incidents.models import MajorIncident
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db

FORM = {
    "upd-update_type": "cadence",
    "upd-subject": "",
    "upd-current_impact": "Checkout fails for all customers.",
    "upd-current_action": "Rolling back the release.",
    "upd-user_action": "Retry after 10:00.",
    "upd-next_update_at": "2030-01-01T10:30",
    "upd-body": "",
}


@pytest.fixture
def web(browser_for: Callable[[Any], Client]) -> Callable[[Any], Client]:
    return browser_for


def page(client: Client, mi: MajorIncident) -> str:
    response = client.get(f"/war-rooms/{mi.number}/")
    assert response.status_code == 200
    return response.content.decode()


def write(mi: MajorIncident, actor: Any, **fields: Any) -> StakeholderUpdate:
    values: dict[str, Any] = {
        "update_type": "cadence",
        "current_impact": "Checkout is down.",
        "current_action": "Rolling back.",
        "user_action": "Wait.",
        "next_update_at": None,
    }
    values.update(fields)
    if values["next_update_at"] is None and values["update_type"] == "cadence":
        from datetime import UTC, datetime

        values["next_update_at"] = datetime(2030, 1, 1, 10, 30, tzinfo=UTC)
    return services.create_update(mi=mi, actor=actor, **values)


def test_the_page_shows_the_panel_with_the_form_for_the_ic(
    web: Any, alice: Any, mi: MajorIncident
) -> None:
    html = page(web(alice), mi)
    assert 'id="updates"' in html and 'data-testid="update-form"' in html
    assert "Draft from template" in html
    assert 'data-testid="canned-response"' in html
    assert "No stakeholder updates yet." in html


def test_writing_and_sending_from_the_form(
    web: Any, carol: Any, mi: MajorIncident, leadership: Any, committed: Any
) -> None:
    client = web(carol)
    with committed():
        response = client.post(f"/war-rooms/{mi.number}/updates/", {**FORM, "send": "1"})
    assert response.status_code == 302
    update = StakeholderUpdate.objects.get(major_incident=mi)
    assert update.status == "sent" and update.author == carol
    html = page(client, mi)
    assert f'id="update-{update.pk}"' in html
    assert "Checkout fails for all customers." in html
    assert "Sent" in html and "sent" in html
    sent = OutboxMessage.objects.filter(update=update, status=OutboxStatus.SENT).count()
    assert f"{sent} sent" in html


def test_a_draft_is_saved_then_sent_with_its_button(
    web: Any, alice: Any, mi: MajorIncident, committed: Any
) -> None:
    client = web(alice)
    client.post(f"/war-rooms/{mi.number}/updates/", FORM)
    update = StakeholderUpdate.objects.get(major_incident=mi)
    assert update.status == "draft"
    html = page(client, mi)
    for op in ("submit", "approve", "send", "discard"):
        assert f'data-testid="update-{op}"' in html, op
    with committed():
        response = client.post(f"/war-rooms/{mi.number}/updates/{update.pk}/send/")
    assert response.status_code == 302
    update.refresh_from_db()
    assert update.status == "sent"
    # Sent again: refused on the page, not a 500.
    again = client.post(f"/war-rooms/{mi.number}/updates/{update.pk}/send/", follow=True)
    assert again.status_code == 200 and "is sent" in again.content.decode()


def test_a_draft_is_edited_on_the_page_and_an_approved_one_goes_back_to_draft(
    web: Any, alice: Any, mi: MajorIncident, committed: Any
) -> None:
    client = web(alice)
    client.post(f"/war-rooms/{mi.number}/updates/", FORM)
    update = StakeholderUpdate.objects.get(major_incident=mi)
    services.approve_update(update=update, actor=alice)
    assert f'href="?edit={update.pk}#updates"' in page(client, mi)
    form = client.get(f"/war-rooms/{mi.number}/?edit={update.pk}").content.decode()
    assert f'name="upd-editing" value="{update.pk}"' in form
    assert "Checkout fails for all customers." in form  # the update's words, ready to change
    changed = {**FORM, "upd-editing": str(update.pk), "upd-current_impact": "EU only <now>."}
    response = client.post(f"/war-rooms/{mi.number}/updates/", changed, follow=True)
    assert f"Update #{update.pk} changed." in response.content.decode()
    update.refresh_from_db()
    assert update.current_impact == "EU only <now>." and update.status == "draft"
    assert StakeholderUpdate.objects.filter(major_incident=mi).count() == 1
    with committed():
        client.post(f"/war-rooms/{mi.number}/updates/", {**changed, "send": "1"})
    update.refresh_from_db()
    assert update.status == "sent"
    # A sent update is not offered for editing, and changing it is refused on the form.
    assert f"?edit={update.pk}" not in page(client, mi)
    again = client.post(f"/war-rooms/{mi.number}/updates/", changed, follow=True)
    assert "write a new one" in again.content.decode()


def test_editing_another_mis_update_is_a_404(
    web: Any, alice: Any, mi: MajorIncident, make_incident: Any
) -> None:
    other = declare(make_incident(impact=1, urgency=1), alice)
    foreign = write(other, alice)
    client = web(alice)
    response = client.post(
        f"/war-rooms/{mi.number}/updates/", {**FORM, "upd-editing": str(foreign.pk)}
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.current_impact != FORM["upd-current_impact"]


def test_a_missing_part_comes_back_on_the_form_with_what_was_typed(
    web: Any, alice: Any, mi: MajorIncident
) -> None:
    client = web(alice)
    response = client.post(
        f"/war-rooms/{mi.number}/updates/", {**FORM, "upd-user_action": ""}, follow=True
    )
    html = response.content.decode()
    assert "This field is required." in html
    assert "Checkout fails for all customers." in html
    assert not StakeholderUpdate.objects.exists()
    # The next update time is the service's rule: named on the form too.
    response = client.post(
        f"/war-rooms/{mi.number}/updates/", {**FORM, "upd-next_update_at": ""}, follow=True
    )
    assert "Next update (UTC) is required" in response.content.decode()


def test_draft_from_template_fills_the_form(web: Any, alice: Any, mi: MajorIncident) -> None:
    client = web(alice)
    response = client.post(
        f"/war-rooms/{mi.number}/updates/draft/",
        {"draft-update_type": "initial", "draft-drafter": "template"},
        follow=True,
    )
    html = response.content.decode()
    assert "Drafted by the template" in html
    assert "A major incident was declared at" in html
    assert 'name="upd-drafted_by" value="template"' in html
    assert not StakeholderUpdate.objects.exists()
    # Shown once: the next visit has an empty form again.
    assert "A major incident was declared at" not in page(client, mi)


def test_the_htmx_draft_answers_the_panel(web: Any, alice: Any, mi: MajorIncident) -> None:
    response = web(alice).post(
        f"/war-rooms/{mi.number}/updates/draft/",
        {"draft-update_type": "resolution", "draft-drafter": "template"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("{#") is False and 'id="updates"' in html
    assert "is working again since" in html


def test_the_panel_alone(web: Any, tina: Any, mi: MajorIncident) -> None:
    response = web(tina).get(f"/war-rooms/{mi.number}/updates/")
    assert response.status_code == 200
    assert 'id="updates"' in response.content.decode()


def test_user_text_is_escaped(web: Any, alice: Any, mi: MajorIncident) -> None:
    write(mi, alice, current_impact="<script>alert(1)</script>", subject="<b>bold</b>")
    html = page(web(alice), mi)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_failed_deliveries_show_their_last_error(web: Any, alice: Any, mi: MajorIncident) -> None:
    update = write(mi, alice)
    StakeholderUpdate.objects.filter(pk=update.pk).update(status="sent")
    OutboxMessage.objects.create(
        idempotency_key="k-dead",
        channel="email",
        recipient="cio@example.test",
        major_incident=mi,
        update=update,
        purpose="cadence",
        status=OutboxStatus.DEAD,
        attempts=5,
        last_error="550 <mailbox unavailable>",
    )
    html = page(web(alice), mi)
    assert "1 failed" in html
    assert "cio@example.test" in html and "550 &lt;mailbox unavailable&gt;" in html


def test_a_technician_outside_the_team_sees_no_form_and_is_refused(
    web: Any, tina: Any, alice: Any, mi: MajorIncident
) -> None:
    update = write(mi, alice)
    client = web(tina)
    html = page(client, mi)
    assert 'data-testid="update-form"' not in html
    assert 'data-testid="update-send"' not in html
    assert "Checkout is down." in html  # the list is for whoever may see the MI
    assert client.post(f"/war-rooms/{mi.number}/updates/", FORM).status_code == 403
    for op in ("submit", "approve", "send", "discard"):
        response = client.post(f"/war-rooms/{mi.number}/updates/{update.pk}/{op}/")
        assert response.status_code == 403, op
    assert client.post(f"/war-rooms/{mi.number}/updates/draft/", {}).status_code == 403
    update.refresh_from_db()
    assert update.status == "draft"


def test_an_outsider_gets_403_and_anonymous_a_login(
    web: Any, oscar: Any, alice: Any, mi: MajorIncident
) -> None:
    update = write(mi, alice)
    client = web(oscar)
    assert client.get(f"/war-rooms/{mi.number}/updates/").status_code == 403
    assert client.post(f"/war-rooms/{mi.number}/updates/{update.pk}/send/").status_code == 403
    anonymous = Client().post(f"/war-rooms/{mi.number}/updates/", FORM)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]


def test_get_is_not_allowed_on_the_buttons(web: Any, alice: Any, mi: MajorIncident) -> None:
    update = write(mi, alice)
    assert web(alice).get(f"/war-rooms/{mi.number}/updates/{update.pk}/send/").status_code == 405
    assert (
        web(alice).post(f"/war-rooms/{mi.number}/updates/{update.pk}/explode/").status_code == 404
    )


def test_another_mi_s_update_is_a_404(
    web: Any, alice: Any, mi: MajorIncident, make_incident: Any
) -> None:
    other = declare(make_incident(impact=1, urgency=1), alice)
    update = write(other, alice)
    response = web(alice).post(f"/war-rooms/{mi.number}/updates/{update.pk}/send/")
    assert response.status_code == 404


def test_csrf_is_required(alice: Any, mi: MajorIncident) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/war-rooms/{mi.number}/updates/", FORM).status_code == 403
    assert not StakeholderUpdate.objects.exists()


@pytest.fixture
def security_mi(make_incident: Any, alice: Any) -> MajorIncident:
    return declare(make_incident(impact=1, urgency=1), alice, is_security=True)


def test_a_security_mi_offers_approve_to_legal_only_and_send_after(
    web: Any, alice: Any, lee: Any, security_mi: MajorIncident, committed: Any
) -> None:
    update = write(security_mi, alice)
    ic_html = page(web(alice), security_mi)
    assert 'data-testid="update-approve"' not in ic_html
    assert 'data-testid="update-send"' not in ic_html
    assert 'data-testid="update-send-now"' not in ic_html
    assert "legal approver" in ic_html
    # Pressing it anyway: refused.
    refused = web(alice).post(f"/war-rooms/{security_mi.number}/updates/{update.pk}/approve/")
    assert refused.status_code == 403
    legal = web(lee)
    legal_html = page(legal, security_mi)
    assert 'data-testid="update-approve"' in legal_html
    assert 'data-testid="update-form"' not in legal_html
    legal.post(f"/war-rooms/{security_mi.number}/updates/{update.pk}/approve/")
    update.refresh_from_db()
    assert update.status == "approved" and update.approver == lee
    assert 'data-testid="update-send"' in page(web(alice), security_mi)
    with committed():
        web(alice).post(f"/war-rooms/{security_mi.number}/updates/{update.pk}/send/")
    update.refresh_from_db()
    assert update.status == "sent"


def test_legal_marks_the_investigation_complete(
    web: Any, lee: Any, tina: Any, security_mi: MajorIncident
) -> None:
    assert 'data-testid="investigation-complete"' in page(web(lee), security_mi)
    path = f"/war-rooms/{security_mi.number}/updates/investigation-complete/"
    assert web(tina).post(path).status_code == 403
    assert web(lee).post(path).status_code == 302
    assert 'data-testid="investigation-complete"' not in page(web(lee), security_mi)


def test_the_canned_response_follows_the_latest_public_update(
    web: Any, alice: Any, mi: MajorIncident, committed: Any
) -> None:
    update = write(mi, alice, current_action="Payments are being re-routed.")
    with committed():
        services.send_update(update=update, actor=alice)
    html = page(web(alice), mi)
    assert "Payments are being re-routed." in html.split('data-testid="canned-response"')[1]


def test_the_panel_takes_the_same_queries_for_2_and_8_updates(
    web: Any, alice: Any, mi: MajorIncident, committed: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(alice)

    def sent_one() -> None:
        update = write(mi, alice)
        with committed():
            services.send_update(update=update, actor=alice)

    sent_one()
    write(mi, alice)
    client.get(f"/war-rooms/{mi.number}/updates/")  # system properties cached, as in a worker
    with CaptureQueriesContext(connection) as small:
        client.get(f"/war-rooms/{mi.number}/updates/")
    for _ in range(6):
        sent_one()
    with CaptureQueriesContext(connection) as large:
        html = client.get(f"/war-rooms/{mi.number}/updates/").content.decode()
    assert html.count('data-testid="update"') == 8
    assert len(large) == len(small)


def test_a_next_update_time_in_the_past_is_refused_on_the_form(
    web: Any, alice: Any, mi: MajorIncident
) -> None:
    response = web(alice).post(
        f"/war-rooms/{mi.number}/updates/",
        {**FORM, "upd-next_update_at": "2020-01-01T10:30"},
        follow=True,
    )
    assert "must be in the future" in response.content.decode()
    assert not StakeholderUpdate.objects.exists()


def test_draft_with_the_assistant_shows_when_configured_and_falls_back_with_a_warning(
    web: Any, alice: Any, mi: MajorIncident, stub: Any, settings: Any
) -> None:
    from tests.stub_http import Reply

    client = web(alice)
    assert "Draft with the assistant" not in page(client, mi)
    settings.COPILOT_API_URL, settings.COPILOT_MODEL = stub.url, "m"
    assert "Draft with the assistant" in page(client, mi)
    stub.script("/chat/completions", Reply(503, "busy"))
    response = client.post(
        f"/war-rooms/{mi.number}/updates/draft/",
        {"draft-update_type": "cadence", "draft-drafter": "copilot"},
        follow=True,
    )
    html = response.content.decode()
    assert "HTTP 503" in html and "Drafted by the template" in html
    assert 'name="upd-drafted_by" value="template"' in html
    assert len(stub.to("/chat/completions")) == 1


def test_an_automatic_update_is_badged_and_says_where_its_words_came_from(
    web: Any, alice: Any, mi: MajorIncident, committed: Any
) -> None:
    with committed():
        update = services.from_template(mi=mi, update_type="initial", slot="initial")
    assert update is not None
    html = page(web(alice), mi)
    row = html.split(f'id="update-{update.pk}"')[1].split("</li>")[0]
    assert 'data-testid="update-automatic"' in row
    assert "From the pre-approved template" in row
    assert 'data-testid="updates-next-due"' in html
