"""The status page's subscribers: double opt-in by mail, one-click unsubscribe, and a mail per
public incident update or maintenance update on the components they follow.

Tokens are ``django.core.signing`` values, one salt per purpose, so that an unsubscribe token
never confirms and the other way round:

- confirm (``CONFIRM_SALT``, valid ``CONFIRM_DAYS``): the subscriber's id, address, the
  components asked for and when it was issued. Confirming applies those components: a form
  submission itself changes no one's subscription, so a stranger who types someone's address
  can at most make them receive one confirmation mail (and not within ``RESEND_MINUTES``).
- unsubscribe (``UNSUBSCRIBE_SALT``, no expiry: the link in a year-old mail still works): the
  subscriber's id and address.

The answer to a submission is the same whatever the address's state (no enumeration).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from incidents.errors import DomainError
from incidents.models import CIKind, ConfigurationItem
from incidents.selectors import cmdb

from .. import channels
from ..models import MaintenanceUpdate, StakeholderUpdate, StatusSubscriber
from ..selectors.status import IncidentUpdate
from .outbox import NewMessage, enqueue, idempotency_key

logger = logging.getLogger(__name__)

CONFIRM_SALT = "comms.status.subscriber.confirm"
UNSUBSCRIBE_SALT = "comms.status.subscriber.unsubscribe"
CONFIRM_DAYS = 7
# A second submission for one address within this long mails nothing (the first mail's link
# still works): a form resubmitted, or someone pressing it in a loop, is one mail.
RESEND_MINUTES = 10
MAX_COMPONENTS = 200
CHANNEL = "email"
PURPOSE_CONFIRM = "status_subscribe_confirm"
PURPOSE_INCIDENT = "status_incident_update"
PURPOSE_MAINTENANCE = "status_maintenance_update"


class BadToken(DomainError):
    """A forged, altered or expired link (HTTP 400)."""


@dataclass(frozen=True)
class Confirmation:
    email: str
    components: tuple[int, ...]
    issued_at: datetime
    subscriber_id: int


def _base() -> str:
    return str(settings.MIM_BASE_URL).rstrip("/")


def confirm_token(subscriber: StatusSubscriber, components: Iterable[int], now: datetime) -> str:
    value = {
        "s": subscriber.pk,
        "e": subscriber.email,
        "c": sorted(set(components)),
        "t": now.astimezone(UTC).isoformat(),
    }
    return signing.dumps(value, salt=CONFIRM_SALT, compress=True)


def unsubscribe_token(subscriber: StatusSubscriber) -> str:
    return signing.dumps({"s": subscriber.pk, "e": subscriber.email}, salt=UNSUBSCRIBE_SALT)


def confirm_url(token: str) -> str:
    return _base() + reverse("status:subscribe-confirm", args=[token])


def unsubscribe_url(subscriber: StatusSubscriber) -> str:
    return _base() + reverse("status:unsubscribe", args=[unsubscribe_token(subscriber)])


def normalize_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DomainError("enter your email address", field="email")
    email = value.strip()
    if len(email) > 254 or "\x00" in email:
        raise DomainError("enter a valid email address", field="email")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError("enter a valid email address", field="email") from exc
    local, _, domain = email.rpartition("@")
    # The domain is case-insensitive; the local part is left as written (RFC 5321), but one
    # address is one row whatever case its domain was typed in.
    return f"{local}@{domain.lower()}"


def public_components() -> QuerySet[ConfigurationItem]:
    return ConfigurationItem.objects.filter(kind=CIKind.BUSINESS_SERVICE).order_by("name", "pk")


def _components(ids: Iterable[Any]) -> list[int]:
    wanted: set[int] = set()
    for raw in ids:
        try:
            pk = int(raw)
        except (TypeError, ValueError) as exc:
            raise DomainError("choose components from the list", field="components") from exc
        if not 0 < pk < 2**31:  # beyond any id, and beyond what the database's integer holds
            raise DomainError("choose components from the list", field="components")
        wanted.add(pk)
    if len(wanted) > MAX_COMPONENTS:
        raise DomainError("too many components", field="components")
    found = set(public_components().filter(pk__in=wanted).values_list("pk", flat=True))
    if found != wanted:
        raise DomainError("choose components from the list", field="components")
    return sorted(found)


def subscribe(*, email: Any, components: Iterable[Any] = (), now: datetime | None = None) -> None:
    """A submission of the form: make the (unconfirmed) row if there is none, and mail a
    confirmation link unless one went out in the last ``RESEND_MINUTES``. Returns nothing: the
    caller says the same thing to everyone."""
    now = now or timezone.now()
    address = normalize_email(email)
    wanted = _components(components)
    with transaction.atomic():
        subscriber, _ = StatusSubscriber.objects.get_or_create(
            email=address, defaults={"created_at": now}
        )
        # Claimed by a conditional UPDATE: two submissions at once mail once.
        due = Q(confirmation_sent_at=None) | Q(
            confirmation_sent_at__lt=now - timedelta(minutes=RESEND_MINUTES)
        )
        claimed = (
            StatusSubscriber.objects.filter(due, pk=subscriber.pk).update(confirmation_sent_at=now)
            == 1
        )
        if not claimed:
            return
        token = confirm_token(subscriber, wanted, now)
        names = list(public_components().filter(pk__in=wanted).values_list("name", flat=True))
        following = ", ".join(names) if names else "all services"
        text = (
            f"Someone (we hope you) asked to receive status updates at {address} for: "
            f"{following}.\n\n"
            f"Confirm your subscription (the link works for {CONFIRM_DAYS} days):\n"
            f"{confirm_url(token)}\n\n"
            "If this was not you, ignore this mail: nothing will be sent to you."
        )
        _enqueue(
            [
                NewMessage(
                    channel=CHANNEL,
                    recipient=address,
                    key=idempotency_key("status-confirm", subscriber.pk, now.timestamp()),
                    purpose=PURPOSE_CONFIRM,
                    subject="Confirm your status page subscription",
                    payload={"subject": "Confirm your status page subscription", "text": text},
                )
            ]
        )


def read_confirmation(token: str) -> Confirmation:
    try:
        value = signing.loads(token, salt=CONFIRM_SALT, max_age=timedelta(days=CONFIRM_DAYS))
    except signing.SignatureExpired as exc:
        raise BadToken(
            f"this confirmation link has expired (links work for {CONFIRM_DAYS} days); "
            "subscribe again to get a new one",
            field="token",
        ) from exc
    except signing.BadSignature as exc:
        raise BadToken("this confirmation link is not valid", field="token") from exc
    try:
        return Confirmation(
            email=str(value["e"]),
            components=tuple(int(c) for c in value["c"]),
            issued_at=datetime.fromisoformat(value["t"]),
            subscriber_id=int(value["s"]),
        )
    except (KeyError, TypeError, ValueError) as exc:  # signed by us, but not this shape
        raise BadToken("this confirmation link is not valid", field="token") from exc


def confirm(*, token: str, now: datetime | None = None) -> StatusSubscriber:
    """Apply a confirmation link: the subscriber is active and follows the components the link
    names (those still on the page). Idempotent: a second click changes nothing. A link issued
    before the subscriber unsubscribed does not undo that."""
    now = now or timezone.now()
    confirmation = read_confirmation(token)
    with transaction.atomic():
        subscriber = (
            StatusSubscriber.objects.select_for_update()
            .filter(pk=confirmation.subscriber_id, email=confirmation.email)
            .first()
        )
        if subscriber is None:
            raise BadToken("this confirmation link is not valid", field="token")
        if subscriber.unsubscribed_at and subscriber.unsubscribed_at > confirmation.issued_at:
            raise BadToken(
                "you unsubscribed after this link was sent; subscribe again to get a new one",
                field="token",
            )
        if (
            subscriber.is_active
            and subscriber.confirmed_at
            and (subscriber.confirmed_at >= confirmation.issued_at)
        ):
            return subscriber  # this link (or a later one) was applied already
        subscriber.confirmed_at = now
        subscriber.unsubscribed_at = None
        subscriber.save(update_fields=["confirmed_at", "unsubscribed_at"])
        subscriber.components.set(
            public_components().filter(pk__in=confirmation.components).values_list("pk", flat=True)
        )
    return subscriber


def read_unsubscribe(token: str) -> StatusSubscriber:
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        subscriber_id, email = int(value["s"]), str(value["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadToken("this unsubscribe link is not valid", field="token") from exc
    subscriber = StatusSubscriber.objects.filter(pk=subscriber_id, email=email).first()
    if subscriber is None:
        raise BadToken("this unsubscribe link is not valid", field="token")
    return subscriber


def unsubscribe(*, token: str, now: datetime | None = None) -> StatusSubscriber:
    """One click: no more mail. Idempotent (the first time is kept)."""
    now = now or timezone.now()
    subscriber = read_unsubscribe(token)
    StatusSubscriber.objects.filter(pk=subscriber.pk, unsubscribed_at=None).update(
        unsubscribed_at=now
    )
    subscriber.refresh_from_db()
    return subscriber


# --- notifications -------------------------------------------------------------------------


def following(component_ids: Iterable[int]) -> QuerySet[StatusSubscriber]:
    """Active subscribers who follow one of ``component_ids``, or follow everything."""
    ids = sorted(set(component_ids))
    through = StatusSubscriber.components.through
    any_component = through.objects.filter(statussubscriber_id=OuterRef("pk"))
    one_of_them = any_component.filter(configurationitem_id__in=ids)
    return (
        StatusSubscriber.objects.filter(confirmed_at__isnull=False, unsubscribed_at=None)
        .filter(~Exists(any_component) | Exists(one_of_them))
        .order_by("pk")
    )


def _headers(url: str) -> dict[str, str]:
    # RFC 8058: the one-click POST a mail client makes; RFC 2369's header names the URL.
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _mails(
    recipients: Iterable[StatusSubscriber],
    *,
    key: tuple[object, ...],
    purpose: str,
    subject: str,
    text: str,
    **row: Any,
) -> list[NewMessage]:
    out = []
    for subscriber in recipients:
        url = unsubscribe_url(subscriber)
        body = f"{text}\n\n--\nYou receive this because you subscribed to our status page.\n"
        body += f"Unsubscribe (one click): {url}"
        out.append(
            NewMessage(
                channel=CHANNEL,
                recipient=subscriber.email,
                key=idempotency_key(*key, subscriber.pk),
                purpose=purpose,
                subject=subject,
                payload={"subject": subject, "text": body, "headers": _headers(url)},
                **row,
            )
        )
    return out


def _enqueue(rows: list[NewMessage]) -> list[int]:
    if not rows:
        return []
    if not channels.enabled(CHANNEL):
        logger.info("status page mail not sent (%s rows): the email channel is off", len(rows))
        return []
    return enqueue(rows)


def _page_url() -> str:
    return _base() + reverse("status:page")


def incident_update_published(update: StakeholderUpdate) -> list[int]:
    """A public update of an MI was sent: one mail per active subscriber following a business
    service the MI reaches (the status page's components of the incident), once per subscriber
    and update (the key). Security MIs too, as the status page shows them: their updates were
    approved by legal before they could be sent, and the name is made from the services."""
    mi = update.major_incident
    ci_id = mi.incident.affected_ci_id
    reached = (
        cmdb.reached_of_kind([ci_id], CIKind.BUSINESS_SERVICE).get(ci_id, set()) if ci_id else set()
    )
    if not reached:
        return []  # not on the page's components: the page names no component to follow
    names = list(public_components().filter(pk__in=reached).values_list("name", flat=True))
    shown = IncidentUpdate(
        id=str(update.pk),
        status="",
        current_impact=update.current_impact,
        current_action=update.current_action,
        user_action=update.user_action,
        next_update_at=update.next_update_at,
        sent_at=update.sent_at or timezone.now(),
    )
    subject = f"[Status] Service disruption: {', '.join(names[:3])}"
    text = f"{shown.body}\n\nAffected: {', '.join(names)}\nStatus page: {_page_url()}#{mi.number}"
    rows = _mails(
        following(reached),
        key=("status-incident", update.pk),
        purpose=PURPOSE_INCIDENT,
        subject=subject,
        text=text,
        major_incident_id=mi.pk,
    )
    return _enqueue(rows)


def maintenance_updated(update: MaintenanceUpdate) -> list[int]:
    """A maintenance was scheduled, started or completed: one mail per active subscriber
    following one of its components, once per subscriber and update."""
    maintenance = update.maintenance
    components = list(maintenance.components.order_by("name").values_list("pk", "name"))
    ids = [pk for pk, _ in components]
    window = (
        f"{maintenance.scheduled_for.astimezone(UTC):%Y-%m-%d %H:%M} – "
        f"{maintenance.scheduled_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    label = update.get_status_display()
    subject = f"[Maintenance] {label}: {maintenance.name}"
    about = (
        f"\n\n{maintenance.notes}" if maintenance.notes and maintenance.notes != update.body else ""
    )
    text = (
        f"{maintenance.name}: {label.lower()}.\n\n{update.body}{about}\n\n"
        f"Window: {window}\nComponents: {', '.join(name for _, name in components)}\n"
        f"Status page: {_page_url()}#maintenance-{maintenance.pk}"
    )
    rows = _mails(
        following(ids),
        key=("status-maintenance", update.pk),
        purpose=PURPOSE_MAINTENANCE,
        subject=subject,
        text=text,
    )
    return _enqueue(rows)
