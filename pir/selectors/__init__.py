"""Reads of the PIR app, re-exported by name."""

from .access import (
    can_read,
    can_run,
    can_see_kpis,
    can_write,
    ensure_kpis,
    ensure_read,
    ensure_run,
    ensure_write,
)
from .reviews import action_items, review_of, reviews, unready_action_items

__all__ = [
    "action_items",
    "can_read",
    "can_run",
    "can_see_kpis",
    "can_write",
    "ensure_kpis",
    "ensure_read",
    "ensure_run",
    "ensure_write",
    "review_of",
    "reviews",
    "unready_action_items",
]
