"""The comms app's writes, re-exported by name. Rules live here; every surface calls them."""

from .cadence import send_due_updates
from .dispatch import notify, publish_update, send_operation
from .outbox import (
    NewMessage,
    backoff,
    claim,
    deliver,
    deliver_one,
    enqueue,
    idempotency_key,
    redrive,
    retry_now,
    schedule,
)
from .paging import dedup_key, page_sent
from .postmortem import post_public_postmortem
from .updates import (
    LEGAL_GROUP,
    PARTS,
    WRITABLE_TYPES,
    approve_update,
    complete_investigation,
    create_update,
    discard_update,
    edit_update,
    from_template,
    is_legal,
    send_update,
    submit_update,
)

__all__ = [
    "LEGAL_GROUP",
    "PARTS",
    "WRITABLE_TYPES",
    "NewMessage",
    "approve_update",
    "backoff",
    "claim",
    "complete_investigation",
    "create_update",
    "dedup_key",
    "deliver",
    "deliver_one",
    "discard_update",
    "edit_update",
    "enqueue",
    "from_template",
    "idempotency_key",
    "is_legal",
    "notify",
    "page_sent",
    "post_public_postmortem",
    "publish_update",
    "redrive",
    "retry_now",
    "schedule",
    "send_due_updates",
    "send_operation",
    "send_update",
    "submit_update",
]
