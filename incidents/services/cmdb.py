"""CMDB changes, and keeping the affected users of open incidents current."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..errors import DomainError
from ..models import (
    OPEN_INCIDENT_STATES,
    CIDependency,
    ConfigurationItem,
    Incident,
    PendingImpactRefresh,
    TimelineEntry,
    TimelineKind,
)
from ..selectors import cmdb
from ..selectors.actors import Actor
from ..selectors.majors import sweep_candidates
from .enqueue import evaluate_rules_of_incidents_after_commit, refresh_affected_users

# A reconcile claims at most this many recorded changes per transaction, and stops after
# RECONCILE_MAX_BATCHES of them: the next run, a minute later, goes on where it stopped.
RECONCILE_BATCH = 200
RECONCILE_MAX_BATCHES = 50


def refresh_affected_users_now(ci_ids: Iterable[int]) -> int:
    """Apply a CMDB change to the open incidents it reaches: ``affected_users`` and a timeline
    row for each incident whose figure changed; then one task runs the auto-declaration rules
    over the few that a rule could now match. Returns how many incidents changed.

    ``ci_ids`` are the CIs one change touched (the per-event task). The rows that recorded the
    change (``PendingImpactRefresh``) are deleted in the same transaction as the update, so a
    run that dies half-way leaves them for the reconcile. Idempotent: incidents already showing
    the current figure are left alone. Closed and resolved incidents keep the figure they had:
    it is what the outage reached then.
    """
    ids = sorted(set(ci_ids))
    with transaction.atomic():
        # skip_locked: rows another refresh holds are its to delete; it recomputes them too.
        claimed = list(
            PendingImpactRefresh.objects.select_for_update(skip_locked=True)
            .filter(ci_id__in=ids)
            .values_list("pk", flat=True)
        )
        changed = _apply_cmdb_change(ids)
        PendingImpactRefresh.objects.filter(pk__in=claimed).delete()
    return len(changed)


def reconcile_affected_users() -> int:
    """The backstop: apply every recorded CMDB change whose refresh never ran (a lost message,
    a killed worker). Safe to run beside the per-event refresh and beside itself: each claims
    rows with ``select_for_update(skip_locked=True)`` and deletes only the rows it claimed.
    Returns how many incidents changed."""
    changed_total = 0
    for _ in range(RECONCILE_MAX_BATCHES):
        with transaction.atomic():
            claimed = list(
                PendingImpactRefresh.objects.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", "ci_id")[:RECONCILE_BATCH]
            )
            if not claimed:
                break
            changed = _apply_cmdb_change({ci_id for _, ci_id in claimed})
            PendingImpactRefresh.objects.filter(pk__in=[pk for pk, _ in claimed]).delete()
        changed_total += len(changed)
    return changed_total


def _apply_cmdb_change(ci_ids: Iterable[int]) -> list[int]:
    """Set ``affected_users`` of the open incidents reached by ``ci_ids``; the ids that changed.

    A handful of statements per change, however many incidents it reaches: one walk for the
    incidents' CIs, one lock, one walk for all their figures, one UPDATE per distinct new figure,
    one bulk INSERT of timeline rows. The caller holds the transaction.
    """
    roots = cmdb.open_incident_cis_reaching(ci_ids)
    if not roots:
        return []
    # Lock first, compute after: a refresh that read the CMDB before a newer change committed
    # would otherwise write its older figure over the newer one. The newer change waits for this
    # lock, then computes from the CMDB as it is. Ascending ids, so two refreshes over the same
    # incidents queue behind each other instead of deadlocking. FOR NO KEY UPDATE, as every lock
    # of the services (services/common.py): the timeline rows inserted below do not wait on it.
    incidents = list(
        Incident.objects.select_for_update(no_key=True)
        .filter(affected_ci_id__in=roots, state__in=OPEN_INCIDENT_STATES)
        .order_by("pk")
        .values_list("pk", "affected_ci_id", "affected_users")
    )
    users = cmdb.affected_users_by_ci(roots)
    stale: dict[int, list[tuple[int, int]]] = defaultdict(list)  # new figure -> (id, old)
    for pk, ci_id, old in incidents:
        new = users.get(ci_id, 0)
        if new != old:
            stale[new].append((pk, old))
    now = timezone.now()
    for new, rows in stale.items():
        Incident.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            affected_users=new, updated_at=now
        )
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                incident_id=pk,
                kind=TimelineKind.IMPACT_CHANGED,
                message=f"Affected users {old} → {new} after a CMDB change",
                data={"from": old, "to": new},
                created_at=now,
            )
            for new, rows in stale.items()
            for pk, old in rows
        ],
        batch_size=500,
    )
    changed = sorted(pk for rows in stale.values() for pk, _ in rows)
    # More users reached may make a rule match: one task for the few incidents a rule could
    # match (open P1s without an MI, with the default rules), not one per changed incident.
    # Should it be lost, the every-minute sweep (auto_declare) evaluates the same incidents.
    if changed:
        evaluate_rules_of_incidents_after_commit(sweep_candidates(among=changed))
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
