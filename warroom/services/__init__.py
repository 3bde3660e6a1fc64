"""The war room's writes: one function per change, each with its timeline row, called alike by
the API, the page, the admin, tasks and chat commands. Re-exported here by name."""

# --- timeline (posts and threads) ---
from .timeline import (
    open_thread,
    post_to_timeline,
)

__all__: list[str] = [
    # timeline
    "open_thread",
    "post_to_timeline",
]
