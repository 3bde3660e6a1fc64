"""Inbound sources and label rules: created, rotated and edited here, by the admin and the
``create_inbound_source`` command alike."""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from incidents.errors import Conflict, DomainError
from incidents.selectors import ensure
from incidents.selectors.actors import Actor

from ...models import InboundKind, InboundSource, LabelRule

MAX_NAME = 100


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def url_of(kind: str) -> str:
    return f"{settings.MIM_BASE_URL.rstrip('/')}/api/inbound/{kind}/"


def create_source(
    *, kind: str, name: str, actor: Actor | None, **fields: Any
) -> tuple[InboundSource, str]:
    """A new source of ``kind`` and its secret (shown once; only its holder should keep it).

    ``actor`` None is the command line (an operator on the server)."""
    if actor is not None:
        ensure(actor, "add", InboundSource)
    if kind not in InboundKind.values:
        raise DomainError(
            f"unknown kind {kind!r}: one of {', '.join(InboundKind.values)}", field="kind"
        )
    name = (name or "").strip()
    if not name:
        raise DomainError("a name is required", field="name")
    if len(name) > MAX_NAME:
        raise DomainError(f"at most {MAX_NAME} characters", field="name")
    secret = new_secret()
    try:
        with transaction.atomic():
            source = InboundSource.objects.create(kind=kind, name=name, secret=secret, **fields)
    except IntegrityError:
        raise Conflict(f"a source named {name!r} exists already", field="name") from None
    return source, secret


def rotate_secret(*, source: InboundSource, actor: Actor | None) -> str:
    """A new secret for ``source``; the old one stops working at once."""
    if actor is not None:
        ensure(actor, "change", source)
    secret = new_secret()
    InboundSource.objects.filter(pk=source.pk).update(secret=secret)
    source.secret = secret
    return secret


def save_source(*, source: InboundSource, actor: Actor) -> InboundSource:
    """The admin's edit of a source's name, defaults and switch (never its secret)."""
    ensure(actor, "change" if source.pk else "add", source if source.pk else InboundSource)
    if not source.pk:
        source.secret = new_secret()
    source.full_clean()
    source.save()
    return source


def check_pattern(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise DomainError(f"not a regular expression: {exc}", field="pattern") from None


def save_label_rule(*, rule: LabelRule, actor: Actor) -> LabelRule:
    ensure(actor, "change" if rule.pk else "add", rule if rule.pk else LabelRule)
    check_pattern(rule.pattern)
    rule.full_clean()
    rule.save()
    return rule
