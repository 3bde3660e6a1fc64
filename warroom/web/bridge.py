"""War-room page: the bridge panel (its partial and its forms).

The bridge link as a "Join the bridge" button (only an http(s) link becomes one), the dial-in,
who is on now and since when, "I joined" / "I left" for the current user, and a small form to
record someone else. Every form posts and comes back to the page (post/redirect/get).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_POST

from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident
from incidents.web.common import add_domain_error, requires, sentence
from incidents.web.forms import UsernameField
from incidents.web.majors import is_web_link
from incidents.web.prg import refused, restore

from .. import selectors, services
from .common import form_key, may, mi_or_404, page_url, render_panel

ANCHOR = "bridge"
RECENT_STAYS = 10


class AttendanceForm(forms.Form):
    """Who joined or left: empty means the one submitting (the "I joined" / "I left" buttons)."""

    user = UsernameField(label="Who", help_text="Username; empty for yourself.")
    action = forms.ChoiceField(choices=[("join", "Joined"), ("leave", "Left")])


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's bridge panel needs (templates/warroom/_bridge.html)."""
    on_now = list(selectors.on_bridge_now(mi))
    form = restore(request, form_key(mi, "bridge"), AttendanceForm, prefix="bridge")
    return {
        "bridge_is_link": is_web_link(mi.bridge_link),
        "bridge_on_now": on_now,
        "bridge_me_on": any(stay.user_id == request.user.pk for stay in on_now),
        "bridge_may_record": may(request, "post_timeline", mi),
        "bridge_form": form or AttendanceForm(prefix="bridge"),
        "bridge_recent": [
            stay
            for stay in selectors.bridge_attendances(mi)[:RECENT_STAYS]
            if stay.left_at is not None
        ],
    }


@require_GET
@requires("view", MajorIncident)
def bridge(request: HttpRequest, number: str) -> HttpResponse:
    """The panel alone."""
    mi = mi_or_404(request, number)
    return render_panel(request, mi, "warroom/_bridge.html", panel)


@require_POST
@requires("view", MajorIncident)
def bridge_attendance(request: HttpRequest, number: str) -> HttpResponse:
    """Record someone (or oneself) joining or leaving the bridge."""
    mi = mi_or_404(request, number)
    form = AttendanceForm(request.POST, prefix="bridge")
    back = page_url(mi, ANCHOR)
    if not form.is_valid():
        return refused(request, form_key(mi, "bridge"), form, back)
    user = form.cleaned_data["user"] or request.user
    joining = form.cleaned_data["action"] == "join"
    try:
        if joining:
            services.join_bridge(mi=mi, actor=request.user, user=user)
        else:
            services.leave_bridge(mi=mi, actor=request.user, user=user)
    except NotAllowed:
        raise
    except DomainError as exc:
        if exc.field not in form.fields:  # on it already, not on it, a finished MI
            messages.error(request, sentence(exc.message))
            return redirect(back)
        add_domain_error(form, exc)
        return refused(request, form_key(mi, "bridge"), form, back)
    who = "You" if user == request.user else user.get_username()
    messages.success(request, f"{who} {'joined' if joining else 'left'} the bridge.")
    return redirect(back)


urlpatterns: list[URLPattern] = [
    path("<str:number>/bridge/", bridge, name="bridge"),
    path("<str:number>/bridge/attendees/", bridge_attendance, name="bridge_attendance"),
]
