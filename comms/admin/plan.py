"""Who hears what, kept in the admin: stakeholder groups, the communication plan, the templates.

No service writes these rows (they are reference data, not an MI's state), so the admin saves
them itself; the forms check what the services rely on: addresses that are addresses, channels
the registry knows, roles that exist, template parts that render.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.http import HttpRequest

from incidents.admin.common import ModelAdmin
from incidents.errors import DomainError
from incidents.models import MIStatus, RaciRole

from .. import channels
from ..models import CommunicationPlanEntry, MessageTemplate, StakeholderGroup
from ..selectors.messages import STATUS_LABELS, STATUS_PHRASES, render_text

# --- stakeholder groups ---------------------------------------------------------------------------


class AddressListField(forms.Field):
    """A list of email addresses, typed one a line (commas and semicolons work too)."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        text = str(value or "")
        seen: dict[str, str] = {}
        for part in text.replace(",", "\n").replace(";", "\n").splitlines():
            address = part.strip()
            if address:
                seen.setdefault(address.lower(), address)
        return list(seen.values())

    def validate(self, value: Any) -> None:
        super().validate(value)
        bad = []
        for address in value:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                "Not an email address: %(bad)s", code="invalid", params={"bad": ", ".join(bad)}
            )


class StakeholderGroupForm(forms.ModelForm):
    external_emails = AddressListField(
        required=False,
        label="External addresses",
        help_text="Addresses outside MIM Desk, one a line (a distribution list, a vendor).",
    )
    # Webhook addresses are HTTPS (Teams' Workflows, any signed receiver worth the name).
    teams_webhook_url = forms.URLField(
        required=False, max_length=1000, assume_scheme="https", label="Teams webhook URL"
    )
    webhook_url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        label="Signed webhook URL",
        help_text="Receives each message signed with MIM_WEBHOOK_SECRET (X-MIM-Signature).",
    )

    class Meta:
        model = StakeholderGroup
        fields = [
            "name",
            "slug",
            "description",
            "users",
            "django_groups",
            "external_emails",
            "services",
            "slack_channel",
            "sns_topic_arn",
            "teams_webhook_url",
            "webhook_url",
        ]


@admin.register(StakeholderGroup)
class StakeholderGroupAdmin(ModelAdmin):
    form = StakeholderGroupForm
    list_display = ["name", "slug", "member_count", "department", "channels_set"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    # Users and services are many (a CMDB, a company): typed, not scrolled. MIM Desk's roles are a
    # handful, and an ITSM manager may not open the groups' own admin, which autocomplete asks.
    autocomplete_fields = ["users", "services"]
    filter_horizontal = ["django_groups"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description"]}),
        ("People", {"fields": ["users", "django_groups", "external_emails"]}),
        ("Department", {"fields": ["services"]}),
        (
            "Channels",
            {"fields": ["slack_channel", "sns_topic_arn", "teams_webhook_url", "webhook_url"]},
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The counts in one query with the rows (a changelist costs the same for 5 or 50 groups).
        from django.db.models import Count

        return (
            super()
            .get_queryset(request)
            .annotate(
                _users=Count("users", distinct=True), _services=Count("services", distinct=True)
            )
        )

    @admin.display(description="users")
    def member_count(self, group: StakeholderGroup) -> int:
        return getattr(group, "_users", 0)

    @admin.display(description="department", boolean=True)
    def department(self, group: StakeholderGroup) -> bool:
        return bool(getattr(group, "_services", 0))

    @admin.display(description="channels")
    def channels_set(self, group: StakeholderGroup) -> str:
        names = [
            label
            for label, value in (
                ("Slack", group.slack_channel),
                ("SNS", group.sns_topic_arn),
                ("Teams", group.teams_webhook_url),
                ("webhook", group.webhook_url),
            )
            if value
        ]
        return ", ".join(names) or "email only"


# --- the communication plan -----------------------------------------------------------------------


class PlanEntryForm(forms.ModelForm):
    # The registry, not ChannelName: a channel is offered once it has a transport to send with.
    channels = forms.TypedMultipleChoiceField(
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="An unconfigured channel stays off (see the outbox's page) until its settings "
        "are set; the plan may name it already.",
    )
    roles = forms.TypedMultipleChoiceField(
        choices=RaciRole.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Holders of these roles on the MI hear it too.",
    )

    class Meta:
        model = CommunicationPlanEntry
        fields = [
            "name",
            "order",
            "enabled",
            "update_type",
            "trigger",
            "audiences",
            "affected_departments",
            "roles",
            "raci_activity",
            "include_previous_recipients",
            "channels",
            "status_page",
            "security_scope",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channels"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, _channel_label(name)) for name in channels.REGISTRY]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # An entry with neither a channel nor the status page would tell nobody anything.
        if not cleaned.get("channels") and not cleaned.get("status_page") and not self.errors:
            self.add_error("channels", "Choose a channel, or tick Status page for a public update.")
        return cleaned


def _channel_label(name: str) -> str:
    from ..models import ChannelName

    return str(dict(ChannelName.choices).get(name, name))


@admin.register(CommunicationPlanEntry)
class CommunicationPlanEntryAdmin(ModelAdmin):
    form = PlanEntryForm
    list_display = [
        "order",
        "name",
        "update_type",
        "trigger",
        "channel_list",
        "status_page",
        "security_scope",
        "enabled",
    ]
    list_display_links = ["name"]
    list_filter = ["enabled", "trigger", "update_type", "security_scope"]
    search_fields = ["name"]
    ordering = ["order", "id"]
    filter_horizontal = ["audiences"]
    fieldsets = [
        (None, {"fields": ["name", "order", "enabled", "update_type", "trigger"]}),
        (
            "Audience",
            {
                "fields": [
                    "audiences",
                    "affected_departments",
                    "roles",
                    "raci_activity",
                    "include_previous_recipients",
                ]
            },
        ),
        ("Delivery", {"fields": ["channels", "status_page", "security_scope"]}),
    ]

    @admin.display(description="channels")
    def channel_list(self, entry: CommunicationPlanEntry) -> str:
        return ", ".join(str(c) for c in entry.channels)


# --- message templates ----------------------------------------------------------------------------

TEMPLATE_PARTS = ("subject", "current_impact", "current_action", "user_action", "body")


def sample_context() -> dict[str, Any]:
    """What ``selectors.messages.mi_context`` gives a template, with made-up values: a template
    part is tried on it before it is saved (a test keeps the keys the same as the real ones)."""
    when = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
    status = MIStatus.INVESTIGATING
    return {
        "mi": {"number": "MI0000042", "summary": "Checkout down", "status": status},
        "number": "MI0000042",
        "service": "Checkout",
        "summary": "Checkout down",
        "impact": "Card payments fail for every customer.",
        "public_impact": "Some users may be unable to use Checkout.",
        "affected_users": 4000,
        "status": status,
        "status_label": STATUS_LABELS[status],
        "status_phrase": STATUS_PHRASES[status],
        "declared_at": f"{when:%H:%M} UTC",
        "resolved_at": "",
        "next_update_at": "10:00 UTC",
        "duration": "30 min",
        "commander": "usr_alice_johnson",
        "latest_command_update": "Failing over to the standby database.",
        "latest_public_action": "We are failing over to the standby database.",
        "war_room_url": "https://mim.example.com/war-rooms/MI0000042/",
        "recovery_hours": 2,
        "breach_deadline": "2025-03-06 09:30 UTC",
        "user_action_default": "No action needed; the next update follows by 10:00 UTC.",
        "is_security": False,
        "security_templates": False,
    }


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["update_type", "channel", "security_safe", "pre_approved", *TEMPLATE_PARTS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        context = sample_context()
        for part in TEMPLATE_PARTS:
            text = cleaned.get(part)
            if not text:
                continue
            label = self.fields[part].label or part
            try:
                render_text(text, context, what=str(label).lower())
            except DomainError as exc:
                self.add_error(part, exc.message)
            except Exception as exc:  # a filter failing on its argument: still the part's fault
                self.add_error(
                    part, f"The {str(label).lower()} does not render: {exc.__class__.__name__}"
                )
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ModelAdmin):
    form = MessageTemplateForm
    list_display = ["update_type", "channel_name", "subject", "security_safe", "pre_approved"]
    list_filter = ["update_type", "channel", "security_safe", "pre_approved"]
    search_fields = ["subject", "current_impact", "current_action", "user_action", "body"]
    ordering = ["update_type", "channel", "security_safe"]
    fieldsets = [
        (None, {"fields": ["update_type", "channel", "security_safe", "pre_approved"]}),
        (
            "The four parts",
            {
                "fields": ["subject", "current_impact", "current_action", "user_action", "body"],
                "description": "Django template syntax with the MI's values: {{ mi.number }}, "
                "{{ service }}, {{ status_label }}, {{ impact }}, {{ public_impact }}, "
                "{{ affected_users }}, {{ next_update_at }}, {{ duration }}, {{ commander }}, "
                "{{ war_room_url }}, {{ user_action_default }} … Each part must render.",
            },
        ),
    ]

    @admin.display(description="channel", ordering="channel")
    def channel_name(self, template: MessageTemplate) -> str:
        return template.get_channel_display() or "every channel"
