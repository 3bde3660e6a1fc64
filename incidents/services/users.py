"""Users and the role groups they hold."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

ROLE_GROUPS = ("technician", "itsm_manager", "super_admin", "legal")


def set_user_roles(user: AbstractBaseUser, roles: Iterable[str]) -> None:
    """Make the user's groups exactly ``roles`` (creating unknown groups, which carry no rights)."""
    wanted = {r for r in roles if isinstance(r, str) and r.strip()}
    current = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    if wanted == current:
        return
    with transaction.atomic():
        groups = [Group.objects.get_or_create(name=name)[0] for name in sorted(wanted)]
        user.groups.set(groups)  # type: ignore[attr-defined]
    _forget_permissions(user)


def sync_roles_from_idp(user: AbstractBaseUser, roles: Iterable[str]) -> None:
    """Make the user's groups the roles the identity provider's token names, as far as allowed.

    Only MIM Desk's own roles and groups that already exist are granted; any other name in the
    claim is ignored, so a token cannot make the database grow one group per name it invents.
    The common case, roles unchanged, costs one query and writes nothing.
    """
    claimed = {r for r in roles if r.strip()}
    current = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    if claimed == current:
        return
    others = claimed - current - set(ROLE_GROUPS)
    existing = set(Group.objects.filter(name__in=others).values_list("name", flat=True))
    wanted = (claimed & current) | (claimed & set(ROLE_GROUPS)) | existing
    if wanted == current:
        return
    with transaction.atomic():
        # The role groups come with the migrations; get_or_create only if one was deleted.
        groups = [Group.objects.get_or_create(name=name)[0] for name in sorted(wanted)]
        user.groups.set(groups)  # type: ignore[attr-defined]
    _forget_permissions(user)


def _forget_permissions(user: AbstractBaseUser) -> None:
    # Django caches permissions per user object; drop them so this request sees the new roles.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)
