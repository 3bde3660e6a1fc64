from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from .. import selectors
from ..models import Incident, MajorIncident


class May:
    """What the navigation offers the user, asked of ``selectors.can`` when a template reads it."""

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def view_incidents(self) -> bool:
        return selectors.can(self.user, "view", Incident)

    @cached_property
    def add_incident(self) -> bool:
        return selectors.can(self.user, "add", Incident)

    @cached_property
    def see_major_incidents(self) -> bool:
        return selectors.can(self.user, "view", MajorIncident)

    @cached_property
    def declare(self) -> bool:
        return selectors.can(self.user, "declare")


def roles(request: HttpRequest) -> dict[str, Any]:
    """What the navigation needs to know about the user: their roles, and what they may reach."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": [], "may": May(None)}
    return {"user_roles": sorted(g.name for g in user.groups.all()), "may": May(user)}
