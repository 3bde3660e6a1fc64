"""Technician web forms. They parse and validate input only; the rules live in ``services``.

Views hand ``cleaned_data`` to a service and turn a ``DomainError`` back into a form error with
``common.add_domain_error``, so a rule is stated once whether it is reached from the API or a form.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import URLValidator

from .. import selectors, services
from ..models import (
    MILESTONES,
    Channel,
    ConfigurationItem,
    Impact,
    Incident,
    IncidentState,
    MajorIncident,
    MIStatus,
    Priority,
    RaciRole,
    Urgency,
)
from ..selectors import milestone_not_yet

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.auth.models import User as UserModel

User = get_user_model()

# The datetime-local input sends "2025-01-31T14:05"; the server runs in UTC (settings.TIME_ZONE),
# so the value is read as UTC and the label says so.
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class UsernameField(forms.ModelChoiceField):
    """A user typed by username (DESIGN: users are referred to by username), not a long select."""

    default_error_messages = {"invalid_choice": "There is no user with that username."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"placeholder": "username", "autocomplete": "off"}),
        )
        super().__init__(
            queryset=User.objects.filter(is_active=True), to_field_name="username", **kwargs
        )

    def to_python(self, value: Any) -> Any:
        return super().to_python(value.strip() if isinstance(value, str) else value)


class UTCDateTimeField(forms.DateTimeField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("input_formats", [DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        kwargs.setdefault(
            "widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL)
        )
        super().__init__(**kwargs)


class IncidentForm(forms.Form):
    """Create or edit an incident. ``priority`` exists only for users who may set it by hand."""

    short_description = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"autofocus": True})
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}))
    caller = UsernameField(help_text="Who reported it (optional).")
    channel = forms.TypedChoiceField(choices=Channel.choices, initial=Channel.PORTAL)
    # The CI picker fills this hidden id; the visible search box is ``ci_q`` (see ``clean``).
    affected_ci = forms.ModelChoiceField(
        queryset=ConfigurationItem.objects.all(),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "That configuration item no longer exists."},
    )
    ci_q = forms.CharField(required=False, label="Affected CI", max_length=200)
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int, initial=Impact.LOW)
    urgency = forms.TypedChoiceField(choices=Urgency.choices, coerce=int, initial=Urgency.LOW)
    priority = forms.TypedChoiceField(
        choices=[("", "Computed from impact × urgency"), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
        label="Priority override",
    )
    assignment_group = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"list": "assignment-groups", "autocomplete": "off"}),
    )
    assigned_to = UsernameField()
    is_security = forms.BooleanField(required=False, label="Security incident")
    impact_started_at = UTCDateTimeField(label="Impact started (UTC)")

    # Fields handed to the service; ``ci_q`` is only the picker's search box.
    service_fields: tuple[str, ...] = (
        "short_description", "description", "caller", "channel", "affected_ci", "impact",
        "urgency", "priority", "assignment_group", "assigned_to", "is_security",
        "impact_started_at",
    )  # fmt: skip

    def __init__(self, *args: Any, user: UserModel | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.can_override_priority = selectors.can(user, "override_priority")
        if not self.can_override_priority:
            # Not rendered and not read: a technician's posted "priority" is ignored, never applied.
            del self.fields["priority"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        typed = (data.get("ci_q") or "").strip()
        if data.get("affected_ci") is None and typed:
            # Without JavaScript the picker is a plain text box: accept an exact CI name.
            match = ConfigurationItem.objects.filter(name__iexact=typed).first()
            if match is None:
                self.add_error("ci_q", f"No configuration item is named “{typed}”.")
            else:
                data["affected_ci"] = match
        return data

    def service_kwargs(self, *, only_changed: bool = False) -> dict[str, Any]:
        """``cleaned_data`` as keyword arguments for ``create_incident`` / ``update_incident``."""
        names = [n for n in self.service_fields if n in self.fields]
        if only_changed:
            changed = set(self.changed_data)
            if "ci_q" in changed:
                changed.add("affected_ci")
            names = [n for n in names if n in changed]
        kwargs = {name: self.cleaned_data.get(name) for name in names}
        for text in ("description", "assignment_group"):
            if text in kwargs and kwargs[text] is None:
                kwargs[text] = ""
        return kwargs


class IncidentCreateForm(IncidentForm):
    def service_kwargs(self, *, only_changed: bool = False) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        if kwargs.get("priority") is None:
            kwargs.pop("priority", None)  # the matrix decides
        return kwargs


_EDITABLE_STATES = [(v, label) for v, label in IncidentState.choices if v != IncidentState.RESOLVED]


class IncidentEditForm(IncidentForm):
    # Resolving needs a resolution note and has its own action; the service refuses other
    # impossible moves and the view shows its reason.
    state = forms.ChoiceField(choices=_EDITABLE_STATES)
    detected_at = UTCDateTimeField(label="Detected (UTC)")

    service_fields = (*IncidentForm.service_fields, "state", "detected_at")

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        kwargs.setdefault("initial", initial_for(incident))
        super().__init__(*args, **kwargs)
        if incident.state == IncidentState.RESOLVED:
            # Shown as it is; leaving it there is not a move. Reopening goes to In progress.
            state = cast(forms.ChoiceField, self.fields["state"])
            state.choices = [
                (IncidentState.RESOLVED.value, IncidentState.RESOLVED.label),
                *_EDITABLE_STATES,
            ]


def _to_minute(moment: datetime | None) -> datetime | None:
    # The datetime-local box shows minutes; an untouched box must not count as a change.
    return moment.replace(second=0, microsecond=0) if moment else None


def initial_for(incident: Incident) -> dict[str, Any]:
    return {
        "short_description": incident.short_description,
        "description": incident.description,
        "caller": incident.caller,
        "channel": incident.channel,
        "affected_ci": incident.affected_ci,
        "ci_q": "",
        "impact": incident.impact,
        "urgency": incident.urgency,
        "priority": incident.priority if incident.priority_is_manual else None,
        "assignment_group": incident.assignment_group,
        "assigned_to": incident.assigned_to,
        "is_security": incident.is_security,
        "impact_started_at": _to_minute(incident.impact_started_at),
        "detected_at": _to_minute(incident.detected_at),
        "state": incident.state,
    }


class ResolveForm(forms.Form):
    resolution_notes = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "What fixed it, and how it was verified"}
        ),
        label="Resolution notes",
        error_messages={"required": "A resolution note is required."},
    )


class FlagMajorIncidentForm(forms.Form):
    """A technician's reason for putting an incident forward as a potential major incident."""

    reason = forms.CharField(
        max_length=services.FLAG_REASON_MAX_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "What makes this look bigger than one ticket"}
        ),
        label="Why it may be a major incident",
        error_messages={"required": "Say why this may be a major incident."},
    )


class LinkForm(forms.Form):
    parent = forms.CharField(
        max_length=20,
        label="Parent incident",
        widget=forms.TextInput(attrs={"placeholder": "INC0000123", "autocomplete": "off"}),
    )

    def clean_parent(self) -> Incident:
        number = self.cleaned_data["parent"].strip().upper()
        parent = Incident.objects.by_number(number).first()
        if parent is None:
            raise forms.ValidationError(f"There is no incident {number}.")
        return parent


# --- Major incidents ------------------------------------------------------------------------------


class DeclareMajorIncidentForm(forms.Form):
    """Declare an incident major; the service holds every rule (one MI per incident, …)."""

    major_incident_manager = UsernameField(
        required=True,
        label="Incident commander",
        help_text="Username of the major incident manager who runs it.",
    )
    bridge_link = forms.URLField(
        required=False,
        max_length=500,
        label="Bridge link",
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://meet.example.com/abc-defg-hij"}),
    )
    initial_impact_statement = forms.CharField(
        label="Initial impact statement",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Who cannot do what, since when, and how many"}
        ),
        error_messages={"required": "An initial impact statement is required."},
    )
    is_security = forms.BooleanField(required=False, label="Security major incident")
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "manager": data["major_incident_manager"],
            "bridge_link": data.get("bridge_link") or "",
            "initial_impact_statement": data["initial_impact_statement"],
            "is_security": bool(data.get("is_security")),
            "summary": data.get("summary") or "",
        }


class EditMajorIncidentForm(forms.Form):
    """What was declared, as the IC edits it on the MI page; the service holds the rules."""

    impact_statement = forms.CharField(
        label="Impact statement",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "The impact statement cannot be empty."},
    )
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    bridge_link = forms.URLField(
        required=False,
        max_length=500,
        label="Bridge link",
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
        widget=forms.URLInput(attrs={"placeholder": "https://meet.example.com/abc-defg-hij"}),
    )
    bridge_dial_in = forms.CharField(
        required=False,
        max_length=200,
        label="Bridge dial-in",
        widget=forms.TextInput(attrs={"placeholder": "+1 555 0100, code 123456#"}),
    )
    is_security = forms.BooleanField(required=False, label="Security major incident")
    media_attention = forms.BooleanField(required=False, label="Media attention")

    def __init__(self, *args: Any, mi: MajorIncident, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {name: getattr(mi, name) for name in self.base_fields})
        kwargs.setdefault("prefix", "edit")  # its fields do not clash with the other forms'
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("impact_statement", "summary"):
            if isinstance(data.get(name), str):
                # Browsers send a textarea's line breaks as CRLF; the model keeps LF.
                data[name] = data[name].replace("\r\n", "\n")
        return data

    def changed_values(self) -> dict[str, Any]:
        """The fields whose value differs from the MI's, for ``update_major_incident``."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value != self.initial.get(name)
        }


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=RaciRole.choices)
    user = UsernameField(required=True, label="User")


class TransitionForm(forms.Form):
    """One form, one submit button per allowed move (``name="to"``)."""

    to = forms.ChoiceField(
        choices=MIStatus.choices,
        error_messages={"invalid_choice": "There is no such status."},
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "What changed (required to cancel or override)"}
        ),
    )
    override_stability = forms.BooleanField(
        required=False, label="Override the stability period (incident commander only)"
    )


def milestone_label(name: str) -> str:
    """``root_cause_identified_at`` as the page names it: "Root cause identified"."""
    return name.removesuffix("_at").replace("_", " ").capitalize()


class MilestonesForm(forms.Form):
    """A UTC datetime-local box per milestone that has happened or may be recorded now (not the
    ones a move has yet to stamp); only the changed ones go to the service."""

    def __init__(self, *args: Any, mi: MajorIncident, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {name: _to_minute(getattr(mi, name)) for name in MILESTONES})
        super().__init__(*args, **kwargs)
        for name in MILESTONES:
            if milestone_not_yet(mi, name):
                continue
            self.fields[name] = UTCDateTimeField(label=f"{milestone_label(name)} (UTC)")

    def changed_values(self) -> dict[str, datetime | None]:
        return {name: self.cleaned_data.get(name) for name in self.changed_data}


class RejectCandidateForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why this is not a major incident"}),
        label="Reason",
        error_messages={"required": "Rejecting a proposal needs a reason."},
    )
