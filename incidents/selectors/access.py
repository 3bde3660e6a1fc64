"""Who may do what, in one place: the API, the web pages, the admin and the services all ask here.

- ``can(user, action, obj)``: may ``user`` do ``action`` on ``obj`` (a row, or a model for "any
  of them": listing, adding)?
- ``restrict(queryset, user, action)``: the rows of ``queryset`` the user may do it on.
- ``refusal(action, obj)``: the sentence a 403 shows, saying who may (roles and MI team roles by
  name, never a permission codename).

The actions are a closed vocabulary (``ACTIONS``):

- ``view``, ``add``, ``change``, ``delete``: the model permissions of the object's model. As in
  the Django admin, ``change`` also lets one ``view``.
- ``declare`` (declare, cancel or downgrade a major incident) and ``override_priority`` (set an
  incident's priority by hand): model permissions on their own, whatever the object.
- On a major incident, ``view``, ``manage`` (lifecycle, roles, milestones), ``post_timeline``,
  ``edit_scratchpad`` and ``send_updates`` are granted three ways: the model permission for every
  MI (a role), the declare permission (ITSM managers and super admins run every MI), or the
  django-guardian object permission its team gets with each role (``ROLE_PERMISSIONS``).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from django.apps import apps
from django.contrib.auth.models import Group
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from ..errors import NotAllowed
from ..models import (
    MajorIncident,
    MajorIncidentGroupObjectPermission,
    MajorIncidentUserObjectPermission,
    RaciRole,
)
from .actors import Actor

Action = Literal[
    "view",
    "add",
    "change",
    "delete",
    "declare",
    "override_priority",
    "manage",
    "post_timeline",
    "edit_scratchpad",
    "send_updates",
]
ACTIONS: frozenset[str] = frozenset(get_args(Action))

DECLARE_PERM = "incidents.declare_majorincident"
# Commanding an MI means working its incident: the IC gains the MI's write powers, so only
# someone who may change incidents (technician and up) may hold the role; legal and users
# without a MIM Desk role may not.
COMMAND_PERM = "incidents.change_incident"

OVERRIDE_PRIORITY_PERM = "incidents.override_priority"

# Actions that are one model permission whatever they are done to.
_GLOBAL: dict[str, str] = {"declare": DECLARE_PERM, "override_priority": OVERRIDE_PRIORITY_PERM}
_MODEL = ("view", "add", "change", "delete")
# Per-MI actions and the guardian codename a team member holds for each.
_MI: dict[str, str] = {
    "view": "view_majorincident",
    "manage": "manage_majorincident",
    "post_timeline": "post_timeline_majorincident",
    "edit_scratchpad": "edit_scratchpad_majorincident",
    "send_updates": "send_updates_majorincident",
}

# Object permissions (django-guardian) each role brings on its MI.
_TEAM = {"view_majorincident", "post_timeline_majorincident", "edit_scratchpad_majorincident"}
ROLE_PERMISSIONS: dict[str, set[str]] = {role: set(_TEAM) for role in RaciRole.values} | {
    RaciRole.MAJOR_INCIDENT_MANAGER: _TEAM | {"manage_majorincident", "send_updates_majorincident"},
    RaciRole.COMMUNICATIONS_LEAD: _TEAM | {"send_updates_majorincident"},
    RaciRole.EXECUTIVE_SPONSOR: {"view_majorincident", "post_timeline_majorincident"},
    RaciRole.EXTERNAL_CONSULTANT: {"view_majorincident", "post_timeline_majorincident"},
}

Target = Model | type[Model] | None


def _model_of(obj: Target) -> type[Model] | None:
    if obj is None:
        return None
    return obj if isinstance(obj, type) else type(obj)


def _check(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {sorted(ACTIONS)}")


def _model_perms(model: type[Model], action: str) -> list[str]:
    opts = model._meta
    perms = [f"{opts.app_label}.{action}_{opts.model_name}"]
    if action == "view":
        perms.append(f"{opts.app_label}.change_{opts.model_name}")
    return perms


def _active(user: Actor | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _runs_every_mi(user: Actor, action: str) -> bool:
    return user.has_perm(f"incidents.{_MI[action]}") or user.has_perm(DECLARE_PERM)


def _granted_on(user: Actor, codename: str) -> Q:
    """MIs on which ``user`` holds ``codename`` through guardian, directly or by a group."""
    direct = MajorIncidentUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"), user=user.pk, permission__codename=codename
    )
    by_group = MajorIncidentGroupObjectPermission.objects.filter(
        content_object=OuterRef("pk"), group__user=user.pk, permission__codename=codename
    )
    return Q(Exists(direct)) | Q(Exists(by_group))


def can(user: Actor | None, action: Action | str, obj: Target = None) -> bool:
    """May ``user`` do ``action`` on ``obj``: a row, or a model class meaning "on some of them"."""
    _check(action)
    if not _active(user):
        return False
    assert user is not None
    if action in _GLOBAL:
        return user.has_perm(_GLOBAL[action])
    model = _model_of(obj)
    if model is None:
        raise ValueError(f"{action!r} needs the object or the model it is done to")
    if model is MajorIncident and action in _MI:
        if _runs_every_mi(user, action):
            return True
        if isinstance(obj, MajorIncident):
            return user.has_perm(f"incidents.{_MI[action]}", obj)
        # "On some MI": a team member without a role lists the MIs they are on.
        return MajorIncident.objects.filter(_granted_on(user, _MI[action])).exists()
    if action not in _MODEL:
        raise ValueError(f"{action!r} applies to major incidents only")
    return any(user.has_perm(perm) for perm in _model_perms(model, action))


def restrict(queryset: QuerySet[Any], user: Actor | None, action: Action | str) -> QuerySet[Any]:
    """The rows of ``queryset`` that ``user`` may do ``action`` on (none for the anonymous)."""
    _check(action)
    if not _active(user):
        return queryset.none()
    assert user is not None
    model = queryset.model
    if model is MajorIncident and action in _MI:
        if _runs_every_mi(user, action):
            return queryset
        # One EXISTS per row on guardian's direct foreign-key tables (indexed by MI), not a
        # list of ids fetched first: the team's MIs stay a single query however many there are.
        return queryset.filter(_granted_on(user, _MI[action]))
    return queryset if can(user, action, model) else queryset.none()


def action_of(perm: str) -> tuple[str, type[Model] | None]:
    """A dotted permission as this module's (action, model): ``"incidents.change_incident"`` is
    ``("change", Incident)``. Lets a check written as a permission name still go through ``can``.
    """
    for action, dotted in _GLOBAL.items():
        if perm == dotted:
            return action, None
    app_label, _, codename = perm.partition(".")
    for action in sorted(ACTIONS - _GLOBAL.keys(), key=len, reverse=True):
        if codename.startswith(f"{action}_"):
            return action, apps.get_model(app_label, codename.removeprefix(f"{action}_"))
    raise ValueError(f"{perm!r} is not a permission of the access vocabulary")


def ensure(user: Actor | None, action: Action | str, obj: Target = None) -> None:
    """Raise ``NotAllowed`` (a 403 on every surface) with ``refusal``'s sentence unless ``can``."""
    if not can(user, action, obj):
        raise NotAllowed(refusal(action, obj))


# --- Saying who may -------------------------------------------------------------------------------

# Role groups in the order a sentence names them; other groups follow by name.
ROLE_LABELS: dict[str, str] = {
    "technician": "technicians",
    "legal": "legal",
    "itsm_manager": "ITSM managers",
    "super_admin": "super admins",
}
_MI_TEAM_ROLE_LABELS: dict[str, str] = {
    RaciRole.MAJOR_INCIDENT_MANAGER: "incident commander",
    RaciRole.COMMUNICATIONS_LEAD: "communications lead",
}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _groups_holding(perms: list[str]) -> list[str]:
    match = Q()
    for perm in perms:
        app_label, codename = perm.split(".", 1)
        match |= Q(permissions__content_type__app_label=app_label, permissions__codename=codename)
    names = set(Group.objects.filter(match).values_list("name", flat=True))
    known = [label for role, label in ROLE_LABELS.items() if role in names]
    return known + sorted(names - ROLE_LABELS.keys())


def _team_holding(codename: str) -> str:
    roles = [role for role in RaciRole.values if codename in ROLE_PERMISSIONS[role]]
    if len(roles) == len(RaciRole.values):
        return "team"
    if len(roles) > len(RaciRole.values) // 2:
        left_out = [RaciRole(r).label.lower() for r in RaciRole.values if r not in roles]
        return f"team (except the {_and(left_out)})"
    return _and([_MI_TEAM_ROLE_LABELS.get(r, RaciRole(r).label.lower()) for r in roles])


def _what(action: str, obj: Target) -> str:
    model = _model_of(obj)
    if action == "declare":
        return "declare, cancel or downgrade a major incident"
    if action == "override_priority":
        return "set an incident's priority by hand"
    assert model is not None
    plural = str(model._meta.verbose_name_plural)
    one = getattr(obj, "number", None) if not isinstance(obj, type) else None
    if model is MajorIncident and action in _MI:
        mi = one or "a major incident"
        return {
            "view": f"see {mi}" if one else "see major incidents",
            "manage": f"run {mi} (its lifecycle, roles and milestones)",
            "post_timeline": f"post to {mi}'s timeline" if one else "post to an MI's timeline",
            "edit_scratchpad": f"edit {mi}'s scratchpad" if one else "edit an MI's scratchpad",
            "send_updates": f"send {mi}'s stakeholder updates"
            if one
            else "send an MI's stakeholder updates",
        }[action]
    verb = {"view": "see", "add": "add", "change": "change", "delete": "delete"}[action]
    return f"{verb} {one}" if one else f"{verb} {plural}"


def refusal(action: Action | str, obj: Target = None) -> str:
    """Why not, as the 403 says it: "Only technicians, ITSM managers and super admins may …".

    Read from the role groups as they are now (one query), so the sentence cannot drift from the
    grants; a refusal is rare enough for that to cost nothing that matters.
    """
    _check(action)
    model = _model_of(obj)
    if action in _GLOBAL:
        perms = [_GLOBAL[action]]
    elif model is MajorIncident and action in _MI:
        perms = [f"incidents.{_MI[action]}", DECLARE_PERM]
    else:
        assert model is not None, f"{action!r} needs the object or the model it is done to"
        perms = _model_perms(model, action)
    who = _groups_holding(perms)
    if model is MajorIncident and action in _MI:
        number = getattr(obj, "number", None) if not isinstance(obj, type) else None
        team = _team_holding(_MI[action])
        who.insert(0, f"{number}'s {team}" if number else f"the MI's {team}")
    if not who:
        return f"No role may {_what(action, obj)}; only a superuser may."
    return f"Only {_and(who)} may {_what(action, obj)}."


# --- The checks other code has called by name -----------------------------------------------------


def can_declare(actor: Actor | None) -> bool:
    return can(actor, "declare")


def can_command(user: Actor | None) -> bool:
    """Whether ``user`` may be made an MI's incident commander."""
    return bool(
        user is not None
        and user.is_authenticated
        and getattr(user, "is_active", False)
        and user.has_perm(COMMAND_PERM)
    )


def can_manage(actor: Actor | None, mi: MajorIncident) -> bool:
    """ITSM managers run every MI; its incident commander runs this one."""
    return can(actor, "manage", mi)


def can_override_priority(actor: Actor | None) -> bool:
    return can(actor, "override_priority")
