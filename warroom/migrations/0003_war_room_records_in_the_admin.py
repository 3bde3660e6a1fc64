"""ITSM managers and super admins read the war room's records in the admin: threads, action
items, bridge stays and scratchpad versions (read-only there; they change in the war room)."""

from django.db import migrations

from ._seeding import grant

VIEW_PERMISSIONS = [
    "warroom.view_thread",
    "warroom.view_actionitem",
    "warroom.view_bridgeattendance",
    "warroom.view_scratchpadversion",
]
ROLES = ("itsm_manager", "super_admin")


def seed(apps, schema_editor=None):
    """Idempotent; ``tests/conftest.py`` reseeds with it after a flush."""
    grant(apps, VIEW_PERMISSIONS, ROLES)


class Migration(migrations.Migration):
    dependencies = [("warroom", "0002_seed_checkpoint_templates")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
