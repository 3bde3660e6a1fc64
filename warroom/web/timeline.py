"""War-room page: the timeline panel and the threads panel (their partials, forms and fragments).

The panel (``templates/warroom/_timeline.html``) shows the post form, the newest entries, the
filters and the threads. With htmx it keeps itself current: a poller element asks
``timeline/poll/?since=…`` every 2 s and puts what came after at the top of the list; its answer
carries the next poller (an out-of-band swap) with the new cursor and the same filters, and an
answer with nothing new is a 204 that swaps nothing. A post by htmx answers with a fresh form and
the ``timeline-posted`` event, on which the poller asks at once: the new entry comes by the one
road every entry takes, never twice. Without JavaScript every form is post/redirect/get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from incidents import selectors as incident_selectors
from incidents.errors import DomainError, NotAllowed
from incidents.models import POST_KINDS, MajorIncident, TimelineEntry, TimelineKind
from incidents.web.common import add_domain_error, requires, sentence
from incidents.web.forms import UsernameField
from incidents.web.prg import refused, restore

from .. import services
from ..selectors import markdown, timeline
from ..selectors.common import read_only
from ..selectors.timeline import BEFORE, SINCE, ThreadView
from .common import form_key, mi_or_404, page_url

PANEL_SIZE = 50
POLL_SECONDS = 2
POSTED_EVENT = "timeline-posted"
_KIND_LABELS = dict(TimelineKind.choices)


# --- Entries as the page shows them ---------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    entry: TimelineEntry
    html: SafeString
    corrected_by: list[int]
    is_post: bool
    kind_label: str


def rows(entries: list[TimelineEntry]) -> list[Row]:
    """Each entry with its body as safe HTML: a post's Markdown through the war room's
    sanitising renderer, a service's row escaped as text."""
    shown = []
    for entry in entries:
        is_post = entry.kind in POST_KINDS
        html = (
            mark_safe(markdown.render(entry.message))  # noqa: S308 - sanitised by nh3 in render
            if is_post
            else conditional_escape(entry.message)
        )
        shown.append(
            Row(
                entry=entry,
                html=html,
                corrected_by=timeline.corrected_by(entry),
                is_post=is_post,
                kind_label=_KIND_LABELS.get(entry.kind, entry.kind),
            )
        )
    return shown


@dataclass(frozen=True)
class Filters:
    thread: str = ""
    kind: str = ""

    @classmethod
    def of(cls, request: HttpRequest, *, strict: bool) -> Filters:
        """The panel's filters from the query; a bad one is a 400 (fragments) or ignored (page)."""
        try:
            return cls(
                thread=timeline.clean_thread_filter(request.GET.get("timeline_thread")),
                kind=timeline.clean_kind(request.GET.get("timeline_kind")),
            )
        except DomainError:
            if strict:
                raise
            return cls()

    @property
    def key(self) -> str:
        """Part of the ids of the list, its poller and its "older" link: an answer to a request
        made under other filters (in flight while the filter changed) finds no element of its
        own to swap into, instead of mixing into the new list."""
        return f"{self.thread or 'all'}--{self.kind or 'all'}"

    def query(self, **extra: str) -> str:
        params = {"timeline_thread": self.thread, "timeline_kind": self.kind, **extra}
        return urlencode({k: v for k, v in params.items() if v})


# --- Forms ----------------------------------------------------------------------------------------


class PostForm(forms.Form):
    body = forms.CharField(
        label="Post",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Markdown: **bold**, `code`, - lists"}
        ),
    )
    kind = forms.ChoiceField(label="Kind")
    thread = forms.ChoiceField(label="Thread", required=False)
    corrects = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(
        self,
        *args: Any,
        may_command: bool = False,
        threads: Sequence[ThreadView] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        kinds = [k for k in POST_KINDS if may_command or k != TimelineKind.COMMAND_UPDATE]
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            (str(k), _KIND_LABELS[k]) for k in kinds
        ]
        # Command updates go to the command thread by themselves; the others pick any other.
        cast(forms.ChoiceField, self.fields["thread"]).choices = [("", "No thread")] + [
            (t.slug, t.name) for t in threads if not t.is_command
        ]


class ThreadForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    owner = UsernameField(label="Owner", help_text="A username; you if left empty")


# --- The panel ------------------------------------------------------------------------------------


def _context(
    request: HttpRequest, mi: MajorIncident, *, strict: bool, with_forms: bool = True
) -> dict[str, Any]:
    """The panel's context. ``with_forms``: also the forms, taking a refused one out of the
    session (so only what shows the form asks for them; a fragment must not swallow it)."""
    filters = Filters.of(request, strict=strict)
    before = None
    if request.GET.get("timeline_before"):
        try:
            before = timeline.decode_cursor(
                request.GET["timeline_before"], kind=BEFORE, field_name="timeline_before"
            )
        except DomainError:
            if strict:
                raise
    page = timeline.page(
        mi, thread=filters.thread, kind=filters.kind, before=before, size=PANEL_SIZE
    )
    user = request.user
    may_post = incident_selectors.can(user, "post_timeline", mi) and not read_only(mi)
    threads = timeline.threads(mi)
    may_command = may_post and timeline.may_post_command_updates(user, mi)
    form = thread_form = None
    if may_post and with_forms:
        form = restore(
            request,
            form_key(mi, "timeline-post"),
            PostForm,
            may_command=may_command,
            threads=threads,
        )
        if form is None:
            corrects = request.GET.get("timeline_corrects", "")
            initial = {"corrects": int(corrects)} if corrects.isdigit() else {}
            form = PostForm(initial=initial, may_command=may_command, threads=threads)
        thread_form = restore(request, form_key(mi, "thread"), ThreadForm) or ThreadForm()
    return {
        "timeline_rows": rows(page.entries),
        "timeline_older": filters.query(timeline_before=page.before) if page.before else "",
        "timeline_poll": filters.query(since=page.since),
        "timeline_poll_seconds": POLL_SECONDS,
        "timeline_posted_event": POSTED_EVENT,
        "timeline_filters": filters,
        "timeline_kinds": [(k, _KIND_LABELS[k]) for k in TimelineKind.values],
        "timeline_may_post": may_post,
        "timeline_may_command": may_command,
        "timeline_form": form,
        "timeline_read_only": read_only(mi),
        "threads": threads,
        "threads_form": thread_form,
    }


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's timeline and threads panels need (``warroom/_timeline.html``)."""
    return _context(request, mi, strict=False)


# --- Fragments (htmx) -----------------------------------------------------------------------------


@require_GET
@requires("view", MajorIncident)
def feed(request: HttpRequest, number: str) -> HttpResponse:
    """The list with its poller and "older" link, for a change of filter; with
    ``timeline_before``: only the older entries and the next "older" link (load more)."""
    mi = mi_or_404(request, number)
    try:
        context = _context(request, mi, strict=True, with_forms=False)
    except DomainError as exc:
        return HttpResponse(sentence(exc.message), status=400, content_type="text/plain")
    context |= {"mi": mi, "request": request}
    template = (
        "warroom/_timeline_older.html"
        if request.GET.get("timeline_before")
        else "warroom/_timeline_feed.html"
    )
    return render(request, template, context)


@require_GET
@requires("view", MajorIncident)
def poll(request: HttpRequest, number: str) -> HttpResponse:
    """What came after ``since`` (newest first) and the next poller; 204 when nothing did."""
    mi = mi_or_404(request, number)
    try:
        filters = Filters.of(request, strict=True)
        since = timeline.decode_cursor(request.GET.get("since", ""), kind=SINCE, field_name="since")
    except DomainError as exc:
        return HttpResponse(sentence(exc.message), status=400, content_type="text/plain")
    page = timeline.poll(mi, since=since, thread=filters.thread, kind=filters.kind, size=PANEL_SIZE)
    if not page.entries:
        return HttpResponse(status=204)
    may_post = incident_selectors.can(request.user, "post_timeline", mi) and not read_only(mi)
    return render(
        request,
        "warroom/_timeline_poll.html",
        {
            "mi": mi,
            "timeline_rows": rows(page.entries),
            "timeline_filters": filters,
            "timeline_poll": filters.query(since=page.since),
            "timeline_poll_now": page.more,
            "timeline_poll_seconds": POLL_SECONDS,
            "timeline_posted_event": POSTED_EVENT,
            "timeline_may_post": may_post,
        },
    )


@require_GET
@requires("view", MajorIncident)
def post_form(request: HttpRequest, number: str) -> HttpResponse:
    """The post form alone, e.g. set to correct an entry (``timeline_corrects``)."""
    mi = mi_or_404(request, number)
    context = _context(request, mi, strict=False)
    if not context["timeline_may_post"]:
        raise PermissionDenied(incident_selectors.refusal("post_timeline", mi))
    return render(request, "warroom/_timeline_form.html", context | {"mi": mi})


# --- Writes ---------------------------------------------------------------------------------------


def _ensure_may_post(request: HttpRequest, mi: MajorIncident) -> None:
    """Who may not post is refused before their form is read (a 403, as in the API)."""
    try:
        incident_selectors.ensure(request.user, "post_timeline", mi)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@require_POST
@requires("view", MajorIncident)
def post(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(request, number)
    _ensure_may_post(request, mi)
    threads = timeline.threads(mi)
    may_command = timeline.may_post_command_updates(request.user, mi)
    # Every kind validates here: who may post a command update is the service's to say (a 403).
    form = PostForm(request.POST, may_command=True, threads=threads)
    anchor = page_url(mi, "timeline-post")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.post_to_timeline(
                mi=mi,
                actor=request.user,
                body=data["body"],
                kind=data["kind"],
                thread=data["thread"] or "",
                corrects=data["corrects"],
            )
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from None
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if _htmx(request):
                fresh = PostForm(may_command=may_command, threads=threads)
                response = render(
                    request,
                    "warroom/_timeline_form.html",
                    {"mi": mi, "timeline_form": fresh, "timeline_may_post": True},
                )
                response["HX-Trigger"] = POSTED_EVENT
                return response
            messages.success(request, "Posted to the timeline.")
            return redirect(anchor)
    if _htmx(request):
        return render(
            request,
            "warroom/_timeline_form.html",
            {"mi": mi, "timeline_form": form, "timeline_may_post": True},
        )
    return refused(request, form_key(mi, "timeline-post"), form, anchor)


@require_POST
@requires("view", MajorIncident)
def open_thread(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(request, number)
    _ensure_may_post(request, mi)
    form = ThreadForm(request.POST)
    anchor = page_url(mi, "threads")
    if form.is_valid():
        try:
            row = services.open_thread(
                mi=mi,
                actor=request.user,
                name=form.cleaned_data["name"],
                owner=form.cleaned_data["owner"],
            )
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from None
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Thread “{row.name}” opened.")
            return redirect(anchor)
    return refused(request, form_key(mi, "thread"), form, anchor)


urlpatterns = [
    path("<str:number>/timeline/", feed, name="timeline_feed"),
    path("<str:number>/timeline/poll/", poll, name="timeline_poll"),
    path("<str:number>/timeline/form/", post_form, name="timeline_form"),
    path("<str:number>/timeline/post/", post, name="timeline_post"),
    path("<str:number>/threads/open/", open_thread, name="thread_open"),
]
