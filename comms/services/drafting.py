"""Drafts of stakeholder updates: a proposal a person reviews, edits and sends.

Two drafters:

- the default one, offline and deterministic: the update type's template (the security-safe one
  for a security MI whose investigation is not complete) rendered with the MI's state, plus the
  war room's latest decisions and findings and who holds the roles;
- the drafting model (``comms.channels.copilot``), when ``COPILOT_API_URL`` is set: it is given
  the default draft and the facts, and asked for the four parts in JSON. Its answer is checked;
  an error, a timeout or an answer that fails the check gives the default draft, saying why.

Nothing leaves here: a draft is a proposal, never saved and never sent (a person posts it as an
update, ``create_update``). The model never picks the next update time: that promise is the
cadence's, computed the same way for both drafters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from django.utils import timezone

from incidents import selectors as incident_selectors
from incidents.errors import Conflict, DomainError
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors import ensure, get_property
from incidents.selectors.actors import Actor

from ..channels import TransportError, copilot
from ..models import UpdateType
from ..models.plan import DRAFT_TYPES
from ..selectors import messages, plan
from ..selectors import upstream as upstream_selectors
from .updates import MAX_PART, is_final

logger = logging.getLogger(__name__)

TEMPLATE = "template"
COPILOT = "copilot"
DRAFTERS = ("auto", TEMPLATE, COPILOT)
# What the war room has decided and found lately, as the default draft's body says it.
_FACT_KINDS = {TimelineKind.DECISION: "Decision", TimelineKind.FINDING: "Finding"}
_FACTS = 3
_FACT_CHARS = 400
MAX_SUBJECT = 300

# Said to the model. It writes for stakeholders, not engineers; it may not invent facts.
SYSTEM_PROMPT = (
    "You draft stakeholder updates for a major IT incident. Write for business readers: "
    "plain words, no jargon, no blame, no speculation. Use only the facts given; never invent "
    "times, numbers, causes or names. Answer with one JSON object with exactly these string "
    'keys: "subject" (at most 120 characters), "current_impact" (who is affected and how), '
    '"current_action" (what the team is doing now), "user_action" (what readers should do '
    "now). Each value is one to three sentences."
)


@dataclass
class Draft:
    update_type: str
    subject: str
    current_impact: str
    current_action: str
    user_action: str
    body: str
    next_update_at: datetime | None
    drafted_by: str
    # Why the model's draft was not used ("" when it was, or when it was not asked).
    note: str = ""
    security_templates: bool = False
    is_public: bool = False
    # What the war room said lately, for the writer to draw on (never for a security MI under
    # investigation); in the text only where the update is neither public nor a security MI's.
    sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def next_update_time(mi: MajorIncident, update_type: str, now: datetime) -> datetime | None:
    """The next update an update of this type promises: a cadence from now, to the minute; none
    after a final one (resolution, all-clear, PIR summary)."""
    if is_final(update_type):
        return None
    cadence = timedelta(minutes=get_property("major_incident_update_cadence_minutes"))
    moment = now + cadence
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment


def _facts(mi: MajorIncident) -> list[str]:
    """The latest decisions and findings, oldest of them first."""
    rows = (
        incident_selectors.mi_timeline(mi, newest_first=True)
        .filter(kind__in=list(_FACT_KINDS), major_incident=mi)
        .select_related(None)
        .only("kind", "message", "created_at")[:_FACTS]
    )
    return [
        f"{_FACT_KINDS[TimelineKind(row.kind)]}: {_shorten(row.message)}" for row in reversed(rows)
    ]


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _FACT_CHARS else text[: _FACT_CHARS - 1] + "…"


def _roles(mi: MajorIncident) -> list[str]:
    return [
        f"{row.get_role_display()}: {row.user.get_full_name() or row.user.get_username()}"
        for row in incident_selectors.active_roles(mi)
    ]


# What customer-facing text calls a provider without a role: never its name (a stakeholder
# update is no place to blame a named supplier, and the contract may forbid it).
UNNAMED_PROVIDER = "a third-party provider we rely on"


def upstream_issue(mi: MajorIncident) -> str:
    """ "our payment processing partner is experiencing issues" when a provider the MI depends on
    reports an issue on its own status page (indicator not ``none``); "" otherwise."""
    roles: list[str] = []
    for provider in upstream_selectors.providers_of(mi):
        if provider.reports_issue:
            role = provider.ci.provider_role.strip()
            said = f"our {role}" if role else UNNAMED_PROVIDER
            if said not in roles:
                roles.append(said)
    return "; ".join(f"{said} is experiencing issues" for said in roles)


# A security MI's PIR summary has no security-safe template (the seeds have none): words that
# carry no detail, for any type left without one.
_SECURITY_FALLBACK = messages.Parts(
    subject="[{number}] Security incident: {label}",
    current_impact="A security incident affected {service}.",
    current_action="The incident has been reviewed.",
    user_action="Do not discuss the incident outside the response team.",
)


def default_draft(mi: MajorIncident, update_type: str, *, now: datetime | None = None) -> Draft:
    """The template's words with the MI's state; offline, the same input the same text."""
    now = now or timezone.now()
    secure = messages.security_templates(mi)
    next_at = next_update_time(mi, update_type, now)
    context = messages.mi_context(mi, now=now)
    if next_at is not None:
        context["next_update_at"] = messages.clock(next_at)
        context["user_action_default"] = (
            f"No action needed; the next update follows by {messages.clock(next_at)}."
        )
    # Not for a security MI under investigation: its drafts say nothing about the cause.
    issue = "" if secure else upstream_issue(mi)
    context["upstream_issue"] = issue
    if not context["resolved_at"]:
        # A resolution drafted before the MI is marked resolved: it is resolved as it is sent.
        context["resolved_at"] = messages.clock(now)
    template = messages.template_for(update_type, security=secure)
    if template is not None:
        parts = messages.render(template, context)
    else:
        values = {
            "number": mi.number,
            "label": UpdateType(update_type).label,
            "service": context["service"],
        }
        parts = messages.Parts(
            **{
                name: getattr(_SECURITY_FALLBACK, name).format(**values)
                for name in ("subject", "current_impact", "current_action", "user_action")
            }
        )
    if issue and issue not in parts.current_impact:
        # The seeded templates do not say it (a template may, with {upstream_issue}).
        parts = messages.Parts(
            subject=parts.subject,
            current_impact=f"{parts.current_impact} The cause is outside our systems: {issue}.",
            current_action=parts.current_action,
            user_action=parts.user_action,
            body=parts.body,
        )
    body: list[str] = []
    sources: list[str] = []
    public = plan.is_public(mi, update_type)
    if not secure:
        command = messages.latest_command_update(mi)
        facts = ([f"Command update: {_shorten(command)}"] if command else []) + _facts(mi)
        roles = _roles(mi)
        sources = facts + roles
        # The war room's words stay inside: in the text of an internal update only.
        if not public:
            if facts:
                body += ["Latest from the war room:", *(f"- {fact}" for fact in facts)]
            if roles:
                body += ["", "Response team:", *(f"- {role}" for role in roles)]
    return Draft(
        update_type=update_type,
        subject=parts.subject[:MAX_SUBJECT],
        current_impact=parts.current_impact,
        current_action=parts.current_action,
        user_action=parts.user_action,
        body="\n".join(body).strip(),
        next_update_at=next_at,
        drafted_by=TEMPLATE,
        security_templates=secure,
        is_public=public,
        sources=sources,
    )


def _prompt(mi: MajorIncident, base: Draft) -> str:
    """What the model is told. A security MI before its investigation is complete: only the
    safe default draft and its status, never the timeline, the impact statement or names."""
    facts: dict[str, Any] = {
        "update_type": UpdateType(base.update_type).label,
        "incident": mi.number,
        "status": messages.STATUS_LABELS.get(mi.status, mi.status),
        "next_update_at": messages.clock(base.next_update_at) or None,
        "default_draft": {
            "subject": base.subject,
            "current_impact": base.current_impact,
            "current_action": base.current_action,
            "user_action": base.user_action,
        },
    }
    if base.security_templates:
        facts["rules"] = (
            "This is a security incident under investigation: say nothing technical, nothing "
            "about the cause, attackers, data or systems beyond the default draft."
        )
    else:
        incident = mi.incident
        facts.update(
            summary=mi.summary or incident.short_description,
            impact=mi.impact_statement,
            affected_users=incident.affected_users or 0,
            war_room=base.sources,
        )
        issue = upstream_issue(mi)
        if issue:
            facts["upstream_provider"] = (
                f"The provider's own status page says so: {issue}. Say it in these words; "
                "never name the provider."
            )
        if base.is_public:
            facts["rules"] = (
                "This update is public (the status page): no names, hostnames, systems or "
                "internal detail."
            )
    return (
        "Improve the default draft using these facts (JSON). Keep every promise it makes "
        "(the next update time) unchanged.\n" + json.dumps(facts, ensure_ascii=False)
    )


def _checked(answer: dict[str, Any], base: Draft) -> Draft:
    """The model's four parts, or ``ValueError`` saying what is wrong with them."""
    values: dict[str, str] = {}
    for name in ("current_impact", "current_action", "user_action"):
        value = answer.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"no {name}")
        if len(value) > MAX_PART:
            raise ValueError(f"{name} is longer than {MAX_PART} characters")
        values[name] = value.strip()
    subject = answer.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise ValueError("subject is not text")
    return Draft(
        update_type=base.update_type,
        subject=(subject or "").strip()[:MAX_SUBJECT] or base.subject,
        body=base.body,
        next_update_at=base.next_update_at,
        drafted_by=COPILOT,
        security_templates=base.security_templates,
        is_public=base.is_public,
        sources=base.sources,
        **values,
    )


def copilot_draft(mi: MajorIncident, base: Draft) -> Draft:
    """The model's draft, or ``base`` with a note saying why not. Called outside any
    transaction: it waits on the network for up to ``COPILOT_TIMEOUT`` seconds."""
    try:
        answer = copilot.complete_json(SYSTEM_PROMPT, _prompt(mi, base))
        return _checked(answer, base)
    except TransportError as exc:
        reason = exc.message
    except ValueError as exc:
        reason = f"drafting model: unusable answer ({exc})"
    logger.warning("draft for %s from the template: %s", mi.number, reason)
    base.note = f"The drafting model could not help ({reason}); this is the template's draft."
    return base


class HasNote(Protocol):
    note: str


D = TypeVar("D", bound=HasNote)


def pick_drafter(drafter: str, base: D, model_draft: Callable[[D], D]) -> D:
    """The draft ``drafter`` asks for: the template's ``base``, or the model's from it (with
    "auto", when the model is configured). Asked for the model while it is off, the template's
    draft says why. The PIR's drafter chooses the same way."""
    if drafter == TEMPLATE:
        return base
    if not copilot.is_enabled():
        if drafter == COPILOT:
            base.note = (
                f"The drafting model is off ({copilot.off_reason()}); this is the template's draft."
            )
        return base
    return model_draft(base)


def draft_update(
    *, mi: MajorIncident, actor: Actor, update_type: Any, drafter: str = "auto"
) -> Draft:
    """A proposal for an update of ``update_type`` (one of ``DRAFT_TYPES``) from the MI's state.

    ``drafter``: "template" (the default drafter only), "copilot" or "auto" (the model when it
    is configured). Whoever may send the MI's updates may ask.
    """
    ensure(actor, "send_updates", mi)
    if update_type not in DRAFT_TYPES:
        raise DomainError(f"type must be one of {', '.join(DRAFT_TYPES)}", field="type")
    if drafter not in DRAFTERS:
        raise DomainError(f"drafter must be one of {', '.join(DRAFTERS)}", field="drafter")
    if not mi.is_open and not is_final(update_type):
        raise Conflict(f"{mi.number} is {mi.status}: only a final update may follow")
    return pick_drafter(
        drafter, default_draft(mi, update_type), lambda base: copilot_draft(mi, base)
    )
