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

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident, Priority
from incidents.web.common import add_domain_error, requires, sentence
from incidents.web.prg import SESSION_KEY, SeeOther, refused, restore
from warroom.selectors.markdown import render as markdown
from warroom.web.common import mi_or_404

from .. import services
from ..models import (
    DOCUMENT_SECTIONS,
    Distribution,
    PostIncidentReview,
    ReviewActionItem,
    ReviewActionStatus,
    ReviewActionType,
    ReviewStatus,
)
from ..selectors import access
from ..selectors.document import timeline_rows
from ..selectors.reviews import action_items, review_of
from ..services.reviews import FIGURES, MAX_SECTION_CHARS, MAX_TITLE_CHARS, StaleReview

User = get_user_model()
HEADINGS = dict(DOCUMENT_SECTIONS)
FIGURE_LABELS = {
    "customers_affected": "Customers affected",
    "customers_affected_percent": "Customers affected (%)",
    "revenue_impact": "Revenue impact",
    "revenue_currency": "Currency",
    "sla_credits": "SLA credits",
    "support_tickets": "Support tickets",
    "support_tickets_increase_percent": "Support tickets increase (%)",
}


@dataclass(frozen=True)
class Group:
    """One part of the document as the editor shows and saves it (the SRE postmortem's order)."""

    slug: str
    heading: str
    sections: tuple[str, ...]  # free-text fields, each a textarea
    extra: tuple[str, ...] = ()  # other fields (figures, distribution, public version)
    big: bool = False  # the printable view starts it on a new page


GROUPS: tuple[Group, ...] = (
    Group(
        "summary",
        "Summary & impact",
        ("summary", "impact", "sla_breaches", "reputation"),
        ("title", *FIGURES, "revenue_currency"),
    ),
    Group("causes", "Causes", ("root_causes", "trigger", "contributing_factors"), big=True),
    Group(
        "response", "Response", ("resolution", "detection", "detection_delay", "escalation_delay")
    ),
    Group(
        "lessons",
        "Lessons learned",
        ("lessons_went_well", "lessons_went_wrong", "lessons_got_lucky"),
        big=True,
    ),
    Group(
        "prevention",
        "Prevention",
        ("prevention_prevent", "prevention_detect_faster", "prevention_respond_better"),
    ),
    Group(
        "communication",
        "Communication review",
        ("communication_most_asked", "communication_cadence"),
    ),
    Group("distribution", "Distribution & public version", (), ("distribution",)),
    Group("supporting", "Supporting information", ("supporting_information",)),
)
GROUPS_BY_SLUG = {group.slug: group for group in GROUPS}
PUBLIC_FIELDS = ("post_publicly", "public_summary")
ANCHOR_ACTIONS, ANCHOR_COMMENTS, ANCHOR_PUBLISH = "pir-actions", "pir-comments", "pir-publish"


# --- Forms ----------------------------------------------------------------------------------------


def _group_fields(group: Group, *, public: bool) -> tuple[str, ...]:
    """The fields the group's form carries: the public version only for whoever may choose it."""
    fields = (*group.extra, *group.sections)
    if group.slug == "distribution" and public:
        fields = (*fields, *PUBLIC_FIELDS)
    return fields


def _field(name: str) -> forms.Field:
    if name == "title":
        return forms.CharField(max_length=MAX_TITLE_CHARS, label="Title")
    if name in FIGURES:
        # Text, not a number input: the service says what is wrong (a range, a whole number).
        return forms.CharField(
            required=False,
            max_length=32,
            label=FIGURE_LABELS[name],
            widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 10}),
        )
    if name == "revenue_currency":
        return forms.CharField(
            max_length=3, label="Currency", widget=forms.TextInput(attrs={"size": 3})
        )
    if name == "distribution":
        return forms.ChoiceField(choices=Distribution.choices, label="Distribution")
    if name == "post_publicly":
        return forms.BooleanField(
            required=False,
            label="Post the public version on the status page",
            help_text="A P1's review only.",
        )
    label = "Public summary" if name == "public_summary" else HEADINGS[name]
    return forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_SECTION_CHARS,
        label=label,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def section_form_class(group: Group, *, public: bool) -> type[forms.Form]:
    attrs: dict[str, Any] = {name: _field(name) for name in _group_fields(group, public=public)}
    attrs["version"] = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    return type(f"{group.slug.title()}Form", (forms.Form,), attrs)


def _initial(review: PostIncidentReview, fields: tuple[str, ...]) -> dict[str, Any]:
    initial: dict[str, Any] = {"version": review.version}
    for name in fields:
        value = getattr(review, name)
        initial[name] = "" if value is None else value
    return initial


class AuthorsForm(forms.Form):
    authors = forms.CharField(
        required=False,
        max_length=2000,
        label="Authors",
        help_text="Usernames, separated by commas or spaces.",
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


PRIORITY_CHOICES = [("", "—"), *[(str(v), label) for v, label in Priority.choices]]


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=200, label="Title")
    kind = forms.ChoiceField(choices=ReviewActionType.choices, label="Type")
    owner = forms.CharField(required=False, max_length=150, label="Owner (username)")
    due_date = forms.DateField(
        required=False, label="Due", widget=forms.DateInput(attrs={"type": "date"})
    )
    priority = forms.TypedChoiceField(
        choices=PRIORITY_CHOICES, coerce=int, empty_value=None, required=False, label="Priority"
    )
    status = forms.ChoiceField(choices=ReviewActionStatus.choices, label="Status")
    description = forms.CharField(
        required=False,
        max_length=10_000,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ActionStatusForm(forms.Form):
    """After publishing only an action item's status still moves (the work goes on)."""

    status = forms.ChoiceField(choices=ReviewActionStatus.choices, label="Status")


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=10_000, label="Comment", widget=forms.Textarea(attrs={"rows": 3})
    )
    section = forms.ChoiceField(
        required=False,
        label="About",
        choices=[("", "The whole review"), *DOCUMENT_SECTIONS],
    )


# --- Look-ups -------------------------------------------------------------------------------------


def _key(mi: MajorIncident, form: str) -> str:
    return f"{mi.number}:pir:{form}"


def page_url(mi: MajorIncident, anchor: str = "") -> str:
    url = reverse("pir:review", kwargs={"number": mi.number})
    return f"{url}#{anchor}" if anchor else url


def _review_or_404(request: HttpRequest, number: str) -> tuple[MajorIncident, PostIncidentReview]:
    """The MI (404/403 as the war room) and its review; without one, the page saying when it
    comes (a 404 all the same)."""
    mi = mi_or_404(request, number)
    review = review_of(mi)
    if review is None:
        raise _NoReview(mi)
    return mi, review


class _NoReview(Exception):
    def __init__(self, mi: MajorIncident) -> None:
        self.mi = mi


def _no_review(request: HttpRequest, mi: MajorIncident) -> HttpResponse:
    return render(request, "pir/no_review.html", {"mi": mi}, status=404)


def _optional_url(name: str, *args: Any) -> str:
    """A URL of another area's view, or "" while that area is not merged (its form is hidden)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


# --- What the page shows --------------------------------------------------------------------------


def _sections_html(review: PostIncidentReview, names: tuple[str, ...]) -> list[dict[str, Any]]:
    # The project's safe Markdown renderer (raw HTML off, then an allowlist): marking it safe is
    # what it is for.
    return [
        {
            "name": name,
            "heading": HEADINGS[name],
            "text": getattr(review, name),
            "html": mark_safe(markdown(getattr(review, name))),  # noqa: S308
        }
        for name in names
    ]


def _figures(review: PostIncidentReview) -> list[tuple[str, str]]:
    shown = []
    for name in FIGURES:
        value = getattr(review, name)
        if value is None:
            continue
        text = f"{value:,}"
        if name in ("revenue_impact", "sla_credits"):
            text = f"{review.revenue_currency} {text}"
        elif name.endswith("_percent"):
            text = f"{value} %"
        shown.append((FIGURE_LABELS[name], text))
    return shown


def _timeline(review: PostIncidentReview, mi: MajorIncident) -> list[dict[str, Any]]:
    """Live from the war-room log until publishing froze it into the document."""
    published = review.status == ReviewStatus.PUBLISHED
    rows = list(review.timeline or []) if published else timeline_rows(mi)
    return [
        {
            **row,
            "when": str(row.get("at", ""))[:16].replace("T", " "),
            # Only links into this site: the frozen rows are data, not trusted markup.
            "url": row["url"] if str(row.get("url", "")).startswith("/") else "",
        }
        for row in rows
        if isinstance(row, dict)
    ]


def document_context(review: PostIncidentReview, mi: MajorIncident) -> dict[str, Any]:
    """What the editor and the printable view both show."""
    now = timezone.now()
    due = review.publish_due_at
    published = review.status == ReviewStatus.PUBLISHED
    return {
        "mi": mi,
        "incident": mi.incident,
        "review": review,
        "published": published,
        "is_p1": mi.incident.priority == Priority.CRITICAL,
        "overdue": due is not None and not published and due <= now,
        "authors": list(review.authors.all()),
        "figures": _figures(review),
        "groups": [
            {"group": group, "sections": _sections_html(review, group.sections)} for group in GROUPS
        ],
        "public_summary_html": mark_safe(markdown(review.public_summary)),  # noqa: S308
        "timeline": _timeline(review, mi),
        "items": list(action_items(review)),
        "comments": [
            {"comment": c, "about": HEADINGS.get(c.section, "")}
            for c in review.comments.select_related("author")
        ],
        "headings": HEADINGS,
        "now": now,
    }


def _stale_kept(request: HttpRequest, key: str) -> bool:
    kept = request.session.get(SESSION_KEY) or {}
    return key in kept and "edited_from" in kept[key]["data"]


def _editor_context(
    request: HttpRequest, mi: MajorIncident, review: PostIncidentReview
) -> dict[str, Any]:
    user = request.user
    published = review.status == ReviewStatus.PUBLISHED
    may_write = not published and access.can_write(user, review)
    may_run = access.can_run(user, review)
    is_p1 = mi.incident.priority == Priority.CRITICAL
    context = document_context(review, mi)
    for entry in context["groups"]:
        group = entry["group"]
        fields = _group_fields(group, public=may_run and is_p1)
        form_class = section_form_class(group, public=may_run and is_p1)
        key = _key(mi, group.slug)
        entry["conflict"] = _stale_kept(request, key)
        entry["form"] = None
        if may_write:
            entry["form"] = restore(request, key, form_class, auto_id=f"pir-{group.slug}-%s")
            if entry["form"] is None:
                entry["form"] = form_class(
                    initial=_initial(review, fields), auto_id=f"pir-{group.slug}-%s"
                )
            # The text fields first and the rest after, as the document reads.
            texts = [n for n in fields if n in group.sections or n == "public_summary"]
            entry["text_fields"] = [entry["form"][n] for n in texts]
            entry["other_fields"] = [entry["form"][n] for n in fields if n not in texts]
    authors_form = None
    if may_write:
        authors_form = restore(request, _key(mi, "authors"), AuthorsForm, auto_id="pir-authors-%s")
        authors_form = authors_form or AuthorsForm(
            initial={
                "authors": ", ".join(a.get_username() for a in context["authors"]),
                "version": review.version,
            },
            auto_id="pir-authors-%s",
        )
    items = []
    for item in context["items"]:
        form: forms.Form | None = None
        if access.can_write(user, review):
            key = _key(mi, f"action-{item.pk}")
            if published:
                form = restore(request, key, ActionStatusForm, prefix=f"item{item.pk}")
                form = form or ActionStatusForm(
                    initial={"status": item.status}, prefix=f"item{item.pk}"
                )
            else:
                form = restore(request, key, ActionItemForm, prefix=f"item{item.pk}")
                form = form or ActionItemForm(initial=_item_initial(item), prefix=f"item{item.pk}")
        convert = _optional_url("pir:convert-action", mi.number, item.pk) if may_run else ""
        items.append({"item": item, "form": form, "convert_url": convert})
    add_form = None
    comment_form = None
    if may_write:
        add_form = restore(request, _key(mi, "action-add"), ActionItemForm, prefix="new")
        add_form = add_form or ActionItemForm(prefix="new", initial={"status": "open"})
        comment_form = restore(request, _key(mi, "comment"), CommentForm, prefix="comment")
        comment_form = comment_form or CommentForm(prefix="comment")
    meeting_url = _optional_url("pir:meeting", mi.number) if may_run and not published else ""
    context.update(
        {
            "may_write": may_write,
            "may_run": may_run,
            "may_publish": may_run and not published,
            "may_submit": may_write and review.status == ReviewStatus.DRAFT,
            "blockers": services.publish_blockers(review) if not published else [],
            "authors_form": authors_form,
            "item_rows": items,
            "add_form": add_form,
            "comment_form": comment_form,
            "meeting_url": meeting_url,
            "meeting_local": (
                timezone.localtime(review.meeting_at, UTC).strftime("%Y-%m-%dT%H:%M")
                if review.meeting_at
                else ""
            ),
        }
    )
    return context


def _item_initial(item: ReviewActionItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "kind": item.kind,
        "owner": item.owner.get_username() if item.owner else "",
        "due_date": item.due_date,
        "priority": item.priority or "",
        "status": item.status,
        "description": item.description,
    }


# --- Views ----------------------------------------------------------------------------------------


@require_GET
@requires("view", MajorIncident)
def review_page(request: HttpRequest, number: str) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
    return render(request, "pir/review.html", _editor_context(request, mi, review))


@require_GET
@requires("view", MajorIncident)
def print_page(request: HttpRequest, number: str) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
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
def save_section(request: HttpRequest, number: str, group: str) -> HttpResponse:
    """Save one group of sections with the version it was edited from (``update_review``)."""
    if group not in GROUPS_BY_SLUG:
        raise Http404("No such section")
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
    access.ensure_write(request.user, review)
    part = GROUPS_BY_SLUG[group]
    public = access.can_run(request.user, review) and mi.incident.priority == Priority.CRITICAL
    form = section_form_class(part, public=public)(request.POST)
    key, anchor = _key(mi, part.slug), f"pir-{part.slug}"
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
def save_authors(request: HttpRequest, number: str) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
    access.ensure_write(request.user, review)
    form = AuthorsForm(request.POST)
    key = _key(mi, "authors")
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
def submit(request: HttpRequest, number: str) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
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
def publish(request: HttpRequest, number: str) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
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
def comment(request: HttpRequest, number: str) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
    access.ensure_write(request.user, review)
    form = CommentForm(request.POST, prefix="comment")
    key = _key(mi, "comment")
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
def add_action(request: HttpRequest, number: str) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
    access.ensure_write(request.user, review)
    form = ActionItemForm(request.POST, prefix="new")
    key = _key(mi, "action-add")
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
def edit_action(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    try:
        mi, review = _review_or_404(request, number)
    except _NoReview as missing:
        return _no_review(request, missing.mi)
    item = review.action_items.filter(pk=item_id).first()
    if item is None:
        raise Http404("No such action item on this review")
    access.ensure_write(request.user, review)
    published = review.status == ReviewStatus.PUBLISHED
    form_class = ActionStatusForm if published else ActionItemForm
    form: forms.Form = form_class(request.POST, prefix=f"item{item.pk}")
    key, anchor = _key(mi, f"action-{item.pk}"), f"action-{item.pk}"
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
