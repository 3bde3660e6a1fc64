"""The war room's reads that repeat. Re-exported here by name."""

__all__: list[str] = []
