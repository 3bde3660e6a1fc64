"""Mail in's records in the admin: managers read and search them, nobody edits them, and a
user without the permission is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from comms.models import InboundMail, MailboxState, MailOutcome
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mails(db: None) -> list[InboundMail]:
    MailboxState.objects.create(mailbox="desk@imap:993/INBOX", uid_validity=7, last_uid=2)
    return [
        InboundMail.objects.create(
            mailbox="desk@imap:993/INBOX",
            uid_validity=7,
            uid=1,
            message_id="<one@example.com>",
            sender="pat@example.com",
            subject="Checkout is down <script>alert(1)</script>",
            outcome=MailOutcome.CREATED,
        ),
        InboundMail.objects.create(
            mailbox="desk@imap:993/INBOX",
            uid_validity=7,
            uid=2,
            message_id="<two@example.com>",
            sender="robot@example.com",
            subject="Out of office",
            outcome=MailOutcome.IGNORED,
            reason="Auto-Submitted: auto-replied",
        ),
    ]


def test_a_manager_searches_inbound_mail_by_message_id_subject_and_sender(
    alice: Any, mails: list[InboundMail]
) -> None:
    client = _login(alice)
    for term, expected in (("two@example", 2), ("Checkout", 1), ("robot@", 2)):
        page = client.get("/admin/comms/inboundmail/", {"q": term})
        assert page.status_code == 200
        assert [m.uid for m in page.context["cl"].result_list] == [expected]
    body = client.get("/admin/comms/inboundmail/").content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body  # escaped


def test_inbound_mail_and_mailbox_state_are_read_only_even_for_a_super_admin(
    sam: Any, mails: list[InboundMail]
) -> None:
    client = _login(sam)
    assert client.get(f"/admin/comms/inboundmail/{mails[0].pk}/change/").status_code == 200
    assert client.get("/admin/comms/inboundmail/add/").status_code == 403
    deleted = client.post(f"/admin/comms/inboundmail/{mails[0].pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403 and "claim" in deleted.content.decode()
    state = MailboxState.objects.get()
    changed = client.post(f"/admin/comms/mailboxstate/{state.pk}/change/", {"last_uid": "0"})
    assert changed.status_code in (200, 403)
    state.refresh_from_db()
    assert state.last_uid == 2
    assert InboundMail.objects.count() == 2


@pytest.mark.parametrize("path", ["/admin/comms/inboundmail/", "/admin/comms/mailboxstate/"])
def test_a_technician_may_not_read_mail_in_s_records(path: str, mails: list[InboundMail]) -> None:
    staff_technician = make_user("usr_tom_staff_tech", "technician", staff=True)
    page = _login(staff_technician).get(path)
    assert page.status_code == 403
    assert "ITSM manager" in page.content.decode() or "super admin" in page.content.decode()
    detail = _login(staff_technician).get(f"/admin/comms/inboundmail/{mails[0].pk}/change/")
    assert detail.status_code == 403


def test_an_outsider_is_sent_to_the_login_page(oscar: Any, mails: list[InboundMail]) -> None:
    page = _login(oscar).get("/admin/comms/inboundmail/")
    assert page.status_code == 302 and "/login/" in page["Location"]
