"""The review editor's forms: the document's parts as the editor groups and saves them (the
SRE postmortem's order), and the forms of the authors, action items and comments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from incidents.models import Priority

from ..models import (
    DOCUMENT_SECTIONS,
    Distribution,
    PostIncidentReview,
    ReviewActionStatus,
    ReviewActionType,
)
from ..services.reviews import FIGURES, MAX_SECTION_CHARS, MAX_TITLE_CHARS

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


# --- Forms ----------------------------------------------------------------------------------------


def group_fields(group: Group, *, public: bool) -> tuple[str, ...]:
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
    attrs: dict[str, Any] = {name: _field(name) for name in group_fields(group, public=public)}
    attrs["version"] = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    return type(f"{group.slug.title()}Form", (forms.Form,), attrs)


def initial_of(review: PostIncidentReview, fields: tuple[str, ...]) -> dict[str, Any]:
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
