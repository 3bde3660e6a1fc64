"""Problems and changes."""

from __future__ import annotations

from django.utils import timezone

from ..models import (
    Problem,
    ProblemState,
)
from ..selectors.actors import Actor, user_of


def save_problem(*, problem: Problem, actor: Actor | None) -> Problem:
    """Save a problem; ``resolved_at`` is stamped on resolved/closed and cleared on reopening."""
    done = problem.state in (ProblemState.RESOLVED, ProblemState.CLOSED)
    if done and problem.resolved_at is None:
        problem.resolved_at = timezone.now()
    elif not done:
        problem.resolved_at = None
    if problem.pk is None and problem.created_by_id is None:
        problem.created_by = user_of(actor)
    problem.save()
    return problem
