"""Major incident pages and the candidate queue."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Prefetch, Q, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
from ..errors import Conflict, DomainError, NotAllowed
from ..models import (
    MILESTONES,
    OPEN_MI_STATUSES,
    CandidateStatus,
    MajorIncident,
    MajorIncidentCandidate,
    MIStatus,
    RaciRole,
    RoleAssignment,
    TimelineEntry,
)
from .common import PAGE_SIZE, requires
from .forms import (
    MilestonesForm,
    RejectCandidateForm,
    RoleForm,
    TransitionForm,
    add_domain_error,
)

# --- Major incidents ------------------------------------------------------------------------------


def _mi_or_404(number: str, request: HttpRequest) -> MajorIncident:
    """The MI by number: a 404 if there is none, a 403 if the user may not see this one.

    Its team may, whatever their role (guardian object permissions), as in the API.
    """
    mi = (
        MajorIncident.objects.by_number(number)
        .select_related(
            "incident", "incident__affected_ci", "trigger_rule", "declared_by", "problem"
        )
        .first()
    )
    if mi is None:
        raise Http404(f"No major incident {number}")
    selectors.ensure(request.user, "view", mi)
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
@requires("view", MajorIncident)
def mi_list(request: HttpRequest) -> HttpResponse:
    # A team member without a role lists the MIs they are on; everyone else who may, all of them.
    visible = selectors.restrict(MajorIncident.objects.all(), request.user, "view")
    rows = (
        visible.select_related("incident")
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
    can_declare = selectors.can_declare(request.user)
    return render(
        request,
        "incidents/mi_list.html",
        {
            "page": page,
            "majors": page.object_list,
            "open_count": visible.filter(status__in=OPEN_MI_STATUSES).count(),
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
    allowed = sorted(selectors.MI_MOVES[mi.status], key=MOVE_ORDER.index)
    can_declare = selectors.can_declare(request.user)
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
    can_manage = selectors.can_manage(request.user, mi)
    editable = can_manage and mi.status not in (MIStatus.CLOSED, MIStatus.CANCELLED)
    moves = _moves(request, mi, can_manage)
    incident = mi.incident
    roles = selectors.active_roles(mi)
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
@requires("view", MajorIncident)
def mi_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_mi(request, _mi_or_404(number, request))


def war_room(request: HttpRequest, number: str) -> HttpResponse:
    """``/war-rooms/<number>/``: the MI page until the war room app takes the route over."""
    return redirect("majors:detail", number=number)


@require_POST
@requires("view", MajorIncident)
def mi_transition(request: HttpRequest, number: str) -> HttpResponse:
    mi = _mi_or_404(number, request)
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
@requires("view", MajorIncident)
def mi_assign_role(request: HttpRequest, number: str) -> HttpResponse:
    mi = _mi_or_404(number, request)
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
@requires("view", MajorIncident)
def mi_remove_role(request: HttpRequest, number: str, assignment_id: int) -> HttpResponse:
    mi = _mi_or_404(number, request)
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
@requires("view", MajorIncident)
def mi_milestones(request: HttpRequest, number: str) -> HttpResponse:
    mi = _mi_or_404(number, request)
    form = MilestonesForm(request.POST, mi=mi)
    if form.is_valid():
        values = form.changed_values()
        try:
            if values:
                services.set_milestones(mi=mi, actor=request.user, values=values)
            else:
                selectors.ensure(request.user, "manage", mi)
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
@requires("declare")
def candidate_list(request: HttpRequest) -> HttpResponse:
    return _render_candidates(request)


@require_POST
@requires("declare")
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
@requires("declare")
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
