"""Beat rows for mail in (every minute) and the upstream providers' status (every 2 minutes),
and who may do what in the admin with this issue's records:

- ITSM managers and super admins read every inbound record, and keep the label rules,
  scheduled maintenance and the status page's subscribers;
- only super admins add, change or delete inbound sources (their secrets open the door to
  incidents) and delete the records.
"""

from django.db import migrations
from django.utils import timezone

from warroom.migrations._seeding import grant

MAILBOX_TASK = "comms.tasks.poll_mailbox"
UPSTREAM_TASK = "comms.tasks.watch_upstream_status"
ADMIN_ROLES = ("itsm_manager", "super_admin")
READ = [
    "inboundsource",
    "inboundevent",
    "alertgroup",
    "alert",
    "labelrule",
    "mailboxstate",
    "inboundmail",
    "statussubscriber",
    "scheduledmaintenance",
    "maintenanceupdate",
    "upstreamstatus",
]
MANAGER_EDITS = ["labelrule", "scheduledmaintenance", "statussubscriber"]
SUPER_EDITS = ["inboundsource"]


def seed_schedules(apps, schema_editor=None):
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    for task, minutes in ((MAILBOX_TASK, 1), (UPSTREAM_TASK, 2)):
        every, _ = Interval.objects.get_or_create(every=minutes, period="minutes")
        Periodic.objects.get_or_create(
            name=task,
            defaults={
                "task": task,
                "interval": every,
                "enabled": True,
                # A tick waiting longer than its period is superseded by the next one.
                "expire_seconds": minutes * 60,
            },
        )
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def grant_admin_permissions(apps, schema_editor=None):
    grant(apps, [f"comms.view_{model}" for model in READ], ADMIN_ROLES)
    grant(
        apps,
        [f"comms.{verb}_{model}" for model in MANAGER_EDITS for verb in ("add", "change")],
        ADMIN_ROLES,
    )
    grant(
        apps,
        [f"comms.{verb}_{model}" for model in SUPER_EDITS for verb in ("add", "change")]
        + [f"comms.delete_{model}" for model in READ],
        ("super_admin",),
    )


def seed(apps, schema_editor=None):
    """Idempotent; ``tests/conftest.py`` reseeds with it after a flush."""
    seed_schedules(apps)
    grant_admin_permissions(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0004_inbound_status_subscribers_maintenance"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
