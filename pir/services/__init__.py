"""The PIR app's writes, re-exported by name. Rules live here; every surface calls them."""

from .reviews import (
    EDITABLE_FIELDS,
    StaleReview,
    add_action_item,
    add_comment,
    create_review,
    publish_blockers,
    publish_review,
    submit_review,
    update_action_item,
    update_review,
)

__all__ = [
    "EDITABLE_FIELDS",
    "StaleReview",
    "add_action_item",
    "add_comment",
    "create_review",
    "publish_blockers",
    "publish_review",
    "submit_review",
    "update_action_item",
    "update_review",
]
