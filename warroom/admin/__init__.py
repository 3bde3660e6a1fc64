"""The Django admin of the war room: one module per area, registered on import."""

from . import checkpoints, timeline

__all__ = ["checkpoints", "timeline"]
