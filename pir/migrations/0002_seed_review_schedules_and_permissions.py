"""The PIR's beat rows (the reviews every 15 minutes, the monthly report on the 1st at 08:00
UTC), the publish-deadline system property, and admin permissions on reviews and KPI reports."""

from django.db import migrations
from django.utils import timezone

from warroom.migrations._seeding import grant

EXPIRE_SECONDS = 15 * 60
REVIEWS_TASK = "pir.tasks.schedule_due_reviews"
REPORT_TASK = "pir.tasks.send_monthly_report"

READ = [
    "pir.view_postincidentreview",
    "pir.view_reviewactionitem",
    "pir.view_reviewcomment",
    "pir.view_kpireport",
]
MANAGE = READ + ["pir.change_postincidentreview", "pir.change_reviewactionitem"]
DELETE = [
    "pir.delete_postincidentreview",
    "pir.delete_reviewactionitem",
    "pir.delete_reviewcomment",
]


def seed_schedules(apps, schema_editor=None):
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Crontab = apps.get_model("django_celery_beat", "CrontabSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    every_15, _ = Interval.objects.get_or_create(every=15, period="minutes")
    Periodic.objects.get_or_create(
        name=REVIEWS_TASK,
        defaults={
            "task": REVIEWS_TASK,
            "interval": every_15,
            "enabled": True,
            "expire_seconds": EXPIRE_SECONDS,
        },
    )
    first_at_8, _ = Crontab.objects.get_or_create(
        minute="0", hour="8", day_of_month="1", month_of_year="*", day_of_week="*", timezone="UTC"
    )
    Periodic.objects.get_or_create(
        name=REPORT_TASK,
        # A report missed while beat was down is caught up by the next tick's check of the
        # month's row, not by a message waiting in the broker: expire it within the day.
        defaults={
            "task": REPORT_TASK,
            "crontab": first_at_8,
            "enabled": True,
            "expire_seconds": 6 * 3600,
        },
    )
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def seed_property(apps, schema_editor=None):
    SystemProperty = apps.get_model("incidents", "SystemProperty")
    SystemProperty.objects.get_or_create(key="pir_publish_deadline_days", defaults={"value": 5})


def seed(apps, schema_editor=None):
    """Idempotent; ``tests/conftest.py`` reseeds with it after a flush."""
    seed_schedules(apps)
    seed_property(apps)
    grant(apps, MANAGE, ["itsm_manager", "super_admin"])
    grant(apps, DELETE, ["super_admin"])


class Migration(migrations.Migration):
    dependencies = [
        ("pir", "0001_post_incident_reviews"),
        ("incidents", "0011_problem_tasks_and_change_sources"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
