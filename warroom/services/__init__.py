"""The war room's writes: one function per change, each with its timeline row, called alike by
the API, the page, the admin, tasks and chat commands. Re-exported here by name."""

from .action_items import add_action_item, change_action_item
from .assessment import (
    ASSESSMENT_FIELDS,
    REQUIRED_FIELDS,
    revise_assessment,
)
from .bridge import join_bridge, leave_bridge
from .checkpoints import (
    check_checkpoints,
    fulfil,
    fulfil_when_met,
    open_checkpoints,
    tick_checkpoint,
)
from .scratchpad import MAX_SCRATCHPAD_CHARS, StaleScratchpad, save_scratchpad
from .timeline import (
    open_thread,
    post_to_timeline,
)

__all__ = [
    "ASSESSMENT_FIELDS",
    "MAX_SCRATCHPAD_CHARS",
    "REQUIRED_FIELDS",
    "StaleScratchpad",
    "add_action_item",
    "change_action_item",
    "check_checkpoints",
    "fulfil",
    "fulfil_when_met",
    "join_bridge",
    "leave_bridge",
    "open_checkpoints",
    "open_thread",
    "post_to_timeline",
    "revise_assessment",
    "save_scratchpad",
    "tick_checkpoint",
]
