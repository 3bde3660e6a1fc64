"""The KPIs, by SQL aggregation: a constant number of queries whatever the number of rows.

A period is ``[start, end)`` in UTC and an optional service (a CI id). Incidents count by their
``created_at`` in the period, major incidents by their ``declared_at``; cancelled MIs never count.
An MI's service is its incident's affected CI (the CI it was logged against), so an MI counts
once, on one service. Each KPI says its value (seconds, percent or a count), its sample, its
formula in a sentence, and the tickets behind it (at most ``ITEMS`` numbers with their links).

Durations are averaged by the database (``Avg`` over ``DurationField`` differences); MTBF is the
mean gap between consecutive MI starts on a service, which telescopes to
``(last start - first start) / (MIs - 1)``: one ``GROUP BY``, no row walked in Python. The only
loops in Python run over the months of the period and the few rows the database returns.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from comms.models import StakeholderUpdate
from incidents.errors import DomainError
from incidents.models import ConfigurationItem, Incident, MajorIncident, MIStatus
from incidents.selectors.properties import get_property

from ..models import PostIncidentReview, ReviewActionItem
from ..models.reviews import OPEN_REVIEW_ACTION_STATUSES

ITEMS = 20  # tickets listed behind each KPI
MAX_PERIOD = timedelta(days=5 * 366)
CADENCE_GRACE = 60  # seconds: the every-minute tick that sends a cadence update
SECONDS, PERCENT, COUNT = "seconds", "percent", "count"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    service: ConfigurationItem | None = None

    @property
    def service_id(self) -> int | None:
        return self.service.pk if self.service else None


@dataclass
class Kpi:
    key: str
    name: str
    value: float | None
    unit: str
    sample: int
    formula: str
    items: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Metrics:
    period: Period
    kpis: list[Kpi]
    monthly: list[dict[str, Any]]
    by_priority: list[dict[str, Any]]
    by_service: list[dict[str, Any]]

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.period.start.isoformat(),
            "to": self.period.end.isoformat(),
            "service": (
                {"id": self.period.service.pk, "name": self.period.service.name}
                if self.period.service
                else None
            ),
            "kpis": [asdict(k) for k in self.kpis],
            "monthly": self.monthly,
            "by_priority": self.by_priority,
            "by_service": self.by_service,
        }


def duration(seconds: float | None) -> str:
    """``5 d 3 h``, ``2 h 05 min``, ``4 min 30 s``: the two largest units (pages and mail)."""
    if seconds is None:
        return "—"
    left = round(seconds)
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"


def shown(kpi: Kpi) -> str:
    """A KPI's value as people read it."""
    if kpi.value is None:
        return "—"
    if kpi.unit == SECONDS:
        return duration(kpi.value)
    if kpi.unit == PERCENT:
        return f"{kpi.value:g} %"
    return f"{kpi.value:g}"


# --- the period -----------------------------------------------------------------------------


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def default_period(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last 12 calendar months, the current one included."""
    this_month = month_start(now or timezone.now())
    return add_months(this_month, -11), add_months(this_month, 1)


def _moment(raw: str, name: str, *, end: bool) -> datetime:
    """An ISO date or datetime. A naive datetime is read as UTC (all times in MIM Desk are);
    a date is midnight UTC, and as the end of the period the whole day is included."""
    text = raw.strip()
    moment: datetime | None
    day: date | None = None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = parse_date(text)
            moment = None
        else:
            moment = parse_datetime(text.replace(" ", "T", 1).replace("Z", "+00:00"))
        if day is not None:
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None or not 1900 <= moment.year <= 9000:
        raise DomainError("give an ISO date (2026-05-01) or datetime, 1900 to 9000", field=name)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_period(params: Any, *, now: datetime | None = None) -> Period:
    """The period asked for by ``from``, ``to`` and ``service`` (query parameters or a form's
    data); a ``DomainError`` naming the parameter at fault otherwise."""
    start, end = default_period(now)
    raw_from, raw_to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    if raw_from:
        start = _moment(raw_from, "from", end=False)
    if raw_to:
        end = _moment(raw_to, "to", end=True)
    if start >= end:
        raise DomainError("must be before to", field="from")
    if end - start > MAX_PERIOD:
        raise DomainError("the period may not be longer than 5 years", field="to")
    service = None
    raw_service = (params.get("service") or "").strip()
    if raw_service:
        if not raw_service.isdigit() or len(raw_service) > 18:
            raise DomainError("give the id of a configuration item", field="service")
        service = ConfigurationItem.objects.filter(pk=int(raw_service)).first()
        if service is None:
            raise DomainError(f"no configuration item {raw_service}", field="service")
    return Period(start=start, end=end, service=service)


# --- the rows each KPI reads ---------------------------------------------------------------------


def _incidents(period: Period) -> QuerySet[Incident]:
    rows = Incident.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    return rows.filter(affected_ci_id=period.service_id) if period.service else rows


def _mis(period: Period) -> QuerySet[MajorIncident]:
    rows = MajorIncident.objects.filter(
        declared_at__gte=period.start, declared_at__lt=period.end
    ).exclude(status=MIStatus.CANCELLED)
    if period.service:
        rows = rows.filter(incident__affected_ci_id=period.service_id)
    return rows


def _span(end: str, start: Any) -> ExpressionWrapper:
    begin = F(start) if isinstance(start, str) else start
    return ExpressionWrapper(F(end) - begin, output_field=DurationField())


def _seconds(value: timedelta | None) -> float | None:
    return round(value.total_seconds(), 1) if value is not None else None


def _percent(part: int | None, whole: int | None) -> float | None:
    return round(100.0 * (part or 0) / whole, 1) if whole else None


MI_START = Coalesce("impact_started_at", "declared_at")


class CadenceOnTime(Func):
    """1 when a cadence update was sent by its slot's due time + the grace, else 0.

    The slot is ``cadence:<due time in ISO, UTC>`` (``comms.services.cadence.slot_time``); the due
    time is read back from the text by each database's own date functions.
    """

    output_field = IntegerField()
    arity = 2

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django stores datetimes on SQLite as "YYYY-MM-DD HH:MM:SS.ffffff" text, the form
        # strftime writes (to the millisecond), so the comparison is between like strings.
        sent, slot = (compiler.compile(e) for e in self.get_source_expressions())
        sql = (
            f"CASE WHEN {sent[0]} <= strftime('%%Y-%%m-%%d %%H:%%M:%%f', substr({slot[0]}, 9), "
            f"'+{CADENCE_GRACE} seconds') THEN 1 ELSE 0 END"
        )
        return sql, (*sent[1], *slot[1])

    def as_sql(  # PostgreSQL
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        sent, slot = (compiler.compile(e) for e in self.get_source_expressions())
        sql = (
            f"CASE WHEN {sent[0]} <= CAST(SUBSTRING({slot[0]} FROM 9) AS timestamptz) "
            f"+ INTERVAL '{CADENCE_GRACE} seconds' THEN 1 ELSE 0 END"
        )
        return sql, (*sent[1], *slot[1])


# --- the links behind a KPI -----------------------------------------------------------------------


def _mi_items(rows: QuerySet[MajorIncident]) -> list[dict[str, str]]:
    items = []
    for pk in rows.order_by("-declared_at", "-id").values_list("pk", flat=True)[:ITEMS]:
        number = f"{MajorIncident.NUMBER_PREFIX}{pk:07d}"
        items.append({"number": number, "url": reverse("warroom:page", args=[number])})
    return items


def _incident_items(rows: QuerySet[Incident]) -> list[dict[str, str]]:
    items = []
    for pk in rows.order_by("-created_at", "-id").values_list("pk", flat=True)[:ITEMS]:
        number = f"{Incident.NUMBER_PREFIX}{pk:07d}"
        items.append({"number": number, "url": reverse("incidents:detail", args=[number])})
    return items


# --- the KPIs -----------------------------------------------------------------------------------


def metrics(period: Period, *, now: datetime | None = None) -> Metrics:
    """Every KPI of ``period``; about twenty queries, however many rows they read."""
    now = now or timezone.now()
    incidents = _incidents(period)
    mis = _mis(period)
    kpis: list[Kpi] = []

    # Incidents: MTTA, MTTD, MTTR per priority in one scan; the totals are the sums of the (at
    # most five) priority rows, so the period's incidents are read once.
    acked = Q(acknowledged_at__isnull=False)
    detected = Q(detected_at__isnull=False, impact_started_at__isnull=False)
    resolved = Q(resolved_at__isnull=False)
    spans = {
        "mtta": (_span("acknowledged_at", "created_at"), acked),
        "mttd": (_span("detected_at", "impact_started_at"), detected),
        "mttr": (_span("resolved_at", "created_at"), resolved),
    }
    sums: dict[str, Any] = {}
    for name, (span, only) in spans.items():
        sums[f"{name}_sum"] = Sum(span, filter=only)
        sums[f"{name}_n"] = Count("pk", filter=only)
    rows = list(
        incidents.order_by().values("priority").annotate(n=Count("pk"), **sums).order_by("priority")
    )

    def mean(total: timedelta | None, n: int) -> float | None:
        return _seconds(total / n) if total is not None and n else None

    by_priority = [
        {
            "priority": row["priority"],
            "incidents": row["n"],
            **{f"{name}_seconds": mean(row[f"{name}_sum"], row[f"{name}_n"]) for name in spans},
            "mttr_sample": row["mttr_n"],
        }
        for row in rows
    ]
    inc: dict[str, Any] = {}
    for name in spans:
        n = sum(row[f"{name}_n"] for row in rows)
        total = sum((row[f"{name}_sum"] for row in rows if row[f"{name}_sum"]), timedelta())
        inc[name], inc[f"{name}_n"] = (total / n if n else None), n
    kpis += [
        Kpi(
            "mtta",
            "Mean time to acknowledge (MTTA)",
            _seconds(inc["mtta"]),
            SECONDS,
            inc["mtta_n"],
            "The mean of (acknowledged at − logged at) over the incidents logged in the period "
            "and acknowledged.",
            _incident_items(incidents.filter(acked)),
        ),
        Kpi(
            "mttd",
            "Mean time to detect (MTTD)",
            _seconds(inc["mttd"]),
            SECONDS,
            inc["mttd_n"],
            "The mean of (detected at − impact started at) over the incidents logged in the "
            "period where both are known.",
            _incident_items(incidents.filter(detected)),
        ),
        Kpi(
            "mttr",
            "Mean time to resolve incidents (MTTR)",
            _seconds(inc["mttr"]),
            SECONDS,
            inc["mttr_n"],
            "The mean of (resolved at − logged at) over the incidents logged in the period and "
            "resolved.",
            _incident_items(incidents.filter(resolved)),
        ),
    ]

    # Major incidents: resolution, declaration, first customer update, in one statement.
    target = int(get_property("first_customer_update_target_minutes"))
    mi_resolved = Q(resolved_at__isnull=False)
    customer = Q(first_customer_update_at__isnull=False)
    in_target = customer & Q(
        first_customer_update_at__lte=F("declared_at") + timedelta(minutes=target)
    )
    mi = mis.aggregate(
        n=Count("pk"),
        mttr=Avg(_span("resolved_at", MI_START), filter=mi_resolved),
        mttr_n=Count("pk", filter=mi_resolved),
        declare=Avg(_span("declared_at", "incident__created_at")),
        customer=Avg(_span("first_customer_update_at", "declared_at"), filter=customer),
        customer_n=Count("pk", filter=customer),
        within=Count("pk", filter=in_target),
    )
    kpis += [
        Kpi(
            "mi_mttr",
            "Mean time to restore major incidents (MI MTTR)",
            _seconds(mi["mttr"]),
            SECONDS,
            mi["mttr_n"],
            "The mean of (resolved at − impact started at, or declared at when the impact start "
            "is unknown) over the MIs declared in the period and resolved; cancelled MIs excluded.",
            _mi_items(mis.filter(mi_resolved)),
        ),
        Kpi(
            "time_to_declare",
            "Mean time to declaration",
            _seconds(mi["declare"]),
            SECONDS,
            mi["n"],
            "The mean of (MI declared at − its incident logged at) over the MIs declared in the "
            "period.",
            _mi_items(mis),
        ),
        Kpi(
            "time_to_first_customer_update",
            "Mean time to first customer update",
            _seconds(mi["customer"]),
            SECONDS,
            mi["customer_n"],
            "The mean of (first customer update at − declared at) over the MIs declared in the "
            "period that sent one.",
            _mi_items(mis.filter(customer)),
        ),
        Kpi(
            "first_customer_update_within_target",
            f"First customer update within {target} min",
            _percent(mi["within"], mi["customer_n"]),
            PERCENT,
            mi["customer_n"],
            f"The share of the MIs with a first customer update that sent it at most {target} "
            "minutes (first_customer_update_target_minutes) after declaration.",
            _mi_items(mis.filter(in_target)),
        ),
    ]

    # Cadence: the automatic cadence slots, each due at the time its slot names.
    cadence_rows = StakeholderUpdate.objects.filter(
        major_incident__in=mis, update_type="cadence", slot__startswith="cadence:"
    ).filter(sent_at__isnull=False)
    cadence = cadence_rows.aggregate(n=Count("pk"), on_time=Sum(CadenceOnTime("sent_at", "slot")))
    kpis.append(
        Kpi(
            "cadence_adherence",
            "Cadence adherence",
            _percent(cadence["on_time"], cadence["n"]),
            PERCENT,
            cadence["n"],
            f"The share of the cadence updates sent (slot cadence:<due time>) that went out at "
            f"most {CADENCE_GRACE} s after their due time, over the MIs declared in the period.",
            _mi_items(mis.filter(pk__in=cadence_rows.values("major_incident_id"))),
        )
    )

    # Reviews: published by their deadline, among those due by now or published.
    reviews = PostIncidentReview.objects.filter(
        major_incident__in=mis, publish_due_at__isnull=False
    ).filter(Q(published_at__isnull=False) | Q(publish_due_at__lt=now))
    on_time = Q(published_at__isnull=False, published_at__lte=F("publish_due_at"))
    pir = reviews.aggregate(n=Count("pk"), on_time=Count("pk", filter=on_time))
    kpis.append(
        Kpi(
            "pirs_on_time",
            "PIRs published on time",
            _percent(pir["on_time"], pir["n"]),
            PERCENT,
            pir["n"],
            "The share of the reviews of the period's MIs, due by now or published, that were "
            "published by their deadline (published at ≤ publish due at).",
            _mi_items(mis.filter(pk__in=reviews.filter(on_time).values("major_incident_id"))),
        )
    )

    overdue = ReviewActionItem.objects.filter(
        review__major_incident__in=mis,
        status__in=OPEN_REVIEW_ACTION_STATUSES,
        due_date__lt=now.astimezone(UTC).date(),
    )
    overdue_n = overdue.count()
    kpis.append(
        Kpi(
            "overdue_action_items",
            "Overdue PIR action items",
            float(overdue_n),
            COUNT,
            overdue_n,
            "The PIR action items of the period's MIs still open (open or in progress) whose due "
            "date is before today (UTC).",
            _mi_items(mis.filter(pk__in=overdue.values("review__major_incident_id"))),
        )
    )

    # Per month: count and MTTR of the MIs declared in it.
    per_month = {
        row["month"].astimezone(UTC).date()
        if isinstance(row["month"], datetime)
        else row["month"]: row
        for row in mis.order_by()
        .annotate(month=TruncMonth("declared_at", tzinfo=UTC))
        .values("month")
        .annotate(n=Count("pk"), mttr=Avg(_span("resolved_at", MI_START), filter=mi_resolved))
    }
    monthly: list[dict[str, Any]] = []
    cursor, previous = month_start(period.start), None
    while cursor < period.end:
        row = per_month.get(cursor.date(), {})
        count = row.get("n", 0)
        change = (
            round(100.0 * (count - previous) / previous, 1) if previous else None
        )  # no % change from an empty month
        monthly.append(
            {
                "month": cursor.date().isoformat(),
                "mis": count,
                "change_percent": change,
                "mttr_seconds": _seconds(row.get("mttr")),
            }
        )
        previous, cursor = count, add_months(cursor, 1)
    mi_n = mi["n"]
    last = monthly[-1] if monthly else None
    kpis.append(
        Kpi(
            "mi_count",
            "Major incidents",
            float(mi_n),
            COUNT,
            mi_n,
            "The MIs declared in the period (cancelled ones excluded), per calendar month (UTC) "
            "with the % change from the month before: (this − previous) / previous × 100.",
            _mi_items(mis),
        )
    )
    kpis.append(
        Kpi(
            "mi_change_percent",
            "MIs, % change in the last month",
            last["change_percent"] if last else None,
            PERCENT,
            last["mis"] if last else 0,
            "(MIs of the period's last month − MIs of the month before) / MIs of the month "
            "before × 100; none when the month before had none.",
            [],
        )
    )

    # Per service: MTBF and repeats.
    services = [
        {
            "service_id": row["incident__affected_ci"],
            "service": row["incident__affected_ci__name"],
            "mis": row["n"],
            "mtbf_seconds": (
                _seconds((row["last"] - row["first"]) / (row["n"] - 1)) if row["n"] > 1 else None
            ),
        }
        for row in mis.filter(incident__affected_ci__isnull=False)
        .order_by()
        .values("incident__affected_ci", "incident__affected_ci__name")
        .annotate(n=Count("pk"), first=Min(MI_START), last=Max(MI_START))
        .order_by("-n", "incident__affected_ci__name")
    ]
    repeats = [s for s in services if s["mis"] >= 2]
    mtbf_sample = sum(s["mis"] - 1 for s in repeats)
    gaps = sum((s["mtbf_seconds"] or 0) * (s["mis"] - 1) for s in repeats)
    repeat_mis = mis.filter(incident__affected_ci_id__in=[s["service_id"] for s in repeats])
    kpis += [
        Kpi(
            "mtbf",
            "Mean time between failures (MTBF)",
            round(gaps / mtbf_sample, 1) if mtbf_sample else None,
            SECONDS,
            mtbf_sample,
            "Per service: the mean gap between the starts (impact start, or declaration) of "
            "consecutive MIs on it in the period = (last start − first start) / (MIs − 1); "
            "overall, the mean over every such gap of every service.",
            _mi_items(repeat_mis),
        ),
        Kpi(
            "repeat_services",
            "Services with repeat MIs",
            float(len(repeats)),
            COUNT,
            len(services),
            "The services (the MI's incident's affected CI) with two or more MIs in the period.",
            _mi_items(repeat_mis),
        ),
    ]
    return Metrics(
        period=period, kpis=kpis, monthly=monthly, by_priority=by_priority, by_service=services
    )
