"""System properties in the admin: typed, validated, with their history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join

from .. import services
from ..models import (
    SystemProperty,
    SystemPropertyChange,
)
from ..properties import REGISTRY
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


@admin.register(SystemProperty)
class SystemPropertyAdmin(ModelAdmin):
    list_display = ["key", "value", "default", "updated_at", "updated_by"]
    search_fields = ["key"]
    fields = ["key", "value", "help", "updated_at", "updated_by"]
    readonly_fields = ["key", "help", "updated_at", "updated_by"]
    inlines = [PropertyChangeInline]
    never = dict.fromkeys(("add", "delete"), "The set of system properties is fixed by the code.")

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
