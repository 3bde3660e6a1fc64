"""The Django admin of the incidents app: one module per area, registered on import."""

from . import cmdb, majors, properties, tickets

__all__ = ["cmdb", "majors", "properties", "tickets"]
