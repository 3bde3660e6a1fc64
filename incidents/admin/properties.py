"""System properties in the admin: typed, validated, with their history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join

from .. import services
from ..models import (
    SystemProperty,
    SystemPropertyChange,
)
from ..properties import REGISTRY, PropertySpec
from .common import ModelAdmin, TabularInline

if TYPE_CHECKING:
    pass


# --- System properties ----------------------------------------------------------------------------


class PropertyChangeInline(TabularInline):
    model = SystemPropertyChange
    fields = ("changed_at", "changed_by", "old_value", "new_value")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def value_field(spec: PropertySpec) -> forms.Field:
    """The form field for one property's value, from its type in ``incidents.properties``."""
    label = "Value"
    if spec.choices:
        return forms.ChoiceField(label=label, choices=[(c, c) for c in spec.choices])
    if spec.kind is bool:
        return forms.BooleanField(label=label, required=False)
    if spec.kind is int:
        return forms.IntegerField(label=label, min_value=spec.minimum, max_value=spec.maximum)
    return forms.CharField(label=label)


@admin.register(SystemProperty)
class SystemPropertyAdmin(ModelAdmin):
    list_display = ["key", "shown_value", "default", "updated_at", "updated_by"]
    list_select_related = ["updated_by"]
    search_fields = ["key"]
    fields = ["key", "value", "help", "updated_at", "updated_by"]
    readonly_fields = ["key", "help", "updated_at", "updated_by"]
    inlines = [PropertyChangeInline]
    never = dict.fromkeys(("add", "delete"), "The set of system properties is fixed by the code.")

    @admin.display(description="value", ordering="value")
    def shown_value(self, obj: SystemProperty) -> Any:
        # As typed in the form (declare, 50), not as stored JSON ("declare").
        return obj.value

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return ["shown_value" if f == "value" else f for f in fields]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), "shown_value"]

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

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        found = REGISTRY.get(obj.key) if obj else None
        if found is None or "value" not in form.base_fields:
            return form  # read-only (view permission only), or a key the code does not know
        spec: PropertySpec = found

        class TypedForm(form):  # type: ignore[valid-type, misc]
            # The value as its type asks for it: a choice is a dropdown, a number a number box,
            # a flag a checkbox; not JSON typed by hand with its quotes.
            value = value_field(spec)

            def clean_value(self) -> Any:
                try:
                    return spec.validate(self.cleaned_data["value"])
                except ValueError as exc:
                    raise forms.ValidationError(f"{spec.key} {exc}") from None

        return TypedForm

    def save_model(
        self, request: HttpRequest, obj: SystemProperty, form: Any, change: bool
    ) -> None:
        services.set_property(key=obj.key, value=form.cleaned_data["value"], actor=request.user)
