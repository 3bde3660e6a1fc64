"""Domain signals, sent after commit, for higher apps (war room, comms, PIR) to hang off.

Receivers are one-liners that call a service of their own app. Every signal carries ids, not
objects: the receiver re-reads what it needs.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# major_incident_id, actor_id (None for a rule)
major_incident_declared = Signal()
# major_incident_id, from_status, to_status, actor_id
major_incident_state_changed = Signal()
# major_incident_id, role, user_id, actor_id
role_assigned = Signal()
# major_incident_id, role, user_id, actor_id
role_removed = Signal()
# major_incident_id, milestones (the names set or changed), actor_id
milestone_recorded = Signal()
# major_incident_id, step_id, policy_trigger, target_label, target_role, target_group_id
escalation_triggered = Signal()
# candidate_id, incident_id
major_incident_proposed = Signal()
# incident_id, actor_id (None for a monitoring source or the mailbox)
incident_logged = Signal()


def send_after_commit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside a transaction).

    Every receiver runs even if another fails (``send_robust``), and a failure is logged with its
    traceback; the hook itself is robust too, so a failure here never drops the transaction's
    other after-commit hooks (its messages, the other signals). The change is committed already:
    a receiver's failure must not turn into the caller's error.
    """
    name = str(_NAMES.get(id(signal)) or getattr(signal, "mim_name", "a domain signal"))

    # (A function, not a functools.partial: Django logs a robust hook's failure by its
    # __qualname__, which a partial lacks.)
    def send_signal() -> None:
        _send_robust(signal, name, kwargs)

    send_signal.__qualname__ = f"send_signal[{name}]"
    transaction.on_commit(send_signal, robust=True)


def _send_robust(signal: Signal, name: str, kwargs: dict[str, Any]) -> None:
    for receiver, result in signal.send_robust(sender=None, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "receiver %s of %s failed (%s)",
                getattr(receiver, "__qualname__", receiver),
                name,
                ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items())),
                exc_info=result,
            )


_NAMES = {id(value): name for name, value in list(globals().items()) if isinstance(value, Signal)}


def named(module_globals: dict[str, Any]) -> None:
    """Give a higher app's signals their names for the log (``warroom/events.py`` calls it)."""
    for name, value in list(module_globals.items()):
        if isinstance(value, Signal):
            value.mim_name = name  # type: ignore[attr-defined]
