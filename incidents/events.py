"""Domain signals, sent after commit, for higher apps (war room, comms, PIR) to hang off.

Receivers are one-liners that call a service of their own app. Every signal carries ids, not
objects: the receiver re-reads what it needs.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

# major_incident_id, actor_id (None for a rule)
major_incident_declared = Signal()
# major_incident_id, from_status, to_status, actor_id
major_incident_state_changed = Signal()
# major_incident_id, role, user_id, actor_id
role_assigned = Signal()
# major_incident_id, role, user_id, actor_id
role_removed = Signal()
# major_incident_id, step_id, policy_trigger, target_label, target_role, target_group_id
escalation_triggered = Signal()
# candidate_id, incident_id
major_incident_proposed = Signal()


def send_after_commit(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))
