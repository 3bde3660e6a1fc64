"""Role groups with their model permissions, and the system properties with DESIGN's defaults."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_WORK = [
    "incidents.view_incident",
    "incidents.add_incident",
    "incidents.change_incident",
    "incidents.view_timelineentry",
    "incidents.view_configurationitem",
    "incidents.view_cidependency",
    "incidents.view_problem",
    "incidents.add_problem",
    "incidents.change_problem",
    "incidents.view_change",
    "incidents.add_change",
    "incidents.change_change",
]
MANAGE = VIEW_WORK + [
    "incidents.override_priority",
    "incidents.add_configurationitem",
    "incidents.change_configurationitem",
    "incidents.delete_configurationitem",
    "incidents.add_cidependency",
    "incidents.change_cidependency",
    "incidents.delete_cidependency",
    "incidents.view_systemproperty",
    "incidents.view_systempropertychange",
    "auth.view_user",
]
ROLES = {
    "technician": VIEW_WORK,
    "itsm_manager": MANAGE,
    "super_admin": MANAGE
    + [
        "incidents.change_systemproperty",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "auth.change_group",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
    ],
    "legal": ["incidents.view_incident", "incidents.view_timelineentry"],
}

PROPERTIES = {
    "major_incident_auto_declare_threshold": 50,
    "major_incident_ack_timeout_minutes": 15,
    "major_incident_auto_declare_mode": "declare",
    "major_incident_update_cadence_minutes": 30,
    "executive_update_cadence_minutes": 60,
    "resolution_stability_minutes": 15,
    "recovery_monitoring_hours": 2,
    "pir_delay_hours": 48,
    "escalation_resolution_hours": 2,
    "ticket_volume_escalation_factor": 5,
    "first_customer_update_target_minutes": 30,
    "security_breach_notification_hours": 72,
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran; make them now so the groups
    # can hold them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    grant_roles(apps)


def grant_roles(apps):
    """Idempotent; the test suite calls it again after a transactional test empties the tables."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is None:
                raise RuntimeError(f"permission {dotted} does not exist")
            group.permissions.add(perm)


def create_properties(apps, schema_editor):
    SystemProperty = apps.get_model("incidents", "SystemProperty")
    for key, value in PROPERTIES.items():
        SystemProperty.objects.get_or_create(key=key, defaults={"value": value})


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(create_properties, migrations.RunPython.noop),
    ]
