"""The war room's writes: one function per change, each with its timeline row, called alike by
the API, the page, the admin, tasks and chat commands. Re-exported here by name."""

# --- Scratchpad, action items, bridge (workitems) ---
from .action_items import add_action_item, change_action_item
from .bridge import join_bridge, leave_bridge
from .scratchpad import MAX_SCRATCHPAD_CHARS, StaleScratchpad, save_scratchpad

__all__: list[str] = [
    # --- Scratchpad, action items, bridge (workitems) ---
    "MAX_SCRATCHPAD_CHARS",
    "StaleScratchpad",
    "add_action_item",
    "change_action_item",
    "join_bridge",
    "leave_bridge",
    "save_scratchpad",
]
