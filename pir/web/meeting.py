"""The review meeting's form on the editor page: ``POST /war-rooms/<number>/pir/meeting/``
(``pir:meeting``), fields ``meeting_at`` (datetime-local, read as UTC) and ``minutes``.

One service call (``scheduling.reschedule_meeting``), then back to the review page
(post/redirect/get) with a message: what was done, or why not. A user who may not move the
meeting gets a 403 saying who may, as everywhere. ``MeetingForm`` and ``meeting_form`` are what
the editor page renders.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident
from incidents.web.common import requires, sentence
from incidents.web.forms import UTCDateTimeField
from warroom.web.common import mi_or_404

from ..models import PostIncidentReview
from ..selectors import access, review_of
from ..selectors.reviews import review_page
from ..services import scheduling


class MeetingForm(forms.Form):
    meeting_at = UTCDateTimeField(
        required=True, label="Meeting (UTC)", help_text="Everyone invited gets the new time."
    )
    minutes = forms.IntegerField(
        required=False,
        min_value=scheduling.MIN_MINUTES,
        max_value=scheduling.MAX_MINUTES,
        label="Length (minutes)",
    )


def meeting_form(review: PostIncidentReview) -> MeetingForm:
    """The form filled with the meeting as it stands."""
    return MeetingForm(initial={"meeting_at": review.meeting_at, "minutes": review.meeting_minutes})


@require_POST
@requires("view", MajorIncident)
def reschedule(request: HttpRequest, number: str) -> HttpResponse:
    mi = mi_or_404(request, number)
    page = review_page(mi)
    try:
        access.ensure_run(request.user, mi)
        review = review_of(mi)
        if review is None:
            messages.error(
                request, f"{mi.number} has no review yet: it is made when the MI is resolved."
            )
            return redirect(page)
        form = MeetingForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else str(error))
            return redirect(page)
        review = scheduling.reschedule_meeting(
            review=review,
            actor=request.user,
            meeting_at=form.cleaned_data["meeting_at"],
            minutes=form.cleaned_data["minutes"],
        )
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except DomainError as exc:
        messages.error(request, sentence(exc.message))
        return redirect(page)
    assert review.meeting_at is not None
    messages.success(
        request,
        f"Review meeting set for {review.meeting_at:%a %d %b %Y %H:%M} UTC "
        f"({review.meeting_minutes} min); the invitations are updated.",
    )
    return redirect(page)
