"""CMDB changes, and keeping the affected users of open incidents current."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction

from ..errors import DomainError
from ..models import (
    OPEN_INCIDENT_STATES,
    CIDependency,
    ConfigurationItem,
    Incident,
    TimelineKind,
)
from ..selectors import cmdb
from ..selectors.actors import Actor
from .common import record
from .enqueue import evaluate_rules_after_commit, refresh_affected_users


@transaction.atomic
def refresh_affected_users_now(ci_ids: Iterable[int]) -> int:
    """Recompute ``affected_users`` of open incidents whose impact reaches any of ``ci_ids``.

    Closed and resolved incidents keep the figure they had: it is what the outage reached then.
    Idempotent: incidents already showing the current figure are left alone. Returns how many
    incidents changed.
    """
    changed = 0
    for ci_id in cmdb.open_incident_cis_reaching(ci_ids):
        users = cmdb.affected_users(ci_id)
        stale = Incident.objects.filter(
            affected_ci_id=ci_id, state__in=OPEN_INCIDENT_STATES
        ).exclude(affected_users=users)
        for incident in stale.select_for_update():
            old = incident.affected_users
            incident.affected_users = users
            incident.save(update_fields=["affected_users", "updated_at"])
            evaluate_rules_after_commit(incident)
            record(
                incident,
                TimelineKind.IMPACT_CHANGED,
                f"Affected users {old} → {users} after a CMDB change",
                data={"from": old, "to": users},
            )
            changed += 1
    return changed


@transaction.atomic
def save_configuration_item(
    *,
    actor: Actor | None,
    ci: ConfigurationItem | None = None,
    depends_on: Sequence[ConfigurationItem] | None = None,
    **fields: Any,
) -> ConfigurationItem:
    """Create or update a CI and, when given, replace its dependencies; keep incidents current."""
    ci = ci or ConfigurationItem()
    old_users = ci.user_count if ci.pk else None
    for name, value in fields.items():
        setattr(ci, name, value)
    try:
        # A savepoint, so the transaction survives the refusal on PostgreSQL.
        with transaction.atomic():
            ci.save()
    except IntegrityError:
        # Two requests with one new name both pass the serializer's uniqueness check; the unique
        # index refuses the second, which is the same mistake as a name already taken.
        if ConfigurationItem.objects.filter(name=ci.name).exclude(pk=ci.pk).exists():
            raise DomainError(
                "configuration item with this name already exists.", field="name"
            ) from None
        raise
    touched: set[int] = set()
    if old_users is not None and old_users != ci.user_count:
        touched.add(ci.pk)
    if depends_on is not None:
        touched |= set_dependencies(ci=ci, providers=depends_on)
    if touched:
        refresh_affected_users(touched)
    return ci


def set_dependencies(*, ci: ConfigurationItem, providers: Sequence[ConfigurationItem]) -> set[int]:
    """Make ``ci`` depend on exactly ``providers``. Returns the providers added or removed.

    The caller refreshes incidents for the returned ids: an edge change alters the impact of the
    provider and of everything upstream of it.
    """
    wanted = {p.pk for p in providers}
    if ci.pk in wanted:
        raise DomainError("a CI cannot depend on itself", field="depends_on")
    current = set(ci.provider_links.values_list("provider_id", flat=True))
    removed, added = current - wanted, wanted - current
    if removed:
        ci.provider_links.filter(provider_id__in=removed).delete()
    CIDependency.objects.bulk_create(
        [CIDependency(consumer=ci, provider_id=pid) for pid in sorted(added)]
    )
    return removed | added


@transaction.atomic
def delete_configuration_item(*, ci: ConfigurationItem, actor: Actor | None) -> None:
    # Removing a CI changes the impact of everything upstream of it: note its providers before
    # the edges go, then walk up from them. Incidents that pointed at the CI keep their figure.
    providers = set(ci.provider_links.values_list("provider_id", flat=True))
    ci.delete()
    refresh_affected_users(providers)
