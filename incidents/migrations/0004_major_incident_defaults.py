"""Seed what major incidents run on: role permissions, the two default auto-declaration rules,
the standard MIM RACI matrix, the escalation paths of DESIGN and the beat schedules (UTC)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MI_VIEW = [
    "incidents.view_majorincident",
    "incidents.view_roleassignment",
    "incidents.view_majorincidentcandidate",
    "incidents.view_raciactivity",
    "incidents.view_racientry",
    "incidents.view_escalationfiring",
]
MI_MANAGE = MI_VIEW + [
    "incidents.declare_majorincident",
    "incidents.add_majorincident",
    "incidents.change_majorincident",
    "incidents.change_majorincidentcandidate",
    "incidents.view_autodeclarationrule",
    "incidents.view_roleroster",
    "incidents.add_roleroster",
    "incidents.change_roleroster",
    "incidents.delete_roleroster",
    "incidents.view_escalationpolicy",
    "incidents.view_escalationstep",
]
MI_ADMIN = MI_MANAGE + [
    "incidents.add_autodeclarationrule",
    "incidents.change_autodeclarationrule",
    "incidents.delete_autodeclarationrule",
    "incidents.add_raciactivity",
    "incidents.change_raciactivity",
    "incidents.add_racientry",
    "incidents.change_racientry",
    "incidents.delete_racientry",
    "incidents.add_escalationpolicy",
    "incidents.change_escalationpolicy",
    "incidents.add_escalationstep",
    "incidents.change_escalationstep",
    "incidents.delete_escalationstep",
]
ROLES = {
    "technician": MI_VIEW,
    "legal": MI_VIEW,
    "itsm_manager": MI_MANAGE,
    "super_admin": MI_ADMIN,
}

RULES = [
    dict(
        name="P1 unacknowledged",
        order=10,
        max_priority=1,
        unacknowledged_minutes_property="major_incident_ack_timeout_minutes",
        description="A P1 nobody acknowledged within major_incident_ack_timeout_minutes.",
    ),
    dict(
        name="P1 reaching many users",
        order=20,
        max_priority=1,
        min_affected_users_property="major_incident_auto_declare_threshold",
        description="A P1 whose outage reaches more than major_incident_auto_declare_threshold "
        "users through the CMDB.",
    ),
]

R, A, C, I = "R", "A", "C", "I"
IC, TL, CL, SL, SC, ES, PM, CM, SD, MIT = (
    "major_incident_manager",
    "technical_lead",
    "communications_lead",
    "support_lead",
    "scribe",
    "executive_sponsor",
    "problem_manager",
    "change_manager",
    "service_desk",
    "mit_member",
)
RACI = [
    ("declare", "Declare the major incident", {IC: A, SD: R, ES: I, TL: C}),
    ("inform_stakeholders", "Inform stakeholders", {CL: R, IC: A, ES: I, SD: I, SL: C}),
    ("assemble_team", "Assemble the team", {IC: R, ES: I, TL: C}),
    ("bridge", "Run the conference bridge", {IC: A, SC: R, TL: C, MIT: C}),
    ("war_room", "Run the war room", {IC: A, SC: R, TL: R, MIT: C, CL: I}),
    ("problem_ticket", "Open the problem ticket", {PM: R, IC: A, TL: C}),
    ("change", "Raise and approve the emergency change", {CM: R, TL: R, IC: A, ES: I}),
    ("pir", "Hold the post-incident review", {PM: R, IC: A, TL: C, CL: C, ES: I}),
    ("documentation", "Document the incident", {SC: R, IC: A, TL: C}),
    ("metrics", "Report the metrics", {PM: R, IC: A, ES: I}),
]

ESCALATIONS = [
    (
        "Open too long",
        "open_too_long",
        "Open longer than escalation_resolution_hours: IC, then Engineering VP, then CTO.",
        [(1, 0, "Incident commander", IC), (2, 30, "Engineering VP", ""), (3, 60, "CTO", "")],
    ),
    (
        "Ticket volume",
        "ticket_volume",
        "Linked tickets over ticket_volume_escalation_factor × "
        "normal: IC, then Support VP, then CSO.",
        [(1, 0, "Incident commander", IC), (2, 30, "Support VP", ""), (3, 60, "CSO", "")],
    ),
    (
        "Media attention",
        "media_attention",
        "Media attention flag set: communications lead, then PR, then CEO.",
        [(1, 0, "Communications lead", CL), (2, 15, "PR", ""), (3, 30, "CEO", "")],
    ),
    (
        "Security",
        "security",
        "Security major incident: security, legal and executives at once; "
        "the breach notification clock starts at declaration.",
        [(1, 0, "Security team", ""), (2, 0, "Legal", ""), (3, 0, "Executives", ES)],
    ),
]

TASKS = ["incidents.tasks.auto_declare", "incidents.tasks.evaluate_escalations"]


def seed(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    seed_defaults(apps)


def seed_defaults(apps):
    """Idempotent; the test suite calls it again after a transactional test empties the tables."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )

    Rule = apps.get_model("incidents", "AutoDeclarationRule")
    for rule in RULES:
        Rule.objects.get_or_create(name=rule["name"], defaults=rule)

    Activity = apps.get_model("incidents", "RaciActivity")
    Entry = apps.get_model("incidents", "RaciEntry")
    for order, (code, name, letters) in enumerate(RACI, start=1):
        activity, _ = Activity.objects.get_or_create(
            code=code, defaults={"name": name, "order": order}
        )
        for role, letter in letters.items():
            Entry.objects.get_or_create(activity=activity, role=role, defaults={"letter": letter})

    Policy = apps.get_model("incidents", "EscalationPolicy")
    Step = apps.get_model("incidents", "EscalationStep")
    legal = Group.objects.get(name="legal")
    for name, trigger, description, steps in ESCALATIONS:
        policy, _ = Policy.objects.get_or_create(
            trigger=trigger, defaults={"name": name, "description": description}
        )
        for order, delay, label, role in steps:
            Step.objects.get_or_create(
                policy=policy,
                order=order,
                defaults={
                    "delay_minutes": delay,
                    "target_label": label,
                    "target_role": role,
                    "target_group": legal if label == "Legal" else None,
                },
            )

    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = Interval.objects.get_or_create(every=1, period="minutes")
    for task in TASKS:
        Periodic.objects.update_or_create(
            name=task, defaults={"task": task, "interval": every_minute, "enabled": True}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_major_incidents"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
