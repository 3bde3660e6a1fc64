"""Monitoring webhooks in, in the admin.

Sources are a super admin's (their secret opens the door to incidents): created with a secret
shown once, edited (name, defaults, on/off), rotated by an action that shows the new secret
once. Label rules are kept by ITSM managers. The payloads, alert groups and alerts are the
system's records, read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from incidents.admin.common import ModelAdmin, ReadOnlyInline, ServiceRefusalMixin
from incidents.errors import DomainError

from ..models import Alert, AlertGroup, InboundEvent, InboundSource, LabelRule
from ..services import inbound

_READ_ONLY = ("add", "change", "delete")


def _masked(secret: str) -> str:
    return f"…{secret[-4:]}" if secret else ""


@admin.register(InboundSource)
class InboundSourceAdmin(ServiceRefusalMixin, ModelAdmin):
    list_display = ["name", "kind", "enabled", "endpoint", "secret_hint", "last_received_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    actions = ["rotate_secrets"]
    readonly_fields = ["endpoint", "secret_hint", "created_at", "last_received_at"]
    fields = [
        "name",
        "kind",
        "enabled",
        "default_ci",
        "default_impact",
        "default_urgency",
        "assignment_group",
        *readonly_fields,
    ]
    autocomplete_fields = ["default_ci"]
    list_select_related = ["default_ci"]

    @admin.display(description="URL")
    def endpoint(self, obj: InboundSource) -> str:
        return inbound.url_of(obj.kind) if obj.kind else ""

    @admin.display(description="secret")
    def secret_hint(self, obj: InboundSource) -> str:
        return _masked(obj.secret)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A source's kind decides how it authenticates: a new kind is a new source.
        return [*self.readonly_fields, "kind"] if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: InboundSource, form: Any, change: bool) -> None:
        created = not obj.pk
        inbound.save_source(source=obj, actor=request.user)
        if created:
            self.message_user(
                request,
                f"Source “{obj.name}” created. Its URL is {inbound.url_of(obj.kind)} and its "
                f"secret is {obj.secret} — copy it now: it is not shown again.",
                messages.WARNING,
            )

    @admin.action(description="Rotate the secret (the old one stops working at once)")
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet[InboundSource]) -> None:
        for source in queryset:
            secret = inbound.rotate_secret(source=source, actor=request.user)
            self.message_user(
                request,
                f"New secret of “{source.name}”: {secret} — copy it now: it is not shown again.",
                messages.WARNING,
            )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            actions.pop("rotate_secrets", None)
        return actions


class LabelRuleForm(forms.ModelForm):
    class Meta:
        model = LabelRule
        fields = [
            "name", "order", "enabled", "source", "label", "pattern", "ci", "impact", "urgency",
            "assignment_group",
        ]  # fmt: skip

    def clean_pattern(self) -> str:
        pattern = self.cleaned_data["pattern"]
        try:
            inbound.check_pattern(pattern)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None
        return pattern


@admin.register(LabelRule)
class LabelRuleAdmin(ServiceRefusalMixin, ModelAdmin):
    form = LabelRuleForm
    list_display = ["name", "order", "enabled", "source", "label", "pattern", "ci", "impact",
                    "urgency"]  # fmt: skip
    list_editable = ["order", "enabled"]
    list_filter = ["enabled", "source"]
    search_fields = ["name", "label", "pattern"]
    list_select_related = ["source", "ci"]
    autocomplete_fields = ["ci"]

    def save_model(self, request: HttpRequest, obj: LabelRule, form: Any, change: bool) -> None:
        inbound.save_label_rule(rule=obj, actor=request.user)


@admin.register(InboundEvent)
class InboundEventAdmin(ModelAdmin):
    never = dict.fromkeys(_READ_ONLY, "Payloads are records of what a source sent, kept as is.")
    list_display = ["received_at", "source", "outcome", "incident", "short_error"]
    list_filter = ["outcome", "source"]
    search_fields = ["dedup_key", "error"]
    list_select_related = ["source", "incident"]
    fields = ("source", "received_at", "outcome", "error", "dedup_key", "incident",
              "parse_result", "headers", "body")  # fmt: skip
    readonly_fields = fields

    @admin.display(description="error")
    def short_error(self, obj: InboundEvent) -> str:
        return Truncator(obj.error).chars(80)


class AlertInline(ReadOnlyInline):
    model = Alert
    fields = ("fingerprint", "status", "labels", "starts_at", "ends_at", "last_seen_at")
    readonly_fields = fields


@admin.register(AlertGroup)
class AlertGroupAdmin(ModelAdmin):
    never = dict.fromkeys(_READ_ONLY, "Alert groups are kept by the webhooks, from what arrives.")
    list_display = ["short_key", "source", "status", "incident", "notifications", "last_seen_at"]
    list_filter = ["status", "source"]
    search_fields = ["dedup_key"]
    list_select_related = ["source", "incident"]
    fields = ("source", "dedup_key", "status", "incident", "labels", "notifications",
              "first_seen_at", "last_seen_at", "resolved_at")  # fmt: skip
    readonly_fields = fields
    inlines = [AlertInline]

    @admin.display(description="dedup key")
    def short_key(self, obj: AlertGroup) -> str:
        return Truncator(obj.dedup_key).chars(80)
