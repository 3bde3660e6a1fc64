"""Major incidents in the admin: MIs, roster, RACI, rules, candidates and escalations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .. import selectors, services
from ..errors import DomainError
from ..models import (
    MILESTONES,
    AutoDeclarationRule,
    EscalationFiring,
    EscalationPolicy,
    EscalationStep,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    Raci,
    RaciActivity,
    RaciEntry,
    RaciRole,
    RoleAssignment,
    RoleRoster,
)

if TYPE_CHECKING:
    pass
from .common import (
    SECURITY_FILTER,
    ModelAdmin,
    NumberSearchMixin,
    ServiceRefusalMixin,
    TabularInline,
)

# --- Major incidents ------------------------------------------------------------------------------


class ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RoleAssignmentInline(ReadOnlyInline):
    model = RoleAssignment
    fields = ("role", "user", "assigned_at", "assigned_by", "removed_at", "removed_by")
    readonly_fields = fields
    verbose_name_plural = "roles (assign and remove on the major incident page)"


class EscalationFiringInline(ReadOnlyInline):
    model = EscalationFiring
    fields = ("step", "triggered_at", "fired_at")
    readonly_fields = fields


class MajorIncidentAddForm(forms.ModelForm):
    """Declaring from the admin goes through ``services.declare_major_incident`` like the rest."""

    bridge_link = forms.URLField(required=False, max_length=500, assume_scheme="https")
    major_incident_manager = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        label="Incident commander",
    )

    class Meta:
        model = MajorIncident
        fields = ["incident", "major_incident_manager", "impact_statement", "bridge_link",
                  "is_security", "summary"]  # fmt: skip
        labels = {"impact_statement": "Initial impact statement"}

    def clean_incident(self) -> Incident:
        incident: Incident = self.cleaned_data["incident"]
        if not incident.is_open:
            raise forms.ValidationError(f"{incident.number} is {incident.get_state_display()}.")
        return incident


@admin.register(MajorIncident)
class MajorIncidentAdmin(ServiceRefusalMixin, NumberSearchMixin, ModelAdmin):
    list_display = ["number", "status", "incident", "commander", "is_security", "declared_at"]
    list_filter = ["status", SECURITY_FILTER, "media_attention"]  # declared_at: date hierarchy
    search_fields = ["impact_statement", "summary", "incident__short_description"]
    list_select_related = ["incident"]
    autocomplete_fields = ["incident"]
    date_hierarchy = "declared_at"
    inlines = [RoleAssignmentInline, EscalationFiringInline]
    asks = {"add": "declare"}
    never = {"delete": "Cancel a major incident, with a reason, on its page; it is never deleted."}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = [
        "number", "status", "incident", "commander", "web_page", "trigger_rule", "trigger_reason",
        "declared_by", "problem", "cancel_reason", "next_update_due_at", "pir_published_at",
        "updated_at", *MILESTONES,
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["number", "web_page", "status", "incident", "commander", "problem"]}),
        (
            "Impact",
            {
                "fields": [
                    "impact_statement",
                    "summary",
                    "bridge_link",
                    "bridge_dial_in",
                    "is_security",
                    "media_attention",
                ]
            },
        ),
        (
            "Declaration",
            {
                "fields": [
                    "declared_by",
                    "trigger_rule",
                    "trigger_reason",
                    "cancel_reason",
                    "next_update_due_at",
                    "pir_published_at",
                    "updated_at",
                ]
            },
        ),
        (
            "Milestones (backfill them on the major incident's page, where order is checked)",
            {"fields": list(MILESTONES)},
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The commander column reads the role holders prefetched here, not one query per row.
        return super().get_queryset(request).prefetch_related(selectors.prefetch_active_roles())

    @admin.display(description="incident commander")
    def commander(self, obj: MajorIncident) -> str:
        if not obj.pk:
            return "—"
        return self._name(selectors.current_commander(obj))

    @staticmethod
    def _name(user: Any) -> str:
        return user.get_username() if user else "—"

    @admin.display(description="page")
    def web_page(self, obj: MajorIncident) -> str:
        if not obj.pk:
            return "—"
        url = reverse("majors:detail", args=[obj.number])
        return format_html('<a href="{}">{}</a> (lifecycle moves and roles)', url, url)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = MajorIncidentAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [(None, {"fields": MajorIncidentAddForm.Meta.fields})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else super().get_inlines(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return selectors.can_declare(request.user)

    def save_model(self, request: HttpRequest, obj: MajorIncident, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            mi = services.declare_major_incident(
                incident=data["incident"],
                manager=data["major_incident_manager"],
                actor=request.user,
                initial_impact_statement=data["impact_statement"],
                bridge_link=data.get("bridge_link") or "",
                is_security=bool(data.get("is_security")),
                summary=data.get("summary") or "",
            )
            obj.pk = mi.pk
            obj.__dict__.update({k: v for k, v in mi.__dict__.items() if k != "_state"})
            obj._state.adding = False
            return
        # Descriptive fields only (status, roles and milestones are read-only here and have
        # their services): one timeline row per changed field, the incident's security flag with
        # the MI's, and only the changed fields written, so a concurrent transition stands.
        changed = {n: data[n] for n in form.changed_data if n in services.EDITABLE_MI_FIELDS}
        if changed:
            services.update_major_incident(mi=obj, actor=request.user, **changed)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        form.save_m2m()
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("major_incident_manager", str(request.user.pk))
        return initial


@admin.register(RoleRoster)
class RoleRosterAdmin(ModelAdmin):
    list_display = ["role", "user", "updated_at"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    readonly_fields = ["updated_at"]


class RaciEntryInline(TabularInline):
    model = RaciEntry
    extra = 0
    fields = ("role", "letter")


@admin.register(RaciActivity)
class RaciActivityAdmin(ModelAdmin):
    list_display = ["name", "code", "order", "letters"]
    list_editable = ["order"]
    search_fields = ["name", "code"]
    inlines = [RaciEntryInline]
    change_list_template = "admin/incidents/raciactivity/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("entries")

    @admin.display(description="R / A / C / I")
    def letters(self, obj: RaciActivity) -> str:
        by_letter: dict[str, list[str]] = {}
        for entry in obj.entries.all():
            by_letter.setdefault(entry.letter, []).append(entry.role)
        return " · ".join(
            f"{letter}: {', '.join(sorted(by_letter[letter]))}"
            for letter in Raci.values
            if letter in by_letter
        )

    def get_urls(self) -> list[Any]:
        urls = [
            path(
                "matrix/",
                self.admin_site.admin_view(self.matrix_view),
                name="incidents_raciactivity_matrix",
            )
        ]
        return urls + super().get_urls()

    def matrix_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied(selectors.refusal("view", RaciActivity))
        activities = list(RaciActivity.objects.prefetch_related("entries"))
        rows = []
        for activity in activities:
            letters = {e.role: e.letter for e in activity.entries.all()}
            rows.append((activity, [letters.get(role, "") for role in RaciRole.values]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "RACI matrix",
            "roles": RaciRole.choices,
            "rows": rows,
            "legend": Raci.choices,
        }
        return TemplateResponse(request, "admin/incidents/raciactivity/matrix.html", context)


@admin.register(AutoDeclarationRule)
class AutoDeclarationRuleAdmin(ModelAdmin):
    list_display = ["name", "order", "enabled", "action", "conditions", "dry_run_link"]
    list_display_links = ["name"]
    list_editable = ["order", "enabled", "action"]
    list_filter = ["enabled", "action"]
    search_fields = ["name", "description"]
    actions = ["dry_run_selected"]
    fieldsets = [
        (None, {"fields": ["name", "order", "enabled", "action", "description"]}),
        (
            "Conditions: every one that is set must hold; a property name overrides the number",
            {
                "fields": [
                    "max_priority",
                    "states",
                    "unacknowledged_minutes",
                    "unacknowledged_minutes_property",
                    "min_affected_users",
                    "min_affected_users_property",
                    "min_child_incidents",
                    "max_ci_criticality",
                    "is_security",
                ]
            },
        ),
    ]

    @admin.display(description="conditions")
    def conditions(self, rule: AutoDeclarationRule) -> str:
        parts = []
        if rule.max_priority is not None:
            parts.append(f"P{rule.max_priority} or higher")
        if rule.states:
            parts.append("state in " + ", ".join(rule.states))
        if rule.unacknowledged_minutes_property:
            parts.append(f"unacknowledged ≥ {rule.unacknowledged_minutes_property}")
        elif rule.unacknowledged_minutes is not None:
            parts.append(f"unacknowledged ≥ {rule.unacknowledged_minutes} min")
        if rule.min_affected_users_property:
            parts.append(f"users > {rule.min_affected_users_property}")
        elif rule.min_affected_users is not None:
            parts.append(f"users > {rule.min_affected_users}")
        if rule.min_child_incidents is not None:
            parts.append(f"≥ {rule.min_child_incidents} children")
        if rule.max_ci_criticality is not None:
            parts.append(f"CI criticality ≤ {rule.max_ci_criticality}")
        if rule.is_security is not None:
            parts.append("security" if rule.is_security else "not security")
        return "; ".join(parts) or "any incident"

    @admin.display(description="dry run")
    def dry_run_link(self, rule: AutoDeclarationRule) -> str:
        url = reverse("admin:incidents_autodeclarationrule_dry_run", args=[rule.pk])
        return format_html('<a href="{}">Last 7 days</a>', url)

    def get_urls(self) -> list[Any]:
        urls = [
            path(
                "<int:rule_id>/dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="incidents_autodeclarationrule_dry_run",
            )
        ]
        return urls + super().get_urls()

    def _days(self, request: HttpRequest) -> int:
        try:
            days = int(request.GET.get("days") or request.POST.get("days") or 7)
        except ValueError:
            days = 7
        return max(1, min(days, 90))

    def _dry_run_response(
        self, request: HttpRequest, rules: list[AutoDeclarationRule]
    ) -> HttpResponse:
        days = self._days(request)
        results = [(rule, services.dry_run(rule, days=days)) for rule in rules]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Dry run: the last {days} day{'s' if days != 1 else ''}",
            "days": days,
            "results": results,
            "single": rules[0] if len(rules) == 1 else None,
        }
        return TemplateResponse(
            request, "admin/incidents/autodeclarationrule/dry_run.html", context
        )

    def dry_run_view(self, request: HttpRequest, rule_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied(selectors.refusal("view", AutoDeclarationRule))
        rule = get_object_or_404(AutoDeclarationRule, pk=rule_id)
        return self._dry_run_response(request, [rule])

    @admin.action(description="Dry run: what would these rules have declared in the last 7 days")
    def dry_run_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return self._dry_run_response(request, list(queryset.order_by("order", "id")))


@admin.register(MajorIncidentCandidate)
class MajorIncidentCandidateAdmin(ModelAdmin):
    list_display = [
        "incident",
        "status",
        "rule",
        "reason",
        "created_at",
        "decided_by",
        "major_incident",
    ]
    list_filter = ["status", "rule", "created_at"]
    search_fields = ["reason", "incident__short_description"]
    list_select_related = ["incident", "rule", "decided_by", "major_incident"]
    readonly_fields = [
        "incident", "rule", "reason", "status", "decided_by", "decided_at", "decision_reason",
        "major_incident", "created_at",
    ]  # fmt: skip
    actions = ["accept_selected", "reject_selected"]
    never = {"add": "Candidates are proposed by the auto-declaration rules in propose mode."}

    def has_declare_permission(self, request: HttpRequest) -> bool:
        return selectors.can_declare(request.user)

    @admin.action(
        description="Accept: declare major incidents (you as IC)", permissions=["declare"]
    )
    def accept_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        for candidate in queryset.select_related("incident"):
            try:
                mi = services.accept_candidate(candidate=candidate, actor=request.user)
            except DomainError as exc:
                self.message_user(
                    request, f"{candidate.incident.number}: {exc.message}", messages.WARNING
                )
            else:
                self.message_user(request, f"{candidate.incident.number}: declared {mi.number}.")

    @admin.action(description="Reject (asks for a reason)", permissions=["declare"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        reason = (request.POST.get("reason") or "").strip()
        if "apply" in request.POST and reason:
            for candidate in queryset.select_related("incident"):
                try:
                    services.reject_candidate(
                        candidate=candidate, actor=request.user, reason=reason
                    )
                except DomainError as exc:
                    self.message_user(
                        request, f"{candidate.incident.number}: {exc.message}", messages.WARNING
                    )
                else:
                    self.message_user(request, f"{candidate.incident.number}: rejected.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Reject major incident candidates",
            "candidates": queryset.select_related("incident", "rule"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "missing_reason": "apply" in request.POST,
        }
        return TemplateResponse(
            request, "admin/incidents/majorincidentcandidate/reject.html", context
        )


class EscalationStepInline(TabularInline):
    model = EscalationStep
    extra = 0
    fields = ("order", "delay_minutes", "target_label", "target_role", "target_group")


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ModelAdmin):
    list_display = ["name", "trigger", "enabled", "step_count"]
    list_editable = ["enabled"]
    list_filter = ["trigger", "enabled"]
    search_fields = ["name", "description"]
    inlines = [EscalationStepInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(steps_total=Count("steps"))

    @admin.display(description="steps", ordering="steps_total")
    def step_count(self, obj: EscalationPolicy) -> int:
        return obj.steps_total  # type: ignore[attr-defined]  # annotated above


@admin.register(EscalationFiring)
class EscalationFiringAdmin(ModelAdmin):
    """Read-only: the record that each step fired once."""

    never = dict.fromkeys(
        ("add", "change", "delete"), "Escalation firings are the record of what fired, read-only."
    )

    list_display = ["fired_at", "major_incident", "step", "triggered_at"]
    list_filter = ["step__policy", "fired_at"]
    list_select_related = ["major_incident", "step", "step__policy"]
    readonly_fields = ["major_incident", "step", "triggered_at", "fired_at"]
