"""The review page's "make it work" buttons: POST an action item's conversion (field ``to``),
then back to the review (post/redirect/get) with a message saying what it became or why not.

Whoever may see the MI reaches the view; the service asks the run right (a 403 otherwise).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from incidents.errors import DomainError, NotAllowed
from incidents.models import MajorIncident
from incidents.web.common import requires, sentence
from warroom.web.common import mi_or_404

from ..models import ReviewActionItem
from ..selectors.actions import tracker_of
from ..selectors.reviews import review_page
from ..services import actions

LABELS = {
    actions.PROBLEM_TASK: "a problem task",
    actions.CHANGE: "a change",
    actions.JIRA: "a Jira issue",
}


class ConvertForm(forms.Form):
    to = forms.ChoiceField(choices=list(LABELS.items()))


def _done(item: ReviewActionItem, to: str) -> str:
    if to == actions.PROBLEM_TASK and item.problem_task:
        return f"Action item #{item.pk} is now the problem task {item.problem_task.number}."
    if to == actions.CHANGE and item.change:
        return f"Action item #{item.pk} is now the change {item.change.number}."
    tracker = tracker_of(item)
    if tracker and tracker.key:
        return f"Action item #{item.pk} is now the Jira issue {tracker.key}."
    return f"Action item #{item.pk} is being sent to Jira; its issue appears here once created."


@require_POST
@requires("view", MajorIncident)
def convert_action(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    mi = mi_or_404(request, number)
    item = ReviewActionItem.objects.filter(review__major_incident=mi, pk=item_id).first()
    if item is None:
        raise Http404("No such action item on this major incident's review")
    form = ConvertForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a problem task, a change or a Jira issue.")
        return redirect(review_page(mi, item.pk))
    to = form.cleaned_data["to"]
    try:
        converted = actions.convert_action_item(item=item, actor=request.user, to=to)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, sentence(exc.message))
    else:
        actions.keep_tracker_links(item_ids=[converted.pk])
        converted.refresh_from_db()
        messages.success(request, _done(converted, to))
    return redirect(review_page(mi, item.pk))
