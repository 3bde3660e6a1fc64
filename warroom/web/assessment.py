"""War-room page: the assessment panel (its partial and its forms).

``GET /war-rooms/<number>/assessment/`` renders the panel alone (what the page includes, and what
htmx may swap in); ``POST`` saves the form as the next revision and goes back to the page
(post/redirect/get: a refusal comes back on the form, with what was typed).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from incidents import selectors as incident_selectors
from incidents.models import MajorIncident
from incidents.web.common import form_action, requires
from incidents.web.forms import UTCDateTimeField
from incidents.web.prg import restore

from .. import selectors, services
from ..models import AssessmentRevision, Level
from ..selectors.common import read_only
from ..services.assessment import MAX_TEXT
from .common import form_key, mi_or_404, page_url

_LEVELS = [("", "—"), *Level.choices]
_TEXTAREA = forms.Textarea(attrs={"rows": 2})


class AssessmentForm(forms.Form):
    """The whole assessment; the rules (what is required, an ETA needs its confidence) are the
    service's, whose refusals come back beside the field they name."""

    affected_services = forms.CharField(
        label="Affected services", max_length=MAX_TEXT, widget=_TEXTAREA
    )
    affected_customers = forms.CharField(
        label="Affected customers", required=False, max_length=MAX_TEXT, widget=_TEXTAREA
    )
    revenue_impact_estimate = forms.CharField(
        label="Estimated revenue impact", required=False, max_length=200
    )
    sla_breach_risk = forms.ChoiceField(label="SLA breach risk", choices=Level.choices)
    customer_symptoms = forms.CharField(
        label="Customer-facing symptoms", max_length=MAX_TEXT, widget=_TEXTAREA
    )
    root_cause_hypothesis = forms.CharField(
        label="Root-cause hypothesis", required=False, max_length=MAX_TEXT, widget=_TEXTAREA
    )
    root_cause_confirmed = forms.BooleanField(label="Root cause confirmed", required=False)
    eta = UTCDateTimeField(label="ETA (UTC)")
    eta_confidence = forms.ChoiceField(label="ETA confidence", choices=_LEVELS, required=False)


def _initial(current: AssessmentRevision | None) -> dict[str, Any]:
    if current is None:
        return {}
    return {name: getattr(current, name) for name in services.ASSESSMENT_FIELDS}


def panel(request: HttpRequest, mi: MajorIncident) -> dict[str, Any]:
    """What the war-room page's assessment panel needs (templates/warroom/_assessment.html)."""
    revisions = selectors.assessment_revisions(mi)
    current = revisions[0] if revisions else None
    form = restore(request, form_key(mi, "assessment"), AssessmentForm) or AssessmentForm(
        initial=_initial(current)
    )
    return {
        "assessment": current,
        "assessment_revisions": revisions,
        "assessment_due_at": selectors.assessment_due_at(mi),
        "assessment_overdue": selectors.assessment_overdue(mi, written=current is not None),
        "assessment_form": form,
        "assessment_may_edit": not read_only(mi)
        and incident_selectors.can(request.user, "post_timeline", mi),
    }


@require_http_methods(["GET", "POST"])
@requires("view", MajorIncident)
def assessment(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(request, number)
    if request.method == "GET":
        context = {"mi": mi, "now": timezone.now(), **panel(request, mi)}
        return render(request, "warroom/_assessment.html", context)
    incident_selectors.ensure(request.user, "post_timeline", mi)  # a 403, whatever was typed

    def save(data: dict[str, Any]) -> str:
        revision = services.revise_assessment(mi=mi, actor=request.user, **data)
        return f"Assessment saved (r{revision.revision})."

    return form_action(
        request,
        AssessmentForm(request.POST),
        save,
        page=page_url(mi, "assessment"),
        key=form_key(mi, "assessment"),
        anchor="assessment",
        field_refusals_only=True,
    )


urlpatterns: list[URLPattern] = [
    path("<str:number>/assessment/", assessment, name="assessment"),
]
