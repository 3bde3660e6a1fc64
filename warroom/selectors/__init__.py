"""The war room's reads that repeat. Re-exported here by name."""

# --- Scratchpad, action items, bridge (workitems) ---
from .action_items import ActionItemFilter, action_items, is_overdue, overdue_q
from .bridge import bridge_attendances, on_bridge_now, open_stay
from .scratchpad import scratchpad_of, scratchpad_version, scratchpad_versions

__all__: list[str] = [
    # --- Scratchpad, action items, bridge (workitems) ---
    "ActionItemFilter",
    "action_items",
    "bridge_attendances",
    "is_overdue",
    "on_bridge_now",
    "open_stay",
    "overdue_q",
    "scratchpad_of",
    "scratchpad_version",
    "scratchpad_versions",
]
