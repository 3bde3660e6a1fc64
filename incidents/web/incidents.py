"""Incident pages: the list, logging and editing, the detail page and its actions, the CI picker."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import selectors, services
from ..errors import Conflict, DomainError, NotAllowed
from ..models import (
    CIKind,
    ConfigurationItem,
    Incident,
    IncidentState,
    MajorIncident,
    MajorIncidentCandidate,
    Priority,
)
from ..selectors import cmdb
from .common import (
    PAGE_SIZE,
    add_domain_error,
    form_action,
    form_key,
    incident_or_404,
    requires,
    sentence,
)
from .forms import (
    DeclareMajorIncidentForm,
    FlagMajorIncidentForm,
    IncidentCreateForm,
    IncidentEditForm,
    IncidentForm,
    LinkForm,
    ResolveForm,
)
from .prg import refused, restore


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where ``/`` and a fresh login lead: the incident list, or the MI list for a user who reads
    major incidents but not incidents (legal, or a team member without a role), as the
    navigation offers them (``context_processors.May``)."""
    user = request.user
    if not selectors.can(user, "view", Incident) and selectors.can(user, "view", MajorIncident):
        return redirect("majors:list")
    return redirect("incidents:list")


CI_SEARCH_LIMIT = 15
# A CI deep in the graph can reach thousands of others; the page lists the first ones only.
AFFECTED_CIS_SHOWN = 100


def _priority_matrix() -> dict[str, dict[str, int]]:
    """``services.PRIORITY_MATRIX`` as ``{impact: {urgency: priority}}`` for the page's script."""
    matrix: dict[str, dict[str, int]] = {}
    for (impact, urgency), priority in sorted(services.PRIORITY_MATRIX.items()):
        matrix.setdefault(str(impact), {})[str(urgency)] = priority
    return matrix


def _selected_ci(form: IncidentForm) -> ConfigurationItem | None:
    """The CI the picker holds, for showing its name when the form is shown again."""
    if form.is_bound and hasattr(form, "cleaned_data"):
        ci = form.cleaned_data.get("affected_ci")
        if isinstance(ci, ConfigurationItem):
            return ci
    value = form["affected_ci"].value()
    if isinstance(value, ConfigurationItem):
        return value
    if value in (None, ""):
        return None
    try:
        return ConfigurationItem.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError):
        return None


def _form_context(form: IncidentForm) -> dict[str, Any]:
    groups = (
        ConfigurationItem.objects.exclude(owner_group="")
        .order_by("owner_group")
        .values_list("owner_group", flat=True)
        .distinct()
    )
    # The preview is right before any script runs; the script keeps it current as the user picks.
    manual = form["priority"].value() if "priority" in form.fields else None
    try:
        preview = (
            int(manual)
            if manual
            else services.compute_priority(form["impact"].value(), form["urgency"].value())
        )
    except (DomainError, TypeError, ValueError):
        preview = None
    return {
        "form": form,
        "preview_priority": preview,
        "preview_manual": bool(manual),
        "selected_ci": _selected_ci(form),
        "priority_matrix": _priority_matrix(),
        # "P1 - Critical" -> "Critical": the badge beside it already says P1.
        "priority_labels": {str(v): label.split(" - ", 1)[-1] for v, label in Priority.choices},
        "assignment_groups": list(groups),
    }


# --- List -----------------------------------------------------------------------------------------


@require_GET
@requires("view", Incident)
def incident_list(request: HttpRequest) -> HttpResponse:
    # The API's FilterSet: its form is the filter bar, and a bad value is ignored, not an error.
    filterset = selectors.filters.IncidentFilter(
        request.GET or None,
        queryset=selectors.restrict(
            Incident.objects.select_related("affected_ci", "assigned_to", "major_incident"),
            request.user,
            "view",
        ).order_by("-id"),
        request=request,
    )
    incidents = filterset.qs
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    # Page links keep the filters: everything in the query string except the page itself.
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incidents/list.html",
        {
            "filters": filterset.form,
            "page": page,
            "incidents": page.object_list,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
    )


# --- Create and edit ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@requires("add", Incident)
def incident_create(request: HttpRequest) -> HttpResponse:
    form = IncidentCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.create_incident(actor=request.user, **form.service_kwargs())
        except NotAllowed:
            raise
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                f"{incident.number} logged: P{incident.priority}, "
                f"{incident.affected_users:,} affected users.",
            )
            return redirect("incidents:detail", number=incident.number)
    status = 400 if form.is_bound else 200
    return render(request, "incidents/form.html", _form_context(form), status=status)


@require_http_methods(["GET", "POST"])
@requires("change", Incident)
def incident_edit(request: HttpRequest, number: str) -> HttpResponse:
    incident = incident_or_404(number, Incident.objects.select_related("affected_ci"))
    form = IncidentEditForm(request.POST or None, user=request.user, incident=incident)
    if request.method == "POST" and form.is_valid():
        changes = form.service_kwargs(only_changed=True)
        try:
            if changes:
                services.update_incident(incident=incident, actor=request.user, **changes)
        except NotAllowed:
            raise
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if changes:
                messages.success(request, f"{incident.number} updated.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("incidents:detail", number=incident.number)
    context = _form_context(form) | {"incident": incident}
    return render(request, "incidents/form.html", context, status=400 if form.is_bound else 200)


# --- Detail and actions ---------------------------------------------------------------------------


def _can_change(request: HttpRequest, incident: Incident) -> bool:
    return selectors.can(request.user, "change", incident)


def _kind_label(kind: str) -> str:
    return CIKind(kind).label if kind in CIKind.values else kind


def _render_detail(request: HttpRequest, incident: Incident) -> HttpResponse:
    impact = (
        cmdb.impact(incident.affected_ci_id, limit=AFFECTED_CIS_SHOWN)
        if incident.affected_ci_id
        else None
    )
    can_change = _can_change(request, incident)
    major = MajorIncident.objects.filter(incident=incident).first()
    can_declare = major is None and incident.is_open and selectors.can_declare(request.user)
    # Under a live MI the incident is resolved, reopened and closed by the MI's lifecycle: no
    # button here that the service would refuse.
    follows_mi = major is not None and major.status in selectors.LIVE_MI_STATUSES
    children = list(incident.children.select_related("assigned_to").order_by("id"))
    candidate = (
        MajorIncidentCandidate.objects.select_related("rule", "flagged_by", "decided_by")
        .filter(incident=incident)
        .first()
    )
    context = {
        "incident": incident,
        "impact": impact,
        "affected_cis": [
            {"name": ci.name, "kind": _kind_label(ci.kind), "user_count": ci.user_count}
            for ci in (impact.affected_cis if impact else [])
        ],
        "affected_cis_hidden": impact.affected_ci_count - len(impact.affected_cis) if impact else 0,
        "children": children,
        "timeline": incident.timeline.select_related("actor").order_by("created_at", "id"),
        "can_change": can_change,
        "can_acknowledge": can_change and incident.is_open and incident.acknowledged_at is None,
        "can_resolve": can_change and incident.is_open and not follows_mi,
        # A parent cannot become a child itself (one level deep), so it gets no link form.
        "can_link": can_change
        and incident.state != IncidentState.CANCELLED
        and not children
        and not follows_mi,
        "follows_mi": follows_mi,
        "resolve_form": restore(request, form_key(incident, "resolve_form"), ResolveForm)
        or ResolveForm(),
        "link_form": restore(request, form_key(incident, "link_form"), LinkForm) or LinkForm(),
        "major_incident": major,
        "candidate": candidate,
        # Once proposed (pending, accepted or rejected) an incident is not put forward again.
        "can_flag": can_change and incident.is_open and major is None and candidate is None,
        "flag_form": restore(request, form_key(incident, "flag_form"), FlagMajorIncidentForm)
        or FlagMajorIncidentForm(),
        "can_declare": can_declare,
        "declare_form": restore(
            request, form_key(incident, "declare_form"), DeclareMajorIncidentForm
        )
        or DeclareMajorIncidentForm(initial={"major_incident_manager": request.user}),
        "times": [
            ("Impact started", incident.impact_started_at),
            ("Detected", incident.detected_at),
            ("Logged", incident.created_at),
            ("Acknowledged", incident.acknowledged_at),
            ("Resolved", incident.resolved_at),
            ("Closed", incident.closed_at),
        ],
    }
    return render(request, "incidents/detail.html", context)


_DETAIL_QUERYSET = Incident.objects.select_related(
    "affected_ci", "caller", "assigned_to", "created_by", "parent", "problem"
)


@require_GET
@requires("view", Incident)
def incident_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_detail(request, incident_or_404(number, _DETAIL_QUERYSET))


def _page(incident: Incident) -> str:
    return reverse("incidents:detail", kwargs={"number": incident.number})


def _refused(request: HttpRequest, incident: Incident, error: DomainError) -> HttpResponse:
    """A refusal about the incident as a whole (e.g. already resolved), shown on its page."""
    messages.error(request, sentence(error.message))
    return redirect("incidents:detail", number=incident.number)


@require_POST
@requires("change", Incident)
def incident_acknowledge(request: HttpRequest, number: str) -> HttpResponse:
    incident = incident_or_404(number)
    try:
        services.acknowledge_incident(incident=incident, actor=request.user)
    except NotAllowed:
        raise
    except DomainError as exc:
        return _refused(request, incident, exc)
    messages.success(request, f"{incident.number} acknowledged.")
    return redirect("incidents:detail", number=incident.number)


@require_POST
@requires("change", Incident)
def incident_resolve(request: HttpRequest, number: str) -> HttpResponse:
    incident = incident_or_404(number, _DETAIL_QUERYSET)

    def resolve(data: dict[str, Any]) -> str:
        services.resolve_incident(
            incident=incident, actor=request.user, resolution_notes=data["resolution_notes"]
        )
        return f"{incident.number} resolved."

    # A refusal naming no field of the form (already resolved) is a message about the incident.
    return form_action(
        request,
        ResolveForm(request.POST),
        resolve,
        page=_page(incident),
        key=form_key(incident, "resolve_form"),
        anchor="resolve",
        field_refusals_only=True,
    )


@require_POST
@requires("change", Incident)
def incident_link(request: HttpRequest, number: str) -> HttpResponse:
    incident = incident_or_404(number, _DETAIL_QUERYSET)

    def link(data: dict[str, Any]) -> str:
        services.link_incident(incident=incident, parent=data["parent"], actor=request.user)
        return f"{incident.number} linked as a child of {data['parent'].number}."

    return form_action(
        request,
        LinkForm(request.POST),
        link,
        page=_page(incident),
        key=form_key(incident, "link_form"),
        anchor="link",
        field_refusals_only=True,
    )


@require_POST
@requires("change", Incident)
def incident_flag_major(request: HttpRequest, number: str) -> HttpResponse:
    incident = incident_or_404(number)

    def flag(data: dict[str, Any]) -> str:
        services.flag_major_incident(incident=incident, actor=request.user, reason=data["reason"])
        return f"{incident.number} flagged as a potential major incident; a manager decides."

    # A refusal about the incident (an MI already, proposed before) is a message on the page.
    return form_action(
        request,
        FlagMajorIncidentForm(request.POST),
        flag,
        page=_page(incident),
        key=form_key(incident, "flag_form"),
        anchor="flag",
        field_refusals_only=True,
    )


@require_POST
@requires("declare")
def incident_declare(request: HttpRequest, number: str) -> HttpResponse:
    incident = incident_or_404(number, _DETAIL_QUERYSET)
    form = DeclareMajorIncidentForm(request.POST)
    if form.is_valid():
        try:
            mi = services.declare_major_incident(
                incident=incident, actor=request.user, **form.service_kwargs()
            )
        except NotAllowed:
            raise
        except DomainError as exc:
            if exc.field == "incident_id" or isinstance(exc, Conflict):
                return _refused(request, incident, exc)
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{mi.number} declared; you are on its page now.")
            return redirect("majors:detail", number=mi.number)
    return refused(request, form_key(incident, "declare_form"), form, f"{_page(incident)}#declare")


# --- CI picker (htmx fragments) -------------------------------------------------------------------


@require_GET
@requires("view", ConfigurationItem)
def ci_search(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("ci_q", "").strip()[:200]
    if "\x00" in text:
        # No CI name holds a NUL byte, and PostgreSQL refuses one in a query with an error.
        return HttpResponseBadRequest("ci_q must not contain a NUL character")
    cis = ConfigurationItem.objects.order_by("criticality", "name")
    if text:
        cis = cis.filter(Q(name__icontains=text) | Q(owner_group__icontains=text))
    return render(
        request,
        "incidents/_ci_options.html",
        {"cis": cis[:CI_SEARCH_LIMIT], "text": text},
    )


@require_GET
@requires("view", ConfigurationItem)
def ci_impact(request: HttpRequest, ci_id: int) -> HttpResponse:
    ci = ConfigurationItem.objects.filter(pk=ci_id).first()
    if ci is None:
        raise Http404("No such configuration item")
    impact = cmdb.impact(ci.pk, limit=7)  # the note names the first six dependents
    return render(request, "incidents/_ci_impact.html", {"ci": ci, "impact": impact})
