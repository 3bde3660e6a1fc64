"""War-room page: the action-items panel (its partial and its forms).

The list (filtered by the same FilterSet as the API: ``?status=``, ``?owner=``, ``?overdue=``),
an add form, and per item a quick status change and an edit form; every form posts, then
redirects back to the page (post/redirect/get), a refusal coming back with what was typed.
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

from incidents import selectors as incident_selectors
from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident
from incidents.web.common import form_action, requires, sentence
from incidents.web.forms import UsernameField, UTCDateTimeField
from incidents.web.prg import restore

from .. import selectors, services
from ..models import COMMAND_THREAD, ActionItem, ActionStatus, Thread
from .common import form_key, may, mi_or_404, page_url, render_panel

ANCHOR = "action-items"


class ActionItemForm(forms.Form):
    """Add or edit an action item; the service holds the rules (the owner may see the MI, …)."""

    title = forms.CharField(max_length=200, label="Action")
    owner = UsernameField(label="Owner", help_text="Username of who does it.")
    due = UTCDateTimeField(label="Due (UTC)")
    # Not on the add form (a new item is open unless the API says otherwise).
    status = forms.ChoiceField(choices=ActionStatus.choices, required=False)
    thread = forms.ChoiceField(required=False, label="Thread")

    def __init__(
        self,
        *args: Any,
        mi: MajorIncident,
        threads: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # The panel reads the MI's threads once for all its forms (``thread_choices``).
        self.fields["thread"].choices = threads or thread_choices(mi)  # type: ignore[attr-defined]


def thread_choices(mi: MajorIncident) -> list[tuple[str, str]]:
    threads = Thread.objects.filter(major_incident=mi).order_by("name")
    return [("", "No thread"), (COMMAND_THREAD, "Command"), *((t.slug, t.name) for t in threads)]


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ActionStatus.choices)


def _edit_form(
    request: HttpRequest, mi: MajorIncident, item: ActionItem, threads: list[tuple[str, str]]
) -> ActionItemForm:
    prefix = f"ai{item.pk}"
    key = form_key(mi, f"action_item_{item.pk}")
    kept = restore(request, key, ActionItemForm, mi=mi, prefix=prefix, threads=threads)
    if kept is not None:
        return kept
    return ActionItemForm(
        mi=mi,
        threads=threads,
        prefix=prefix,
        initial={
            "title": item.title,
            "owner": item.owner.username if item.owner else "",
            "due": item.due_at,
            "status": item.status,
            "thread": item.thread,
        },
    )


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's action-items panel needs (templates/warroom/_action_items.html)."""
    now = timezone.now()
    found = selectors.ActionItemFilter(request.GET or None, queryset=selectors.action_items(mi))
    # Ids of its own on a page of several panels (the query keys stay the API's).
    found.form.auto_id = "action-items-filter-%s"
    may_edit = may(request, "post_timeline", mi)
    threads = thread_choices(mi)
    rows = [
        (
            item,
            selectors.is_overdue(item, now),
            _edit_form(request, mi, item, threads) if may_edit else None,
        )
        for item in found.qs
    ]
    add_form = restore(
        request,
        form_key(mi, "action_item_add"),
        ActionItemForm,
        mi=mi,
        prefix="ai-new",
        threads=threads,
    )
    return {
        "action_items": rows,
        "action_items_overdue": sum(1 for _, overdue, _ in rows if overdue),
        "action_items_filter": found.form,
        "action_items_form": add_form or ActionItemForm(mi=mi, prefix="ai-new", threads=threads),
        "action_items_may_edit": may_edit,
        "action_items_statuses": ActionStatus.choices,
    }


def _item_or_404(mi: MajorIncident, item_id: int) -> ActionItem:
    item = selectors.action_items(mi).filter(pk=item_id).first()
    if item is None:
        raise Http404("No such action item on this major incident")
    return item


@require_http_methods(["GET", "POST"])
@requires("view", MajorIncident)
def action_items(request: HttpRequest, number: str) -> HttpResponse:
    """GET: the panel alone; POST: add an item."""
    mi = mi_or_404(request, number)
    if request.method == "GET":
        return render_panel(request, mi, "warroom/_action_items.html", panel)
    form = ActionItemForm(request.POST, mi=mi, prefix="ai-new")

    def add(data: dict[str, Any]) -> str:
        item = services.add_action_item(
            mi=mi,
            actor=request.user,
            title=data["title"],
            owner=data["owner"],
            due=data["due"],
            status=data["status"] or ActionStatus.OPEN,
            thread=data["thread"],
        )
        return f"Action item #{item.pk} added."

    return form_action(
        request,
        form,
        add,
        page=page_url(mi),
        key=form_key(mi, "action_item_add"),
        anchor=ANCHOR,
        field_refusals_only=True,
    )


def _same_minute(a: datetime | None, b: datetime | None) -> bool:
    """The page's box holds minutes: an unchanged box is the same minute, seconds aside."""
    if a is None or b is None:
        return a is b
    return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)


@require_POST
@requires("view", MajorIncident)
def action_item_edit(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    mi = mi_or_404(request, number)
    item = _item_or_404(mi, item_id)
    form = ActionItemForm(request.POST, mi=mi, prefix=f"ai{item.pk}")

    def edit(data: dict[str, Any]) -> str | None:
        changes = {
            name: data[name]
            for name, current in (
                ("title", item.title),
                ("owner", item.owner),
                ("status", item.status),
                ("thread", item.thread),
            )
            if data[name] != current and not (name == "status" and not data[name])
        }
        if not _same_minute(data["due"], item.due_at):
            changes["due"] = data["due"]
        if not changes:
            incident_selectors.ensure(request.user, "post_timeline", mi)  # a no-op all the same
            return None
        services.change_action_item(item=item, actor=request.user, **changes)
        return f"Action item #{item.pk} updated."

    return form_action(
        request,
        form,
        edit,
        page=page_url(mi),
        key=form_key(mi, f"action_item_{item.pk}"),
        anchor=f"action-item-{item.pk}",
        field_refusals_only=True,
    )


@require_POST
@requires("view", MajorIncident)
def action_item_status(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    """One click: the item's new status (the row's buttons)."""
    mi = mi_or_404(request, number)
    item = _item_or_404(mi, item_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "There is no such status.")
        return redirect(page_url(mi, ANCHOR))
    to = form.cleaned_data["status"]
    try:
        services.change_action_item(item=item, actor=request.user, status=to)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, sentence(exc.message))
    else:
        label = ActionStatus(to).label.lower()
        messages.success(request, f"Action item #{item.pk} is {label}.")
    return redirect(page_url(mi, ANCHOR))


urlpatterns: list[URLPattern] = [
    path("<str:number>/action-items/", action_items, name="action_items"),
    path("<str:number>/action-items/<int:item_id>/", action_item_edit, name="action_item_edit"),
    path(
        "<str:number>/action-items/<int:item_id>/status/",
        action_item_status,
        name="action_item_status",
    ),
]
