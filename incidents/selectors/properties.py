"""Reading system properties: cached, with the registry default when no row exists."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from ..models import (
    SystemProperty,
)
from ..properties import REGISTRY

PROPERTY_CACHE_KEY = "sysprop:v1:{}"
PROPERTY_CACHE_SECONDS = 60


def get_property(key: str) -> Any:
    """The current value of a system property, cached; the registry default if no row exists."""
    spec = REGISTRY[key]
    cache_key = PROPERTY_CACHE_KEY.format(key)
    value = cache.get(cache_key)
    if value is None:
        row = SystemProperty.objects.filter(key=key).values_list("value", flat=True).first()
        value = spec.default if row is None else row
        cache.set(cache_key, value, PROPERTY_CACHE_SECONDS)
    return value
