"""Changing system properties, with who changed what and when."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ..errors import DomainError
from ..models import (
    SystemProperty,
    SystemPropertyChange,
)
from ..properties import REGISTRY
from ..selectors.actors import Actor, user_of
from ..selectors.properties import PROPERTY_CACHE_KEY


def set_property(*, key: str, value: Any, actor: Actor | None) -> SystemProperty:
    """Validate and store a new value, recording who changed it, from what, and when."""
    spec = REGISTRY.get(key)
    if spec is None:
        raise DomainError(f"unknown system property {key!r}", field="key")
    try:
        clean = spec.validate(value)
    except ValueError as exc:
        raise DomainError(f"{key} {exc}", field="value") from None
    user = user_of(actor)
    with transaction.atomic():
        prop, created = SystemProperty.objects.select_for_update().get_or_create(
            key=key, defaults={"value": clean, "updated_by": user}
        )
        old = None if created else prop.value
        if created or old != clean:
            prop.value = clean
            prop.updated_by = user
            prop.updated_at = timezone.now()
            prop.save(update_fields=["value", "updated_by", "updated_at"])
            SystemPropertyChange.objects.create(
                prop=prop,
                old_value=old,
                new_value=clean,
                changed_by=user,
                changed_at=prop.updated_at,  # one instant for the row and its history
            )
        transaction.on_commit(lambda: cache.delete(PROPERTY_CACHE_KEY.format(key)))
    return prop
