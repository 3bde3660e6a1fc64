"""Who acts: the user behind a request, a token, or None for the system (beat, rules)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

Actor = User | AnonymousUser


def user_of(actor: Actor | None) -> User | None:
    """The acting user as a row to point at, or None for anonymous and system actions."""
    return actor if isinstance(actor, User) else None


def name_of(actor: Actor | None) -> str:
    if actor is None or not actor.is_authenticated:
        return "system"
    return actor.get_username()


def actor_id(actor: Actor | None) -> int | None:
    user = user_of(actor)
    return user.pk if user else None
