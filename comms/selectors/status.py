"""What the public status page says: the business services with their status, and the major
incidents with their public updates, in the vocabulary of Atlassian Statuspage.

Only public facts leave this module: a CI's name and description, an MI's number, state,
priority-derived impact and milestone times, and the four parts of its *sent, public*
stakeholder updates. Never the MI's summary or impact statement, its timeline text or its
scratchpad: an incident's name is made from the services it affects, and its updates' statuses
come from the structured ``to`` of its status changes, not from their messages.

Component status rule (DESIGN "Status page"), over the open MIs (declared … monitoring), each
business service taking the worst the MIs give it:

- an MI in ``monitoring``: every service it reaches → ``degraded_performance``;
- else the MI's own affected CI, when it is a business service → ``major_outage`` for a P1,
  ``partial_outage`` otherwise;
- else a business service reached through dependencies (it depends, transitively, on the
  affected CI) → ``partial_outage`` for a P1, ``degraded_performance`` otherwise;
- no open MI reaches it → ``operational``, or ``under_maintenance`` while a scheduled
  maintenance on it is ``in_progress`` or ``verifying`` (any outage outranks maintenance).

Scheduled maintenances shown: every upcoming or active one, and the 50 most recent others
(Statuspage's ``scheduled-maintenances.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from incidents.models import (
    CIKind,
    ConfigurationItem,
    MajorIncident,
    MIStatus,
    TimelineEntry,
    TimelineKind,
)
from incidents.models.majors import OPEN_MI_STATUSES
from incidents.selectors import cmdb

from ..models import (
    MaintenanceStatus,
    MaintenanceUpdate,
    ScheduledMaintenance,
    StakeholderUpdate,
    UpdateStatus,
    UpdateType,
)

# Component statuses, worst last: an outage outranks maintenance, as on Statuspage.
OPERATIONAL = "operational"
UNDER_MAINTENANCE = "under_maintenance"
DEGRADED = "degraded_performance"
PARTIAL_OUTAGE = "partial_outage"
MAJOR_OUTAGE = "major_outage"
COMPONENT_STATUSES = (OPERATIONAL, UNDER_MAINTENANCE, DEGRADED, PARTIAL_OUTAGE, MAJOR_OUTAGE)

# Incident statuses.
INVESTIGATING = "investigating"
IDENTIFIED = "identified"
MONITORING = "monitoring"
RESOLVED = "resolved"
POSTMORTEM = "postmortem"
# The slot of the public postmortem update (``comms.services.postmortem``).
POSTMORTEM_SLOT = "pir_public"
# Where the pages (``comms.web.status``) cache the snapshot; a service that changes what the
# public sees drops them (``STATUS_CACHE_KEYS``).
SNAPSHOT_KEY = "comms:status:snapshot:v1"
VERSION_KEY = "comms:status:version:v1"
REBUILD_KEY = "comms:status:rebuild"
STATUS_CACHE_KEYS = (VERSION_KEY, SNAPSHOT_KEY, REBUILD_KEY)
INCIDENT_STATUSES = (INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED, POSTMORTEM)
UNRESOLVED = (INVESTIGATING, IDENTIFIED, MONITORING)

# Impacts and page indicators, least first.
IMPACTS = ("none", "minor", "major", "critical")
# An MI reaching this many users is one impact level worse than its priority says.
WIDE_IMPACT_USERS = 10_000
_IMPACT_BY_PRIORITY = {1: "critical", 2: "major", 3: "minor"}
# What a component's status says about the whole page (Statuspage's roll-up).
_INDICATOR_BY_COMPONENT = {
    OPERATIONAL: "none",
    UNDER_MAINTENANCE: "none",
    DEGRADED: "minor",
    PARTIAL_OUTAGE: "major",
    MAJOR_OUTAGE: "critical",
}
_DESCRIPTION_BY_COMPONENT = {
    DEGRADED: "Minor Service Outage",
    PARTIAL_OUTAGE: "Partial System Outage",
    MAJOR_OUTAGE: "Major System Outage",
    UNDER_MAINTENANCE: "Service Under Maintenance",
}
_DESCRIPTION_BY_INDICATOR = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
_STATUS_BY_MI: dict[str, str] = {
    MIStatus.DECLARED: INVESTIGATING,
    MIStatus.INVESTIGATING: INVESTIGATING,
    MIStatus.IDENTIFIED: IDENTIFIED,
    MIStatus.MONITORING: MONITORING,
    MIStatus.RESOLVED: RESOLVED,
    MIStatus.CLOSED: RESOLVED,
}
# How many incidents incidents.json lists (Statuspage: the 50 most recent), and how far back
# the HTML page shows resolved ones.
RECENT_INCIDENTS = 50
RESOLVED_DAYS = 7
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Component:
    id: str
    name: str
    description: str
    status: str
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IncidentUpdate:
    id: str
    status: str
    current_impact: str
    current_action: str
    user_action: str
    next_update_at: datetime | None
    sent_at: datetime

    @property
    def body(self) -> str:
        """The four parts as one plain text (Statuspage's ``body``)."""
        lines = [
            f"Current impact: {self.current_impact}",
            f"What we are doing: {self.current_action}",
            f"What you should do: {self.user_action}",
        ]
        if self.next_update_at:
            lines.append(f"Next update: {self.next_update_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
        return "\n".join(lines)


@dataclass(frozen=True)
class Incident:
    id: str
    name: str
    status: str
    impact: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    component_ids: tuple[str, ...]
    updates: tuple[IncidentUpdate, ...]  # newest first

    @property
    def unresolved(self) -> bool:
        return self.status in UNRESOLVED


MAINTENANCE_ACTIVE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


@dataclass(frozen=True)
class MaintenanceNote:
    id: str
    status: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Maintenance:
    id: str
    name: str
    status: str
    notes: str
    created_at: datetime
    updated_at: datetime
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    monitoring_at: datetime | None
    resolved_at: datetime | None
    component_ids: tuple[str, ...]
    updates: tuple[MaintenanceNote, ...]  # newest first

    @property
    def active(self) -> bool:
        return self.status in MAINTENANCE_ACTIVE

    @property
    def upcoming(self) -> bool:
        return self.status == MaintenanceStatus.SCHEDULED


@dataclass(frozen=True)
class StatusDocument:
    components: tuple[Component, ...]
    incidents: tuple[Incident, ...]  # newest first: the open ones and the 50 most recent
    indicator: str
    description: str
    updated_at: datetime
    built_at: datetime
    maintenances: tuple[Maintenance, ...] = ()  # active, then upcoming, then the recent ones
    _by_id: dict[str, Component] = field(default_factory=dict, compare=False, repr=False)

    @property
    def unresolved(self) -> list[Incident]:
        return [i for i in self.incidents if i.unresolved]

    def recent_resolved(self, days: int = RESOLVED_DAYS) -> list[Incident]:
        since = self.built_at - timedelta(days=days)
        return [
            i
            for i in self.incidents
            if not i.unresolved and (i.resolved_at or i.updated_at) >= since
        ]

    def components_of(self, item: Incident | Maintenance) -> list[Component]:
        return [self._by_id[c] for c in item.component_ids if c in self._by_id]

    @property
    def active_maintenances(self) -> list[Maintenance]:
        return [m for m in self.maintenances if m.active]

    @property
    def upcoming_maintenances(self) -> list[Maintenance]:
        """Soonest first."""
        return sorted(
            (m for m in self.maintenances if m.upcoming), key=lambda m: (m.scheduled_for, m.id)
        )


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=COMPONENT_STATUSES.index, default=OPERATIONAL)


def component_status(mi: MajorIncident, service_id: int) -> str:
    """What an open MI does to a business service it reaches (the rule in the module's doc)."""
    if mi.status == MIStatus.MONITORING:
        return DEGRADED
    p1 = mi.incident.priority == 1
    if service_id == mi.incident.affected_ci_id:
        return MAJOR_OUTAGE if p1 else PARTIAL_OUTAGE
    return PARTIAL_OUTAGE if p1 else DEGRADED


def incident_status(mi: MajorIncident) -> str:
    # ``postmortem`` once a public postmortem is out (``comms.services.postmortem``), not for
    # every published review: most reviews stay internal. ``_shown_mis`` annotates it.
    if getattr(mi, "has_postmortem", False):
        return POSTMORTEM
    return _STATUS_BY_MI.get(mi.status, INVESTIGATING)


def impact(mi: MajorIncident) -> str:
    """none/minor/major/critical from the incident's priority, one level worse when the MI
    reaches at least ``WIDE_IMPACT_USERS`` users."""
    level = IMPACTS.index(_IMPACT_BY_PRIORITY.get(mi.incident.priority, "none"))
    if (mi.incident.affected_users or 0) >= WIDE_IMPACT_USERS:
        level = min(level + 1, len(IMPACTS) - 1)
    return IMPACTS[level]


def _name(services: list[str]) -> str:
    """An incident's public name, made from what it affects: the MI's own summary is written for
    the war room and may carry technical (for a security MI, confidential) detail."""
    if not services:
        return "Service disruption"
    shown = ", ".join(services[:3])
    more = f" and {len(services) - 3} more" if len(services) > 3 else ""
    return f"Service disruption: {shown}{more}"


def _shown_mis() -> list[MajorIncident]:
    """The open MIs and the 50 most recent others, never a cancelled one."""
    shown = (
        MajorIncident.objects.exclude(status=MIStatus.CANCELLED)
        .select_related("incident")
        .only(
            "status",
            "declared_at",
            "impact_started_at",
            "monitoring_started_at",
            "resolved_at",
            "pir_published_at",
            "incident__priority",
            "incident__affected_users",
            "incident__affected_ci",
        )
    )
    shown = shown.annotate(
        has_postmortem=Exists(
            StakeholderUpdate.objects.filter(
                major_incident=OuterRef("pk"), slot=POSTMORTEM_SLOT, status=UpdateStatus.SENT
            )
        )
    )
    # An old MI still open is on the page however many have come since.
    wanted = Q(status__in=OPEN_MI_STATUSES) | Q(
        pk__in=shown.order_by("-declared_at", "-id").values("pk")[:RECENT_INCIDENTS]
    )
    return list(shown.filter(wanted).order_by("-declared_at", "-id"))


def _status_changes(mi_ids: list[int]) -> dict[int, list[tuple[datetime, str]]]:
    """Each MI's status moves (when, to what), oldest first, from their structured data only."""
    changes: dict[int, list[tuple[datetime, str]]] = {}
    rows = (
        TimelineEntry.objects.filter(
            major_incident_id__in=mi_ids, kind=TimelineKind.MI_STATUS_CHANGED
        )
        .order_by("created_at", "id")
        .values_list("major_incident_id", "created_at", "data__to")
    )
    for mi_id, at, to in rows:
        if isinstance(to, str):
            changes.setdefault(mi_id, []).append((at, to))
    return changes


def _update_status(
    update: StakeholderUpdate, sent_at: datetime, changes: list[tuple[datetime, str]]
) -> str:
    """The incident's status when the update was sent, as Statuspage shows each update's."""
    if update.update_type == UpdateType.PIR_SUMMARY:
        return POSTMORTEM
    if update.update_type in (UpdateType.RESOLUTION, UpdateType.ALL_CLEAR):
        return RESOLVED
    status: str = MIStatus.DECLARED
    for at, to in changes:
        if at > sent_at:
            break
        status = to
    return _STATUS_BY_MI.get(status, INVESTIGATING)


def _public_updates(mi_ids: list[int]) -> dict[int, list[StakeholderUpdate]]:
    updates: dict[int, list[StakeholderUpdate]] = {}
    rows = (
        StakeholderUpdate.objects.filter(
            major_incident_id__in=mi_ids, status=UpdateStatus.SENT, is_public=True
        )
        .exclude(sent_at=None)
        .order_by("-sent_at", "-id")
        .only(
            "major_incident_id",
            "update_type",
            "current_impact",
            "current_action",
            "user_action",
            "next_update_at",
            "sent_at",
        )
    )
    for update in rows:
        updates.setdefault(update.major_incident_id, []).append(update)
    return updates


def _incident(
    mi: MajorIncident,
    *,
    service_ids: list[int],
    names: dict[int, str],
    changes: list[tuple[datetime, str]],
    updates: list[StakeholderUpdate],
) -> Incident:
    sent = [(u, u.sent_at or mi.declared_at) for u in updates]
    public_times = [mi.declared_at, *(at for at, _ in changes), *(at for _, at in sent)]
    public_times += [t for t in (mi.resolved_at, mi.pir_published_at) if t]
    return Incident(
        id=mi.number,
        name=_name([names[i] for i in service_ids if i in names]),
        status=incident_status(mi),
        impact=impact(mi),
        created_at=mi.declared_at,
        updated_at=max(public_times),
        started_at=mi.impact_started_at or mi.declared_at,
        monitoring_at=mi.monitoring_started_at,
        resolved_at=mi.resolved_at if mi.status in (MIStatus.RESOLVED, MIStatus.CLOSED) else None,
        component_ids=tuple(str(i) for i in service_ids),
        updates=tuple(
            IncidentUpdate(
                id=str(u.pk),
                status=_update_status(u, at, changes),
                current_impact=u.current_impact,
                current_action=u.current_action,
                user_action=u.user_action,
                next_update_at=u.next_update_at,
                sent_at=at,
            )
            for u, at in sent
        ),
    )


def _maintenances() -> list[Maintenance]:
    """Upcoming and active windows, and the 50 most recent others; three queries."""
    rows = ScheduledMaintenance.objects.prefetch_related(
        "components",
        Prefetch("updates", MaintenanceUpdate.objects.order_by("-created_at", "-id")),
    )
    recent = ScheduledMaintenance.objects.order_by("-scheduled_for", "-id").values("pk")
    wanted = Q(status__in=[*MAINTENANCE_ACTIVE, MaintenanceStatus.SCHEDULED]) | Q(
        pk__in=recent[:RECENT_INCIDENTS]
    )
    shown: list[Maintenance] = []
    for m in rows.filter(wanted).order_by("-scheduled_for", "-id"):
        notes = list(m.updates.all())
        verifying = [u.created_at for u in notes if u.status == MaintenanceStatus.VERIFYING]
        shown.append(
            Maintenance(
                id=str(m.pk),
                name=m.name,
                status=m.status,
                notes=m.notes,
                created_at=m.created_at,
                updated_at=max([m.updated_at, *(u.created_at for u in notes)]),
                scheduled_for=m.scheduled_for,
                scheduled_until=m.scheduled_until,
                started_at=m.started_at,
                monitoring_at=min(verifying) if verifying else None,
                resolved_at=m.completed_at if m.status == MaintenanceStatus.COMPLETED else None,
                component_ids=tuple(
                    str(ci.pk) for ci in sorted(m.components.all(), key=lambda c: (c.name, c.pk))
                ),
                updates=tuple(
                    MaintenanceNote(
                        id=str(u.pk), status=u.status, body=u.body, created_at=u.created_at
                    )
                    for u in notes
                ),
            )
        )
    # Active first, then upcoming, then the rest; each group newest window first.
    return sorted(shown, key=lambda m: (not m.active, not m.upcoming))


def document(*, now: datetime | None = None) -> StatusDocument:
    """The whole status page in eight queries, however many services, incidents and
    maintenances it shows."""
    now = now or timezone.now()
    services = list(
        ConfigurationItem.objects.filter(kind=CIKind.BUSINESS_SERVICE)
        .order_by("name", "id")
        .only("name", "description", "created_at", "updated_at")
    )
    mis = _shown_mis()
    mi_ids = [mi.pk for mi in mis]
    roots = {mi.incident.affected_ci_id for mi in mis if mi.incident.affected_ci_id}
    reached = cmdb.reached_of_kind(roots, CIKind.BUSINESS_SERVICE)
    changes = _status_changes(mi_ids)
    updates = _public_updates(mi_ids)
    names = {ci.pk: ci.name for ci in services}

    incidents: list[Incident] = []
    hits: dict[int, list[str]] = {}
    maintenances = _maintenances()
    for window in maintenances:
        if window.active:
            for cid in window.component_ids:
                hits.setdefault(int(cid), []).append(UNDER_MAINTENANCE)
    for mi in mis:
        service_ids = sorted(
            reached.get(mi.incident.affected_ci_id or 0, set()), key=lambda i: names.get(i, "")
        )
        if mi.is_open:
            for service_id in service_ids:
                hits.setdefault(service_id, []).append(component_status(mi, service_id))
        incidents.append(
            _incident(
                mi,
                service_ids=service_ids,
                names=names,
                changes=changes.get(mi.pk, []),
                updates=updates.get(mi.pk, []),
            )
        )

    # A component changed when the CI did or when an MI reaching it last moved; one recovered
    # since is dated by the resolved incidents that reached it.
    last_touch: dict[int, datetime] = {}
    for incident in incidents:
        for cid in incident.component_ids:
            key = int(cid)
            last_touch[key] = max(last_touch.get(key, _EPOCH), incident.updated_at)
    for window in maintenances:
        if window.active or window.status == MaintenanceStatus.COMPLETED:
            for cid in window.component_ids:
                key = int(cid)
                last_touch[key] = max(last_touch.get(key, _EPOCH), window.updated_at)
    components = tuple(
        Component(
            id=str(ci.pk),
            name=ci.name,
            description=ci.description,
            status=_worst(hits.get(ci.pk, [])),
            position=position,
            created_at=ci.created_at,
            updated_at=max(ci.updated_at, last_touch.get(ci.pk, _EPOCH)),
        )
        for position, ci in enumerate(services, start=1)
    )
    worst_component = _worst([c.status for c in components])
    indicator = max(
        [_INDICATOR_BY_COMPONENT[worst_component]] + [i.impact for i in incidents if i.unresolved],
        key=IMPACTS.index,
    )
    if worst_component != OPERATIONAL:
        description = _DESCRIPTION_BY_COMPONENT[worst_component]
    else:
        description = _DESCRIPTION_BY_INDICATOR[indicator]
    stamps = [c.updated_at for c in components] + [i.updated_at for i in incidents]
    stamps += [m.updated_at for m in maintenances]
    return StatusDocument(
        components=components,
        incidents=tuple(incidents),
        maintenances=tuple(maintenances),
        indicator=indicator,
        description=description,
        updated_at=max(stamps, default=_EPOCH),
        built_at=now,
        _by_id={c.id: c for c in components},
    )
