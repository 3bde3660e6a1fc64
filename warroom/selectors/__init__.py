"""The war room's reads that repeat. Re-exported here by name."""

from . import markdown
from .action_items import ActionItemFilter, action_items, is_overdue, overdue_q
from .assessment import (
    assessment_due_at,
    assessment_overdue,
    assessment_revisions,
    current_assessment,
)
from .bridge import bridge_attendances, on_bridge_now, open_stay
from .checkpoints import (
    MOBILISED_ROLES,
    fulfilment_met,
    mi_checkpoints,
    pending_fulfilments,
)
from .common import READ_ONLY_STATUSES, read_only
from .scratchpad import scratchpad_of, scratchpad_version, scratchpad_versions
from .timeline import (
    ThreadView,
    may_post_command_updates,
    threads,
)

__all__ = [
    "MOBILISED_ROLES",
    "READ_ONLY_STATUSES",
    "ActionItemFilter",
    "ThreadView",
    "action_items",
    "assessment_due_at",
    "assessment_overdue",
    "assessment_revisions",
    "bridge_attendances",
    "current_assessment",
    "fulfilment_met",
    "is_overdue",
    "markdown",
    "may_post_command_updates",
    "mi_checkpoints",
    "on_bridge_now",
    "open_stay",
    "overdue_q",
    "pending_fulfilments",
    "read_only",
    "scratchpad_of",
    "scratchpad_version",
    "scratchpad_versions",
    "threads",
]
