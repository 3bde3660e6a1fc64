"""The war room's reads that repeat. Re-exported here by name."""

# --- timeline (posts, threads, Markdown) ---
from . import markdown
from .timeline import (
    ThreadView,
    may_post_command_updates,
    threads,
)

__all__: list[str] = [
    # timeline
    "ThreadView",
    "markdown",
    "may_post_command_updates",
    "threads",
]
