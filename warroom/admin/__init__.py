"""The Django admin of the war room: one module per area, registered on import."""

from . import timeline  # noqa: F401  (threads)
