"""Major incident pages and the candidate queue."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
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
)
from .common import PAGE_SIZE, add_domain_error, form_action, form_key, requires, sentence
from .forms import (
    EditMajorIncidentForm,
    MilestonesForm,
    RejectCandidateForm,
    RoleForm,
    TransitionForm,
    milestone_label,
)
from .prg import refused, restore

# --- Major incidents ------------------------------------------------------------------------------


def mi_or_404(number: str, request: HttpRequest) -> MajorIncident:
    """The MI by number: a 404 if there is none, a 403 if the user may not see this one.

    Its team may, whatever their role (guardian object permissions), as in the API. The war room
    (``warroom.web.page``) looks its MI up through this too, so both pages refuse alike.
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


def is_web_link(url: str) -> bool:
    """Only an http(s) link with a host is offered as a link or button (never ``javascript:``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@require_GET
@requires("view", MajorIncident)
def mi_list(request: HttpRequest) -> HttpResponse:
    # A team member without a role lists the MIs they are on; everyone else who may, all of them.
    visible = selectors.restrict(MajorIncident.objects.all(), request.user, "view")
    rows = (
        visible.select_related("incident")
        .prefetch_related(selectors.prefetch_active_roles())
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
            "majors": [(mi, selectors.current_commander(mi)) for mi in page.object_list],
            "open_count": visible.filter(status__in=OPEN_MI_STATUSES).count(),
            "can_declare": can_declare,
            "pending_candidates": MajorIncidentCandidate.objects.filter(
                status=CandidateStatus.PENDING
            ).count()
            if can_declare
            else 0,
        },
    )


# Shown on the move buttons: the verb of each target state.
MOVE_LABELS: dict[str, str] = {
    MIStatus.INVESTIGATING: "Investigating",
    MIStatus.IDENTIFIED: "Identified",
    MIStatus.MONITORING: "Monitoring",
    MIStatus.RESOLVED: "Resolve",
    MIStatus.CLOSED: "Close",
    MIStatus.CANCELLED: "Cancel major incident",
}


# The MI's page is its war room (``warroom:page``); the forms go back there. A URL name reversed,
# not an import: incidents does not depend on warroom.
WAR_ROOM = "warroom:page"


def _page(mi: MajorIncident) -> str:
    return reverse(WAR_ROOM, kwargs={"number": mi.number})


def _not_yet(mi: MajorIncident, name: str) -> str:
    """Why a milestone has no box yet, as the row of this MI's page says it (without its number)."""
    return sentence((selectors.milestone_not_yet(mi, name) or "").removeprefix(f"{mi.number} "))


def mi_page_context(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the MI's part of its page shows: header, moves, roles, what was declared, milestones.

    The war room renders it (``templates/incidents/_mi_*.html``); its own timeline panel shows the
    timeline. Forms refused by their action come back here once, with what was typed (``prg``).
    """
    can_manage = selectors.can_manage(request.user, mi)
    editable = can_manage and mi.status not in (MIStatus.CLOSED, MIStatus.CANCELLED)
    # The buttons are the moves this user may make; one not possible yet is shown disabled with
    # why and when, from the same function the service refuses by (told ``can_manage``, which
    # it would otherwise ask guardian again).
    moves = [
        m for m in selectors.allowed_moves(mi, request.user, may_manage=can_manage) if m.permitted
    ]
    incident = mi.incident
    roles = selectors.active_roles(mi)
    children = list(incident.children.select_related("assigned_to").order_by("id"))
    override = next((m for m in moves if m.can_override), None)
    milestones_form = restore(
        request, form_key(mi, "milestones"), MilestonesForm, mi=mi
    ) or MilestonesForm(mi=mi)
    return {
        "mi": mi,
        "incident": incident,
        "commander": next(
            (r.user for r in roles if r.role == RaciRole.MAJOR_INCIDENT_MANAGER), None
        ),
        "roles": roles,
        "bridge_is_link": is_web_link(mi.bridge_link),
        # Per row: its label, when it happened, why it has no box yet, else its box.
        "milestones": [
            (
                milestone_label(name),
                getattr(mi, name),
                _not_yet(mi, name),
                milestones_form[name] if name in milestones_form.fields else None,
            )
            for name in MILESTONES
        ],
        "children": children,
        "open_children": sum(1 for c in children if c.is_open),
        "can_manage": can_manage,
        "editable": editable,
        "moves": [(m, MOVE_LABELS.get(m.to, m.to), sentence(m.why)) for m in moves],
        "override": override,
        "role_form": restore(request, form_key(mi, "roles"), RoleForm) or RoleForm(),
        "milestones_form": milestones_form,
        "transition_form": restore(request, form_key(mi, "transition"), TransitionForm)
        or TransitionForm(),
        "edit_form": restore(request, form_key(mi, "edit"), EditMajorIncidentForm, mi=mi)
        or EditMajorIncidentForm(mi=mi),
    }


@require_GET
@requires("view", MajorIncident)
def mi_detail(request: HttpRequest, number: str) -> HttpResponse:
    """The old MI page leads to the war room, which shows all it showed (issue 7).

    Asked as the war room asks (404, then 403), so the redirect tells nobody more than the war
    room would. A query string is kept.
    """
    mi = mi_or_404(number, request)
    target = _page(mi)
    if request.META.get("QUERY_STRING"):
        target += "?" + request.META["QUERY_STRING"]
    return redirect(target)


@require_POST
@requires("view", MajorIncident)
def mi_transition(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(number, request)

    def move(data: dict[str, Any]) -> str:
        try:
            services.transition_major_incident(
                mi=mi,
                to=data["to"],
                actor=request.user,
                reason=data["reason"],
                override_stability=data["override_stability"],
            )
        except NotAllowed:
            raise
        except DomainError as exc:
            if exc.field != "to":
                raise
            # "to" is the row of move buttons, not a box: say it above the form.
            raise DomainError(exc.message) from None
        return f"{mi.number} is now {MIStatus(data['to']).label.lower()}."

    return form_action(
        request,
        TransitionForm(request.POST),
        move,
        page=_page(mi),
        key=form_key(mi, "transition"),
        anchor="lifecycle",
    )


@require_POST
@requires("view", MajorIncident)
def mi_edit(request: HttpRequest, number: str) -> HttpResponse:
    """What was declared: impact statement, summary, bridge link and the flags."""
    mi = mi_or_404(number, request)
    form = EditMajorIncidentForm(request.POST, mi=mi)

    def edit(data: dict[str, Any]) -> str | None:
        changes = form.changed_values()
        if not changes:
            selectors.ensure(request.user, "manage", mi)  # a no-op needs the right all the same
            return None
        services.update_major_incident(mi=mi, actor=request.user, **changes)
        return f"{mi.number} updated."

    return form_action(
        request, form, edit, page=_page(mi), key=form_key(mi, "edit"), anchor="declared"
    )


@require_POST
@requires("view", MajorIncident)
def mi_assign_role(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(number, request)

    def assign(data: dict[str, Any]) -> str:
        role, user = data["role"], data["user"]
        services.assign_role(mi=mi, role=role, user=user, actor=request.user)
        return f"{user.username} is {RaciRole(role).label} on {mi.number}."

    return form_action(
        request,
        RoleForm(request.POST),
        assign,
        page=_page(mi),
        key=form_key(mi, "roles"),
        anchor="roles",
    )


@require_POST
@requires("view", MajorIncident)
def mi_remove_role(request: HttpRequest, number: str, assignment_id: int) -> HttpResponse:
    mi = mi_or_404(number, request)
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
        messages.error(request, sentence(exc.message))
    else:
        messages.success(
            request,
            f"{assignment.user.username} is no longer {assignment.get_role_display()}.",
        )
    return redirect(_page(mi))


@require_POST
@requires("view", MajorIncident)
def mi_milestones(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(number, request)
    form = MilestonesForm(request.POST, mi=mi)

    def backfill(data: dict[str, Any]) -> str | None:
        values = form.changed_values()
        if not values:
            selectors.ensure(request.user, "manage", mi)  # a no-op needs the right all the same
            return None
        services.set_milestones(mi=mi, actor=request.user, values=values)
        return f"Milestones of {mi.number} updated."

    return form_action(
        request,
        form,
        backfill,
        page=_page(mi),
        key=form_key(mi, "milestones"),
        anchor="milestones",
    )


# --- Candidate queue ------------------------------------------------------------------------------


def _reject_key(candidate_id: int) -> str:
    return f"candidate-{candidate_id}:reject"


def _reject_form(request: HttpRequest, candidate_id: int) -> RejectCandidateForm:
    prefix = f"c{candidate_id}"
    return restore(
        request, _reject_key(candidate_id), RejectCandidateForm, prefix=prefix
    ) or RejectCandidateForm(prefix=prefix)


def _render_candidates(request: HttpRequest) -> HttpResponse:
    pending = list(
        MajorIncidentCandidate.objects.filter(status=CandidateStatus.PENDING)
        .select_related("incident", "incident__affected_ci", "rule", "flagged_by")
        .order_by("created_at", "id")
    )
    decided = (
        MajorIncidentCandidate.objects.exclude(status=CandidateStatus.PENDING)
        .select_related("incident", "rule", "flagged_by", "decided_by", "major_incident")
        .order_by("-decided_at", "-id")[:10]
    )
    return render(
        request,
        "incidents/mi_candidates.html",
        {
            "pending": [(c, _reject_form(request, c.pk)) for c in pending],
            "decided": decided,
        },
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
    return redirect(_page(mi))


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
    return refused(
        request,
        _reject_key(candidate.pk),
        form,
        reverse("majors:candidates") + f"#candidate-{candidate.pk}",
    )
