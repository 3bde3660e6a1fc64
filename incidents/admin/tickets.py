"""Incidents, problems, changes and the read-only timeline in the admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .. import selectors, services
from ..errors import DomainError
from ..models import (
    Change,
    Incident,
    Problem,
    ProblemTask,
    TimelineEntry,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User
from .common import (
    SECURITY_FILTER,
    ModelAdmin,
    NumberSearchMixin,
    ServiceRefusalMixin,
    TabularInline,
    titled,
)

# --- Tickets --------------------------------------------------------------------------------------


class TimelineInline(TabularInline):
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
class IncidentAdmin(ServiceRefusalMixin, NumberSearchMixin, ModelAdmin):
    form = IncidentAdminForm
    list_display = [
        "number", "short_description", "priority", "state", "affected_ci", "affected_users",
        "assigned_to", "created_at",
    ]  # fmt: skip
    # ``created_at`` is the date hierarchy above the list, not a filter beside it too.
    list_filter = [
        "state", "priority", "channel", SECURITY_FILTER,
        ("affected_ci__kind", titled(admin.ChoicesFieldListFilter, "affected CI kind")),
    ]  # fmt: skip
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
    actions = ["acknowledge_selected", "declare_major_incident"]
    never = {"delete": "Incidents are records: cancel them, never delete them."}

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

    def has_declare_permission(self, request: HttpRequest) -> bool:
        return selectors.can_declare(request.user)

    @admin.action(description="Declare major incident (you as IC)", permissions=["declare"])
    def declare_major_incident(self, request: HttpRequest, queryset: QuerySet) -> None:
        for incident in queryset:
            try:
                mi = services.declare_major_incident(
                    incident=incident,
                    manager=cast("User", request.user),
                    actor=request.user,
                    initial_impact_statement=incident.short_description,
                )
            except DomainError as exc:
                # NotAllowed cannot happen here (the action needs the permission); Conflict and
                # the other refusals are reported per incident.
                self.message_user(request, f"{incident.number}: {exc.message}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    format_html(
                        '{}: declared <a href="{}">{}</a> with you as incident commander.',
                        incident.number,
                        reverse("majors:detail", args=[mi.number]),
                        mi.number,
                    ),
                    messages.SUCCESS,
                )


@admin.register(Problem)
class ProblemAdmin(ServiceRefusalMixin, NumberSearchMixin, ModelAdmin):
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
    list_select_related = ["assigned_to"]  # nullable: Django's automatic join leaves it out
    autocomplete_fields = ["affected_ci", "assigned_to", "created_by"]
    readonly_fields = ["number", "created_at", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Problem, form: Any, change: bool) -> None:
        services.save_problem(problem=obj, actor=request.user)


@admin.register(ProblemTask)
class ProblemTaskAdmin(ServiceRefusalMixin, NumberSearchMixin, ModelAdmin):
    list_display = [
        "number", "short_description", "problem", "state", "priority", "assigned_to", "due_date",
    ]  # fmt: skip
    list_filter = ["state", "priority", "due_date"]
    search_fields = ["short_description", "description", "source_label"]
    list_select_related = ["problem", "assigned_to"]
    autocomplete_fields = ["problem", "assigned_to", "created_by"]
    readonly_fields = ["number", "source", "created_at", "updated_at", "closed_at"]
    exclude = ["source_label", "source_url"]

    @admin.display(description="Came from")
    def source(self, obj: ProblemTask) -> str:
        return _source_link(obj.source_label, obj.source_url)

    def save_model(self, request: HttpRequest, obj: ProblemTask, form: Any, change: bool) -> None:
        services.save_problem_task(task=obj, actor=request.user)


def _source_link(label: str, url: str) -> str:
    """The PIR action item a task or change came from; only a site-relative link is a link."""
    if url.startswith("/") and not url.startswith("//"):
        return format_html('<a href="{}">{}</a>', url, label or url)
    return label or "-"


@admin.register(Change)
class ChangeAdmin(ServiceRefusalMixin, NumberSearchMixin, ModelAdmin):
    # The planned end is on the change page: with it the list did not fit 1366 px.
    list_display = [
        "number", "short_description", "change_type", "state", "risk", "implementer",
        "planned_start",
    ]  # fmt: skip
    list_filter = ["change_type", "state", "risk", "planned_start"]
    search_fields = ["short_description", "description"]
    list_select_related = ["implementer"]
    autocomplete_fields = ["affected_ci", "problem", "implementer", "created_by"]
    readonly_fields = ["number", "source", "created_at", "updated_at"]
    exclude = ["source_label", "source_url"]

    @admin.display(description="Came from")
    def source(self, obj: Change) -> str:
        return _source_link(obj.source_label, obj.source_url)

    def save_model(self, request: HttpRequest, obj: Change, form: Any, change: bool) -> None:
        services.save_change(change=obj, actor=request.user)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ModelAdmin):
    """Read-only: the timeline is an append-only log."""

    never = dict.fromkeys(
        ("add", "change", "delete"), "The timeline is an append-only log; the services write it."
    )

    list_display = ["created_at", "incident", "kind", "message", "actor"]
    list_filter = ["kind", "created_at"]
    search_fields = ["message"]
    list_select_related = ["incident", "actor"]
    readonly_fields = ["incident", "kind", "message", "data", "actor", "created_at"]
