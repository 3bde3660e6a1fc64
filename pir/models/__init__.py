"""The post-incident review app's models, re-exported by name.

Rules live in ``pir.services``; models hold fields, constraints and small derived values only.
"""

from .kpis import KpiReport
from .reviews import (
    ACTION_ITEM_TYPES,
    DOCUMENT_SECTIONS,
    OPEN_REVIEW_ACTION_STATUSES,
    Distribution,
    PostIncidentReview,
    ReviewActionItem,
    ReviewActionStatus,
    ReviewActionType,
    ReviewComment,
    ReviewStatus,
)

__all__ = [
    "ACTION_ITEM_TYPES",
    "DOCUMENT_SECTIONS",
    "OPEN_REVIEW_ACTION_STATUSES",
    "Distribution",
    "KpiReport",
    "PostIncidentReview",
    "ReviewActionItem",
    "ReviewActionStatus",
    "ReviewActionType",
    "ReviewComment",
    "ReviewStatus",
]
