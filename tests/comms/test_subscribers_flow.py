"""Status page subscribers: the form (CSRF, honeypot, rate limit, no enumeration), double opt-in
(confirm, expired, forged), the mail per public update (once per subscriber × update, with the
unsubscribe link and RFC 8058 headers) and the one-click unsubscribe (forged links refused)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from comms.models import OutboxMessage, StatusSubscriber
from comms.services import subscribers
from comms.web import subscribe as subscribe_views
from incidents.models import MajorIncident
from tests.comms.test_status_fixtures import outage, publish, shop  # noqa: F401

FORM = "/status/subscribe/"


def links(message: Any) -> list[str]:
    return re.findall(r"https?://\S+", message.body)


def submit(client: Client, email: str, *components: Any, **extra: str) -> Any:
    data: dict[str, Any] = {"email": email, **extra}
    if components:
        data["components"] = [str(getattr(c, "pk", c)) for c in components]
    return client.post(FORM, data)


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_submit(browser: Client, email: str, *components: Any) -> Any:
    browser.get(FORM)
    token = browser.cookies["csrftoken"].value
    data: dict[str, Any] = {"email": email, "csrfmiddlewaretoken": token}
    if components:
        data["components"] = [str(c.pk) for c in components]
    return browser.post(FORM, data)


# --- the form ---------------------------------------------------------------------------------


def test_the_form_lists_the_components_and_escapes_their_names(make_ci: Any) -> None:
    make_ci("<b>Shop</b>", kind="business_service")
    make_ci("internal-db", kind="database")
    response = Client().get(FORM, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;b&gt;Shop&lt;/b&gt;" in html and "<b>Shop</b>" not in html
    assert "internal-db" not in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "<html" not in html  # the fragment htmx swaps into /status/


def test_a_post_without_the_csrf_token_is_refused(browser: Client, db: None) -> None:
    response = browser.post(FORM, {"email": "a@example.test"})
    assert response.status_code == 403
    assert not StatusSubscriber.objects.exists()


def test_subscribing_mails_one_confirmation_and_nothing_else(
    browser: Client,
    shop: Any,  # noqa: F811
    committed: Any,
) -> None:
    with committed():
        response = csrf_submit(browser, "Pat@Example.TEST", shop.checkout)
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    subscriber = StatusSubscriber.objects.get()
    assert subscriber.email == "Pat@example.test"
    assert not subscriber.is_active
    [message] = mail.outbox
    assert message.to == ["Pat@example.test"]
    assert "Checkout" in message.body
    [link] = [u for u in links(message) if "/status/subscribe/confirm/" in u]
    assert link.startswith("http")


def test_resubmitting_within_minutes_mails_once_and_later_again(
    shop: Any,  # noqa: F811
    committed: Any,
) -> None:
    client = Client()
    with freeze_time("2026-06-01 10:00"), committed():
        submit(client, "pat@example.test")
        submit(client, "pat@example.test", shop.payroll)
    assert len(mail.outbox) == 1
    with freeze_time("2026-06-01 10:11"), committed():
        submit(client, "pat@example.test")
    assert len(mail.outbox) == 2


def test_the_answer_does_not_tell_whether_the_address_is_subscribed(
    make_subscriber: Callable[..., Any], db: None
) -> None:
    make_subscriber("known@example.test")
    known = submit(Client(), "known@example.test")
    new = submit(Client(), "new@example.test")
    assert known.status_code == new.status_code == 200
    assert known.content == new.content


def test_the_honeypot_mails_nothing_and_answers_the_same(committed: Any, db: None) -> None:
    with committed():
        response = submit(Client(), "bot@example.test", website="http://spam.example")
    assert response.status_code == 200 and b"Check your inbox" in response.content
    assert not StatusSubscriber.objects.exists()
    assert not mail.outbox


def test_too_many_submissions_from_one_address_are_a_429(db: None) -> None:
    client = Client()
    for n in range(subscribe_views.SUBMISSIONS_PER_HOUR):
        assert submit(client, f"p{n}@example.test").status_code == 200
    response = submit(client, "one-more@example.test")
    assert response.status_code == 429
    assert not StatusSubscriber.objects.filter(email="one-more@example.test").exists()


@pytest.mark.parametrize(
    ("email", "components", "field"),
    [
        ("", [], "email"),
        ("not-an-address", [], "email"),
        ("a@" + "b" * 300 + ".test", [], "email"),
        ("a\x00@example.test", [], "email"),
        ("a@example.test", ["x"], "components"),
        ("a@example.test", ["999999"], "components"),
        ("a@example.test", ["1" * 50], "components"),
    ],
)
def test_bad_input_is_a_400_page_naming_the_problem(
    email: str,
    components: list[str],
    field: str,
    shop: Any,  # noqa: F811
) -> None:
    response = Client().post(FORM, {"email": email, "components": components})
    assert response.status_code == 400
    html = response.content.decode()
    assert "sp-form__error" in html
    assert ("email address" if field == "email" else "choose components") in html
    assert not StatusSubscriber.objects.exists()


def test_a_component_that_is_not_on_the_page_is_refused(shop: Any) -> None:  # noqa: F811
    response = submit(Client(), "a@example.test", shop.db)
    assert response.status_code == 400


# --- confirming -------------------------------------------------------------------------------


def _confirm_link(committed: Any, email: str, *components: Any) -> str:
    with committed():
        submit(Client(), email, *components)
    [link] = [u for u in links(mail.outbox[-1]) if "/confirm/" in u]
    return "/" + link.split("://", 1)[1].partition("/")[2]


def test_the_link_shows_a_button_and_the_post_confirms_once(
    shop: Any,  # noqa: F811
    committed: Any,
    browser: Client,
) -> None:
    path = _confirm_link(committed, "pat@example.test", shop.checkout)
    page = browser.get(path)
    assert page.status_code == 200 and b"Confirm subscription" in page.content
    subscriber = StatusSubscriber.objects.get()
    assert subscriber.confirmed_at is None  # a mail scanner's GET confirms nothing
    token = browser.cookies["csrftoken"].value
    response = browser.post(path, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200 and b"Subscription confirmed" in response.content
    subscriber.refresh_from_db()
    assert subscriber.is_active
    assert list(subscriber.components.all()) == [shop.checkout]
    first = subscriber.confirmed_at
    assert browser.post(path, {"csrfmiddlewaretoken": token}).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at == first


def test_an_expired_confirmation_is_a_400_and_changes_nothing(
    shop: Any,  # noqa: F811
    committed: Any,
) -> None:
    with freeze_time("2026-06-01 10:00"):
        path = _confirm_link(committed, "pat@example.test")
    with freeze_time("2026-06-01 10:00") as clock:
        clock.move_to("2026-06-08 10:01")
        response = Client().post(path)
    assert response.status_code == 400
    assert b"expired" in response.content
    assert StatusSubscriber.objects.get().confirmed_at is None


def test_a_forged_confirmation_is_a_400(
    shop: Any,  # noqa: F811
    committed: Any,
) -> None:
    path = _confirm_link(committed, "pat@example.test")
    token = path.rstrip("/").rsplit("/", 1)[1]
    subscriber = StatusSubscriber.objects.get()
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        signing.dumps({"s": subscriber.pk, "e": subscriber.email, "c": [], "t": "2026-01-01"}),
        subscribers.unsubscribe_token(subscriber),  # another purpose's salt
        "x" * 5000,
        "%00",
    ]
    for bad in forged:
        for method in (Client().get, Client().post):
            response = method(f"/status/subscribe/confirm/{bad}/")
            assert response.status_code in (400, 404), bad
    assert StatusSubscriber.objects.get().confirmed_at is None


def test_resubscribing_with_other_components_applies_them_on_confirmation(
    shop: Any,  # noqa: F811
    committed: Any,
) -> None:
    with freeze_time("2026-06-01 10:00"):
        first = _confirm_link(committed, "pat@example.test", shop.checkout)
        Client().post(first)
    with freeze_time("2026-06-01 11:00"):
        second = _confirm_link(committed, "pat@example.test", shop.payroll)
        # Until the second link is clicked, the submission changed nothing.
        assert list(StatusSubscriber.objects.get().components.all()) == [shop.checkout]
        Client().post(second)
    assert list(StatusSubscriber.objects.get().components.all()) == [shop.payroll]


# --- notifications ------------------------------------------------------------------------------


def test_a_public_update_mails_each_follower_once_with_the_unsubscribe_link(
    shop: Any,  # noqa: F811
    alice: Any,
    committed: Any,
    make_subscriber: Callable[..., Any],
    outage: Callable[..., MajorIncident],  # noqa: F811
) -> None:
    checkout = make_subscriber("checkout@example.test", [shop.checkout])
    everything = make_subscriber("all@example.test")
    make_subscriber("payroll@example.test", [shop.payroll])
    make_subscriber("pending@example.test", confirmed_at=None)
    make_subscriber("gone@example.test", unsubscribed_at="2026-01-01T00:00:00Z")
    mi = outage(shop.db)
    mail.outbox.clear()
    with committed():
        update = publish(mi, alice, impact="Customers <cannot> pay.")
    sent = {m.to[0]: m for m in mail.outbox if m.subject.startswith("[Status]")}
    assert set(sent) == {checkout.email, everything.email}
    message = sent[checkout.email]
    assert "Customers <cannot> pay." in message.body
    url = re.search(r"Unsubscribe \(one click\): (\S+)", message.body)
    assert url is not None
    assert message.extra_headers["List-Unsubscribe"] == f"<{url.group(1)}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "war-rooms" not in message.body  # the public never gets the war room's link
    # The headers reach the wire: they are in the MIME message itself.
    raw = message.message().as_string()
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
    # Never twice: the same update published again enqueues nothing new.
    with committed():
        subscribers.incident_update_published(update)
    assert OutboxMessage.objects.filter(purpose=subscribers.PURPOSE_INCIDENT).count() == 2
    assert len([m for m in mail.outbox if m.subject.startswith("[Status]")]) == 2


def test_a_failed_subscriber_mail_is_retried_and_visible(
    shop: Any,  # noqa: F811
    alice: Any,
    committed: Any,
    make_subscriber: Callable[..., Any],
    outage: Callable[..., MajorIncident],  # noqa: F811
    settings: Any,
) -> None:
    make_subscriber("checkout@example.test", [shop.checkout])
    mi = outage(shop.checkout)
    # An SMTP server that is not there: a temporary failure.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    with committed():
        publish(mi, alice)
    row = OutboxMessage.objects.get(purpose=subscribers.PURPOSE_INCIDENT)
    assert row.status == "failed" and row.last_error
    assert row.next_attempt_at is not None


# --- unsubscribing --------------------------------------------------------------------------


def test_unsubscribe_get_shows_a_button_and_the_one_click_post_unsubscribes(
    make_subscriber: Callable[..., Any], browser: Client, db: None
) -> None:
    subscriber = make_subscriber("pat@example.test")
    url = subscribers.unsubscribe_url(subscriber)
    path = "/" + url.split("://", 1)[1].partition("/")[2]
    page = browser.get(path)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    subscriber.refresh_from_db()
    assert subscriber.is_active  # a prefetching scanner unsubscribes no one
    # RFC 8058: the mail provider's POST, no cookie, no CSRF token.
    response = browser.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None and not subscriber.is_active
    first = subscriber.unsubscribed_at
    assert browser.post(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at == first


def test_a_forged_unsubscribe_link_is_refused_and_changes_nothing(
    make_subscriber: Callable[..., Any], db: None
) -> None:
    pat = make_subscriber("pat@example.test")
    other = make_subscriber("other@example.test")
    token = subscribers.unsubscribe_token(pat)
    value, _, signature = token.rpartition(":")
    forged = [
        # pat's signature on other's id
        signing.dumps({"s": other.pk, "e": other.email}, salt="wrong-salt"),
        f"{value}:{'A' * len(signature)}",
        signing.dumps({"s": other.pk, "e": other.email}, salt=subscribers.UNSUBSCRIBE_SALT)[:-1]
        + "x",
        # a confirmation token (the other purpose's salt)
        subscribers.confirm_token(other, [], timezone.now()),
        "garbage",
    ]
    for bad in forged:
        response = Client().post(f"/status/unsubscribe/{bad}/")
        assert response.status_code == 400, bad
        assert b"not valid" in response.content
        assert Client().get(f"/status/unsubscribe/{bad}/").status_code == 400
    assert StatusSubscriber.objects.filter(unsubscribed_at=None).count() == 2


def test_an_unsubscribed_address_gets_no_more_mail(
    shop: Any,  # noqa: F811
    alice: Any,
    committed: Any,
    make_subscriber: Callable[..., Any],
    outage: Callable[..., MajorIncident],  # noqa: F811
) -> None:
    subscriber = make_subscriber("pat@example.test")
    subscribers.unsubscribe(token=subscribers.unsubscribe_token(subscriber))
    mi = outage(shop.checkout)
    with committed():
        publish(mi, alice)
    assert not [m for m in mail.outbox if m.to == ["pat@example.test"]]
    # An old confirmation link, issued before unsubscribing, does not undo it.
    old = subscribers.confirm_token(subscriber, [], subscriber.created_at - timedelta(minutes=1))
    assert Client().post(f"/status/subscribe/confirm/{old}/").status_code == 400
    subscriber.refresh_from_db()
    assert not subscriber.is_active
