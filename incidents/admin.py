from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from . import services
from .errors import DomainError
from .models import (
    Change,
    CIDependency,
    ConfigurationItem,
    Incident,
    Problem,
    SystemProperty,
    SystemPropertyChange,
    TimelineEntry,
)
from .properties import REGISTRY


class NumberSearchMixin:
    """Lets the search box find a ticket by its number (``INC0000042``) as well as by text."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, distinct = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        pk = queryset.model.pk_from_number(search_term) if search_term else None
        if pk is not None:
            results = results | queryset.filter(pk=pk)
        return results, distinct


# --- CMDB -----------------------------------------------------------------------------------------


class ProviderInline(admin.TabularInline):
    model = CIDependency
    fk_name = "consumer"
    autocomplete_fields = ["provider"]
    extra = 1
    verbose_name = "depends on"
    verbose_name_plural = "depends on (providers)"


class ConsumerInline(admin.TabularInline):
    model = CIDependency
    fk_name = "provider"
    autocomplete_fields = ["consumer"]
    extra = 0
    verbose_name = "depended on by"
    verbose_name_plural = "depended on by (consumers)"


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "user_count", "criticality", "owner_group"]
    list_filter = ["kind", "criticality", "owner_group"]
    search_fields = ["name", "description", "owner_group"]
    inlines = [ProviderInline, ConsumerInline]
    readonly_fields = ["created_at", "updated_at"]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Inline edits bypass the CMDB services, so refresh the incidents they reach here.
        touched = {form.instance.pk}
        for formset in formsets:
            for obj in [*formset.new_objects, *formset.deleted_objects]:
                touched |= {obj.provider_id, obj.consumer_id}
            for obj, _ in formset.changed_objects:
                touched |= {obj.provider_id, obj.consumer_id}
        services.cmdb_changed(ci_ids=touched, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: ConfigurationItem) -> None:
        services.delete_configuration_item(ci=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for ci in queryset:
            services.delete_configuration_item(ci=ci, actor=request.user)


@admin.register(CIDependency)
class CIDependencyAdmin(admin.ModelAdmin):
    list_display = ["consumer", "provider", "created_at"]
    list_filter = ["consumer__kind", "provider__kind"]
    search_fields = ["consumer__name", "provider__name"]
    autocomplete_fields = ["consumer", "provider"]

    def save_model(self, request: HttpRequest, obj: CIDependency, form: Any, change: bool) -> None:
        # Moving an edge off a provider changes that provider's impact too: note it before saving.
        touched = set(
            CIDependency.objects.filter(pk=obj.pk).values_list("provider_id", flat=True)
            if change
            else []
        )
        super().save_model(request, obj, form, change)
        services.cmdb_changed(ci_ids=touched | {obj.provider_id}, actor=request.user)

    def delete_model(self, request: HttpRequest, obj: CIDependency) -> None:
        provider_id = obj.provider_id
        super().delete_model(request, obj)
        services.cmdb_changed(ci_ids=[provider_id], actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        providers = set(queryset.values_list("provider_id", flat=True))
        super().delete_queryset(request, queryset)
        services.cmdb_changed(ci_ids=providers, actor=request.user)


# --- Tickets --------------------------------------------------------------------------------------


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    fields = ("created_at", "kind", "message", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IncidentAdminForm(forms.ModelForm):
    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # builds self.instance from the form
        # The services refuse what breaks a rule; say so on the form rather than fail on save.
        try:
            services.check_incident(self.instance)
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)


@admin.register(Incident)
class IncidentAdmin(NumberSearchMixin, admin.ModelAdmin):
    form = IncidentAdminForm
    list_display = [
        "number", "short_description", "priority", "state", "affected_ci", "affected_users",
        "assigned_to", "created_at",
    ]  # fmt: skip
    list_filter = ["state", "priority", "channel", "is_security", "affected_ci__kind", "created_at"]
    search_fields = ["short_description", "description"]
    list_select_related = ["affected_ci", "assigned_to"]
    autocomplete_fields = ["affected_ci", "caller", "assigned_to", "parent", "problem"]
    readonly_fields = [
        "number", "priority", "priority_is_manual", "affected_users", "state", "created_at",
        "updated_at", "acknowledged_at", "resolved_at", "closed_at", "resolution_notes",
        "created_by",
    ]  # fmt: skip
    inlines = [TimelineInline]
    date_hierarchy = "created_at"
    actions = ["acknowledge_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Linking an existing incident is an operation with its own rules and timeline rows
        # (services.link_incident, the Link action of the API and the web form), not a field edit.
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "parent"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            services.update_incident(incident=obj, actor=request.user, **fields)
        else:
            fields.pop("short_description", None)
            created = services.create_incident(
                actor=request.user,
                short_description=form.cleaned_data["short_description"],
                **fields,
            )
            obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The only inline is the read-only timeline; nothing to save, and the services wrote it.
        # The admin's change message still reads what each formset saved: nothing.
        form.save_m2m()
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description="Acknowledge selected incidents", permissions=["change"])
    def acknowledge_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for incident in queryset:
            try:
                services.acknowledge_incident(incident=incident, actor=request.user)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{incident.number}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Acknowledged {done} incident(s).")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Incidents are records: cancel them, never delete them (the timeline points at them).
        return False


@admin.register(Problem)
class ProblemAdmin(NumberSearchMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "short_description",
        "state",
        "known_error",
        "assigned_to",
        "created_at",
    ]
    list_filter = ["state", "known_error", "created_at"]
    search_fields = ["short_description", "description", "root_cause"]
    autocomplete_fields = ["affected_ci", "assigned_to", "created_by"]
    readonly_fields = ["number", "created_at", "updated_at"]


@admin.register(Change)
class ChangeAdmin(NumberSearchMixin, admin.ModelAdmin):
    list_display = [
        "number", "short_description", "change_type", "state", "risk", "implementer",
        "planned_start", "planned_end",
    ]  # fmt: skip
    list_filter = ["change_type", "state", "risk", "planned_start"]
    search_fields = ["short_description", "description"]
    autocomplete_fields = ["affected_ci", "problem", "implementer", "created_by"]
    readonly_fields = ["number", "created_at", "updated_at"]


# --- System properties ----------------------------------------------------------------------------


class PropertyChangeInline(admin.TabularInline):
    model = SystemPropertyChange
    fields = ("changed_at", "changed_by", "old_value", "new_value")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SystemProperty)
class SystemPropertyAdmin(admin.ModelAdmin):
    list_display = ["key", "value", "default", "updated_at", "updated_by"]
    search_fields = ["key"]
    fields = ["key", "value", "help", "updated_at", "updated_by"]
    readonly_fields = ["key", "help", "updated_at", "updated_by"]
    inlines = [PropertyChangeInline]

    @admin.display(description="default")
    def default(self, obj: SystemProperty) -> Any:
        spec = REGISTRY.get(obj.key)
        return spec.default if spec else "—"

    @admin.display(description="about")
    def help(self, obj: SystemProperty) -> str:
        spec = REGISTRY.get(obj.key)
        if spec is None:
            return "Unknown property"
        facts = [("Type", spec.type_name), ("Default", spec.default), ("", spec.description)]
        if spec.choices:
            facts.append(("Choices", ", ".join(spec.choices)))
        if spec.minimum is not None:
            facts.append(("Range", f"{spec.minimum} … {spec.maximum}"))
        return format_html_join("", "<div><b>{}</b> {}</div>", facts)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the set of properties is fixed by the code (incidents.properties)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        spec = REGISTRY.get(obj.key) if obj else None

        class ValidatedForm(form):  # type: ignore[valid-type, misc]
            def clean_value(self) -> Any:
                value = self.cleaned_data["value"]
                if spec is None:
                    return value
                try:
                    return spec.validate(value)
                except ValueError as exc:
                    from django.core.exceptions import ValidationError

                    raise ValidationError(f"{spec.key} {exc}") from None

        return ValidatedForm

    def save_model(
        self, request: HttpRequest, obj: SystemProperty, form: Any, change: bool
    ) -> None:
        services.set_property(key=obj.key, value=form.cleaned_data["value"], actor=request.user)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    """Read-only: the timeline is an append-only log."""

    list_display = ["created_at", "incident", "kind", "message", "actor"]
    list_filter = ["kind", "created_at"]
    search_fields = ["message"]
    list_select_related = ["incident", "actor"]
    readonly_fields = ["incident", "kind", "message", "data", "actor", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
