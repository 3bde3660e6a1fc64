"""Monitoring webhooks in: sources, the parsers of each tool's payload, and the ingest."""

from .ingest import MAX_BODY, Received, apply, authenticate, key_hash, placement, receive
from .parsers import PARSERS, Malformed, Notification
from .sources import (
    check_pattern,
    create_source,
    new_secret,
    rotate_secret,
    save_label_rule,
    save_source,
    url_of,
)

__all__ = [
    "MAX_BODY",
    "PARSERS",
    "Malformed",
    "Notification",
    "Received",
    "apply",
    "authenticate",
    "check_pattern",
    "create_source",
    "key_hash",
    "new_secret",
    "placement",
    "receive",
    "rotate_secret",
    "save_label_rule",
    "save_source",
    "url_of",
]
