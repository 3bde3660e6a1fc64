"""The status page's records in the admin: scheduled maintenance (ITSM managers keep it) and the
subscribers (read here; consent is the subscriber's own, by the confirmation link).

A maintenance saved here goes through ``comms.services.maintenance`` like the API's: the status
move is checked, a public update written, the page's cache dropped and subscribers mailed; a
refused move comes back as a message on the form (``ServiceRefusalMixin``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from incidents.admin.common import ModelAdmin, ReadOnlyInline, ServiceRefusalMixin
from incidents.models import CIKind, ConfigurationItem

from ..models import MaintenanceUpdate, ScheduledMaintenance, StatusSubscriber
from ..services import maintenance as services
from ..services.maintenance import MAX_BODY


class MaintenanceForm(forms.ModelForm):
    message = forms.CharField(
        required=False,
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Public: an update shown on the status page (and mailed to subscribers when the "
        "status moves). Default: a sentence for the new status.",
    )

    class Meta:
        model = ScheduledMaintenance
        fields = ["name", "components", "scheduled_for", "scheduled_until", "notes", "status"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "components" in self.fields:
            field = self.fields["components"]
            assert isinstance(field, forms.ModelMultipleChoiceField)
            field.queryset = ConfigurationItem.objects.filter(
                kind=CIKind.BUSINESS_SERVICE
            ).order_by("name")
            field.help_text = "The business services (status page components) it affects."


class MaintenanceUpdateInline(ReadOnlyInline):
    model = MaintenanceUpdate
    fields = ("created_at", "status", "body")
    readonly_fields = fields
    show_change_link = False
    ordering = ["-created_at", "-id"]


@admin.register(ScheduledMaintenance)
class ScheduledMaintenanceAdmin(ServiceRefusalMixin, ModelAdmin):
    form = MaintenanceForm
    never = {"delete": "Maintenance windows are public records: complete them, never delete them."}
    list_display = ["name", "status", "scheduled_for", "scheduled_until", "created_by"]
    list_filter = ["status"]
    search_fields = ["name", "notes"]
    list_select_related = ["created_by"]
    filter_horizontal = ["components"]
    inlines = [MaintenanceUpdateInline]
    readonly_fields = ["started_at", "completed_at", "created_by", "created_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["name", "components", "scheduled_for", "scheduled_until", "notes"]
        if obj is None:
            return [*fields, "message"]  # a new window is ``scheduled``
        return [*fields, "status", "message", *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        components = [ci.pk for ci in data["components"]]
        if not change:
            created = services.create_maintenance(
                actor=request.user,
                name=data["name"],
                components=components,
                scheduled_for=data["scheduled_for"],
                scheduled_until=data["scheduled_until"],
                notes=data.get("notes", ""),
                message=data.get("message", ""),
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        original = ScheduledMaintenance.objects.get(pk=obj.pk)
        fields: dict[str, Any] = {
            name: data[name]
            for name in ("name", "notes", "scheduled_for", "scheduled_until")
            if data[name] != getattr(original, name)
        }
        if set(components) != set(original.components.values_list("pk", flat=True)):
            fields["components"] = components
        services.change_maintenance(
            maintenance=original,
            actor=request.user,
            status=data["status"],
            message=data.get("message", ""),
            **fields,
        )
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The service set the components (no ``form.save_m2m()``); the read-only inline saves
        # nothing, but the admin's change message reads what its formset saved.
        for formset in formsets:
            self.save_formset(request, form, formset, change)


@admin.register(StatusSubscriber)
class StatusSubscriberAdmin(ModelAdmin):
    never = dict.fromkeys(
        ("add", "change"),
        "Subscribers sign up and confirm on the status page themselves (double opt-in), and "
        "unsubscribe by the link in every mail.",
    )
    list_display = ["email", "created_at", "confirmed_at", "unsubscribed_at"]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter), "unsubscribed_at"]
    search_fields = ["email"]
    fields = (
        "email",
        "components",
        "created_at",
        "confirmation_sent_at",
        "confirmed_at",
        "unsubscribed_at",
    )
    readonly_fields = fields
