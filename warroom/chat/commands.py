"""The verbs of ``/mim``: parse the text, call the one service the page and the API call, say what
happened.

Transport-free apart from Slack's text format (``mrkdwn``): ``run`` takes who sent it and what
they typed and returns a ``Reply``. Rules stay in the services; a refusal of theirs
(``DomainError``, ``Conflict``, ``NotAllowed``) becomes a reply in words, as a 400/409/403 does
in the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from incidents import selectors, services
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import (
    Incident,
    MajorIncident,
    MIStatus,
    RaciRole,
    TimelineKind,
    UserProfile,
)

from ..models import COMMAND_THREAD
from ..services import post_to_timeline
from . import mrkdwn
from .mrkdwn import clip, escape, link


@dataclass(frozen=True)
class Reply:
    """What Slack shows: ``public`` replies go to the channel, the others to the sender only."""

    text: str
    public: bool = False


@dataclass(frozen=True)
class Invocation:
    user: User
    text: str  # as Slack sent it: mentions as <@U…|name>, & < > as entities
    # The absolute URL of an MI's war room, by number (the request knows the host).
    war_room_url: Callable[[str], str]


class Unusable(Exception):
    """The command cannot be read as typed (a surface matter, before any service is asked)."""


# verb: (arguments, what it does); the order is the help's.
USAGE: dict[str, tuple[str, str]] = {
    "post": (
        "MI0000042 [--decision|--finding|--note] <text>",
        "post to the MI's timeline (a note unless said otherwise)",
    ),
    "update": ("MI0000042 <text>", "post a command update (the IC and the scribe)"),
    "status": ("MI0000042", "the MI's status, IC, affected users, next update and bridge"),
    "role": (
        "MI0000042 <role> <@person|username>",
        "assign a role (the IC and ITSM managers); roles: ic, "
        + ", ".join(r for r in RaciRole.values if r != RaciRole.MAJOR_INCIDENT_MANAGER),
    ),
    "declare": (
        "INC0001234 <initial impact statement>",
        "declare the incident a major incident, you its IC (ITSM managers)",
    ),
    "help": ("", "this list"),
}

_FLAGS = {
    "--note": TimelineKind.NOTE,
    "--decision": TimelineKind.DECISION,
    "--finding": TimelineKind.FINDING,
    "--update": TimelineKind.COMMAND_UPDATE,
}
_ROLE_ALIASES = {
    "ic": RaciRole.MAJOR_INCIDENT_MANAGER,
    "commander": RaciRole.MAJOR_INCIDENT_MANAGER,
    "incident_commander": RaciRole.MAJOR_INCIDENT_MANAGER,
}
_FIRST_WORD = re.compile(r"\s*(\S*)\s*(.*)", re.DOTALL)


def usage(verb: str | None = None) -> str:
    verbs = [verb] if verb in USAGE else list(USAGE)
    lines = [
        "`" + " ".join(filter(None, ("/mim", v, escape(USAGE[v][0])))) + f"` — {USAGE[v][1]}"
        for v in verbs
    ]
    return ("Usage: " if verb in USAGE else "Commands:\n") + "\n".join(lines)


def run(invocation: Invocation) -> Reply:
    verb, args = _first_word(mrkdwn.clean(invocation.text))
    verb = verb.lower()
    if verb in ("", "help"):
        return Reply(usage())
    handler = _HANDLERS.get(verb)
    if handler is None:
        return Reply(f"Unknown command `{escape(clip(verb, 40))}`.\n{usage()}")
    try:
        return handler(invocation, args)
    except Unusable as exc:
        return Reply(f"{escape(str(exc))}\n{usage(verb)}")
    except NotAllowed as exc:
        return Reply(f":no_entry: {escape(exc.message)}")
    except Conflict as exc:
        return Reply(f":warning: {escape(exc.message)}")
    except DomainError as exc:
        return Reply(f":warning: {escape(_sentence(exc))}\n{usage(verb)}")


# --- The verbs -----------------------------------------------------------------------------------


def _post(invocation: Invocation, args: str, kind: str = TimelineKind.NOTE) -> Reply:
    number, rest = _first_word(args)
    flag, tail = _first_word(rest)
    if flag.lower() in _FLAGS:
        kind, rest = _FLAGS[flag.lower()], tail
    mi = _major_incident(invocation.user, number)
    body = mrkdwn.decode(rest, _slack_name).strip()
    if not body:
        raise Unusable("Nothing to post: write the text after the MI's number.")
    # Command updates belong to the command thread; other posts to none in particular.
    thread = COMMAND_THREAD if kind == TimelineKind.COMMAND_UPDATE else ""
    entry = post_to_timeline(mi=mi, actor=invocation.user, body=body, kind=kind, thread=thread)
    quoted = "\n".join(f">{line}" for line in escape(clip(entry.message)).splitlines())
    return Reply(
        f"{escape(invocation.user.username)} posted a {TimelineKind(entry.kind).label.lower()} "
        f"to {link(invocation.war_room_url(mi.number), mi.number)}:\n{quoted}",
        public=True,
    )


def _update(invocation: Invocation, args: str) -> Reply:
    return _post(invocation, args, kind=TimelineKind.COMMAND_UPDATE)


def _status(invocation: Invocation, args: str) -> Reply:
    number, rest = _first_word(args)
    if rest:
        raise Unusable("`status` takes the MI's number only.")
    mi = _major_incident(invocation.user, number)
    now = timezone.now()
    commander = selectors.current_commander(mi)
    incident = mi.incident
    lines = [
        f"*{link(invocation.war_room_url(mi.number), mi.number)}* "
        f"{escape(clip(incident.short_description, 150))} — *{MIStatus(mi.status).label}*",
        f"IC: {escape(commander.username) if commander else 'none'}",
        f"Affected users: {incident.affected_users:,}",
        f"Declared {_duration(now - mi.declared_at)} ago ({_clock(mi.declared_at)})",
        f"Next update: {_due(mi.next_update_due_at, now)}",
    ]
    bridge = [escape(part) for part in (mi.bridge_link, mi.bridge_dial_in) if part]
    lines.append(f"Bridge: {' · '.join(bridge) if bridge else 'none'}")
    return Reply("\n".join(lines))


def _role(invocation: Invocation, args: str) -> Reply:
    number, rest = _first_word(args)
    role_word, rest = _first_word(rest)
    who, extra = _first_word(rest)
    if not role_word or not who or extra:
        raise Unusable("`role` takes the MI's number, a role and one person.")
    mi = _major_incident(invocation.user, number)
    role = role_word.lower().replace("-", "_")
    role = _ROLE_ALIASES.get(role, role)
    user = _person(who)
    services.assign_role(mi=mi, role=role, user=user, actor=invocation.user)
    return Reply(
        f"{escape(user.username)} is now {RaciRole(role).label} on "
        f"{link(invocation.war_room_url(mi.number), mi.number)} "
        f"(assigned by {escape(invocation.user.username)}).",
        public=True,
    )


def _declare(invocation: Invocation, args: str) -> Reply:
    user = invocation.user
    number, rest = _first_word(args)
    # As the API's permission class does before it reads the body: a refusal, not a lookup.
    if not selectors.can(user, "declare"):
        raise NotAllowed(selectors.refusal("declare"))
    pk = Incident.pk_from_number(number)
    if pk is None:
        raise Unusable(f"“{clip(number, 40)}” is not an incident number (like INC0001234).")
    incident = selectors.restrict(Incident.objects.all(), user, "view").filter(pk=pk).first()
    if incident is None:
        raise Unusable(f"There is no incident {Incident(pk=pk).number}.")
    statement = mrkdwn.decode(rest, _slack_name).strip()
    mi = services.declare_major_incident(
        incident=incident, manager=user, actor=user, initial_impact_statement=statement
    )
    return Reply(
        f"{escape(user.username)} declared {link(invocation.war_room_url(mi.number), mi.number)} "
        f"on {incident.number} ({escape(clip(incident.short_description, 150))}), "
        f"with {escape(user.username)} as incident commander:\n>{escape(clip(statement))}",
        public=True,
    )


_HANDLERS: dict[str, Callable[[Invocation, str], Reply]] = {
    "post": _post,
    "update": _update,
    "status": _status,
    "role": _role,
    "declare": _declare,
}


# --- Reading the arguments -----------------------------------------------------------------------


def _first_word(text: str) -> tuple[str, str]:
    match = _FIRST_WORD.match(text)
    assert match is not None  # the pattern matches any string
    return match.group(1), match.group(2).strip()


def _major_incident(user: User, number: str) -> MajorIncident:
    """The MI by number among those ``user`` may see, refused like the API's 403 and 404."""
    if not number:
        raise Unusable("Name the major incident by its number (like MI0000042).")
    pk = MajorIncident.pk_from_number(number)
    if pk is None:
        raise Unusable(f"“{clip(number, 40)}” is not a major incident number (like MI0000042).")
    if not selectors.can(user, "view", MajorIncident):
        raise NotAllowed(selectors.refusal("view", MajorIncident))
    queryset = selectors.restrict(MajorIncident.objects.select_related("incident"), user, "view")
    mi = queryset.filter(pk=pk).first()
    if mi is None:
        raise Unusable(f"There is no major incident {MajorIncident(pk=pk).number}.")
    return mi


def _person(argument: str) -> User:
    """A Slack mention (through the profiles' Slack ids) or a MIM Desk username."""
    slack_id = mrkdwn.mentioned(argument)
    if slack_id is not None:
        profile = UserProfile.objects.select_related("user").filter(slack_user_id=slack_id).first()
        if profile is None:
            raise Unusable(
                f"Slack user {slack_id} is not linked to a MIM Desk user "
                "(an admin sets the Slack id on their MIM Desk profile)."
            )
        return profile.user
    username = mrkdwn.clean(mrkdwn.unescape(argument)).lstrip("@")
    user = User.objects.filter(username=username).first()
    if user is None:
        raise Unusable(f"There is no MIM Desk user “{clip(username, 60)}”.")
    return user


def _slack_name(slack_id: str, shown: str) -> str:
    """A mention in a post, as the timeline shows it: the linked person's username."""
    username = (
        UserProfile.objects.filter(slack_user_id=slack_id)
        .values_list("user__username", flat=True)
        .first()
    )
    return username or shown or slack_id


def _sentence(exc: DomainError) -> str:
    field = (exc.field or "").replace("_", " ")
    return f"{field}: {exc.message}" if field and field not in exc.message else exc.message


# --- Saying when ---------------------------------------------------------------------------------


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _clock(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _due(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "none due"
    if moment < now:
        return f"*overdue* by {_duration(now - moment)} (was due {_clock(moment)})"
    return f"due in {_duration(moment - now)} ({_clock(moment)})"
