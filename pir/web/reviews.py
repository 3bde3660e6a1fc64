"""The review's pages: the editor by section (/war-rooms/<n>/pir/) and the printable document
(/war-rooms/<n>/pir/print/).

The editor is one page of small forms, each posting to its own URL and calling one service
(``pir.services``), then going back to the page (post/redirect/get, ``incidents.web.prg``): a
refusal comes back with what was typed, next to the field the service named. A section's save
names the review's ``version`` it was edited from; when someone saved since, the service refuses
it (``StaleReview``) and the page shows their text above and keeps the user's in the box, with
the current version in the hidden field, as the war room's scratchpad does: nothing typed is lost.

Who sees which forms is asked of ``pir.selectors.access`` (the same the services enforce): a
reader gets the document without forms, a writer the section, comment and action-item forms, the
one who may run the MI also the public version, publishing, the meeting and the conversions. A
published review is final: no forms for the document, only an action item's status still moves.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident, Priority
from incidents.web.common import add_domain_error, requires, sentence
from incidents.web.prg import SESSION_KEY, SeeOther, refused

from .. import services
from ..models import (
    PostIncidentReview,
    ReviewStatus,
)
from ..selectors import access
from ..services.reviews import FIGURES, StaleReview
from .review_context import (
    document_context,
    editor_context,
    form_key,
    page_url,
    with_review,
)
from .review_forms import (
    GROUPS_BY_SLUG,
    ActionItemForm,
    ActionStatusForm,
    AuthorsForm,
    CommentForm,
    section_form_class,
)

ANCHOR_ACTIONS, ANCHOR_COMMENTS, ANCHOR_PUBLISH = "pir-actions", "pir-comments", "pir-publish"


# --- Views ----------------------------------------------------------------------------------------


@require_GET
@requires("view", MajorIncident)
@with_review
def review_page(
    request: HttpRequest, mi: MajorIncident, review: PostIncidentReview
) -> HttpResponse:
    return render(request, "pir/review.html", editor_context(request, mi, review))


@require_GET
@requires("view", MajorIncident)
@with_review
def print_page(request: HttpRequest, mi: MajorIncident, review: PostIncidentReview) -> HttpResponse:
    return render(request, "pir/print.html", document_context(review, mi))


def _refusal(
    request: HttpRequest,
    exc: DomainError,
    form: forms.Form,
    key: str,
    mi: MajorIncident,
    anchor: str,
) -> HttpResponse:
    """A service's refusal: next to the field it names, else a message above the page."""
    if isinstance(exc, NotAllowed):
        raise exc
    if exc.field in form.fields:
        add_domain_error(form, exc)
        return refused(request, key, form, page_url(mi, anchor))
    messages.error(request, sentence(exc.message))
    return redirect(page_url(mi, anchor))


def _keep_stale(request: HttpRequest, key: str, current: PostIncidentReview) -> None:
    """Keep what the user typed, with the current version (saving again after merging is one
    click) and the version it was edited from (the page shows theirs above)."""
    data = {
        name: request.POST.getlist(name) for name in request.POST if name != "csrfmiddlewaretoken"
    }
    data["edited_from"] = data.get("version", [""])
    data["version"] = [str(current.version)]
    kept = dict(request.session.get(SESSION_KEY, {}))
    kept[key] = {"data": data, "errors": {}}
    request.session[SESSION_KEY] = kept


def _changed(review: PostIncidentReview, data: dict[str, Any]) -> dict[str, Any]:
    """Only what differs from the review: saving a part unchanged does not raise the version
    (which would make everyone else's open edit stale for nothing)."""
    changes = {}
    for name, value in data.items():
        current = getattr(review, name)
        if name in FIGURES:
            try:
                same = (value == "" and current is None) or (
                    value != "" and current is not None and Decimal(value) == current
                )
            except (InvalidOperation, ValueError):
                same = False  # the service says what is wrong with it
        else:
            same = value == current
        if not same:
            changes[name] = value
    return changes


@require_POST
@requires("view", MajorIncident)
@with_review
def save_section(
    request: HttpRequest, mi: MajorIncident, review: PostIncidentReview, group: str
) -> HttpResponse:
    """Save one group of sections with the version it was edited from (``update_review``)."""
    if group not in GROUPS_BY_SLUG:
        raise Http404("No such section")
    access.ensure_write(request.user, review)
    part = GROUPS_BY_SLUG[group]
    public = access.can_run(request.user, review) and mi.incident.priority == Priority.CRITICAL
    form = section_form_class(part, public=public)(request.POST)
    key, anchor = form_key(mi, part.slug), f"pir-{part.slug}"
    if not form.is_valid():
        return refused(request, key, form, page_url(mi, anchor))
    data = dict(form.cleaned_data)
    version = data.pop("version")
    changes = _changed(review, data)
    if not changes:  # nothing to save, so nothing to conflict with either
        messages.info(request, f"Nothing changed in {part.heading}.")
        return redirect(page_url(mi, anchor))
    try:
        saved = services.update_review(
            review=review, actor=request.user, changes=changes, version=version
        )
    except StaleReview as exc:
        _keep_stale(request, key, exc.current)
        messages.warning(
            request,
            f"Someone saved version {exc.current.version} of the review while you edited "
            f"{part.heading}; nothing of yours was saved yet. Your text is in the boxes, theirs "
            "above them: merge them and save again.",
        )
        return SeeOther(page_url(mi, anchor))
    except DomainError as exc:
        return _refusal(request, exc, form, key, mi, anchor)
    messages.success(request, f"{part.heading} saved (version {saved.version}).")
    return redirect(page_url(mi, anchor))


@require_POST
@requires("view", MajorIncident)
@with_review
def save_authors(
    request: HttpRequest, mi: MajorIncident, review: PostIncidentReview
) -> HttpResponse:
    access.ensure_write(request.user, review)
    form = AuthorsForm(request.POST)
    key = form_key(mi, "authors")
    if not form.is_valid():
        return refused(request, key, form, page_url(mi, "pir-authors"))
    names = [n for n in form.cleaned_data["authors"].replace(",", " ").split() if n]
    try:
        services.update_review(
            review=review,
            actor=request.user,
            changes={"authors": names},
            version=form.cleaned_data["version"],
        )
    except StaleReview as exc:
        _keep_stale(request, key, exc.current)
        messages.warning(
            request, "The review changed while you edited; check the authors and save again."
        )
        return SeeOther(page_url(mi, "pir-authors"))
    except DomainError as exc:
        return _refusal(request, exc, form, key, mi, "pir-authors")
    messages.success(request, "Authors saved.")
    return redirect(page_url(mi, "pir-authors"))


@require_POST
@requires("view", MajorIncident)
@with_review
def submit(request: HttpRequest, mi: MajorIncident, review: PostIncidentReview) -> HttpResponse:
    try:
        services.submit_review(review=review, actor=request.user)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, sentence(exc.message))
    else:
        messages.success(request, "The review is submitted for review.")
    return redirect(page_url(mi))


@require_POST
@requires("view", MajorIncident)
@with_review
def publish(request: HttpRequest, mi: MajorIncident, review: PostIncidentReview) -> HttpResponse:
    try:
        services.publish_review(review=review, actor=request.user)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, sentence(exc.message))
        return redirect(page_url(mi, ANCHOR_PUBLISH))
    messages.success(request, f"The review is published: {mi.number} may now close.")
    return redirect(page_url(mi))


@require_POST
@requires("view", MajorIncident)
@with_review
def comment(request: HttpRequest, mi: MajorIncident, review: PostIncidentReview) -> HttpResponse:
    access.ensure_write(request.user, review)
    form = CommentForm(request.POST, prefix="comment")
    key = form_key(mi, "comment")
    if review.status == ReviewStatus.PUBLISHED:
        messages.error(request, "The review is published; it is final.")
        return redirect(page_url(mi, ANCHOR_COMMENTS))
    if not form.is_valid():
        return refused(request, key, form, page_url(mi, ANCHOR_COMMENTS))
    try:
        services.add_comment(
            review=review,
            actor=request.user,
            body=form.cleaned_data["body"],
            section=form.cleaned_data["section"],
        )
    except DomainError as exc:
        return _refusal(request, exc, form, key, mi, ANCHOR_COMMENTS)
    messages.success(request, "Comment added.")
    return redirect(page_url(mi, ANCHOR_COMMENTS))


def _item_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": data["title"],
        "kind": data["kind"],
        "owner": data["owner"].strip() or None,
        "due_date": data["due_date"],
        "priority": data["priority"],
        "status": data["status"],
        "description": data["description"],
    }


@require_POST
@requires("view", MajorIncident)
@with_review
def add_action(request: HttpRequest, mi: MajorIncident, review: PostIncidentReview) -> HttpResponse:
    access.ensure_write(request.user, review)
    form = ActionItemForm(request.POST, prefix="new")
    key = form_key(mi, "action-add")
    if not form.is_valid():
        return refused(request, key, form, page_url(mi, ANCHOR_ACTIONS))
    try:
        item = services.add_action_item(
            review=review, actor=request.user, fields=_item_fields(form.cleaned_data)
        )
    except DomainError as exc:
        return _refusal(request, exc, form, key, mi, ANCHOR_ACTIONS)
    messages.success(request, f"Action item {item.pk} added.")
    return redirect(page_url(mi, ANCHOR_ACTIONS))


@require_POST
@requires("view", MajorIncident)
@with_review
def edit_action(
    request: HttpRequest, mi: MajorIncident, review: PostIncidentReview, item_id: int
) -> HttpResponse:
    item = review.action_items.filter(pk=item_id).first()
    if item is None:
        raise Http404("No such action item on this review")
    access.ensure_write(request.user, review)
    published = review.status == ReviewStatus.PUBLISHED
    form_class = ActionStatusForm if published else ActionItemForm
    form: forms.Form = form_class(request.POST, prefix=f"item{item.pk}")
    key, anchor = form_key(mi, f"action-{item.pk}"), f"action-{item.pk}"
    if not form.is_valid():
        return refused(request, key, form, page_url(mi, anchor))
    fields = (
        {"status": form.cleaned_data["status"]} if published else _item_fields(form.cleaned_data)
    )
    try:
        services.update_action_item(item=item, actor=request.user, fields=fields)
    except DomainError as exc:
        return _refusal(request, exc, form, key, mi, anchor)
    messages.success(request, f"Action item {item.pk} saved.")
    return redirect(page_url(mi, anchor))
