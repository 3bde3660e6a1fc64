"""The Django admin of the war room: one module per area, registered on import."""

from . import checkpoints, timeline, workitems

__all__ = ["checkpoints", "timeline", "workitems"]
