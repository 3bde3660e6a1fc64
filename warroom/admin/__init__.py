"""The Django admin of the war room: one module per area, registered on import."""

# --- Assessment and checkpoints (issue 7, items 3 and 4) ---
from . import checkpoints

__all__ = [
    "checkpoints",
]
