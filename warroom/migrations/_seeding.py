"""What the war room's data migrations share (a leading underscore: not a migration itself)."""

from django.contrib.auth.management import create_permissions


def grant(apps, dotted_permissions, roles):
    """Give each role group the permissions (``app.codename``); idempotent.

    Permissions are made after all migrations on a fresh database, so they are made here first.
    A migration's app configs have no models module (``create_permissions`` skips those); the
    test suite passes the real registry, whose configs must keep theirs.
    """
    for app_config in apps.get_app_configs():
        kept = getattr(app_config, "models_module", None)
        app_config.models_module = kept or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = kept
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = []
    for dotted in dotted_permissions:
        app_label, codename = dotted.split(".")
        perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*perms)
