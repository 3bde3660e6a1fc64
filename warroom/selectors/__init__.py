"""The war room's reads that repeat. Re-exported here by name."""

# --- Assessment and checkpoints (issue 7, items 3 and 4) ---
from .assessment import (
    assessment_due_at,
    assessment_overdue,
    assessment_revisions,
    current_assessment,
)
from .checkpoints import (
    MOBILISED_ROLES,
    fulfilment_met,
    mi_checkpoints,
    pending_fulfilments,
)

__all__: list[str] = [
    # --- Assessment and checkpoints ---
    "MOBILISED_ROLES",
    "assessment_due_at",
    "assessment_overdue",
    "assessment_revisions",
    "current_assessment",
    "fulfilment_met",
    "mi_checkpoints",
    "pending_fulfilments",
]
