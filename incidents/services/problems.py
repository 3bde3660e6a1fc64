"""Problems, their tasks and changes: one save service each, used by the API and the admin alike."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..errors import DomainError
from ..models import (
    Change,
    Problem,
    ProblemState,
    ProblemTask,
    ProblemTaskState,
)
from ..selectors.actors import Actor, user_of


@transaction.atomic
def save_problem(*, problem: Problem, actor: Actor | None) -> Problem:
    """Save a problem; ``resolved_at`` is stamped on resolved/closed and cleared on reopening."""
    if not (problem.short_description or "").strip():
        raise DomainError("a short description is required", field="short_description")
    done = problem.state in (ProblemState.RESOLVED, ProblemState.CLOSED)
    if done and problem.resolved_at is None:
        problem.resolved_at = timezone.now()
    elif not done:
        problem.resolved_at = None
    if problem.pk is None and problem.created_by_id is None:
        problem.created_by = user_of(actor)
    problem.save()
    return problem


@transaction.atomic
def save_change(*, change: Change, actor: Actor | None) -> Change:
    """Save a change: its planned and actual windows must not end before they start."""
    if not (change.short_description or "").strip():
        raise DomainError("a short description is required", field="short_description")
    try:
        change.clean()
    except ValidationError as exc:
        field, problems = sorted(exc.message_dict.items())[0]
        raise DomainError(problems[0], field=field) from None
    if change.pk is None and change.created_by_id is None:
        change.created_by = user_of(actor)
    change.save()
    return change


CLOSED_TASK_STATES = (ProblemTaskState.CLOSED_COMPLETE, ProblemTaskState.CLOSED_SKIPPED)


@transaction.atomic
def save_problem_task(*, task: ProblemTask, actor: Actor | None) -> ProblemTask:
    """Save a problem task; ``closed_at`` is stamped when it closes and cleared on reopening."""
    if not (task.short_description or "").strip():
        raise DomainError("a short description is required", field="short_description")
    if task.problem_id is None:
        raise DomainError("a problem task belongs to a problem", field="problem")
    closed = task.state in CLOSED_TASK_STATES
    if closed and task.closed_at is None:
        task.closed_at = timezone.now()
    elif not closed:
        task.closed_at = None
    if task.pk is None and task.created_by_id is None:
        task.created_by = user_of(actor)
    task.save()
    return task
