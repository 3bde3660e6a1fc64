"""The war room's writes: one function per change, each with its timeline row, called alike by
the API, the page, the admin, tasks and chat commands. Re-exported here by name."""

# --- Assessment and checkpoints (issue 7, items 3 and 4) ---
from .assessment import (
    ASSESSMENT_FIELDS,
    REQUIRED_FIELDS,
    refuse_if_read_only,
    revise_assessment,
)
from .checkpoints import (
    check_checkpoints,
    fulfil,
    fulfil_when_met,
    open_checkpoints,
    tick_checkpoint,
)

__all__: list[str] = [
    # --- Assessment and checkpoints ---
    "ASSESSMENT_FIELDS",
    "REQUIRED_FIELDS",
    "check_checkpoints",
    "fulfil",
    "fulfil_when_met",
    "open_checkpoints",
    "refuse_if_read_only",
    "revise_assessment",
    "tick_checkpoint",
]
