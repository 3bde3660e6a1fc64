"""The war room's domain signals, sent after commit (``incidents.events.send_after_commit``) for
the higher apps (comms, PIR) to hang off. Every signal carries ids, not objects."""

from __future__ import annotations

from django.dispatch import Signal

from incidents.events import named

# major_incident_id, entry_id, kind, thread, actor_id
timeline_post_added = Signal()
# major_incident_id, thread_id, owner_id, actor_id
thread_opened = Signal()
# major_incident_id, revision_id, revision, actor_id
assessment_revised = Signal()
# major_incident_id, action_item_id, changes (field names), actor_id
action_item_changed = Signal()
# major_incident_id, checkpoint_id
checkpoint_due = Signal()
# major_incident_id, checkpoint_id
checkpoint_late = Signal()
# major_incident_id, checkpoint_id, automatically, actor_id
checkpoint_done = Signal()
# major_incident_id, user_id, actor_id
attendee_joined = Signal()
# major_incident_id, user_id, actor_id
attendee_left = Signal()

named(globals())
