"""The review's schedule: created when the MI is resolved, its meeting at resolved +
``pir_delay_hours`` with iCalendar invitations, reminders, overdue flags, the publish deadline.

One function, ``sync_meeting``, brings a review's meeting in line with its MI's state (resolved:
scheduled; reopened: cancelled); the signal's receiver and the periodic catch-up both call it, so
a receiver that failed is made good by the next tick, and a signal sent twice does nothing the
second time (the review row, locked, says what was done).

Every message is an outbox row written in the same transaction as the review row that records
it, keyed by review, SEQUENCE (or meeting time) and address: nothing is sent twice, and the outbox
delivers after commit. Locks: the incident, the MI, then the review (``lock_major_incident``
first) for changes of the meeting; the periodic reminders and overdue flags lock only the review,
claimed with ``select_for_update(skip_locked=True)`` so two schedulers at once split the work.
"""

from .common import MAX_AHEAD, MAX_MINUTES, MIN_MINUTES, PURPOSES
from .meeting import (
    invite_role_holder,
    major_incident_state_changed,
    reschedule_meeting,
    sync_meeting,
)
from .periodic import schedule_due_reviews

__all__ = [
    "MAX_AHEAD",
    "MAX_MINUTES",
    "MIN_MINUTES",
    "PURPOSES",
    "invite_role_holder",
    "major_incident_state_changed",
    "reschedule_meeting",
    "schedule_due_reviews",
    "sync_meeting",
]
