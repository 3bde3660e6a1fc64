"""The default communication plan (DESIGN's five rows and the ones the cadence, escalation and
chat posts need), its pre-approved templates, the stakeholder groups it names, the comms beat
rows, and admin permissions on comms' records for ITSM managers and super admins."""

from django.db import migrations
from django.utils import timezone

from warroom.migrations._seeding import grant

EXPIRE_SECONDS = 60
EVERY_MINUTE = ["comms.tasks.send_due_updates", "comms.tasks.deliver_pending"]

GROUPS = [
    # slug, name, description, MIM Desk roles whose members belong
    ("it-leadership", "IT leadership", "CIO, IT directors and service owners", []),
    ("itsm-managers", "ITSM managers", "Everyone holding the ITSM manager role", ["itsm_manager"]),
]

EVERYWHERE = ["email", "slack", "teams", "sns", "webhook"]
# name, update type, trigger, audience slugs, affected departments, RACI roles, earlier
# recipients, channels, public (status page), security scope
PLAN = [
    (
        "Initial notification",
        "initial",
        "mi_declared",
        ["it-leadership"],
        True,
        [],
        False,
        EVERYWHERE,
        True,
        "any",
    ),
    (
        "30-minute update",
        "cadence",
        "cadence",
        ["it-leadership"],
        False,
        [],
        False,
        ["email", "slack", "teams", "webhook"],
        True,
        "any",
    ),
    (
        "Executive sponsor update",
        "executive",
        "executive_cadence",
        [],
        False,
        ["executive_sponsor"],
        False,
        ["email"],
        False,
        "any",
    ),
    (
        "Status page update",
        "status_page",
        "state_changed",
        [],
        False,
        [],
        False,
        ["statuspage"],
        True,
        "any",
    ),
    (
        "Resolution notification",
        "resolution",
        "mi_resolved",
        ["it-leadership"],
        True,
        [],
        True,
        EVERYWHERE,
        True,
        "any",
    ),
    (
        "All clear",
        "all_clear",
        "all_clear",
        ["it-leadership"],
        True,
        [],
        True,
        ["email", "slack", "teams", "webhook"],
        True,
        "any",
    ),
    (
        "PIR summary",
        "pir_summary",
        "pir_published",
        ["it-leadership", "itsm-managers"],
        False,
        [],
        False,
        ["email"],
        False,
        "any",
    ),
    (
        "Escalation notice",
        "escalation",
        "escalation",
        [],
        False,
        [],
        False,
        ["email", "slack"],
        False,
        "any",
    ),
    (
        "War-room posts to the incident channel",
        "war_room",
        "war_room_post",
        [],
        False,
        [],
        False,
        ["slack", "teams"],
        False,
        "never_security",
    ),
    (
        "Reminder to the communications lead",
        "reminder",
        "cadence",
        [],
        False,
        ["communications_lead"],
        False,
        ["email", "slack"],
        False,
        "any",
    ),
]
RACI_ACTIVITY = "inform_stakeholders"
# The entries whose C and I holders of "Inform stakeholders" hear them too.
WITH_RACI = {"initial", "cadence", "resolution", "all_clear"}

SUBJECT = "[{{ mi.number }}] {{ status_label }}: {{ service }}"
T = {
    "initial": (
        "[{{ mi.number }}] Major incident: {{ service }}",
        "{{ impact }}{% if affected_users %} About {{ affected_users }} users are affected.{% endif %}",
        "A major incident was declared at {{ declared_at }}. The response team is assembled and "
        "investigating.",
        "{{ user_action_default }}",
    ),
    "cadence": (
        SUBJECT,
        "{{ impact }}",
        "{% if latest_command_update %}{{ latest_command_update }}{% else %}The team is "
        "{{ status_phrase }}.{% endif %}",
        "{{ user_action_default }}",
    ),
    "executive": (
        "[{{ mi.number }}] Executive update: {{ service }} ({{ status_label }})",
        "{{ impact }} Open for {{ duration }}.",
        "{% if latest_command_update %}{{ latest_command_update }}{% else %}The team is "
        "{{ status_phrase }}.{% endif %}",
        "No action needed from you; the incident commander is {{ commander }}.",
    ),
    "status_page": (
        "{{ service }}: {{ status_label }}",
        "{{ public_impact }}",
        "We are {{ status_phrase }}.",
        "{{ user_action_default }}",
    ),
    "resolution": (
        "[{{ mi.number }}] Resolved: {{ service }}",
        "{{ service }} is working again since {{ resolved_at }}.",
        "The fix is in place; we keep monitoring for {{ recovery_hours }} h before the all-clear.",
        "Retry anything that failed during the incident. Contact the service desk if problems "
        "remain.",
    ),
    "all_clear": (
        "[{{ mi.number }}] All clear: {{ service }}",
        "{{ service }} has been stable for {{ recovery_hours }} h.",
        "Monitoring is over; a post-incident review follows.",
        "None.",
    ),
    "pir_summary": (
        "[{{ mi.number }}] Post-incident review: {{ service }}",
        "{{ impact }}",
        "The post-incident review is published.",
        "Read the review for root cause and follow-up actions.",
    ),
    "escalation": (
        "[{{ mi.number }}] Escalated to {{ escalation_target }}: {{ service }}",
        "{{ impact }}",
        "{{ escalation_reason }}",
        "Join the war room: {{ war_room_url }}",
    ),
    "war_room": (
        "[{{ mi.number }}] {{ service }}",
        "{{ impact }}",
        "{{ post }}",
        "Updates only in this channel; debugging happens in the war room.",
    ),
    "reminder": (
        "[{{ mi.number }}] Stakeholder update due at {{ next_update_at }}",
        "The next stakeholder update is due at {{ next_update_at }}.",
        "Write it in the war room: {{ war_room_url }}",
        "If none is sent by then, the pre-approved template goes out automatically.",
    ),
    "canned_response": (
        "Known issue: {{ service }}",
        "{{ public_impact }}",
        "{% if latest_public_action %}{{ latest_public_action }}{% else %}Our engineers are "
        "{{ status_phrase }}.{% endif %}",
        "{{ user_action_default }} Reference: {{ mi.number }}.",
    ),
}
# Security MIs until the investigation is complete: what happened to whom, nothing technical.
SECURITY = {
    "initial": (
        "[{{ mi.number }}] Security incident",
        "We are handling a security incident affecting {{ service }}.",
        "The security team is investigating.",
        "Do not discuss the incident outside the response team.",
    ),
    "cadence": (
        "[{{ mi.number }}] Security incident update",
        "The security incident affecting {{ service }} is being handled.",
        "The investigation continues.",
        "Do not discuss the incident outside the response team.",
    ),
    "status_page": (
        "{{ service }}: {{ status_label }}",
        "Some users may be unable to use {{ service }}.",
        "We are investigating.",
        "We will post an update here.",
    ),
    "resolution": (
        "[{{ mi.number }}] Security incident resolved",
        "{{ service }} is available again.",
        "The investigation continues.",
        "None at this time.",
    ),
    "all_clear": (
        "[{{ mi.number }}] Security incident: all clear",
        "{{ service }} has been stable for {{ recovery_hours }} h.",
        "A review follows.",
        "None.",
    ),
    "executive": (
        "[{{ mi.number }}] Security incident: executive update",
        "The security incident affecting {{ service }} has been open for {{ duration }}.",
        "The investigation continues; legal is involved.",
        "Breach notification deadline: {{ breach_deadline }}.",
    ),
    "canned_response": (
        "Known issue: {{ service }}",
        "Some users may be unable to use {{ service }}.",
        "We are working on it.",
        "Please try again later. Reference: {{ mi.number }}.",
    ),
}

ADMIN_ROLES = ("itsm_manager", "super_admin")
MODELS = [
    "stakeholdergroup",
    "communicationplanentry",
    "messagetemplate",
    "stakeholderupdate",
    "outboxmessage",
    "deliveryattempt",
    "incidentchannel",
    "commsstate",
    "externalrecord",
]
# Managers keep the plan and groups; the records the system writes they may only read.
MANAGER_EDITS = ["stakeholdergroup", "communicationplanentry", "messagetemplate"]


def seed_plan(apps, schema_editor=None):
    """Idempotent: an operator's edits to a row that exists are kept."""
    Group = apps.get_model("auth", "Group")
    StakeholderGroup = apps.get_model("comms", "StakeholderGroup")
    Entry = apps.get_model("comms", "CommunicationPlanEntry")
    Template = apps.get_model("comms", "MessageTemplate")
    Activity = apps.get_model("incidents", "RaciActivity")
    groups = {}
    for slug, name, description, roles in GROUPS:
        group, created = StakeholderGroup.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )
        if created:
            for role in roles:
                django_group, _ = Group.objects.get_or_create(name=role)
                group.django_groups.add(django_group)
        groups[slug] = group
    activity = Activity.objects.filter(code=RACI_ACTIVITY).first()
    for order, row in enumerate(PLAN, start=1):
        name, kind, trigger, audiences, departments, roles, earlier, channels, public, scope = row
        entry, created = Entry.objects.get_or_create(
            name=name,
            defaults={
                "order": order,
                "update_type": kind,
                "trigger": trigger,
                "affected_departments": departments,
                "roles": roles,
                "include_previous_recipients": earlier,
                "raci_activity": activity if kind in WITH_RACI else None,
                "channels": channels,
                "status_page": public,
                "security_scope": scope,
            },
        )
        if created:
            entry.audiences.add(*(groups[slug] for slug in audiences))
    for texts, safe in ((T, False), (SECURITY, True)):
        for kind, (subject, impact, action, user_action) in texts.items():
            Template.objects.get_or_create(
                update_type=kind,
                channel="",
                security_safe=safe,
                defaults={
                    "subject": subject,
                    "current_impact": impact,
                    "current_action": action,
                    "user_action": user_action,
                    "pre_approved": True,
                },
            )


def grant_admin_permissions(apps, schema_editor=None):
    perms = [f"comms.view_{model}" for model in MODELS]
    perms += [f"comms.{verb}_{model}" for model in MANAGER_EDITS for verb in ("add", "change")]
    grant(apps, perms, ADMIN_ROLES)
    grant(apps, [f"comms.delete_{model}" for model in MANAGER_EDITS], ("super_admin",))


def seed_schedules(apps, schema_editor=None):
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = Interval.objects.get_or_create(every=1, period="minutes")
    for task in EVERY_MINUTE:
        Periodic.objects.get_or_create(
            name=task,
            defaults={
                "task": task,
                "interval": every_minute,
                "enabled": True,
                "expire_seconds": EXPIRE_SECONDS,
            },
        )
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def seed(apps, schema_editor=None):
    """Everything this migration puts in; ``tests/conftest.py`` reseeds with it after a flush."""
    seed_plan(apps)
    grant_admin_permissions(apps)
    seed_schedules(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0001_stakeholder_communication"),
        ("incidents", "0010_timeline_kinds_for_stakeholder_updates"),
        ("warroom", "0003_war_room_records_in_the_admin"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
