"""API permissions in one place: model permissions, with ``view_*`` required for reads."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request


class ModelPermissions(permissions.DjangoModelPermissions):
    """Like DRF's, but reading needs ``view_<model>`` too: a logged-in outsider sees nothing."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        # A method the view does not offer (DELETE on an incident) is the view's 405, not a 403
        # here: DRF checks permissions before it looks for the handler. Anonymous still gets 401.
        method = request.method.lower() if request.method else ""
        offered = method in view.http_method_names and hasattr(view, method)
        if not offered and request.user and request.user.is_authenticated:
            return True
        return super().has_permission(request, view)


class HasPerm(permissions.BasePermission):
    """Require one named permission for the whole view, e.g. ``HasPerm.of("incidents.x")``."""

    perm: str = ""

    @classmethod
    def of(cls, perm: str) -> type[HasPerm]:
        return type(f"HasPerm_{perm.replace('.', '_')}", (cls,), {"perm": perm})

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(self.perm))
