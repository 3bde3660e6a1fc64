"""An action item becomes work: a problem task or a change under the MI's problem (linked both
ways: the item points at it, it names the item as its source), or an issue in Jira through the
outbox (the link kept once the issue exists).

Lock order, as everywhere: the incident and the MI (``lock_major_incident``), then the item. The
item's row lock is what makes "converted twice" a 409 rather than two problem tasks.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from comms import channels
from comms.models import OutboxMessage, OutboxStatus
from comms.services import idempotency_key, send_operation
from incidents.errors import Conflict, DomainError
from incidents.models import (
    Change,
    ChangeType,
    MajorIncident,
    Priority,
    Problem,
    ProblemTask,
    TimelineKind,
)
from incidents.selectors import name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services import record, save_change, save_problem, save_problem_task
from incidents.services.common import lock_major_incident

from ..models import ReviewActionItem, ReviewActionStatus
from ..selectors import access
from ..selectors.actions import browse_url
from ..selectors.reviews import review_page

PROBLEM_TASK, CHANGE, JIRA = "problem_task", "change", "jira"
CONVERSIONS = (PROBLEM_TASK, CHANGE, JIRA)
JIRA_CHANNEL = "jira"
JIRA_OPERATION = "create_issue"


def review_path(mi: MajorIncident, item: ReviewActionItem) -> str:
    """The item on the review's page."""
    return review_page(mi, item.pk)


def war_room_path(mi: MajorIncident) -> str:
    return reverse("warroom:page", args=[mi.number])


def _absolute(path: str) -> str:
    return settings.MIM_BASE_URL.rstrip("/") + path


def source_label(mi: MajorIncident, item: ReviewActionItem) -> str:
    return f"{mi.number} PIR action item {item.pk}"


def convert_action_item(*, item: ReviewActionItem, actor: Actor, to: object) -> ReviewActionItem:
    """Turn ``item`` into a problem task, a change, or a Jira issue (``to``). Needs the run right
    on the MI (its commander, ITSM managers, super admins). Converting an item again into the
    same kind is a 409 naming what it already is; a cancelled item is not work."""
    if not isinstance(to, str) or to not in CONVERSIONS:
        raise DomainError(f"to is one of {', '.join(CONVERSIONS)}", field="to")
    access.ensure_run(actor, item.review.major_incident)  # a 403 before any lock
    with transaction.atomic():
        mi = lock_major_incident(item.review.major_incident)
        item = (
            ReviewActionItem.objects.select_for_update(of=("self",))
            .select_related("review", "owner", "problem_task", "change", "tracker_message")
            .get(pk=item.pk)
        )
        if item.status == ReviewActionStatus.CANCELLED:
            raise Conflict(f"action item {item.pk} is cancelled; it does not become work")
        if to == PROBLEM_TASK:
            _to_problem_task(mi, item, actor)
        elif to == CHANGE:
            _to_change(mi, item, actor)
        else:
            _to_jira(mi, item, actor)
    return item


def _problem_of(mi: MajorIncident, actor: Actor) -> Problem:
    """The MI's problem (declaration makes one); an MI without one gets one now."""
    if mi.problem_id is not None:
        problem = Problem.objects.filter(pk=mi.problem_id).first()
        if problem is not None:
            return problem
    incident = mi.incident
    problem = save_problem(
        problem=Problem(
            short_description=incident.short_description[:200],
            description=f"Opened for the post-incident review of {mi.number}.",
            affected_ci_id=incident.affected_ci_id,
        ),
        actor=actor,
    )
    mi.problem = problem
    mi.save(update_fields=["problem", "updated_at"])
    return problem


def _say(
    mi: MajorIncident, item: ReviewActionItem, actor: Actor, what: str, **data: object
) -> None:
    record(
        mi.incident,
        TimelineKind.REVIEW,
        f"PIR action item {item.pk} ({item.title[:80]}) became {what} ({name_of(actor)})",
        actor=actor,
        major_incident=mi,
        data={"review": item.review_id, "action_item": item.pk, **data},
    )


def _to_problem_task(mi: MajorIncident, item: ReviewActionItem, actor: Actor) -> None:
    if item.problem_task is not None:
        raise Conflict(
            f"action item {item.pk} is already the problem task {item.problem_task.number}",
            field="to",
        )
    task = save_problem_task(
        task=ProblemTask(
            problem=_problem_of(mi, actor),
            short_description=item.title[:200],
            description=item.description,
            assigned_to=item.owner,
            due_date=item.due_date,
            priority=item.priority or Priority.MODERATE,
            source_label=source_label(mi, item),
            source_url=review_path(mi, item),
            created_by=user_of(actor),
        ),
        actor=actor,
    )
    item.problem_task = task
    item.save(update_fields=["problem_task", "updated_at"])
    _say(mi, item, actor, f"the problem task {task.number}", problem_task=task.number)


def _to_change(mi: MajorIncident, item: ReviewActionItem, actor: Actor) -> None:
    if item.change is not None:
        raise Conflict(
            f"action item {item.pk} is already the change {item.change.number}", field="to"
        )
    description = item.description
    if item.due_date:
        description = f"{description}\n\nDue {item.due_date.isoformat()}.".strip()
    change = save_change(
        change=Change(
            short_description=item.title[:200],
            description=description,
            change_type=ChangeType.NORMAL,
            problem=_problem_of(mi, actor),
            affected_ci_id=mi.incident.affected_ci_id,
            implementer=item.owner,
            source_label=source_label(mi, item),
            source_url=review_path(mi, item),
            created_by=user_of(actor),
        ),
        actor=actor,
    )
    item.change = change
    item.save(update_fields=["change", "updated_at"])
    _say(mi, item, actor, f"the change {change.number}", change=change.number)


def jira_description(mi: MajorIncident, item: ReviewActionItem) -> str:
    """The issue's description (Jira wiki markup links back to the review and the war room)."""
    lines = [item.description.strip()] if item.description.strip() else []
    owner = item.owner.get_username() if item.owner else "nobody yet"
    priority = Priority(item.priority).label if item.priority else "not set"
    lines += [
        f"Action item {item.pk} of the post-incident review of {mi.number} "
        f"({item.get_kind_display().lower()}). Owner: {owner}. Priority: {priority}.",
        f"[The review|{_absolute(review_path(mi, item))}]",
        f"[The war room of {mi.number}|{_absolute(war_room_path(mi))}]",
    ]
    return "\n\n".join(lines)


def _to_jira(mi: MajorIncident, item: ReviewActionItem, actor: Actor) -> None:
    if not channels.enabled(JIRA_CHANNEL):
        raise Conflict("Jira is not configured", field="to")
    previous = item.tracker_message
    if item.tracker_key:
        raise Conflict(f"action item {item.pk} is already the Jira issue {item.tracker_key}")
    if previous is not None and previous.status != OutboxStatus.DEAD:
        if previous.status == OutboxStatus.SENT and previous.provider_message_id:
            raise Conflict(
                f"action item {item.pk} is already the Jira issue {previous.provider_message_id}",
                field="to",
            )
        raise Conflict(
            f"action item {item.pk} is being sent to Jira (outbox message {previous.pk})",
            field="to",
        )
    # A dead attempt (Jira refused it) may be tried again: a new row, a new key, a new label.
    key = idempotency_key("pir_action", item.pk, JIRA_CHANNEL, previous.pk if previous else 0)
    send_operation(
        mi,
        JIRA_CHANNEL,
        settings.JIRA_PROJECT_KEY,
        operation=JIRA_OPERATION,
        key=key,
        payload={
            "summary": item.title,
            "description": jira_description(mi, item),
            "due_date": item.due_date.isoformat() if item.due_date else None,
            "priority": item.priority,
            "labels": ["mimdesk", mi.number],
            "action_item": item.pk,
            "review_url": _absolute(review_path(mi, item)),
            "war_room_url": _absolute(war_room_path(mi)),
        },
    )
    message = OutboxMessage.objects.get(idempotency_key=key)
    item.tracker_message = message
    item.save(update_fields=["tracker_message", "updated_at"])
    _say(mi, item, actor, "a Jira issue (being created)", tracker_message=message.pk)


def keep_tracker_links(*, item_ids: list[int] | None = None) -> int:
    """Copy the issue key (and its browse URL) of each sent Jira row onto its item. Idempotent
    and safe to run twice at once: each item is written only while it has no key. The
    15-minute PIR task and the convert API call it; until then ``selectors.actions.tracker_of``
    reads the key from the row. Returns how many items it wrote."""
    pending = ReviewActionItem.objects.filter(
        tracker_key="",
        tracker_message__status=OutboxStatus.SENT,
        tracker_message__channel=JIRA_CHANNEL,
    ).exclude(tracker_message__provider_message_id="")
    if item_ids is not None:
        pending = pending.filter(pk__in=item_ids)
    kept = 0
    for pk, key in pending.values_list("pk", "tracker_message__provider_message_id")[:1000]:
        kept += ReviewActionItem.objects.filter(pk=pk, tracker_key="").update(
            tracker_key=key[:64], tracker_url=browse_url(key)[:500]
        )
    return kept
