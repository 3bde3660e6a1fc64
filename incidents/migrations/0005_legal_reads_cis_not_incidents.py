"""Legal's permissions as README's API table has them: CIs and their impact, MIs, timelines; not
incidents themselves (which it could read before, while the CMDB was closed to it)."""

from django.db import migrations

LEGAL_GRANTED = [
    "incidents.view_configurationitem",
    "incidents.view_cidependency",
    "incidents.view_timelineentry",
]
LEGAL_REVOKED = ["incidents.view_incident"]


def _permission(apps, dotted):
    Permission = apps.get_model("auth", "Permission")
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def set_legal_permissions(apps, schema_editor=None):
    """Idempotent; the test suite calls it again after a transactional test empties the tables."""
    Group = apps.get_model("auth", "Group")
    legal, _ = Group.objects.get_or_create(name="legal")
    legal.permissions.add(*(_permission(apps, dotted) for dotted in LEGAL_GRANTED))
    legal.permissions.remove(*(_permission(apps, dotted) for dotted in LEGAL_REVOKED))


def restore_legal_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    legal = Group.objects.filter(name="legal").first()
    if legal is None:
        return
    legal.permissions.add(*(_permission(apps, dotted) for dotted in LEGAL_REVOKED))
    legal.permissions.remove(
        *(_permission(apps, d) for d in LEGAL_GRANTED if d != "incidents.view_timelineentry")
    )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_major_incident_defaults")]

    operations = [migrations.RunPython(set_legal_permissions, restore_legal_permissions)]
