"""The PIR app's admin package: one module per area, registered on import.

- ``reviews``: post-incident reviews (linked to their page, where they are written) and their
  comments;
- ``action_items``: the reviews' action items and the work they became;
- ``kpis``: the monthly KPI reports.

All read-only for ITSM managers and super admins; super admins may delete a review, a comment or
an action item.
"""

from . import action_items, kpis, reviews

__all__ = ["action_items", "kpis", "reviews"]
