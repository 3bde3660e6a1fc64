"""War-room page: the scratchpad panel (its partial and its forms).

A save names the version the text was edited from (a hidden field). If someone saved since, the
service refuses it (``StaleScratchpad``); the page then shows their text above and keeps the
user's own in the box, with the current version in the hidden field, so that saving again after
merging is one click and nothing typed is lost.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods

from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident
from incidents.web.common import add_domain_error, requires, sentence
from incidents.web.prg import SESSION_KEY, SeeOther, refused, restore

from .. import selectors, services
from .common import form_key, may, mi_or_404, page_url, render_panel

ANCHOR = "scratchpad"
VERSIONS_SHOWN = 5


class ScratchpadForm(forms.Form):
    # Ids of its own on a page of several panels; the field names stay the API's.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "scratchpad-%s")
        super().__init__(*args, **kwargs)

    text = forms.CharField(
        required=False,
        strip=False,
        max_length=services.MAX_SCRATCHPAD_CHARS,
        label="Scratchpad",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
    )
    version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's scratchpad panel needs (templates/warroom/_scratchpad.html)."""
    pad = selectors.scratchpad_of(mi)
    form = restore(request, form_key(mi, "scratchpad"), ScratchpadForm)
    # A refused stale save comes back with the version it was edited from: show theirs too.
    conflict = form is not None and "edited_from" in form.data
    if form is None:
        form = ScratchpadForm(initial={"text": pad.text, "version": pad.version})
    return {
        "scratchpad": pad,
        "scratchpad_form": form,
        "scratchpad_conflict": conflict,
        "scratchpad_may_edit": may(request, "edit_scratchpad", mi),
        "scratchpad_versions": list(selectors.scratchpad_versions(mi)[:VERSIONS_SHOWN]),
    }


def _keep_stale(
    request: HttpRequest, mi: MajorIncident, text: str, edited_from: int, current: Any
) -> None:
    """Keep the user's text for the page with the current version, as ``prg.refused`` would."""
    kept = dict(request.session.get(SESSION_KEY, {}))
    kept[form_key(mi, "scratchpad")] = {
        "data": {
            "text": [text],
            "version": [str(current.version)],
            "edited_from": [str(edited_from)],
        },
        "errors": {},
    }
    request.session[SESSION_KEY] = kept


@require_http_methods(["GET", "POST"])
@requires("view", MajorIncident)
def scratchpad(request: HttpRequest, number: str) -> HttpResponse:
    """GET: the panel alone; POST: save (post/redirect/get)."""
    mi = mi_or_404(request, number)
    if request.method == "GET":
        return render_panel(request, mi, "warroom/_scratchpad.html", panel)
    form = ScratchpadForm(request.POST)
    key = form_key(mi, "scratchpad")
    if not form.is_valid():
        return refused(request, key, form, page_url(mi, ANCHOR))
    text, version = form.cleaned_data["text"], form.cleaned_data["version"]
    try:
        pad = services.save_scratchpad(mi=mi, actor=request.user, text=text, version=version)
    except services.StaleScratchpad as exc:
        current = exc.current
        who = current.updated_by.username if current.updated_by else "Someone"
        _keep_stale(request, mi, text, version, current)
        messages.warning(
            request,
            f"{who} saved version {current.version} while you edited; nothing of yours was "
            "saved yet. Your text is below, theirs above: merge them and save again.",
        )
        return SeeOther(page_url(mi, ANCHOR))
    except NotAllowed:
        raise
    except DomainError as exc:
        if exc.field not in form.fields:
            messages.error(request, sentence(exc.message))
            return redirect(page_url(mi, ANCHOR))
        add_domain_error(form, exc)
        return refused(request, key, form, page_url(mi, ANCHOR))
    if pad.version == version:
        messages.info(request, "Nothing changed.")
    else:
        messages.success(request, f"Scratchpad saved (version {pad.version}).")
    return redirect(page_url(mi, ANCHOR))


def _versions_page(request: HttpRequest, mi: MajorIncident, shown: Any = None) -> dict[str, Any]:
    versions = Paginator(selectors.scratchpad_versions(mi), 50).get_page(request.GET.get("page"))
    return {"mi": mi, "versions": versions, "shown": shown, "current": selectors.scratchpad_of(mi)}


@require_GET
@requires("view", MajorIncident)
def versions(request: HttpRequest, number: str) -> HttpResponse:
    """Every saved version of the scratchpad, newest first, with who saved it."""
    mi = mi_or_404(request, number)
    return render(request, "warroom/scratchpad_versions.html", _versions_page(request, mi))


@require_GET
@requires("view", MajorIncident)
def one_version(request: HttpRequest, number: str, version: int) -> HttpResponse:
    """One saved version's text, and the list to step to another."""
    mi = mi_or_404(request, number)
    shown = selectors.scratchpad_version(mi, version)
    if shown is None:
        raise Http404(f"{mi.number}'s scratchpad has no version {version}")
    return render(request, "warroom/scratchpad_versions.html", _versions_page(request, mi, shown))


urlpatterns: list[URLPattern] = [
    path("<str:number>/scratchpad/", scratchpad, name="scratchpad_save"),
    path("<str:number>/scratchpad/versions/", versions, name="scratchpad_versions"),
    path("<str:number>/scratchpad/versions/<int:version>/", one_version, name="scratchpad_version"),
]
