"""Writing a review: its sections and figures, the workflow draft → in_review → published,
comments and action items. The API, the pages, the admin and the tasks all call these.

Lock order, as everywhere: the incident, then the MI (``lock_major_incident``), then the review.
Edits lock only the review; publishing, which also stamps the MI, takes all three in that order.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date

from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import MajorIncident, MIStatus, Priority, TimelineKind
from incidents.selectors import name_of, user_of
from incidents.selectors.actors import Actor
from incidents.services import record
from incidents.services.common import lock_major_incident

from ..models import (
    DOCUMENT_SECTIONS,
    Distribution,
    PostIncidentReview,
    ReviewActionItem,
    ReviewActionStatus,
    ReviewActionType,
    ReviewComment,
    ReviewStatus,
)
from ..selectors import access
from ..selectors.document import prefill
from ..selectors.reviews import unready_action_items

User = get_user_model()

MAX_SECTION_CHARS = 50_000
MAX_TITLE_CHARS = 300
MAX_COMMENT_CHARS = 10_000
SECTION_FIELDS = tuple(name for name, _ in DOCUMENT_SECTIONS)
# Figures: field -> (kind, minimum, maximum); None is "not known".
FIGURES: dict[str, tuple[str, Decimal | int, Decimal | int]] = {
    "customers_affected": ("int", 0, 2_000_000_000),
    "customers_affected_percent": ("decimal", Decimal(0), Decimal(100)),
    "revenue_impact": ("decimal", Decimal(0), Decimal("999999999999.99")),
    "sla_credits": ("decimal", Decimal(0), Decimal("999999999999.99")),
    "support_tickets": ("int", 0, 2_000_000_000),
    "support_tickets_increase_percent": ("decimal", Decimal(-100), Decimal("999999.99")),
}
# What ``update_review`` takes; ``post_publicly`` and ``public_summary`` need the run right.
EDITABLE_FIELDS = (
    "title",
    *SECTION_FIELDS,
    *FIGURES,
    "revenue_currency",
    "distribution",
    "authors",
    "public_summary",
    "post_publicly",
)
RUN_FIELDS = ("post_publicly", "public_summary")
# A review must say at least this much before it is published.
REQUIRED_TO_PUBLISH = (("summary", "a summary"), ("root_causes", "the root causes"))


class StaleReview(Conflict):
    """The edit named a version that is no longer the current one (409, with the current)."""

    def __init__(self, message: str, *, current: PostIncidentReview) -> None:
        super().__init__(message, field="version")
        self.current = current

    def as_dict(self) -> dict[str, object]:
        # The API's one error shape, naming the field, with the current version beside it (as
        # the scratchpad's stale save carries its current).
        return {
            "version": [self.message],
            "current": {
                "version": self.current.version,
                "updated_at": self.current.updated_at.isoformat().replace("+00:00", "Z"),
            },
        }


# --- Creating -------------------------------------------------------------------------------------


def create_review(*, mi: MajorIncident) -> tuple[PostIncidentReview, bool]:
    """The MI's review, made once (the one-to-one decides between two callers at once), its
    blank fields pre-filled from the MI's records (``selectors.document.prefill``) and its first
    draft of summary, detection and resolution by the offline drafter. Returns (review,
    created). Callers hold the transaction."""
    from . import drafting

    incident = mi.incident
    title = f"{mi.number}: {incident.short_description}"[:MAX_TITLE_CHARS]
    review, created = PostIncidentReview.objects.get_or_create(
        major_incident=mi, defaults={"title": title}
    )
    if created:
        filled = prefill(mi)
        proposal = drafting.offline_draft(mi)
        for name, value in proposal.sections.items():
            if name != "summary":
                filled.setdefault(name, value)
        changed = False
        for name, value in filled.items():
            if value in (None, "") or getattr(review, name) not in (None, ""):
                continue
            setattr(review, name, value)
            changed = True
        review.drafted_by = proposal.drafted_by
        if changed or review.drafted_by:
            review.save()
    return review, created


# --- Cleaning input -------------------------------------------------------------------------------


def _text(field: str, value: Any, limit: int = MAX_SECTION_CHARS) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DomainError(f"{field} must be text", field=field)
    if "\x00" in value:
        raise DomainError(f"{field} may not contain NUL characters", field=field)
    if len(value) > limit:
        raise DomainError(f"{field} is longer than {limit:,} characters", field=field)
    return value


def _figure(field: str, value: Any) -> Decimal | int | None:
    kind, low, high = FIGURES[field]
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DomainError(f"{field} must be a number", field=field)
    try:
        number: Decimal | int = int(value) if kind == "int" else Decimal(str(value))
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        raise DomainError(f"{field} must be a number", field=field) from None
    if kind == "int" and isinstance(value, float | str) and Decimal(str(value)) != number:
        raise DomainError(f"{field} must be a whole number", field=field)
    if isinstance(number, Decimal) and not number.is_finite():
        raise DomainError(f"{field} must be a number", field=field)
    if not low <= number <= high:
        raise DomainError(f"{field} must be between {low} and {high}", field=field)
    return number.quantize(Decimal("0.01")) if isinstance(number, Decimal) else number


def _users(field: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise DomainError(f"{field} must be a list of usernames", field=field)
    if len(value) > 50:
        raise DomainError(f"{field} names at most 50 people", field=field)
    names = list(dict.fromkeys(name.strip() for name in value))
    found = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise DomainError(f"no active user {unknown[0][:150]!r}", field=field)
    return [found[name] for name in names]


def _clean(review: PostIncidentReview, changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise DomainError("the body must be an object of fields", field="non_field_errors")
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in EDITABLE_FIELDS:
            raise DomainError(f"unknown or read-only field {str(field)[:64]!r}", field=str(field))
        if field == "title":
            title = _text(field, value, MAX_TITLE_CHARS).strip()
            if not title:
                raise DomainError("title may not be blank", field=field)
            cleaned[field] = title
        elif field in SECTION_FIELDS or field == "public_summary":
            cleaned[field] = _text(field, value)
        elif field in FIGURES:
            cleaned[field] = _figure(field, value)
        elif field == "revenue_currency":
            code = _text(field, value, 3).strip().upper()
            if len(code) != 3 or not code.isalpha() or not code.isascii():
                raise DomainError("revenue_currency is a 3-letter ISO 4217 code", field=field)
            cleaned[field] = code
        elif field == "distribution":
            if value not in Distribution.values:
                raise DomainError(
                    f"distribution is one of {', '.join(Distribution.values)}", field=field
                )
            cleaned[field] = value
        elif field == "authors":
            cleaned[field] = _users(field, value)
        elif field == "post_publicly":
            if not isinstance(value, bool):
                raise DomainError("post_publicly must be true or false", field=field)
            if value and review.major_incident.incident.priority != Priority.CRITICAL:
                raise DomainError(
                    "only a P1's review has a public version on the status page", field=field
                )
            cleaned[field] = value
    return cleaned


# --- Editing --------------------------------------------------------------------------------------


def _lock(review: PostIncidentReview) -> PostIncidentReview:
    return (
        PostIncidentReview.objects.select_for_update(of=("self",))
        .select_related("major_incident__incident")
        .get(pk=review.pk)
    )


def _ensure_editable(review: PostIncidentReview) -> None:
    if review.status == ReviewStatus.PUBLISHED:
        raise Conflict(f"the review of {review.major_incident.number} is published; it is final")


@transaction.atomic
def update_review(
    *, review: PostIncidentReview, actor: Actor, changes: Any, version: Any = None
) -> PostIncidentReview:
    """Change sections and figures. ``version``, when given, must be the current one (else a
    409 carrying it): the editor page always sends it, a REST client may."""
    review = _lock(review)
    access.ensure_write(actor, review)
    _ensure_editable(review)
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int):
            raise DomainError("version must be a whole number", field="version")
        if version != review.version:
            raise StaleReview(
                f"the review changed since version {version}: it is at version "
                f"{review.version}; reload it and apply your edit again",
                current=review,
            )
    cleaned = _clean(review, changes)
    if any(field in RUN_FIELDS for field in cleaned) and not access.can_run(actor, review):
        raise NotAllowed(
            "only the incident commander, ITSM managers and super admins choose the public "
            "version of a review"
        )
    authors = cleaned.pop("authors", None)
    for field, value in cleaned.items():
        setattr(review, field, value)
    if cleaned or authors is not None:
        review.version += 1
        review.save()
    if authors is not None:
        review.authors.set(authors)
    return review


@transaction.atomic
def submit_review(*, review: PostIncidentReview, actor: Actor) -> PostIncidentReview:
    """draft → in_review: the team asks for review comments before publishing."""
    review = _lock(review)
    access.ensure_write(actor, review)
    if review.status != ReviewStatus.DRAFT:
        raise Conflict(f"the review is {review.status}; only a draft is submitted for review")
    review.status = ReviewStatus.IN_REVIEW
    review.submitted_at = timezone.now()
    review.version += 1
    review.save()
    mi = review.major_incident
    record(
        mi.incident,
        TimelineKind.REVIEW,
        f"Post-incident review submitted for review by {name_of(actor)}",
        actor=actor,
        major_incident=mi,
        data={"review": review.pk, "status": review.status},
    )
    return review


def publish_blockers(review: PostIncidentReview) -> list[tuple[str, str]]:
    """What stops ``review`` being published, as (field, sentence); empty when it may be."""
    blockers = [
        (field, f"the review needs {label} before it is published")
        for field, label in REQUIRED_TO_PUBLISH
        if not getattr(review, field).strip()
    ]
    for item, missing in unready_action_items(review):
        blockers.append(
            (
                "action_items",
                f"action item {item.pk} ({item.title[:80]}) needs {_and(missing)} before the "
                f"review is published",
            )
        )
    return blockers


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def publish_review(*, review: PostIncidentReview, actor: Actor) -> PostIncidentReview:
    """Publish: the MI may then close. Needs the run right, a summary and root causes, and an
    owner, a due date and a priority on every action item. The timeline is frozen into the
    document, the MI is stamped ``pir_published_at``, and the summary goes through comms to IT
    leadership and the ITSM managers (``publication``) in the same transaction, so the outbox
    rows exist exactly when the review is published."""
    from . import publication

    with transaction.atomic():
        mi = lock_major_incident(review.major_incident)
        review = _lock(review)
        access.ensure_run(actor, review)
        _ensure_editable(review)
        if mi.status not in (MIStatus.RESOLVED, MIStatus.CLOSED):
            raise Conflict(f"{mi.number} is {mi.status}; a review is published after resolution")
        blockers = publish_blockers(review)
        if blockers:
            field, sentence = blockers[0]
            more = f" (and {len(blockers) - 1} more)" if len(blockers) > 1 else ""
            raise DomainError(sentence + more, field=field)
        now = timezone.now()
        review.status = ReviewStatus.PUBLISHED
        review.published_at = now
        review.published_by = user_of(actor)
        review.timeline = publication.frozen_timeline(review)
        review.version += 1
        review.save()
        mi.pir_published_at = now
        mi.save(update_fields=["pir_published_at", "updated_at"])
        record(
            mi.incident,
            TimelineKind.REVIEW,
            f"Post-incident review published by {name_of(actor)}",
            actor=actor,
            major_incident=mi,
            data={"review": review.pk, "status": review.status},
        )
        publication.after_publish(review, mi, actor)
    return review


# --- Comments -------------------------------------------------------------------------------------


@transaction.atomic
def add_comment(
    *, review: PostIncidentReview, actor: Actor, body: Any, section: Any = ""
) -> ReviewComment:
    """A review comment, on the whole document or on one section."""
    access.ensure_write(actor, review)
    text = _text("body", body, MAX_COMMENT_CHARS).strip()
    if not text:
        raise DomainError("a comment needs a body", field="body")
    section = section or ""
    if not isinstance(section, str) or (section and section not in SECTION_FIELDS):
        raise DomainError("section names one of the review's sections", field="section")
    return ReviewComment.objects.create(
        review=review, author=user_of(actor), section=section, body=text
    )


# --- Action items ---------------------------------------------------------------------------------

ACTION_FIELDS = ("title", "description", "kind", "owner", "due_date", "priority", "status")


def _clean_action(changes: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise DomainError("the body must be an object of fields", field="non_field_errors")
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in ACTION_FIELDS:
            raise DomainError(f"unknown or read-only field {str(field)[:64]!r}", field=str(field))
        if field == "title":
            title = _text(field, value, 200).strip()
            if not title:
                raise DomainError("title may not be blank", field=field)
            cleaned[field] = title
        elif field == "description":
            cleaned[field] = _text(field, value, 10_000)
        elif field == "kind":
            if value not in ReviewActionType.values:
                raise DomainError(
                    f"kind is one of {', '.join(ReviewActionType.values)}", field=field
                )
            cleaned[field] = value
        elif field == "status":
            if value not in ReviewActionStatus.values:
                raise DomainError(
                    f"status is one of {', '.join(ReviewActionStatus.values)}", field=field
                )
            cleaned[field] = value
        elif field == "owner":
            if value not in (None, "") and not isinstance(value, str):
                raise DomainError("owner is a username", field=field)
            cleaned[field] = _users(field, [value])[0] if value else None
        elif field == "due_date":
            cleaned[field] = _due(value)
        elif field == "priority":
            if value in (None, ""):
                cleaned[field] = None
            elif isinstance(value, bool) or value not in Priority.values:
                raise DomainError("priority is 1 (critical) to 5 (planning)", field=field)
            else:
                cleaned[field] = value
    if creating and "title" not in cleaned:
        raise DomainError("an action item needs a title", field="title")
    return cleaned


def _due(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) > 10:
        raise DomainError("due_date is a date (YYYY-MM-DD)", field="due_date")
    try:
        parsed = parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise DomainError("due_date is a date (YYYY-MM-DD)", field="due_date")
    return parsed


def _stamp_done(item: ReviewActionItem) -> None:
    if item.status == ReviewActionStatus.DONE and item.done_at is None:
        item.done_at = timezone.now()
    elif item.status != ReviewActionStatus.DONE:
        item.done_at = None


@transaction.atomic
def add_action_item(*, review: PostIncidentReview, actor: Actor, fields: Any) -> ReviewActionItem:
    access.ensure_write(actor, review)
    _ensure_editable(_lock(review))
    cleaned = _clean_action(fields, creating=True)
    item = ReviewActionItem(review=review, created_by=user_of(actor), **cleaned)
    _stamp_done(item)
    item.save()
    return item


@transaction.atomic
def update_action_item(*, item: ReviewActionItem, actor: Actor, fields: Any) -> ReviewActionItem:
    """Change an action item. After publishing its status still moves (the work goes on), but
    what was agreed (title, owner, due date, priority) stays as published."""
    item = (
        ReviewActionItem.objects.select_for_update(of=("self",))
        .select_related("review__major_incident__incident")
        .get(pk=item.pk)
    )
    access.ensure_write(actor, item.review)
    cleaned = _clean_action(fields, creating=False)
    if item.review.status == ReviewStatus.PUBLISHED and set(cleaned) - {"status"}:
        raise Conflict("the review is published: only an action item's status still changes")
    for field, value in cleaned.items():
        setattr(item, field, value)
    _stamp_done(item)
    item.save()
    return item
