"""A first draft of the review's summary, detection and resolution sections.

Two drafters, as comms' update drafter (``comms.services.drafting``), whose pieces this reuses:

- the offline default: deterministic text from the MI's facts (``selectors.document.facts``)
  and its timeline's milestones — the same facts give the same words;
- the drafting model (``comms.channels.copilot``, on when ``COPILOT_API_URL`` is set): given the
  default draft and the facts, asked for the three sections in JSON. An error, a timeout or an
  answer that fails the check gives the default draft, with a note saying why.

A draft is a proposal: nothing here saves it (``POST …/pir/draft/`` returns it; ``create_review``
stores the offline one in blank fields, and ``drafted_by`` says which drafter wrote it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from comms.channels import TransportError, copilot
from comms.services.drafting import COPILOT, DRAFTERS, pick_drafter
from incidents.errors import DomainError
from incidents.models import MajorIncident, TimelineKind
from incidents.selectors.actors import Actor

from ..models import PostIncidentReview
from ..selectors import access
from ..selectors.document import Facts, clock, facts, in_words, repeat_sentence

logger = logging.getLogger(__name__)

DRAFTED_SECTIONS = ("summary", "detection", "resolution")
MAX_DRAFT_SECTION = 5_000
OFFLINE = "template"

SYSTEM_PROMPT = (
    "You draft sections of a blameless post-incident review of a major IT incident. Write for "
    "engineers and managers: plain, factual, no blame, no names of who made a mistake, no "
    "speculation. Use only the facts given; never invent times, numbers or causes. Answer with "
    'one JSON object with exactly these string keys: "summary" (what happened and its impact), '
    '"detection" (how and when the incident was detected and declared), "resolution" (how '
    "service was restored). Each value is two to six sentences."
)


@dataclass
class ReviewDraft:
    sections: dict[str, str]
    drafted_by: str
    note: str = ""


def _milestones(mi: MajorIncident) -> list[tuple[str, str]]:
    kinds = (TimelineKind.MILESTONE, TimelineKind.MI_STATUS_CHANGED, TimelineKind.RESOLVED)
    rows = mi.timeline.filter(kind__in=kinds).order_by("created_at", "id")
    return [(clock(at), message) for at, message in rows.values_list("created_at", "message")[:20]]


def _offline(f: Facts, milestones: list[tuple[str, str]]) -> dict[str, str]:
    duration = in_words(f.duration)
    summary = [f"{f.number}: {f.summary}"]
    if f.impact_statement and f.impact_statement != f.summary:
        summary.append(f"Impact: {f.impact_statement}")
    reach = f"{f.affected_users:,} users were affected according to the CMDB"
    if f.child_incidents:
        reach += f", and {f.child_incidents} related incident(s) were raised"
    summary.append(reach + ".")
    if duration:
        summary.append(f"The impact lasted {duration} (from {f.started_from} to resolution).")
    if repeat := repeat_sentence(f):
        summary.append(repeat)

    detection = []
    if f.detected_at:
        detection.append(f"The incident was detected at {clock(f.detected_at)}.")
    if f.started_from == "impact start":
        detection.append(f"Impact started at {clock(f.started_at)}.")
    detection.append(f"It was declared a major incident at {clock(f.declared_at)}.")
    if f.detected_at and f.started_from == "impact start" and f.detected_at > f.started_at:
        detection.append(f"Time to detect: {in_words(f.detected_at - f.started_at)}.")

    # Markdown, as the page renders it: paragraphs apart, the milestones as a list.
    resolution = []
    if f.assessment is not None and f.assessment.root_cause_hypothesis:
        resolution.append(f"Root cause as assessed: {f.assessment.root_cause_hypothesis}")
    if milestones:
        resolution.append("\n".join(f"- {at}: {text}" for at, text in milestones))
    if f.resolved_at:
        resolution.append(f"Service was restored and the MI resolved at {clock(f.resolved_at)}.")
    return {
        "summary": " ".join(summary),
        "detection": " ".join(detection),
        "resolution": "\n\n".join(resolution),
    }


def offline_draft(mi: MajorIncident) -> ReviewDraft:
    """The deterministic draft from the MI's records."""
    return ReviewDraft(sections=_offline(facts(mi), _milestones(mi)), drafted_by=OFFLINE)


def _prompt(mi: MajorIncident, base: ReviewDraft) -> str:
    f = facts(mi)
    data: dict[str, Any] = {
        "incident": mi.number,
        "service": f.service,
        "summary": f.summary,
        "impact": f.impact_statement,
        "affected_users": f.affected_users,
        "child_incidents": f.child_incidents,
        "duration": in_words(f.duration),
        "milestones": _milestones(mi),
        "default_draft": base.sections,
    }
    if mi.is_security:
        data = {"incident": mi.number, "default_draft": base.sections}
    return "Improve the default draft using these facts (JSON).\n" + json.dumps(
        data, ensure_ascii=False
    )


def _checked(answer: dict[str, Any]) -> dict[str, str]:
    sections: dict[str, str] = {}
    for name in DRAFTED_SECTIONS:
        value = answer.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"no {name}")
        if len(value) > MAX_DRAFT_SECTION:
            raise ValueError(f"{name} is longer than {MAX_DRAFT_SECTION} characters")
        sections[name] = value.strip()
    return sections


def copilot_draft(mi: MajorIncident, base: ReviewDraft) -> ReviewDraft:
    """The model's draft, or ``base`` with a note. Called outside any transaction."""
    try:
        answer = copilot.complete_json(SYSTEM_PROMPT, _prompt(mi, base))
        return ReviewDraft(sections=_checked(answer), drafted_by=COPILOT)
    except TransportError as exc:
        reason = exc.message
    except ValueError as exc:
        reason = f"drafting model: unusable answer ({exc})"
    logger.warning("review draft for %s from the template: %s", mi.number, reason)
    base.note = f"The drafting model could not help ({reason}); this is the template's draft."
    return base


def draft_review(*, review: PostIncidentReview, actor: Actor, drafter: Any = "auto") -> ReviewDraft:
    """A proposal for the summary, detection and resolution sections; not saved.

    ``drafter``: "template", "copilot" or "auto" (the model when configured). Whoever may write
    the review may ask.
    """
    access.ensure_write(actor, review)
    if not isinstance(drafter, str) or drafter not in DRAFTERS:
        raise DomainError(f"drafter must be one of {', '.join(DRAFTERS)}", field="drafter")
    mi = review.major_incident
    return pick_drafter(drafter, offline_draft(mi), lambda base: copilot_draft(mi, base))
