"""What the review's pages show: the document (shared by the editor and the printable view) and
the editor's forms for this user (a refused one restored as typed, ``incidents.web.prg``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from functools import wraps
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from incidents.models import MajorIncident, Priority
from incidents.web.prg import SESSION_KEY, restore
from warroom.selectors.markdown import render as markdown
from warroom.web.common import mi_or_404

from .. import services
from ..models import (
    PostIncidentReview,
    ReviewActionItem,
    ReviewStatus,
)
from ..selectors import access
from ..selectors.document import timeline_rows
from ..selectors.reviews import action_items, review_of
from ..services.reviews import FIGURES
from .review_forms import (
    FIGURE_LABELS,
    GROUPS,
    HEADINGS,
    ActionItemForm,
    ActionStatusForm,
    AuthorsForm,
    CommentForm,
    group_fields,
    initial_of,
    section_form_class,
)

# --- Look-ups -------------------------------------------------------------------------------------


def form_key(mi: MajorIncident, form: str) -> str:
    return f"{mi.number}:pir:{form}"


def page_url(mi: MajorIncident, anchor: str = "") -> str:
    url = reverse("pir:review", kwargs={"number": mi.number})
    return f"{url}#{anchor}" if anchor else url


def with_review(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view gets the MI (404/403 as the war room) and its review instead of the number;
    an MI without a review gets the page saying when it comes (a 404 all the same)."""

    @wraps(view)
    def with_it(request: HttpRequest, number: str, **kwargs: Any) -> HttpResponse:
        mi = mi_or_404(request, number)
        review = review_of(mi)
        if review is None:
            return render(request, "pir/no_review.html", {"mi": mi}, status=404)
        return view(request, mi, review, **kwargs)

    return with_it


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


def editor_context(
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
        fields = group_fields(group, public=may_run and is_p1)
        form_class = section_form_class(group, public=may_run and is_p1)
        key = form_key(mi, group.slug)
        entry["conflict"] = _stale_kept(request, key)
        entry["form"] = None
        if may_write:
            entry["form"] = restore(request, key, form_class, auto_id=f"pir-{group.slug}-%s")
            if entry["form"] is None:
                entry["form"] = form_class(
                    initial=initial_of(review, fields), auto_id=f"pir-{group.slug}-%s"
                )
            # The text fields first and the rest after, as the document reads.
            texts = [n for n in fields if n in group.sections or n == "public_summary"]
            entry["text_fields"] = [entry["form"][n] for n in texts]
            entry["other_fields"] = [entry["form"][n] for n in fields if n not in texts]
    authors_form = None
    if may_write:
        authors_form = restore(
            request, form_key(mi, "authors"), AuthorsForm, auto_id="pir-authors-%s"
        )
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
            key = form_key(mi, f"action-{item.pk}")
            if published:
                form = restore(request, key, ActionStatusForm, prefix=f"item{item.pk}")
                form = form or ActionStatusForm(
                    initial={"status": item.status}, prefix=f"item{item.pk}"
                )
            else:
                form = restore(request, key, ActionItemForm, prefix=f"item{item.pk}")
                form = form or ActionItemForm(initial=_item_initial(item), prefix=f"item{item.pk}")
        convert = reverse("pir:convert-action", args=[mi.number, item.pk]) if may_run else ""
        items.append({"item": item, "form": form, "convert_url": convert})
    add_form = None
    comment_form = None
    if may_write:
        add_form = restore(request, form_key(mi, "action-add"), ActionItemForm, prefix="new")
        add_form = add_form or ActionItemForm(prefix="new", initial={"status": "open"})
        comment_form = restore(request, form_key(mi, "comment"), CommentForm, prefix="comment")
        comment_form = comment_form or CommentForm(prefix="comment")
    meeting_url = reverse("pir:meeting", args=[mi.number]) if may_run and not published else ""
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
