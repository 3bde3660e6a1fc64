"""The every-minute reconcile (CMDB changes whose refresh message was lost), and an expiry on
every beat row of this app: a run that has not started within its period is dropped, because the
next one, due by then, does the same work from the database (DESIGN, "Periodic tasks")."""

from django.db import migrations
from django.utils import timezone

EVERY_MINUTE = [
    "incidents.tasks.auto_declare",
    "incidents.tasks.evaluate_escalations",
    "incidents.tasks.reconcile",
]
EXPIRE_SECONDS = 60


def seed_schedules(apps, schema_editor=None):
    """Idempotent; the test suite calls it again after a transactional test empties the tables."""
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = Interval.objects.get_or_create(every=1, period="minutes")
    for task in EVERY_MINUTE:
        row, created = Periodic.objects.get_or_create(
            name=task,
            defaults={
                "task": task,
                "interval": every_minute,
                "enabled": True,
                "expire_seconds": EXPIRE_SECONDS,
            },
        )
        if not created and row.expires is None and row.expire_seconds is None:
            # An operator's own schedule is kept; only the missing expiry is added.
            row.expire_seconds = EXPIRE_SECONDS
            row.save(update_fields=["expire_seconds"])
    # Beat reads its rows again only when this counter moves (a bulk change must touch it).
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_pending_impact_refresh"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed_schedules, migrations.RunPython.noop)]
