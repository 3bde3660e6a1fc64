"""Post/redirect/get for the forms on the incident and MI pages.

A form posts to its action URL (``/major-incidents/MI…/transition/``), which accepts POST only.
Rendering the page there with the form's errors left the browser on a URL that a reload re-posts
and a revisit answers with 405. Instead the action keeps what was typed and the errors in the
session and redirects (303) to the page, whose GET shows the form again, filled in and with its
errors, once: a reload after that shows the page as it is.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponseRedirect, QueryDict

SESSION_KEY = "mim_refused_forms"
# Only the input fields come back; the CSRF token is the new page's own.
_NOT_KEPT = {"csrfmiddlewaretoken"}

F = TypeVar("F", bound=forms.Form)


class SeeOther(HttpResponseRedirect):
    """303: the browser follows with a GET, whatever the method of the request was."""

    status_code = 303


def refused(request: HttpRequest, key: str, form: forms.Form, to: str) -> SeeOther:
    """Keep ``form``'s input and errors under ``key`` and send the browser to ``to``."""
    data = {name: request.POST.getlist(name) for name in request.POST if name not in _NOT_KEPT}
    kept = dict(request.session.get(SESSION_KEY, {}))
    kept[key] = {"data": data, "errors": form.errors.get_json_data()}
    request.session[SESSION_KEY] = kept
    return SeeOther(to)


def restore(request: HttpRequest, key: str, form_class: type[F], **kwargs: Any) -> F | None:
    """The form kept under ``key``, bound to what was typed and carrying its errors, or None.

    Taken out of the session as it is shown, so it comes back once. The errors are the ones the
    POST found (a service's refusal included, which validating again could not reproduce).
    """
    kept = request.session.get(SESSION_KEY)
    if not kept or key not in kept:
        return None
    kept = dict(kept)
    saved = kept.pop(key)
    request.session[SESSION_KEY] = kept
    data = QueryDict(mutable=True)
    for name, values in saved["data"].items():
        data.setlist(name, values)
    form = form_class(data, **kwargs)
    # Bound but not validated again: start from empty errors and add the kept ones (add_error
    # needs cleaned_data to exist; Django has no public setter for a form's errors).
    form.cleaned_data = {}
    form._errors = ErrorDict()  # type: ignore[attr-defined]
    for field, errors in saved["errors"].items():
        # NON_FIELD_ERRORS, or a field the form no longer has: above the form.
        target = field if field in form.fields else None
        for error in errors:
            form.add_error(
                target, ValidationError(error["message"], code=error.get("code") or None)
            )
    return form
