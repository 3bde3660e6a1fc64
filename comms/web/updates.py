"""War-room page: the stakeholder-updates panel (its partial and its forms).

The MI's updates, newest first, with their delivery (counts by outbox status, and the failed
deliveries with their last error); a form to write one in the four parts, filled by a draft
(``POST …/updates/draft/``); per update the buttons the user's permissions allow (submit, approve,
send, discard; the server refuses the others with a 403 all the same); the next update due; the
support team's canned response with a copy button.

Every form posts, then redirects back to the page (post/redirect/get), a refusal coming back with
what was typed, as the other panels do; each calls one service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from incidents.errors import DomainError
from incidents.models import MajorIncident
from incidents.selectors import can, ensure
from incidents.web.common import form_action, requires, sentence
from incidents.web.forms import UTCDateTimeField
from incidents.web.prg import restore
from warroom.web.common import form_key, may, mi_or_404, page_url, render_panel

from ..channels import copilot
from ..models import CommsState, StakeholderUpdate, UpdateStatus
from ..models.plan import DRAFT_TYPES, UpdateType
from ..selectors import updates as update_selectors
from ..services import drafting
from ..services import updates as update_services

ANCHOR = "updates"
TEMPLATE = "comms/_updates.html"
FORM = "update_write"
# Where a draft waits for the page's GET to fill the form with it (once).
DRAFT_SESSION_KEY = "comms_update_drafts"
OPERATIONS = {
    "submit": (update_services.submit_update, "submitted for approval"),
    "approve": (update_services.approve_update, "approved"),
    "send": (update_services.send_update, "sent"),
    "discard": (update_services.discard_update, "discarded"),
}
_OPEN = (UpdateStatus.DRAFT, UpdateStatus.PENDING_APPROVAL, UpdateStatus.APPROVED)


class UpdateForm(forms.Form):
    """Write an update in the four parts; the service holds the rules (next update time)."""

    update_type = forms.ChoiceField(
        label="Type",
        choices=[(t, UpdateType(t).label) for t in update_services.WRITABLE_TYPES],
        initial=UpdateType.CADENCE,
    )
    subject = forms.CharField(max_length=300, required=False, label="Subject")
    current_impact = forms.CharField(
        max_length=update_services.MAX_PART,
        label="Current impact",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Who is affected, and how.",
    )
    current_action = forms.CharField(
        max_length=update_services.MAX_PART,
        label="What we are doing",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    user_action = forms.CharField(
        max_length=update_services.MAX_PART,
        label="What users should do",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    next_update_at = UTCDateTimeField(
        label="Next update (UTC)", help_text="Not needed for a resolution, all-clear or PIR."
    )
    body = forms.CharField(
        max_length=20000,
        required=False,
        label="More detail",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    drafted_by = forms.CharField(required=False, widget=forms.HiddenInput, max_length=32)
    # The update being changed ("Edit" on a draft, pending or approved one); empty: a new one.
    editing = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_next_update_at(self) -> datetime | None:
        value: datetime | None = self.cleaned_data.get("next_update_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The next update time must be in the future.")
        return value

    def clean_drafted_by(self) -> str:
        value = self.cleaned_data.get("drafted_by") or ""
        return value if value in (drafting.TEMPLATE, drafting.COPILOT) else ""


class DraftForm(forms.Form):
    update_type = forms.ChoiceField(
        label="Start from a draft of",
        choices=[(t, UpdateType(t).label) for t in DRAFT_TYPES],
        initial=UpdateType.CADENCE,
    )
    drafter = forms.ChoiceField(
        choices=[(d, d) for d in drafting.DRAFTERS], required=False, initial="template"
    )


def _drafted(request: HttpRequest, mi: MajorIncident) -> dict[str, Any] | None:
    kept = request.session.get(DRAFT_SESSION_KEY)
    if not kept or mi.number not in kept:
        return None
    kept = dict(kept)
    initial = kept.pop(mi.number)
    request.session[DRAFT_SESSION_KEY] = kept
    if initial.get("next_update_at"):
        initial["next_update_at"] = datetime.fromisoformat(initial["next_update_at"])
    return dict(initial)


def _editing(request: HttpRequest, mi: MajorIncident) -> dict[str, Any] | None:
    """``?edit=<id>``: the write form filled with that open update of this MI, to change it."""
    raw = request.GET.get("edit", "")
    if not raw.isdigit():
        return None
    update = StakeholderUpdate.objects.filter(
        major_incident=mi, pk=int(raw), status__in=_OPEN
    ).first()
    if update is None:
        return None
    return {
        "editing": update.pk,
        "update_type": update.update_type,
        "subject": update.subject,
        "current_impact": update.current_impact,
        "current_action": update.current_action,
        "user_action": update.user_action,
        "next_update_at": update.next_update_at,
        "body": update.body,
        "drafted_by": update.drafted_by,
    }


def _forms(request: HttpRequest, mi: MajorIncident) -> tuple[UpdateForm, DraftForm]:
    """The write form (a refused one as typed, else the update being edited, else filled by a
    draft just made) and the draft picker, set to the type just drafted."""
    drafted = _editing(request, mi) or _drafted(request, mi)
    picked = {"update_type": drafted["update_type"]} if drafted else {}
    picker = DraftForm(prefix="draft", initial=picked or None)
    kept = restore(request, form_key(mi, FORM), UpdateForm, prefix="upd")
    if kept is not None:
        return kept, picker
    return UpdateForm(prefix="upd", initial=drafted or None), picker


def _buttons(
    update: StakeholderUpdate, mi: MajorIncident, may_write: bool, legal: bool
) -> list[tuple[str, str]]:
    """(operation, label) the user may press on this update; the services refuse the rest."""
    if update.status not in _OPEN:
        return []
    shown: list[tuple[str, str]] = []
    may_approve = legal if mi.is_security else may_write
    if may_write and update.status == UpdateStatus.DRAFT:
        shown.append(("submit", "Submit for approval"))
    if may_approve and update.status != UpdateStatus.APPROVED:
        shown.append(("approve", "Approve"))
    if may_write and (not mi.is_security or update.status == UpdateStatus.APPROVED):
        shown.append(("send", "Send"))
    if may_write:
        shown.append(("discard", "Discard"))
    return shown


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's updates panel needs (templates/comms/_updates.html)."""
    now = timezone.now()
    may_write = may(request, "send_updates", mi)
    legal = update_services.is_legal(request.user)
    rows = list(update_selectors.updates_of(mi))
    failed = update_selectors.failed_deliveries([u.pk for u in rows])
    listed = [
        {
            "update": update,
            "delivery": update_selectors.delivery_counts(update),
            "failed": failed.get(update.pk, []),
            "buttons": _buttons(update, mi, may_write, legal),
        }
        for update in rows
    ]
    write_form, draft_form = _forms(request, mi) if may_write else (None, None)
    due = mi.next_update_due_at if mi.is_open else None
    state = CommsState.objects.filter(major_incident=mi).first() if mi.is_security else None
    investigating = mi.is_security and (state is None or state.investigation_completed_at is None)
    return {
        "updates_rows": listed,
        "updates_may_write": may_write,
        "updates_form": write_form,
        "updates_draft_form": draft_form,
        "updates_copilot": copilot.is_enabled(),
        "updates_next_due": due,
        "updates_overdue": due is not None and due <= now,
        "updates_canned": update_selectors.canned_responses(mi, now=now),
        "updates_security": mi.is_security,
        "updates_investigating": investigating,
        "updates_may_complete": investigating and (legal or can(request.user, "manage", mi)),
    }


def _update_or_404(mi: MajorIncident, update_id: int) -> StakeholderUpdate:
    update = StakeholderUpdate.objects.filter(major_incident=mi, pk=update_id).first()
    if update is None:
        raise Http404("No such update on this major incident")
    return update


@require_http_methods(["GET", "POST"])
@requires("view", MajorIncident)
def updates(request: HttpRequest, number: str) -> HttpResponse:
    """GET: the panel alone; POST: write an update (the "send" button sends it at once)."""
    mi = mi_or_404(request, number)
    if request.method == "GET":
        return render_panel(request, mi, TEMPLATE, panel)
    ensure(request.user, "send_updates", mi)
    form = UpdateForm(request.POST, prefix="upd")
    send = request.POST.get("send") == "1"

    def write(data: dict[str, Any]) -> str:
        if data.get("editing"):
            return _change(data)
        update = update_services.write_update(
            mi=mi,
            actor=request.user,
            send=send,
            update_type=data["update_type"],
            subject=data["subject"],
            current_impact=data["current_impact"],
            current_action=data["current_action"],
            user_action=data["user_action"],
            next_update_at=data["next_update_at"],
            body=data["body"],
            drafted_by=data["drafted_by"],
        )
        return f"Update #{update.pk} {'sent' if send else 'saved as a draft'}."

    def _change(data: dict[str, Any]) -> str:
        update = _update_or_404(mi, data["editing"])
        fields = {name: data[name] for name in (*update_services.PARTS, "subject", "body")}
        update = update_services.edit_update(update=update, actor=request.user, send=send, **fields)
        return f"Update #{update.pk} {'changed and sent' if send else 'changed'}."

    return form_action(
        request, form, write, page=page_url(mi), key=form_key(mi, FORM), anchor=ANCHOR
    )


@require_POST
@requires("view", MajorIncident)
def draft(request: HttpRequest, number: str) -> HttpResponse:
    """Fill the write form with a draft of the chosen type (nothing saved, nothing sent)."""
    mi = mi_or_404(request, number)
    ensure(request.user, "send_updates", mi)
    form = DraftForm(request.POST, prefix="draft")
    if not form.is_valid():
        messages.error(request, "There is no such kind of update to draft.")
        return redirect(page_url(mi, ANCHOR))
    try:
        proposal = drafting.draft_update(
            mi=mi,
            actor=request.user,
            update_type=form.cleaned_data["update_type"],
            drafter=form.cleaned_data["drafter"] or drafting.TEMPLATE,
        )
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, sentence(exc.message))
        return redirect(page_url(mi, ANCHOR))
    kept = dict(request.session.get(DRAFT_SESSION_KEY, {}))
    kept[mi.number] = {
        "update_type": proposal.update_type,
        "subject": proposal.subject,
        "current_impact": proposal.current_impact,
        "current_action": proposal.current_action,
        "user_action": proposal.user_action,
        "next_update_at": proposal.next_update_at.isoformat() if proposal.next_update_at else "",
        "body": proposal.body,
        "drafted_by": proposal.drafted_by,
    }
    request.session[DRAFT_SESSION_KEY] = kept
    if proposal.note:
        messages.warning(request, proposal.note)
    by = "the drafting model" if proposal.drafted_by == drafting.COPILOT else "the template"
    messages.info(request, f"Drafted by {by}: review it, then save or send.")
    if request.htmx:  # type: ignore[attr-defined]
        return render_panel(request, mi, TEMPLATE, panel)
    return redirect(page_url(mi, ANCHOR))


@require_POST
@requires("view", MajorIncident)
def operate(request: HttpRequest, number: str, update_id: int, operation: str) -> HttpResponse:
    """One button: submit, approve, send or discard one update."""
    if operation not in OPERATIONS:
        raise Http404("No such operation")
    mi = mi_or_404(request, number)
    update = _update_or_404(mi, update_id)
    service, done = OPERATIONS[operation]
    try:
        service(update=update, actor=request.user)
    except DomainError as exc:
        if exc.status_code == 403:
            raise
        messages.error(request, sentence(exc.message))
    else:
        messages.success(request, f"Update #{update.pk} {done}.")
    return redirect(page_url(mi, f"update-{update.pk}"))


@require_POST
@requires("view", MajorIncident)
def complete_investigation(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(request, number)
    if not update_services.is_legal(request.user):
        ensure(request.user, "manage", mi)
    if not mi.is_security:
        messages.error(request, f"{mi.number} is not a security incident.")
    else:
        update_services.complete_investigation(mi=mi, actor=request.user)
        messages.success(request, "Investigation marked complete: updates may carry detail now.")
    return redirect(page_url(mi, ANCHOR))


urlpatterns: list[URLPattern] = [
    path("<str:number>/updates/", updates, name="updates"),
    path("<str:number>/updates/draft/", draft, name="updates_draft"),
    path(
        "<str:number>/updates/investigation-complete/",
        complete_investigation,
        name="updates_investigation_complete",
    ),
    path(
        "<str:number>/updates/<int:update_id>/<slug:operation>/",
        operate,
        name="update_operation",
    ),
]
