"""Auto-declaration: rules, proposals and the periodic sweep."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import events
from ..errors import Conflict, DomainError, NotAllowed
from ..models import (
    OPEN_INCIDENT_STATES,
    AutoDeclarationRule,
    AutoDeclareAction,
    CandidateStatus,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    RoleRoster,
    TimelineKind,
)
from ..selectors.access import (
    DECLARE_PERM,
    can,
    can_command,
    can_declare,
)
from ..selectors.actors import Actor, name_of, user_of
from ..selectors.majors import IC, sweep_candidates
from ..selectors.properties import get_property
from .common import lock_incident, record, whole_minutes
from .majors import declare_major_incident, stakeholder_impact_statement


def _threshold(fixed: int | None, prop: str) -> int | None:
    return int(get_property(prop)) if prop else fixed


def match_rule(
    rule: AutoDeclarationRule, incident: Incident, now: datetime, *, as_history: bool = False
) -> str | None:
    """Why ``rule`` matches ``incident`` (a sentence), or None. Every set condition must hold.

    ``as_history`` asks whether it matched at any point of its life, for the admin's dry run: an
    incident counts as unacknowledged until it was acknowledged or resolved.
    """
    reasons: list[str] = []
    if incident.under_maintenance and not rule.during_maintenance:
        # Planned work on its component: an outage there is expected, not a major incident.
        return None
    if rule.max_priority is not None:
        if incident.priority > rule.max_priority:
            return None
        reasons.append(f"P{incident.priority}")
    states = rule.states or list(OPEN_INCIDENT_STATES)
    if not as_history and incident.state not in states:
        return None
    limit = _threshold(rule.unacknowledged_minutes, rule.unacknowledged_minutes_property)
    if limit is not None:
        end = incident.acknowledged_at or (incident.resolved_at if as_history else None)
        if end is not None and not as_history:
            return None
        waited = (end or now) - incident.created_at
        if waited < timedelta(minutes=limit):
            return None
        reasons.append(f"unacknowledged for {whole_minutes(waited)} min (limit {limit})")
    users = _threshold(rule.min_affected_users, rule.min_affected_users_property)
    if users is not None:
        if incident.affected_users <= users:
            return None
        reasons.append(f"{incident.affected_users} affected users (more than {users})")
    if rule.min_child_incidents is not None:
        children = incident.children.count()
        if children < rule.min_child_incidents:
            return None
        reasons.append(f"{children} linked child incidents")
    if rule.max_ci_criticality is not None:
        ci = incident.affected_ci
        if ci is None or ci.criticality > rule.max_ci_criticality:
            return None
        reasons.append(f"affected CI {ci.name} is {ci.get_criticality_display()}")
    if rule.is_security is not None:
        if incident.is_security != rule.is_security:
            return None
        reasons.append("security incident" if rule.is_security else "not a security incident")
    return ", ".join(reasons) or "matches all incidents"


def pick_commander(incident: Incident) -> User | None:
    """Who commands an MI a rule declares: the on-call IC, else the assignee if they may declare.

    An on-call IC who may not command (a roster entry left over from before a demotion) is passed
    over, as if the roster were empty.
    """
    roster = RoleRoster.objects.filter(role=IC, user__is_active=True).select_related("user").first()
    if roster is not None and can_command(roster.user):
        return roster.user
    assignee = incident.assigned_to
    if assignee is not None and assignee.is_active and assignee.has_perm(DECLARE_PERM):
        return assignee
    return None


@dataclass(frozen=True)
class Outcome:
    incident_id: int
    action: str  # "declared", "proposed" or "" (nothing to do)
    detail: str = ""


def evaluate_incident(
    incident_id: int,
    *,
    now: datetime | None = None,
    rules: Iterable[AutoDeclarationRule] | None = None,
) -> Outcome:
    """Run the rules over one incident and act on the first match. Safe to run twice at once."""
    mode = get_property("major_incident_auto_declare_mode")
    if mode == "off":
        return Outcome(incident_id, "", "auto-declaration is off")
    # Most incidents are no candidate for any rule (not a P1, or declared already): say so from
    # a read, without a transaction. On SQLite every transaction takes the database's write lock,
    # and the web server's writes would queue behind each of these.
    if not sweep_candidates(among=[incident_id]):
        return Outcome(incident_id, "", "no rule can match it (closed, declared, or its priority)")
    now = now or timezone.now()
    rules = (
        list(rules) if rules is not None else list(AutoDeclarationRule.objects.filter(enabled=True))
    )
    with transaction.atomic():
        # skip_locked: another sweep holds this incident and will decide it; move on.
        incident = (
            Incident.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .select_related("affected_ci", "assigned_to")
            .filter(pk=incident_id, state__in=OPEN_INCIDENT_STATES)
            .first()
        )
        if incident is None:
            return Outcome(incident_id, "", "closed, missing or being decided elsewhere")
        if (
            MajorIncident.objects.filter(incident_id=incident_id).exists()
            or MajorIncidentCandidate.objects.filter(incident_id=incident_id).exists()
        ):
            return Outcome(incident_id, "", "already declared or proposed")
        for rule in rules:
            reason = match_rule(rule, incident, now)
            if reason is None:
                continue
            propose = mode == "propose" or rule.action == AutoDeclareAction.PROPOSE
            commander = None if propose else pick_commander(incident)
            if not propose and commander is None:
                propose = True
                reason += "; proposed instead of declared: no incident commander on the roster"
            if propose:
                _propose(incident, rule, reason)
                return Outcome(incident_id, "proposed", reason)
            assert commander is not None
            mi = declare_major_incident(
                incident=incident,
                manager=commander,
                actor=None,
                initial_impact_statement=stakeholder_impact_statement(incident),
                trigger_rule=rule,
                trigger_reason=reason,
            )
            return Outcome(incident_id, "declared", mi.number)
    return Outcome(incident_id, "", "no rule matches")


def _propose(incident: Incident, rule: AutoDeclarationRule, reason: str) -> MajorIncidentCandidate:
    candidate = MajorIncidentCandidate.objects.create(incident=incident, rule=rule, reason=reason)
    record(
        incident,
        TimelineKind.PROPOSED,
        f"Proposed as a major incident by rule “{rule.name}”: {reason}",
        data={"rule": rule.name, "reason": reason},
    )
    events.send_after_commit(
        events.major_incident_proposed, candidate_id=candidate.pk, incident_id=incident.pk
    )
    return candidate


def auto_declare_sweep(*, now: datetime | None = None) -> list[Outcome]:
    """The periodic backstop: evaluate every open candidate incident once."""
    if get_property("major_incident_auto_declare_mode") == "off":
        return []
    return evaluate_incidents(sweep_candidates(), now=now)


def evaluate_incidents(
    incident_ids: Iterable[int], *, now: datetime | None = None
) -> list[Outcome]:
    """Run the rules over each of ``incident_ids`` (a CMDB change, the sweep); the outcomes that
    did something."""
    if get_property("major_incident_auto_declare_mode") == "off":
        return []
    rules = list(AutoDeclarationRule.objects.filter(enabled=True))
    outcomes = []
    for incident_id in incident_ids:
        try:
            outcome = evaluate_incident(incident_id, now=now, rules=rules)
        except Conflict:
            # Another process declared it between our read and our lock: that is success.
            continue
        if outcome.action:
            outcomes.append(outcome)
    return outcomes


def dry_run(
    rule: AutoDeclarationRule, *, days: int, now: datetime | None = None
) -> list[tuple[Incident, str]]:
    """Incidents of the last ``days`` days that ``rule`` would have declared (writes nothing)."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    hits = []
    recent = Incident.objects.filter(created_at__gte=since).select_related("affected_ci")
    for incident in recent.order_by("-id")[:2000]:
        reason = match_rule(rule, incident, now, as_history=True)
        if reason is not None:
            hits.append((incident, reason))
    return hits


def _lock_candidate(candidate: MajorIncidentCandidate) -> MajorIncidentCandidate:
    """Lock a proposal after its incident, as declaring does (services/common.py, lock order).

    Locking the proposal first deadlocked against a manager declaring the same incident: each
    held the row the other needed next.
    """
    incident_id = MajorIncidentCandidate.objects.values_list("incident_id", flat=True).get(
        pk=candidate.pk
    )
    incident = lock_incident(incident_id)
    locked = MajorIncidentCandidate.objects.select_for_update(no_key=True).get(pk=candidate.pk)
    locked.incident = incident
    return locked


@transaction.atomic
def accept_candidate(
    *,
    candidate: MajorIncidentCandidate,
    actor: Actor | None,
    manager: User | None = None,
    bridge_link: str = "",
    initial_impact_statement: str = "",
) -> MajorIncident:
    if not can_declare(actor):
        raise NotAllowed("accepting a proposal needs the itsm_manager or super_admin role")
    candidate = _lock_candidate(candidate)
    if candidate.status != CandidateStatus.PENDING:
        raise Conflict(f"this proposal was already {candidate.status}")
    commander = manager or user_of(actor)
    assert commander is not None
    mi = declare_major_incident(
        incident=candidate.incident,
        manager=commander,
        actor=actor,
        initial_impact_statement=initial_impact_statement
        or stakeholder_impact_statement(candidate.incident),
        bridge_link=bridge_link,
        trigger_rule=candidate.rule,
        trigger_reason=f"{candidate.reason}; accepted by {name_of(actor)}",
    )
    candidate.status = CandidateStatus.ACCEPTED
    candidate.decided_by = user_of(actor)
    candidate.decided_at = timezone.now()
    candidate.major_incident = mi
    candidate.save(update_fields=["status", "decided_by", "decided_at", "major_incident"])
    return mi


@transaction.atomic
def reject_candidate(
    *, candidate: MajorIncidentCandidate, actor: Actor | None, reason: str
) -> MajorIncidentCandidate:
    if not can_declare(actor):
        raise NotAllowed("rejecting a proposal needs the itsm_manager or super_admin role")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("rejecting a proposal needs a reason", field="reason")
    candidate = _lock_candidate(candidate)
    if candidate.status != CandidateStatus.PENDING:
        raise Conflict(f"this proposal was already {candidate.status}")
    candidate.status = CandidateStatus.REJECTED
    candidate.decided_by = user_of(actor)
    candidate.decided_at = timezone.now()
    candidate.decision_reason = reason
    candidate.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    record(
        candidate.incident,
        TimelineKind.PROPOSAL_REJECTED,
        f"Not a major incident, says {name_of(actor)}: {reason}",
        actor=actor,
        data={"reason": reason},
    )
    return candidate


FLAG_REASON_MAX_LENGTH = 2000


def flag_major_incident(
    *, incident: Incident, actor: Actor | None, reason: str
) -> MajorIncidentCandidate:
    """A technician puts ``incident`` forward as a potential major incident: a candidate in the
    manager's queue (the same accept/reject as the rules' proposals), a ``flagged`` timeline row,
    and ``major_incident_proposed`` so that managers are told as they are of a rule's proposal.

    Refused with 409 when the incident is no longer open, is an MI already, or was proposed
    before (pending, accepted, or rejected: a rejected incident is not proposed again)."""
    if not can(actor, "change", incident):
        raise NotAllowed("flagging a potential major incident needs the technician role or higher")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("say why this may be a major incident", field="reason")
    if len(reason) > FLAG_REASON_MAX_LENGTH:
        raise DomainError(
            f"at most {FLAG_REASON_MAX_LENGTH} characters (this one has {len(reason)})",
            field="reason",
        )
    try:
        # The savepoint keeps a caller's transaction usable after the IntegrityError below.
        with transaction.atomic():
            # Incident row first, as declaring and accepting do (the lock order).
            locked = lock_incident(incident.pk)
            _refuse_flag(locked)
            # The one-to-one is the claim: two flags at once both pass the checks above only if
            # the locks were skipped; the second insert then fails on the unique incident_id.
            candidate = MajorIncidentCandidate.objects.create(
                incident=locked, rule=None, flagged_by=user_of(actor), reason=reason
            )
            record(
                locked,
                TimelineKind.FLAGGED,
                f"Flagged as a potential major incident by {name_of(actor)}: {reason}",
                actor=actor,
                data={"reason": reason, "candidate": candidate.pk},
            )
            events.send_after_commit(
                events.major_incident_proposed, candidate_id=candidate.pk, incident_id=locked.pk
            )
    except IntegrityError as exc:
        raise Conflict(
            f"{incident.number} was flagged or proposed at the same moment", field="incident"
        ) from exc
    return candidate


def _refuse_flag(incident: Incident) -> None:
    mi = MajorIncident.objects.filter(incident_id=incident.pk).first()
    if mi is not None:
        raise Conflict(f"{incident.number} is already major incident {mi.number}", field="incident")
    if not incident.is_open:
        raise Conflict(
            f"{incident.number} is {incident.state}: only an open incident can be flagged",
            field="incident",
        )
    candidate = (
        MajorIncidentCandidate.objects.select_related("decided_by", "flagged_by", "rule")
        .filter(incident_id=incident.pk)
        .first()
    )
    if candidate is None:
        return
    if candidate.status == CandidateStatus.PENDING:
        by = (
            f"flagged by {candidate.flagged_by.username}"
            if candidate.flagged_by
            else f"proposed by rule “{candidate.rule.name}”"
            if candidate.rule
            else "proposed"
        )
        raise Conflict(
            f"{incident.number} is already waiting in the major-incident queue ({by})",
            field="incident",
        )
    if candidate.status == CandidateStatus.REJECTED:
        who = candidate.decided_by.username if candidate.decided_by else "a manager"
        raise Conflict(
            f"{incident.number} was rejected as a major incident by {who}: "
            f"{candidate.decision_reason}; it is not proposed again",
            field="incident",
        )
    raise Conflict(f"{incident.number} was already {candidate.status}", field="incident")
