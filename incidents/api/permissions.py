"""API permissions, decided by ``selectors.can`` like the web pages and the admin.

A refusal is a 403 whose ``detail`` is ``selectors.refusal``'s sentence: who may, by role.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from rest_framework import permissions
from rest_framework.request import Request

from incidents import selectors

ACTION_BY_METHOD = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def _model_of(view: Any) -> type[Model]:
    queryset = getattr(view, "queryset", None)
    if queryset is None:
        queryset = view.get_queryset()
    return queryset.model


class Can(permissions.BasePermission):
    """One action of ``selectors.can`` on the view's model, then on the object it reads.

    ``Can.of("change")`` for a view or an ``@action``; without an action the request method
    decides (GET view, POST add, PUT/PATCH change, DELETE delete), like DRF's model permissions.
    Reading needs ``view`` too: a logged-in outsider sees nothing.
    """

    action: str | None = None
    model: type[Model] | None = None

    @classmethod
    def of(cls, action: str, model: type[Model] | None = None) -> type[Can]:
        if action not in selectors.ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        name = f"Can_{action}" + (f"_{model._meta.model_name}" if model else "")
        return type(name, (cls,), {"action": action, "model": model})

    def _action(self, request: Request) -> str:
        return self.action or ACTION_BY_METHOD.get(request.method or "", "view")

    def _refuse(self, action: str, target: Any) -> bool:
        # DRF makes one instance per request and reads ``message`` off it for the 403 body.
        self.message = selectors.refusal(action, target)
        return False

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False  # DRF answers 401 with the challenge: an authenticator is configured
        # A method the view does not offer (DELETE on an incident) is the view's 405, not a 403
        # here: DRF checks permissions before it looks for the handler.
        method = request.method.lower() if request.method else ""
        if self.action is None and not (method in view.http_method_names and hasattr(view, method)):
            return True
        action = self._action(request)
        target = self.model or _model_of(view)
        return selectors.can(user, action, target) or self._refuse(action, target)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        action = self._action(request)
        return selectors.can(request.user, action, obj) or self._refuse(action, obj)


class ModelPermissions(Can):
    """The default for every view (``REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]``)."""
