"""The first-hour framework as checkpoint templates (editable in the admin afterwards), the admin
permissions on them for ITSM managers and super admins, and the every-minute beat row of
``warroom.tasks.check_checkpoints`` (routed to ``periodic`` in the settings, expiring like the
incidents app's rows: the next run does the same work from the database)."""

from django.db import migrations
from django.utils import timezone

from ._seeding import grant

# (phase, name, fulfilled_by, starts after, due after): minutes after declaration.
FIRST_HOUR = [
    ("0–5 min: declare and mobilize", "Roles assigned: IC, technical lead, communications lead",
     "roles_assigned", 0, 5),
    ("5–15 min: stabilize signal and ownership", "Subsystem owners named",
     "subsystem_owners", 5, 15),
    ("5–15 min: stabilize signal and ownership", "Initial assessment written",
     "assessment_written", 5, 15),
    ("15–30 min: mitigate", "First internal stakeholder update sent",
     "internal_update", 15, 30),
    ("30–45 min: confirm recovery", "External (customer) update sent",
     "external_update", 30, 45),
    ("45–60 min: transition to monitoring and closure plan", '"Resolved" criteria written',
     "resolution_criteria", 45, 60),
    ("45–60 min: transition to monitoring and closure plan",
     "Post-incident owner and deadline set", "pir_owner", 45, 60),
]  # fmt: skip

DESCRIPTIONS = {
    "roles_assigned": "Ticked when the MI has an incident commander, a technical lead and a "
    "communications lead.",
    "subsystem_owners": "Ticked when at least one subsystem thread is open and every one has "
    "an owner.",
    "assessment_written": "Ticked when the first assessment revision is saved.",
    "internal_update": "Ticked when the first stakeholder update milestone is recorded.",
    "external_update": "Ticked when the first customer update milestone is recorded.",
    "resolution_criteria": 'Ticked by a decision in the command thread starting "Resolved '
    'when …", or by hand.',
    "pir_owner": "Ticked when a problem manager is assigned (the PIR owner until the PIR app "
    "sets a deadline), or by hand.",
}

ADMIN_PERMISSIONS = [
    "warroom.view_checkpointtemplate",
    "warroom.add_checkpointtemplate",
    "warroom.change_checkpointtemplate",
    "warroom.view_checkpoint",
    "warroom.view_assessmentrevision",
]
ADMIN_ROLES = ("itsm_manager", "super_admin")

TASK = "warroom.tasks.check_checkpoints"
EXPIRE_SECONDS = 60


def seed_templates(apps, schema_editor=None):
    """Idempotent (by name); an operator's edits of a seeded template are kept."""
    Template = apps.get_model("warroom", "CheckpointTemplate")
    for position, (phase, name, fulfilled_by, starts, due) in enumerate(FIRST_HOUR):
        Template.objects.get_or_create(
            name=name,
            defaults={
                "phase": phase,
                "description": DESCRIPTIONS[fulfilled_by],
                "fulfilled_by": fulfilled_by,
                "starts_after_minutes": starts,
                "due_after_minutes": due,
                "position": position,
                "active": True,
            },
        )


def grant_admin_permissions(apps, schema_editor=None):
    grant(apps, ADMIN_PERMISSIONS, ADMIN_ROLES)


def seed_schedule(apps, schema_editor=None):
    """Idempotent, like incidents 0008's; the test suite calls it again after a flush."""
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = Interval.objects.get_or_create(every=1, period="minutes")
    Periodic.objects.get_or_create(
        name=TASK,
        defaults={
            "task": TASK,
            "interval": every_minute,
            "enabled": True,
            "expire_seconds": EXPIRE_SECONDS,
        },
    )
    # Beat reads its rows again only when this counter moves.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def seed(apps, schema_editor=None):
    """Everything this migration puts in; ``tests/conftest.py`` reseeds with it after a flush."""
    seed_templates(apps)
    grant_admin_permissions(apps)
    seed_schedule(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("warroom", "0001_initial"),
        ("incidents", "0008_reconcile_schedule_and_beat_expiry"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
