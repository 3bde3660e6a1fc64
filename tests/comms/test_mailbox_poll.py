"""Mail in against a real Dovecot: new mail → incidents, replies → timelines, automatic mail
ignored, each message once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from comms.models import InboundMail, MailboxState, MailOutcome
from comms.services import mailbox
from comms.tasks import poll_mailbox
from incidents.models import Channel, Incident, TimelineEntry, TimelineKind
from tests.comms.dovecot_peer import Dovecot, dovecot, mail  # noqa: F401
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(dovecot: Dovecot, settings: Any) -> str:  # noqa: F811
    """A folder of this test's own, and MIM_IMAP_URL pointing at it."""
    name = dovecot.new_folder()
    settings.MIM_IMAP_URL = dovecot.url(name)
    return name


@pytest.fixture
def deliver(dovecot: Dovecot, folder: str) -> Callable[..., None]:  # noqa: F811
    def _deliver(*messages: bytes) -> None:
        dovecot.append(folder, *messages)

    return _deliver


def email_rows(incident: Incident) -> list[TimelineEntry]:
    return list(incident.timeline.filter(kind=TimelineKind.EMAIL).order_by("id"))


def test_a_mail_opens_an_incident_with_channel_email(deliver: Any) -> None:
    deliver(mail("Checkout is down", "Customers cannot pay since 09:00.", message_id="<a1@ex>"))

    assert poll_mailbox() == {"created": 1, "replied": 0, "ignored": 0, "failed": 0, "skipped": 0}

    incident = Incident.objects.get()
    assert incident.channel == Channel.EMAIL
    assert incident.short_description == "Checkout is down"
    assert "Customers cannot pay since 09:00." in incident.description
    assert "pat@example.com" in incident.description  # no user has the address
    assert incident.caller is None
    (row,) = email_rows(incident)
    assert "Pat Customer <pat@example.com>" in row.message
    assert row.data["message_id"] == "<a1@ex>"
    recorded = InboundMail.objects.get()
    assert (recorded.outcome, recorded.incident, recorded.message_id) == (
        MailOutcome.CREATED,
        incident,
        "<a1@ex>",
    )


def test_a_user_s_mail_makes_them_the_caller(deliver: Any, tina: Any) -> None:
    tina.email = "tina@example.com"
    tina.save()
    deliver(mail(sender="Tina <TINA@example.com>"))

    poll_mailbox()

    incident = Incident.objects.get()
    assert incident.caller == tina
    assert not incident.description.startswith("From:")
    assert "usr_tina_tech <tina@example.com>" in email_rows(incident)[0].message


def test_a_second_poll_finds_nothing_new(deliver: Any) -> None:
    deliver(mail(message_id="<once@ex>"), mail(message_id="<twice@ex>"))
    assert poll_mailbox()["created"] == 2

    assert poll_mailbox() == {"created": 0, "replied": 0, "ignored": 0, "failed": 0, "skipped": 0}
    assert Incident.objects.count() == 2
    state = MailboxState.objects.get()
    assert state.last_uid == 2 and state.polled_at is not None and state.last_error == ""


def test_a_reply_by_in_reply_to_goes_to_the_incident_s_timeline(deliver: Any) -> None:
    deliver(mail("Checkout is down", message_id="<first@ex>"))
    poll_mailbox()
    deliver(
        mail(
            "Re: Checkout is down",
            "It works again for some customers.\n\n"
            "On Tue, 1 Dec 2026 at 09:05, Pat Customer <pat@example.com> wrote:\n"
            "> Customers cannot pay since 09:00.",
            message_id="<second@ex>",
            headers={"In-Reply-To": "<first@ex>", "References": "<first@ex>"},
        )
    )

    assert poll_mailbox()["replied"] == 1

    incident = Incident.objects.get()
    reply = email_rows(incident)[-1]
    assert "It works again for some customers." in reply.message
    assert "Customers cannot pay" not in reply.message  # the quoted part is gone
    assert "wrote:" not in reply.message
    assert InboundMail.objects.get(message_id="<second@ex>").incident == incident


def test_a_reply_by_the_number_in_the_subject(deliver: Any, make_incident: Any) -> None:
    incident = make_incident(short_description="VPN drops")
    deliver(mail(f"Re: [{incident.number}] VPN drops", "> old\nStill dropping every hour."))

    assert poll_mailbox()["replied"] == 1

    (row,) = email_rows(incident)
    assert "Still dropping every hour." in row.message and "old" not in row.message
    assert Incident.objects.count() == 1


def test_a_reply_on_an_incident_under_an_mi_is_on_the_mi_s_timeline_too(
    deliver: Any, make_incident: Any, alice: Any
) -> None:
    incident = make_incident(short_description="Payments down", impact=1, urgency=1)
    mi = declare(incident, alice, actor=alice)
    deliver(mail(f"{incident.number} still failing", "Card payments fail."))

    poll_mailbox()

    (row,) = email_rows(incident)
    assert row.major_incident_id == mi.pk


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"X-Autoreply": "yes"}, "X-Autoreply"),
        ({"X-Autorespond": "Out of office"}, "X-Autorespond"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"X-Auto-Response-Suppress": "All"}, "X-Auto-Response-Suppress"),
        ({"List-Id": "<ops.lists.example.com>"}, "List-Id"),
        ({"Return-Path": "<>"}, "bounce"),
    ],
)
def test_automatic_mail_is_ignored(deliver: Any, headers: dict[str, str], reason: str) -> None:
    deliver(mail("Out of office: Checkout is down", headers=headers))

    assert poll_mailbox()["ignored"] == 1

    assert not Incident.objects.exists()
    recorded = InboundMail.objects.get()
    assert recorded.outcome == MailOutcome.IGNORED and reason in recorded.reason


def test_auto_submitted_no_is_a_person(deliver: Any) -> None:
    deliver(mail(headers={"Auto-Submitted": "no"}))
    assert poll_mailbox()["created"] == 1


def test_a_bounce_is_ignored(deliver: Any) -> None:
    report = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        b"To: major-incidents@localhost\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce1@mx.example.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; a@b.c\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n--b--\r\n"
    )
    deliver(report)

    assert poll_mailbox()["ignored"] == 1
    assert "multipart/report" in InboundMail.objects.get().reason
    assert not Incident.objects.exists()


def test_our_own_mail_coming_back_is_ignored(deliver: Any, settings: Any) -> None:
    deliver(mail(sender=f"MIM Desk <{settings.MIM_SENDER_EMAIL}>"))

    assert poll_mailbox()["ignored"] == 1
    assert "our own mail" in InboundMail.objects.get().reason


def test_an_html_only_mail_becomes_text(deliver: Any) -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Checkout &amp; <b>payments</b> fail</p><script>alert(1)</script>"
        "<ul><li>since 09:00</li></ul></body></html>"
    )
    deliver(mail("HTML", html, content_type="text/html; charset=utf-8"))

    poll_mailbox()

    description = Incident.objects.get().description
    assert "Checkout & payments fail" in description and "since 09:00" in description
    assert "<" not in description.replace("<pat@example.com>", "")
    assert "alert(1)" not in description and "color" not in description
    assert "HTML-only" in InboundMail.objects.get().reason


def test_odd_mail_never_stops_the_queue(deliver: Any) -> None:
    huge = "x" * 3_000_000
    deliver(
        mail("Huge", huge, message_id="<huge@ex>"),
        mail("", "no subject at all", message_id="<nosubject@ex>"),
        mail("S" * 5000, "long subject", message_id="<longsubject@ex>"),
        mail(
            "=?bogus-charset?B?////?=",
            "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
            content_type="text/plain; charset=no-such-charset",
            message_id="<charset@ex>",
        ),
        b"\x00\xff\xfe garbage without headers \r\n\r\n\xff",
        mail("No id", "a mail without a Message-ID", message_id=""),
        mail("Last", "the queue went on", message_id="<last@ex>"),
    )

    counts = poll_mailbox()

    assert counts["created"] + counts["failed"] == 7
    assert Incident.objects.filter(short_description="Last").exists()
    assert len(Incident.objects.get(short_description="Huge").description) <= 20_100
    assert Incident.objects.filter(short_description="Mail without a subject").exists()
    assert all(len(i.short_description) <= 200 for i in Incident.objects.all())
    # A mail without a Message-ID is still kept once, by a digest of its bytes.
    assert InboundMail.objects.get(subject="No id").message_id.startswith("sha256:")
    assert poll_mailbox()["created"] == 0


def test_unreadable_mail_is_recorded_as_failed(deliver: Any) -> None:
    deliver(b"\r\n\r\n")

    assert poll_mailbox()["failed"] == 1
    assert InboundMail.objects.get().outcome == MailOutcome.FAILED


def test_a_uidvalidity_change_reads_again_without_duplicates(
    dovecot: Dovecot,  # noqa: F811
    folder: str,
) -> None:
    first, second = mail(message_id="<v1@ex>"), mail(message_id="<v2@ex>")
    dovecot.append(folder, first, second)
    poll_mailbox()
    before = MailboxState.objects.get().uid_validity
    # Recreating a folder gives it a new UIDVALIDITY: the server's way of saying "my UIDs are
    # not the ones you knew" (a restore, a migration to another server).
    dovecot.delete(folder)
    dovecot.create(folder)
    dovecot.append(folder, second, first, mail(message_id="<v3@ex>"))

    counts = poll_mailbox()

    assert counts == {"created": 1, "replied": 0, "ignored": 0, "failed": 0, "skipped": 2}
    state = MailboxState.objects.get()
    assert state.uid_validity != before and state.last_uid == 3
    assert Incident.objects.count() == 3


def test_the_batch_size_drains_a_backlog_over_several_polls(deliver: Any, settings: Any) -> None:
    settings.MIM_IMAP_BATCH = 2
    deliver(*(mail(f"Mail {n}", message_id=f"<b{n}@ex>") for n in range(5)))

    assert poll_mailbox() == {
        "created": 2,
        "replied": 0,
        "ignored": 0,
        "failed": 0,
        "skipped": 0,
        "pending": 3,
    }
    assert poll_mailbox()["created"] == 2
    assert poll_mailbox()["created"] == 1
    assert sorted(Incident.objects.values_list("short_description", flat=True)) == [
        f"Mail {n}" for n in range(5)
    ]


def test_off_when_mim_imap_url_is_unset(settings: Any, caplog: Any) -> None:
    settings.MIM_IMAP_URL = None
    mailbox._said_off = False
    with caplog.at_level(logging.INFO, logger="comms.services.mailbox"):
        assert poll_mailbox() == {"off": 1}
        assert poll_mailbox() == {"off": 1}
    assert [r.getMessage() for r in caplog.records].count(
        "mail in is off: MIM_IMAP_URL is unset"
    ) == 1
    assert not MailboxState.objects.exists()


def test_a_wrong_password_is_recorded_and_retried_next_tick(
    dovecot: Dovecot,  # noqa: F811
    folder: str,
    settings: Any,
) -> None:
    settings.MIM_IMAP_URL = dovecot.url(folder).replace("s3cret", "wrong")

    assert poll_mailbox() == {"error": 1}

    assert "login" in MailboxState.objects.get().last_error
    settings.MIM_IMAP_URL = dovecot.url(folder)
    assert poll_mailbox()["created"] == 0
    assert MailboxState.objects.get().last_error == ""


def test_an_unreachable_server_is_an_error_not_a_crash(settings: Any) -> None:
    settings.MIM_IMAP_URL = "imap://u:p@127.0.0.1:1/INBOX"
    assert poll_mailbox() == {"error": 1}
    assert "cannot reach" in MailboxState.objects.get().last_error


def test_a_malformed_url_says_what_is_wrong(settings: Any, caplog: Any) -> None:
    settings.MIM_IMAP_URL = "pop3://u:p@host/INBOX"
    with caplog.at_level(logging.ERROR, logger="comms.services.mailbox"):
        assert poll_mailbox() == {"error": 1}
    assert "imaps:// or imap://" in caplog.text
