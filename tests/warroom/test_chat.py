"""Slack's ``/mim`` slash command: signed like Slack signs, answered like Slack shows.

Every request here is signed for real (``v0:<timestamp>:<body>``, HMAC-SHA256 with the signing
secret) and goes through the verifier; the effects are read back from the database (timeline
rows, roles, the declared MI), the replies from the JSON Slack would show.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from freezegun import freeze_time

from incidents.models import (
    Incident,
    MajorIncident,
    MIStatus,
    RaciRole,
    TimelineEntry,
    TimelineKind,
    UserProfile,
)

from .conftest import T0, declare, force_status

URL = "/chat/slack/commands/"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

ALICE_SLACK, BOB_SLACK, TINA_SLACK, OSCAR_SLACK, LEE_SLACK = (
    "UALICE001",
    "UBOB00001",
    "UTINA0001",
    "UOSCAR001",
    "ULEE00001",
)


@pytest.fixture(autouse=True)
def signing_secret(settings: Any) -> None:
    settings.SLACK_SIGNING_SECRET = SECRET


@pytest.fixture
def linked(alice: Any, tina: Any, oscar: Any, lee: Any) -> None:
    """alice, tina, oscar and lee have their Slack ids on their profiles (bob: ``bob_linked``)."""
    for user, slack_id in ((alice, ALICE_SLACK), (tina, TINA_SLACK), (oscar, OSCAR_SLACK),
                           (lee, LEE_SLACK)):  # fmt: skip
        UserProfile.objects.create(user=user, slack_user_id=slack_id)


@pytest.fixture
def bob_linked(bob: Any) -> Any:
    UserProfile.objects.create(user=bob, slack_user_id=BOB_SLACK)
    return bob


def sign(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def payload(text: str, user_id: str, **extra: str) -> bytes:
    fields = {
        "token": "deprecated-verification-token",
        "team_id": "T0001",
        "team_domain": "example",
        "channel_id": "C2147483705",
        "channel_name": "mi-war-room",
        "user_id": user_id,
        "user_name": "someone",
        "command": "/mim",
        "text": text,
        "api_app_id": "A123456",
        "response_url": "https://hooks.slack.com/commands/1234/5678",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }
    return urlencode(fields | extra).encode()


def slash(
    text: str,
    user_id: str = ALICE_SLACK,
    *,
    age: timedelta = timedelta(0),
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Any:
    """POST the command as Slack would, signed ``age`` ago."""
    from django.utils import timezone

    body = payload(text, user_id) if body is None else body
    timestamp = int((timezone.now() - age).timestamp())
    sent = {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(body, timestamp, secret),
    }
    if headers is not None:
        sent = headers
    return Client(enforce_csrf_checks=True).post(
        URL, data=body, content_type="application/x-www-form-urlencoded", headers=sent
    )


def reply(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == {"response_type", "text"}
    assert data["response_type"] in ("ephemeral", "in_channel")
    return data


def posts(mi: MajorIncident) -> list[TimelineEntry]:
    kinds = [TimelineKind.NOTE, TimelineKind.DECISION, TimelineKind.FINDING,
             TimelineKind.COMMAND_UPDATE]  # fmt: skip
    return list(TimelineEntry.objects.filter(major_incident=mi, kind__in=kinds).order_by("id"))


# --- post ----------------------------------------------------------------------------------------


def test_a_team_member_posts_a_note_to_the_timeline(mi: MajorIncident, bob_linked: Any) -> None:
    data = reply(slash(f"post {mi.number} DB failover started on eu-west-1", BOB_SLACK))

    [entry] = posts(mi)
    assert (entry.kind, entry.message, entry.actor) == (
        TimelineKind.NOTE,
        "DB failover started on eu-west-1",
        bob_linked,
    )
    assert entry.incident_id == mi.incident_id
    assert data["response_type"] == "in_channel"
    assert f"/war-rooms/{mi.number}/|{mi.number}>" in data["text"]
    assert "DB failover started on eu-west-1" in data["text"]


def test_post_kinds_by_flag_and_the_ic_posts_a_command_update(
    mi: MajorIncident, linked: None, bob_linked: Any, alice: Any
) -> None:
    reply(slash(f"post {mi.number} --decision Roll back release 2025.03.1", BOB_SLACK))
    reply(slash(f"post {mi.number} --FINDING Pool exhausted at 09:02", BOB_SLACK))
    data = reply(slash(f"update {mi.number} Mitigation in progress; next update 09:30"))

    assert [(e.kind, e.thread, e.actor) for e in posts(mi)] == [
        (TimelineKind.DECISION, "", bob_linked),
        (TimelineKind.FINDING, "", bob_linked),
        (TimelineKind.COMMAND_UPDATE, "command", alice),
    ]
    assert "command update" in data["text"]


def test_only_the_ic_and_scribe_post_command_updates(mi: MajorIncident, bob_linked: Any) -> None:
    data = reply(slash(f"update {mi.number} All good", BOB_SLACK))

    assert data["response_type"] == "ephemeral"
    assert posts(mi) == []


def test_a_post_keeps_mentions_and_special_characters_as_plain_text(
    mi: MajorIncident, linked: None, bob_linked: Any
) -> None:
    # What Slack sends when someone types: @bob look at <script>alert(1)</script> & co, #ops
    text = (
        f"post {mi.number} <@{BOB_SLACK}|bob> look at &lt;script&gt;alert(1)&lt;/script&gt; "
        "&amp; co, <#C024BE7LR|ops> <!here> <https://grafana.example/d/1|dash>"
    )
    data = reply(slash(text))

    [entry] = posts(mi)
    assert entry.message == (
        "@usr_bob_builder look at <script>alert(1)</script> & co, #ops @here "
        "dash (https://grafana.example/d/1)"
    )
    # Echoed escaped: Slack shows the characters, never a mention, a broadcast or a link.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in data["text"]
    assert "<script>" not in data["text"]
    assert "<!here>" not in data["text"]
    assert "<@" not in data["text"]


def test_tina_outside_the_team_may_not_post(mi: MajorIncident, linked: None) -> None:
    data = reply(slash(f"post {mi.number} I was here", TINA_SLACK))

    assert data["response_type"] == "ephemeral"
    assert data["text"].startswith(":no_entry: Only ")
    assert f"post to {mi.number}'s timeline" in data["text"]
    assert posts(mi) == []


@pytest.mark.parametrize("slack_id", [OSCAR_SLACK, LEE_SLACK])
def test_oscar_and_lee_may_not_post(mi: MajorIncident, linked: None, slack_id: str) -> None:
    data = reply(slash(f"post {mi.number} hello", slack_id))

    assert data["response_type"] == "ephemeral"
    assert data["text"].startswith(":no_entry: Only ")
    assert posts(mi) == []


def test_a_closed_mi_takes_no_posts(mi: MajorIncident, bob_linked: Any) -> None:
    force_status(mi, MIStatus.CLOSED)
    data = reply(slash(f"post {mi.number} too late", BOB_SLACK))

    assert data["response_type"] == "ephemeral"
    assert data["text"].startswith(f":warning: {mi.number} is closed")
    assert posts(mi) == []


def test_unknown_and_malformed_mi_numbers(mi: MajorIncident, bob_linked: Any) -> None:
    unknown = reply(slash("post MI0099999 hello", BOB_SLACK))
    malformed = reply(slash("post <@U1> hello", BOB_SLACK))
    missing = reply(slash("post", BOB_SLACK))
    empty = reply(slash(f"post {mi.number}   ", BOB_SLACK))

    assert unknown["text"].startswith("There is no major incident MI0099999.")
    assert malformed["text"].startswith("“&lt;@U1&gt;” is not a major incident number")
    assert missing["text"].startswith("Name the major incident by its number")
    assert empty["text"].startswith("Nothing to post")
    for data in (unknown, malformed, missing, empty):
        assert data["response_type"] == "ephemeral"
        assert "Usage: `/mim post MI0000042" in data["text"]
    assert posts(mi) == []


def test_oscar_without_any_view_permission_is_told_so(mi: MajorIncident, linked: None) -> None:
    data = reply(slash("status MI0099999", OSCAR_SLACK))

    assert data["text"].startswith(":no_entry: Only ")
    assert "may see major incidents" in data["text"]


# --- odd input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "help",
        "HELP me",
        "frobnicate MI0000001",
        "post",
        "status",
        "role",
        "declare",
        "post MI0000001 " + "x" * 12_000,
        "post \x00 \x00",
        "статус MI0000001 ☃ 🔥",
        "post MI" + "9" * 40 + " hi",
        "role MI0000001 ic",
        "declare INC0000001",
        "<>&<<>>",
    ],
)
def test_odd_input_gets_a_reply_never_an_error(
    mi: MajorIncident, linked: None, bob_linked: Any, text: str
) -> None:
    data = reply(slash(text.replace("MI0000001", mi.number), BOB_SLACK))

    if "x" * 12_000 not in text:  # (the timeline service decides how long a post may be)
        assert data["response_type"] == "ephemeral"
    assert "\x00" not in data["text"]
    assert data["text"]
    assert len(data["text"]) < 3000


def test_a_body_that_is_not_utf8_gets_a_reply(mi: MajorIncident, bob_linked: Any) -> None:
    body = payload("", BOB_SLACK).replace(b"text=", b"text=post+" + mi.number.encode() + b"+%FF%FE")
    data = reply(slash("", body=body))

    [entry] = posts(mi)
    assert entry.message == "\ufffd\ufffd"
    assert data["response_type"] == "in_channel"


def test_help_lists_every_verb(linked: None) -> None:
    data = reply(slash("help"))
    for verb in ("post", "update", "status", "role", "declare"):
        assert f"`/mim {verb}" in data["text"]
    assert "&lt;text&gt;" in data["text"]
    assert "<text>" not in data["text"]


def test_unknown_verb_is_named_escaped(linked: None) -> None:
    data = reply(slash("<!channel> hi"))
    assert data["text"].startswith("Unknown command `&lt;!channel&gt;`.")


def test_a_long_post_is_stored_whole_and_echoed_short(mi: MajorIncident, bob_linked: Any) -> None:
    body = "word " * 1_500
    data = reply(slash(f"post {mi.number} {body}", BOB_SLACK))

    [entry] = posts(mi)
    assert entry.message == body.strip()
    assert data["response_type"] == "in_channel"
    assert len(data["text"]) < 600


def test_nul_bytes_and_unicode_in_a_post(mi: MajorIncident, bob_linked: Any) -> None:
    reply(slash(f"post {mi.number} caf\x00é ☃ 🔥\nline two", BOB_SLACK))

    [entry] = posts(mi)
    assert entry.message == "café ☃ 🔥\nline two"


# --- status --------------------------------------------------------------------------------------


def test_status_shows_the_mi_at_a_glance(
    p1: Incident, alice: Any, linked: None, settings: Any
) -> None:
    with freeze_time(T0):
        mi = declare(p1, alice, bridge_link="https://meet.example/abc?x=1&y=2")
    MajorIncident.objects.filter(pk=mi.pk).update(bridge_dial_in="+1 555 0100, code 4242")
    Incident.objects.filter(pk=p1.pk).update(affected_users=12_345, short_description="<b>Pay</b>")

    with freeze_time(T0 + timedelta(minutes=75)):
        data = reply(slash(f"status {mi.number}", TINA_SLACK))

    text = data["text"]
    assert data["response_type"] == "ephemeral"
    assert f"/war-rooms/{mi.number}/|{mi.number}>" in text
    assert "&lt;b&gt;Pay&lt;/b&gt;" in text
    assert "*Declared*" in text
    assert "IC: usr_alice_johnson" in text
    assert "Affected users: 12,345" in text
    assert "Declared 1 h 15 min ago (2025-03-03 09:00 UTC)" in text
    assert "Next update: *overdue* by " in text  # the default cadence is under 75 minutes
    assert "Bridge: https://meet.example/abc?x=1&amp;y=2 · +1 555 0100, code 4242" in text


def test_status_counts_down_to_the_next_update(p1: Incident, alice: Any, linked: None) -> None:
    with freeze_time(T0):
        mi = declare(p1, alice)
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=T0 + timedelta(minutes=30))

    with freeze_time(T0 + timedelta(minutes=18)):
        text = reply(slash(f"status {mi.number}"))["text"]

    assert "Next update: due in 12 min (2025-03-03 09:30 UTC)" in text
    assert "Bridge: none" in text


def test_legal_reads_the_status(mi: MajorIncident, linked: None) -> None:
    text = reply(slash(f"status {mi.number}", LEE_SLACK))["text"]
    assert "IC: usr_alice_johnson" in text


# --- role ----------------------------------------------------------------------------------------


def test_the_ic_assigns_a_role_by_mention(mi: MajorIncident, linked: None, tina: Any) -> None:
    data = reply(slash(f"role {mi.number} scribe <@{TINA_SLACK}|tina>"))

    assert mi.role_assignments.filter(
        role=RaciRole.SCRIBE, user=tina, removed_at__isnull=True
    ).exists()
    assert data["response_type"] == "in_channel"
    assert "usr_tina_tech is now Scribe on" in data["text"]
    # and the new scribe may now post a command update
    reply(slash(f"update {mi.number} Scribe here", TINA_SLACK))
    assert [(e.kind, e.actor) for e in posts(mi)] == [(TimelineKind.COMMAND_UPDATE, tina)]


def test_a_role_by_username_and_by_alias(
    mi: MajorIncident, linked: None, person: Callable[..., Any]
) -> None:
    carol = person("usr_carol_comms", "technician")
    reply(slash(f"role {mi.number} communications-lead @usr_carol_comms"))
    data = reply(slash(f"role {mi.number} IC usr_carol_comms"))

    held = set(
        mi.role_assignments.filter(user=carol, removed_at__isnull=True).values_list(
            "role", flat=True
        )
    )
    assert held == {RaciRole.COMMUNICATIONS_LEAD, RaciRole.MAJOR_INCIDENT_MANAGER}
    assert "is now Major incident manager (IC)" in data["text"]


def test_a_technician_on_the_team_may_not_assign_roles(
    mi: MajorIncident, linked: None, bob_linked: Any, tina: Any
) -> None:
    data = reply(slash(f"role {mi.number} scribe usr_tina_tech", BOB_SLACK))

    assert data["text"].startswith(":no_entry: Only ")
    assert not mi.role_assignments.filter(user=tina).exists()


def test_role_refusals_in_words(mi: MajorIncident, linked: None, bob_linked: Any) -> None:
    unknown_role = reply(slash(f"role {mi.number} wizard usr_tina_tech"))["text"]
    unknown_user = reply(slash(f"role {mi.number} scribe usr_nobody"))["text"]
    unlinked = reply(slash(f"role {mi.number} scribe <@UNOBODY01|x>"))["text"]
    conflict = reply(slash(f"role {mi.number} ic <@{BOB_SLACK}>"))["text"]

    assert unknown_role.startswith(":warning: unknown role 'wizard'")
    assert "roles: ic, technical_lead" in unknown_role
    assert unknown_user.startswith("There is no MIM Desk user “usr_nobody”.")
    assert unlinked.startswith("Slack user UNOBODY01 is not linked to a MIM Desk user")
    assert conflict.startswith(":warning: usr_bob_builder is the technical lead")


# --- declare -------------------------------------------------------------------------------------


def test_a_manager_declares_from_slack(
    make_incident: Callable[..., Incident], linked: None, alice: Any
) -> None:
    incident = make_incident(impact=2, urgency=2, short_description="EU checkout slow")
    data = reply(slash(f"declare {incident.number} EU card payments fail &amp; time out"))

    mi = MajorIncident.objects.get(incident=incident)
    assert mi.impact_statement == "EU card payments fail & time out"
    assert mi.declared_by == alice
    assert mi.role_assignments.get(role=RaciRole.MAJOR_INCIDENT_MANAGER).user == alice
    assert data["response_type"] == "in_channel"
    assert f"declared <http://testserver/war-rooms/{mi.number}/|{mi.number}>" in data["text"]
    assert "EU card payments fail &amp; time out" in data["text"]


@pytest.mark.parametrize("slack_id", [TINA_SLACK, OSCAR_SLACK, LEE_SLACK])
def test_only_managers_declare(
    make_incident: Callable[..., Incident], linked: None, slack_id: str
) -> None:
    incident = make_incident(impact=2, urgency=2)
    data = reply(slash(f"declare {incident.number} Everything is down", slack_id))

    assert data["response_type"] == "ephemeral"
    assert data["text"] == (
        ":no_entry: Only ITSM managers and super admins may declare, cancel or downgrade a "
        "major incident."
    )
    assert not MajorIncident.objects.exists()


def test_declare_refusals_in_words(mi: MajorIncident, linked: None) -> None:
    other = Incident.objects.create(short_description="Other", impact=3, urgency=3)
    again = reply(slash(f"declare {mi.incident.number} Again"))["text"]
    unknown = reply(slash("declare INC0099999 Whatever"))["text"]
    no_statement = reply(slash(f"declare {other.number}"))["text"]

    assert again == f":warning: {mi.incident.number} already has major incident {mi.number}"
    assert unknown.startswith("There is no incident INC0099999.")
    assert no_statement.startswith(
        ":warning: an initial impact statement is required\nUsage: `/mim declare"
    )
    assert MajorIncident.objects.count() == 1


# --- who is asking -------------------------------------------------------------------------------


def test_an_unknown_slack_user_is_told_how_to_get_linked(mi: MajorIncident) -> None:
    data = reply(slash(f"post {mi.number} hello", "USTRANGER1"))

    assert data["response_type"] == "ephemeral"
    assert "is not linked to MIM Desk" in data["text"]
    assert "`USTRANGER1`" in data["text"]
    assert "MIM Desk profile" in data["text"]
    assert posts(mi) == []


def test_a_deactivated_user_is_refused(mi: MajorIncident, bob_linked: Any) -> None:
    bob_linked.is_active = False
    bob_linked.save()
    data = reply(slash(f"post {mi.number} hello", BOB_SLACK))

    assert "deactivated" in data["text"]
    assert posts(mi) == []


# --- the signature -------------------------------------------------------------------------------


def test_a_bad_signature_is_401_and_does_nothing(mi: MajorIncident, bob_linked: Any) -> None:
    response = slash(f"post {mi.number} forged", BOB_SLACK, secret="not-the-secret")

    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert b"signature does not match" in response.content
    assert posts(mi) == []


def test_a_tampered_body_is_401(mi: MajorIncident, bob_linked: Any) -> None:
    from django.utils import timezone

    timestamp = int(timezone.now().timestamp())
    signed_body = payload(f"post {mi.number} harmless", BOB_SLACK)
    headers = {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(signed_body, timestamp),
    }
    response = slash("", body=payload(f"post {mi.number} evil", BOB_SLACK), headers=headers)

    assert response.status_code == 401
    assert posts(mi) == []


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(minutes=-6), timedelta(days=3650)])
def test_an_old_or_future_timestamp_is_refused_as_a_replay(
    mi: MajorIncident, bob_linked: Any, age: timedelta
) -> None:
    response = slash(f"post {mi.number} replayed", BOB_SLACK, age=age)

    assert response.status_code == 401
    assert b"more than 5 minutes" in response.content
    assert posts(mi) == []


def test_a_four_minute_old_request_still_counts(mi: MajorIncident, bob_linked: Any) -> None:
    reply(slash(f"post {mi.number} a bit late", BOB_SLACK, age=timedelta(minutes=4)))
    assert len(posts(mi)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "1700000000"},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠", "X-Slack-Signature": "v0=00"},
    ],
)
def test_missing_or_malformed_headers_are_401(
    mi: MajorIncident, bob_linked: Any, headers: dict[str, str]
) -> None:
    response = slash(f"post {mi.number} unsigned", BOB_SLACK, headers=headers)

    assert response.status_code == 401
    assert response.content.strip()
    assert posts(mi) == []


def test_get_is_405() -> None:
    assert Client().get(URL).status_code == 405


def test_an_oversized_body_is_413(mi: MajorIncident, bob_linked: Any) -> None:
    response = slash(f"post {mi.number} " + "x" * 20_000, BOB_SLACK)

    assert response.status_code == 413
    assert posts(mi) == []


def test_without_a_signing_secret_the_endpoint_is_off(
    mi: MajorIncident, bob_linked: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from warroom.chat import slack

    settings.SLACK_SIGNING_SECRET = ""
    slack._said_off = False
    with caplog.at_level(logging.WARNING, logger="warroom.chat.slack"):
        first = slash(f"post {mi.number} hello", BOB_SLACK, secret="anything")
        second = slash(f"post {mi.number} hello", BOB_SLACK, secret="anything")

    assert first.status_code == second.status_code == 404
    assert b"SLACK_SIGNING_SECRET is unset" in first.content
    said = [r for r in caplog.records if "Slack commands are off" in r.getMessage()]
    assert len(said) == 1
    assert posts(mi) == []


# --- the profile in the admin --------------------------------------------------------------------


def _user_form(user: Any, slack_id: str) -> dict[str, str]:
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": "2025-03-03",
        "date_joined_1": "09:00:00",
        "initial-date_joined_0": "2025-03-03",
        "initial-date_joined_1": "09:00:00",
        "mim_profile-TOTAL_FORMS": "1",
        "mim_profile-INITIAL_FORMS": "1" if UserProfile.objects.filter(user=user).exists() else "0",
        "mim_profile-MIN_NUM_FORMS": "0",
        "mim_profile-MAX_NUM_FORMS": "1",
        "mim_profile-0-slack_user_id": slack_id,
        "mim_profile-0-user": str(user.pk),
        "mim_profile-0-id": str(
            UserProfile.objects.filter(user=user).values_list("pk", flat=True).first() or ""
        ),
    }


def test_the_admin_saves_the_slack_id_on_the_profile(
    sam: Any, tina: Any, web: Callable[[Any], Client]
) -> None:
    client = web(sam)
    url = f"/admin/auth/user/{tina.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"Slack member id" in page.content

    response = client.post(url, _user_form(tina, " u0tina42 "))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert UserProfile.objects.get(user=tina).slack_user_id == "U0TINA42"

    # and /mim now knows her
    data = reply(slash("help", "U0TINA42"))
    assert data["text"].startswith("Commands:")

    # cleared: not linked any more, NULL (which many users may share)
    response = client.post(url, _user_form(tina, ""))
    assert response.status_code == 302
    assert UserProfile.objects.get(user=tina).slack_user_id is None


def test_the_admin_refuses_a_slack_id_already_taken_or_malformed(
    sam: Any, tina: Any, alice: Any, web: Callable[[Any], Client]
) -> None:
    UserProfile.objects.create(user=alice, slack_user_id=ALICE_SLACK)
    UserProfile.objects.create(user=sam)  # unlinked: a second NULL is fine
    client = web(sam)
    url = f"/admin/auth/user/{tina.pk}/change/"

    taken = client.post(url, _user_form(tina, ALICE_SLACK.lower()))
    malformed = client.post(url, _user_form(tina, "<script>"))

    assert taken.status_code == malformed.status_code == 200
    assert b"already exists" in taken.content
    assert b"A Slack member id looks like U0123ABCD." in malformed.content
    assert b"<script>" not in malformed.content
    assert not UserProfile.objects.filter(user=tina).exists()


def test_the_admin_says_slack_commands_are_off(
    sam: Any, tina: Any, web: Callable[[Any], Client], settings: Any
) -> None:
    settings.SLACK_SIGNING_SECRET = ""
    page = web(sam).get(f"/admin/auth/user/{tina.pk}/change/")
    assert b"Slack commands are off here: SLACK_SIGNING_SECRET is unset." in page.content
