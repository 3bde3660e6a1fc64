"""The Django admin of the war room: one module per area, registered on import."""
