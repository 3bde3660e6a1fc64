"""The KPI dashboard ``/kpis/``: the filter form (from, to, service), one tile per KPI with its
formula and the tickets behind it, and the charts (``static/js/kpis.js`` draws them with the
vendored Chart.js from the data in ``json_script``). ITSM managers and super admins only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from incidents.errors import DomainError
from incidents.models import CIKind, ConfigurationItem
from incidents.web.common import requires

from ..models import KpiReport
from ..selectors import metrics as metric_selectors
from ..selectors.metrics import duration, shown

SHORT = {  # the share chart's axis labels
    "cadence_adherence": "Cadence on time",
    "first_customer_update_within_target": "1st customer update in target",
}


@requires("view", KpiReport)
def dashboard(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    try:
        period = metric_selectors.parse_period(request.GET)
    except DomainError as exc:
        errors[exc.field or "from"] = exc.message
        period = metric_selectors.parse_period({})
    result = metric_selectors.metrics(period)
    services = list(
        ConfigurationItem.objects.filter(kind=CIKind.BUSINESS_SERVICE)
        .order_by("name")
        .values("pk", "name")
    )
    if period.service and all(s["pk"] != period.service.pk for s in services):
        services.append({"pk": period.service.pk, "name": period.service.name})
    query = {
        "from": period.start.date().isoformat()
        if period.start.time().isoformat() == "00:00:00"
        else period.start.isoformat(),
        "to": period.end.isoformat(),
    }
    if period.service:
        query["service"] = str(period.service.pk)
    tiles = [{"kpi": k, "shown": shown(k)} for k in result.kpis]
    chart_data: dict[str, Any] = {
        "monthly": result.monthly,
        "by_priority": result.by_priority,
        "by_service": [s for s in result.by_service if s["mtbf_seconds"] is not None],
        "shares": {
            k.key: {"name": SHORT[k.key], "value": k.value, "sample": k.sample}
            for k in result.kpis
            if k.key in ("cadence_adherence", "first_customer_update_within_target")
        },
    }
    context = {
        "period": period,
        "form": {
            "from": request.GET.get("from") or period.start.date().isoformat(),
            # The end is excluded; the form shows the last day included.
            "to": request.GET.get("to") or (period.end - timedelta(days=1)).date().isoformat(),
            "service": period.service.pk if period.service else None,
        },
        "errors": errors,
        "services": services,
        "tiles": tiles,
        "result": result,
        "by_priority": [
            {
                **row,
                "mtta": duration(row["mtta_seconds"]),
                "mttd": duration(row["mttd_seconds"]),
                "mttr": duration(row["mttr_seconds"]),
            }
            for row in result.by_priority
        ],
        "by_service": [{**row, "mtbf": duration(row["mtbf_seconds"])} for row in result.by_service],
        "chart_data": chart_data,
        "csv_url": f"{reverse('metrics-csv')}?{urlencode(query)}",
        "api_url": f"{reverse('metrics')}?{urlencode(query)}",
    }
    return render(request, "pir/kpis.html", context)
