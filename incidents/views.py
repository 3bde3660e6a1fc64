"""Technician web pages: thin views over ``services``.

A view checks who may do what (login, then a model permission), parses a form, calls one service
and renders or redirects. A ``DomainError`` becomes an error on the form; ``NotAllowed`` a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import cmdb, services
from .errors import Conflict, DomainError, NotAllowed
from .forms import (
    DeclareMajorIncidentForm,
    IncidentCreateForm,
    IncidentEditForm,
    IncidentFilterForm,
    IncidentForm,
    LinkForm,
    MilestonesForm,
    RejectCandidateForm,
    ResolveForm,
    RoleForm,
    TransitionForm,
    add_domain_error,
)
from .models import (
    MILESTONES,
    OPEN_INCIDENT_STATES,
    OPEN_MI_STATUSES,
    CandidateStatus,
    CIKind,
    ConfigurationItem,
    Incident,
    IncidentState,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    Priority,
    RaciRole,
    RoleAssignment,
    TimelineEntry,
)

PAGE_SIZE = 50
CI_SEARCH_LIMIT = 15
# A CI deep in the graph can reach thousands of others; the page lists the first ones only.
AFFECTED_CIS_SHOWN = 100

View = Callable[..., HttpResponse]


def requires(perm: str) -> Callable[[View], View]:
    """Log in first (a redirect), then hold ``perm`` (a 403 naming the missing permission)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied(f"You need the permission {perm} for this page.")
            try:
                return view(request, *args, **kwargs)
            except NotAllowed as exc:
                raise PermissionDenied(exc.message) from exc

        return login_required(wrapped)

    return decorator


def _incident_or_404(number: str, queryset: QuerySet[Incident] | None = None) -> Incident:
    pk = Incident.pk_from_number(number)
    rows = queryset if queryset is not None else Incident.objects.all()
    incident = rows.filter(pk=pk).first() if pk is not None else None
    if incident is None:
        raise Http404(f"No incident {number}")
    return incident


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
@requires("incidents.view_incident")
def incident_list(request: HttpRequest) -> HttpResponse:
    filters = IncidentFilterForm(request.GET or None)
    incidents = Incident.objects.select_related("affected_ci", "assigned_to").order_by("-id")
    if filters.is_valid():
        data = filters.cleaned_data
        if data["state"] == "open":
            incidents = incidents.filter(state__in=OPEN_INCIDENT_STATES)
        elif data["state"]:
            incidents = incidents.filter(state=data["state"])
        if data["priority"]:
            incidents = incidents.filter(priority=data["priority"])
        if data["mine"]:
            incidents = incidents.filter(assigned_to=request.user.pk)
        text = data["q"].strip()
        if text:
            match = Q(short_description__icontains=text) | Q(description__icontains=text)
            pk = Incident.pk_from_number(text)
            incidents = incidents.filter(match | Q(pk=pk) if pk is not None else match)
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    # Page links keep the filters: everything in the query string except the page itself.
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incidents/list.html",
        {
            "filters": filters,
            "page": page,
            "incidents": page.object_list,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
    )


# --- Create and edit ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@requires("incidents.add_incident")
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
@requires("incidents.change_incident")
def incident_edit(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number, Incident.objects.select_related("affected_ci"))
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


def _can_change(request: HttpRequest) -> bool:
    return request.user.has_perm("incidents.change_incident")


def _kind_label(kind: str) -> str:
    return CIKind(kind).label if kind in CIKind.values else kind


def _render_detail(
    request: HttpRequest,
    incident: Incident,
    *,
    resolve_form: ResolveForm | None = None,
    link_form: LinkForm | None = None,
    declare_form: DeclareMajorIncidentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    impact = (
        cmdb.impact(incident.affected_ci_id, limit=AFFECTED_CIS_SHOWN)
        if incident.affected_ci_id
        else None
    )
    can_change = _can_change(request)
    major = MajorIncident.objects.filter(incident=incident).first()
    can_declare = major is None and incident.is_open and services.can_declare(request.user)
    children = list(incident.children.select_related("assigned_to").order_by("id"))
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
        "can_resolve": can_change and incident.is_open,
        # A parent cannot become a child itself (one level deep), so it gets no link form.
        "can_link": can_change and incident.state != IncidentState.CANCELLED and not children,
        "resolve_form": resolve_form or ResolveForm(),
        "link_form": link_form or LinkForm(),
        "major_incident": major,
        "can_declare": can_declare,
        "declare_form": declare_form
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
    return render(request, "incidents/detail.html", context, status=status)


_DETAIL_QUERYSET = Incident.objects.select_related(
    "affected_ci", "caller", "assigned_to", "created_by", "parent", "problem"
)


@require_GET
@requires("incidents.view_incident")
def incident_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_detail(request, _incident_or_404(number, _DETAIL_QUERYSET))


def _refused(request: HttpRequest, incident: Incident, error: DomainError) -> HttpResponse:
    """A refusal about the incident as a whole (e.g. already resolved), shown on its page."""
    messages.error(request, error.message[:1].upper() + error.message[1:])
    return redirect("incidents:detail", number=incident.number)


@require_POST
@requires("incidents.change_incident")
def incident_acknowledge(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    try:
        services.acknowledge_incident(incident=incident, actor=request.user)
    except NotAllowed:
        raise
    except DomainError as exc:
        return _refused(request, incident, exc)
    messages.success(request, f"{incident.number} acknowledged.")
    return redirect("incidents:detail", number=incident.number)


def _incident_form_action(
    request: HttpRequest,
    incident: Incident,
    form: Any,  # ResolveForm or LinkForm, passed back to the page as ``form_name``
    form_name: str,
    act: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """Run ``act`` (a service call returning the success message) for a form on the incident page.

    A refusal naming one of the form's fields is shown beside it, with what was typed kept
    (400); a refusal about the incident as a whole comes back as a message.
    """
    if form.is_valid():
        try:
            done = act(form.cleaned_data)
        except NotAllowed:
            raise
        except DomainError as exc:
            if exc.field not in form.fields:
                return _refused(request, incident, exc)
            add_domain_error(form, exc)
        else:
            messages.success(request, done)
            return redirect("incidents:detail", number=incident.number)
    return _render_detail(request, incident, status=400, **{form_name: form})


@require_POST
@requires("incidents.change_incident")
def incident_resolve(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number, _DETAIL_QUERYSET)

    def resolve(data: dict[str, Any]) -> str:
        services.resolve_incident(
            incident=incident, actor=request.user, resolution_notes=data["resolution_notes"]
        )
        return f"{incident.number} resolved."

    return _incident_form_action(
        request, incident, ResolveForm(request.POST), "resolve_form", resolve
    )


@require_POST
@requires("incidents.change_incident")
def incident_link(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number, _DETAIL_QUERYSET)

    def link(data: dict[str, Any]) -> str:
        services.link_incident(incident=incident, parent=data["parent"], actor=request.user)
        return f"{incident.number} linked as a child of {data['parent'].number}."

    return _incident_form_action(request, incident, LinkForm(request.POST), "link_form", link)


@require_POST
@requires("incidents.declare_majorincident")
def incident_declare(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number, _DETAIL_QUERYSET)
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
    return _render_detail(request, incident, declare_form=form, status=400)


# --- Major incidents ------------------------------------------------------------------------------


def _mi_or_404(number: str) -> MajorIncident:
    mi = (
        MajorIncident.objects.by_number(number)
        .select_related(
            "incident", "incident__affected_ci", "trigger_rule", "declared_by", "problem"
        )
        .first()
    )
    if mi is None:
        raise Http404(f"No major incident {number}")
    return mi


def _is_web_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


_ACTIVE_IC = Prefetch(
    "role_assignments",
    queryset=RoleAssignment.objects.filter(
        role=RaciRole.MAJOR_INCIDENT_MANAGER, removed_at__isnull=True
    ).select_related("user"),
    to_attr="active_ics",
)


@require_GET
@requires("incidents.view_majorincident")
def mi_list(request: HttpRequest) -> HttpResponse:
    rows = (
        MajorIncident.objects.select_related("incident")
        .prefetch_related(_ACTIVE_IC)
        .annotate(
            closed_rank=Case(
                When(status__in=OPEN_MI_STATUSES, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("closed_rank", "-declared_at", "-id")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    can_declare = services.can_declare(request.user)
    return render(
        request,
        "incidents/mi_list.html",
        {
            "page": page,
            "majors": page.object_list,
            "open_count": MajorIncident.objects.filter(status__in=OPEN_MI_STATUSES).count(),
            "can_declare": can_declare,
            "pending_candidates": MajorIncidentCandidate.objects.filter(
                status=CandidateStatus.PENDING
            ).count()
            if can_declare
            else 0,
        },
    )


def _milestone_label(name: str) -> str:
    return name.removesuffix("_at").replace("_", " ").capitalize()


# Shown on the move buttons: the verb of each target state.
MOVE_LABELS: dict[str, str] = {
    MIStatus.INVESTIGATING: "Investigating",
    MIStatus.IDENTIFIED: "Identified",
    MIStatus.MONITORING: "Monitoring",
    MIStatus.RESOLVED: "Resolve",
    MIStatus.CLOSED: "Close",
    MIStatus.CANCELLED: "Cancel major incident",
}
MOVE_ORDER = list(MIStatus.values)


def _moves(request: HttpRequest, mi: MajorIncident, can_manage: bool) -> list[str]:
    allowed = sorted(services.MI_MOVES[mi.status], key=MOVE_ORDER.index)
    can_declare = services.can_declare(request.user)
    return [
        m
        for m in allowed
        if (m == MIStatus.CANCELLED and can_declare) or (m != MIStatus.CANCELLED and can_manage)
    ]


def _render_mi(
    request: HttpRequest,
    mi: MajorIncident,
    *,
    role_form: RoleForm | None = None,
    milestones_form: MilestonesForm | None = None,
    transition_form: TransitionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_manage = services.can_manage(request.user, mi)
    editable = can_manage and mi.status not in (MIStatus.CLOSED, MIStatus.CANCELLED)
    moves = _moves(request, mi, can_manage)
    incident = mi.incident
    roles = services.active_roles(mi)
    timeline = (
        TimelineEntry.objects.filter(Q(major_incident=mi) | Q(incident=incident))
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
    children = list(incident.children.select_related("assigned_to").order_by("id"))
    context = {
        "mi": mi,
        "incident": incident,
        "commander": next(
            (r.user for r in roles if r.role == RaciRole.MAJOR_INCIDENT_MANAGER), None
        ),
        "roles": roles,
        "bridge_is_link": _is_web_link(mi.bridge_link),
        "milestones": [(name, _milestone_label(name), getattr(mi, name)) for name in MILESTONES],
        "children": children,
        "open_children": sum(1 for c in children if c.is_open),
        "timeline": timeline,
        "can_manage": can_manage,
        "editable": editable,
        "moves": [(m, MOVE_LABELS.get(m, m)) for m in moves],
        "show_override": mi.status == MIStatus.MONITORING and MIStatus.RESOLVED in moves,
        "role_form": role_form or RoleForm(),
        "milestones_form": milestones_form or MilestonesForm(mi=mi),
        "transition_form": transition_form or TransitionForm(),
    }
    return render(request, "incidents/mi_detail.html", context, status=status)


@require_GET
@requires("incidents.view_majorincident")
def mi_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_mi(request, _mi_or_404(number))


def war_room(request: HttpRequest, number: str) -> HttpResponse:
    """``/war-rooms/<number>/``: the MI page until the war room app takes the route over."""
    return redirect("majors:detail", number=number)


@require_POST
@requires("incidents.view_majorincident")
def mi_transition(request: HttpRequest, number: str) -> HttpResponse:
    mi = _mi_or_404(number)
    form = TransitionForm(request.POST)
    if form.is_valid():
        to = form.cleaned_data["to"]
        try:
            services.transition_major_incident(
                mi=mi,
                to=to,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                override_stability=form.cleaned_data["override_stability"],
            )
        except NotAllowed:
            raise
        except DomainError as exc:
            add_domain_error(form, DomainError(exc.message))
        else:
            messages.success(request, f"{mi.number} is now {MIStatus(to).label.lower()}.")
            return redirect("majors:detail", number=mi.number)
    return _render_mi(request, mi, transition_form=form, status=400)


@require_POST
@requires("incidents.view_majorincident")
def mi_assign_role(request: HttpRequest, number: str) -> HttpResponse:
    mi = _mi_or_404(number)
    form = RoleForm(request.POST)
    if form.is_valid():
        role, user = form.cleaned_data["role"], form.cleaned_data["user"]
        try:
            services.assign_role(mi=mi, role=role, user=user, actor=request.user)
        except NotAllowed:
            raise
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{user.username} is {RaciRole(role).label} on {mi.number}.")
            return redirect("majors:detail", number=mi.number)
    return _render_mi(request, mi, role_form=form, status=400)


@require_POST
@requires("incidents.view_majorincident")
def mi_remove_role(request: HttpRequest, number: str, assignment_id: int) -> HttpResponse:
    mi = _mi_or_404(number)
    assignment = (
        RoleAssignment.objects.filter(pk=assignment_id, major_incident=mi)
        .select_related("user")
        .first()
    )
    if assignment is None:
        raise Http404("No such role assignment on this major incident")
    try:
        services.remove_role(assignment=assignment, actor=request.user)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, exc.message[:1].upper() + exc.message[1:])
    else:
        messages.success(
            request,
            f"{assignment.user.username} is no longer {assignment.get_role_display()}.",
        )
    return redirect("majors:detail", number=mi.number)


@require_POST
@requires("incidents.view_majorincident")
def mi_milestones(request: HttpRequest, number: str) -> HttpResponse:
    mi = _mi_or_404(number)
    form = MilestonesForm(request.POST, mi=mi)
    if form.is_valid():
        values = form.changed_values()
        try:
            if values:
                services.set_milestones(mi=mi, actor=request.user, values=values)
            elif not services.can_manage(request.user, mi):
                raise NotAllowed("only the incident commander or an ITSM manager may do this")
        except NotAllowed:
            raise
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if values:
                messages.success(request, f"Milestones of {mi.number} updated.")
            else:
                messages.info(request, "No milestone changed.")
            return redirect("majors:detail", number=mi.number)
    return _render_mi(request, mi, milestones_form=form, status=400)


# --- Candidate queue ------------------------------------------------------------------------------


def _render_candidates(
    request: HttpRequest,
    *,
    reject_forms: dict[int, RejectCandidateForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    pending = list(
        MajorIncidentCandidate.objects.filter(status=CandidateStatus.PENDING)
        .select_related("incident", "incident__affected_ci", "rule")
        .order_by("created_at", "id")
    )
    forms = reject_forms or {}
    decided = (
        MajorIncidentCandidate.objects.exclude(status=CandidateStatus.PENDING)
        .select_related("incident", "rule", "decided_by", "major_incident")
        .order_by("-decided_at", "-id")[:10]
    )
    return render(
        request,
        "incidents/mi_candidates.html",
        {
            "pending": [
                (c, forms.get(c.pk) or RejectCandidateForm(prefix=f"c{c.pk}")) for c in pending
            ],
            "decided": decided,
        },
        status=status,
    )


def _candidate_or_404(candidate_id: int) -> MajorIncidentCandidate:
    candidate = (
        MajorIncidentCandidate.objects.filter(pk=candidate_id).select_related("incident").first()
    )
    if candidate is None:
        raise Http404("No such candidate")
    return candidate


@require_GET
@requires("incidents.declare_majorincident")
def candidate_list(request: HttpRequest) -> HttpResponse:
    return _render_candidates(request)


@require_POST
@requires("incidents.declare_majorincident")
def candidate_accept(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = _candidate_or_404(candidate_id)
    try:
        mi = services.accept_candidate(candidate=candidate, actor=request.user)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, f"{candidate.incident.number}: {exc.message}")
        return redirect("majors:candidates")
    messages.success(
        request, f"{candidate.incident.number} declared as {mi.number}; you are its commander."
    )
    return redirect("majors:detail", number=mi.number)


@require_POST
@requires("incidents.declare_majorincident")
def candidate_reject(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = _candidate_or_404(candidate_id)
    form = RejectCandidateForm(request.POST, prefix=f"c{candidate.pk}")
    if form.is_valid():
        try:
            services.reject_candidate(
                candidate=candidate, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except NotAllowed:
            raise
        except Conflict as exc:
            messages.error(request, f"{candidate.incident.number}: {exc.message}")
            return redirect("majors:candidates")
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request, f"{candidate.incident.number} is not a major incident: rejected."
            )
            return redirect("majors:candidates")
    return _render_candidates(request, reject_forms={candidate.pk: form}, status=400)


# --- CI picker (htmx fragments) -------------------------------------------------------------------


@require_GET
@requires("incidents.view_configurationitem")
def ci_search(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("ci_q", "").strip()[:200]
    cis = ConfigurationItem.objects.order_by("criticality", "name")
    if text:
        cis = cis.filter(Q(name__icontains=text) | Q(owner_group__icontains=text))
    return render(
        request,
        "incidents/_ci_options.html",
        {"cis": cis[:CI_SEARCH_LIMIT], "text": text},
    )


@require_GET
@requires("incidents.view_configurationitem")
def ci_impact(request: HttpRequest, ci_id: int) -> HttpResponse:
    ci = ConfigurationItem.objects.filter(pk=ci_id).first()
    if ci is None:
        raise Http404("No such configuration item")
    impact = cmdb.impact(ci.pk, limit=7)  # the note names the first six dependents
    return render(request, "incidents/_ci_impact.html", {"ci": ci, "impact": impact})
