"""The war room's models, one module per area, re-exported here by name.

The timeline itself (``incidents.TimelineEntry``) lives in ``incidents``: its rows name their
thread by slug, so nothing below the war room depends on these models.
"""

from .action_items import OPEN_ACTION_STATUSES, ActionItem, ActionStatus
from .assessment import ASSESSMENT_DUE_MINUTES, AssessmentRevision, Level
from .bridge import BridgeAttendance
from .checkpoints import Checkpoint, CheckpointTemplate, Fulfilment
from .scratchpad import Scratchpad, ScratchpadVersion
from .threads import COMMAND_THREAD, Thread

__all__ = [
    "ASSESSMENT_DUE_MINUTES",
    "COMMAND_THREAD",
    "OPEN_ACTION_STATUSES",
    "ActionItem",
    "ActionStatus",
    "AssessmentRevision",
    "BridgeAttendance",
    "Checkpoint",
    "CheckpointTemplate",
    "Fulfilment",
    "Level",
    "Scratchpad",
    "ScratchpadVersion",
    "Thread",
]
