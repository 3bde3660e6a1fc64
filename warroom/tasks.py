"""The war room's Celery tasks (periodic ones are routed to the ``periodic`` queue in settings)."""

from __future__ import annotations
