"""CMDB admin: configuration items with their dependency inlines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .. import services
from ..models import (
    CIDependency,
    ConfigurationItem,
)
from .common import ModelAdmin, TabularInline

if TYPE_CHECKING:
    pass


# --- CMDB -----------------------------------------------------------------------------------------


class ProviderInline(TabularInline):
    model = CIDependency
    fk_name = "consumer"
    autocomplete_fields = ["provider"]
    extra = 1
    verbose_name = "depends on"
    verbose_name_plural = "depends on (providers)"


class ConsumerInline(TabularInline):
    model = CIDependency
    fk_name = "provider"
    autocomplete_fields = ["consumer"]
    extra = 0
    verbose_name = "depended on by"
    verbose_name_plural = "depended on by (consumers)"


@admin.register(ConfigurationItem)
class ConfigurationItemAdmin(ModelAdmin):
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
        services.refresh_affected_users(touched)

    def delete_model(self, request: HttpRequest, obj: ConfigurationItem) -> None:
        services.delete_configuration_item(ci=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for ci in queryset:
            services.delete_configuration_item(ci=ci, actor=request.user)


@admin.register(CIDependency)
class CIDependencyAdmin(ModelAdmin):
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
        services.refresh_affected_users(touched | {obj.provider_id})

    def delete_model(self, request: HttpRequest, obj: CIDependency) -> None:
        provider_id = obj.provider_id
        super().delete_model(request, obj)
        services.refresh_affected_users([provider_id])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        providers = set(queryset.values_list("provider_id", flat=True))
        super().delete_queryset(request, queryset)
        services.refresh_affected_users(providers)
