"""The upstream providers' own status pages, read while an MI on their CI is open
(``comms.tasks.watch_upstream_status``).

Each tick: the providers under open MIs (``selectors.upstream``), each read once however many
MIs share it, outside any transaction (the read is network I/O); then, per provider, one short
transaction stores the read and writes the timeline rows of the MIs that have not yet heard
what the page now says.

Safe to run twice at once: the provider's ``UpstreamStatus`` row is locked before the stored
state is compared with the new one, and each MI's row is written only if the MI's last
``upstream_status`` row for that provider says something else (its ``fingerprint``). The second
watcher waits for the first, then finds nothing to say. A provider that fails is recorded in
``last_error`` and the others are read all the same: nothing raises out of the task.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from incidents.models import ConfigurationItem, MajorIncident, TimelineEntry, TimelineKind
from incidents.services import record

from ..channels import upstream as channel
from ..channels.base import TransportError
from ..models import UpstreamStatus
from ..selectors import upstream as selectors

logger = logging.getLogger(__name__)

MAX_INCIDENTS_SAID = 5


def watch_upstream_status(*, now: datetime | None = None) -> dict[str, int]:
    """Read the ``summary.json`` of every ``saas_dependency`` CI with an ``upstream_status_url``
    under an open MI; record a change on the timeline (the war room) of each such MI."""
    counts = {"providers": 0, "read": 0, "not_modified": 0, "failed": 0, "timeline_rows": 0}
    watched = selectors.watched_providers()
    cis = ConfigurationItem.objects.in_bulk(list(watched))
    for ci_id, mi_ids in watched.items():
        ci = cis.get(ci_id)
        if ci is None:
            continue  # deleted since the walk
        counts["providers"] += 1
        try:
            outcome, rows = _watch_one(ci, mi_ids, now=now)
        except Exception:
            # A bug on one provider's odd page must not stop the others, nor fail the task
            # every two minutes; the log has the trace, the war room the message.
            logger.exception("upstream status of CI %s", ci_id)
            _store_error(ci, "could not read the status page (internal error; see the log)", now)
            outcome, rows = "failed", 0
        counts[outcome] += 1
        counts["timeline_rows"] += rows
    return counts


def _watch_one(
    ci: ConfigurationItem, mi_ids: list[int], *, now: datetime | None
) -> tuple[str, int]:
    stored = UpstreamStatus.objects.filter(ci=ci).only("etag", "indicator").first()
    # Without a stored state there is nothing a 304 could confirm: ask for the whole page.
    etag = stored.etag if stored is not None and stored.indicator else ""
    try:
        read = channel.fetch_summary(ci.upstream_status_url, etag=etag)  # no transaction open
    except TransportError as exc:
        _store_error(ci, exc.message, now)
        return "failed", 0
    if read.not_modified:
        _store_not_modified(ci, read.etag, now)
        return "not_modified", 0
    assert read.summary is not None
    return "read", _store_read(ci, read, mi_ids, now)


def _locked_status(ci: ConfigurationItem) -> UpstreamStatus:
    # get_or_create survives a concurrent first read (the one-to-one on ci refuses the second
    # insert and it re-reads); the lock then serialises watchers of this provider.
    UpstreamStatus.objects.get_or_create(ci=ci)
    return UpstreamStatus.objects.select_for_update().get(ci=ci)


def _store_error(ci: ConfigurationItem, message: str, now: datetime | None) -> None:
    moment = now or timezone.now()
    with transaction.atomic():
        status = _locked_status(ci)
        status.last_error = f"{moment:%Y-%m-%d %H:%M} UTC: {message}"[:2000]
        status.save(update_fields=["last_error"])


def _store_not_modified(ci: ConfigurationItem, etag: str, now: datetime | None) -> None:
    with transaction.atomic():
        status = _locked_status(ci)
        status.fetched_at = now or timezone.now()
        status.last_error = ""
        status.etag = etag[:200]
        status.save(update_fields=["fetched_at", "last_error", "etag"])


def fingerprint(indicator: str, description: str, incidents: list[dict[str, str]]) -> str:
    """What a change is: the indicator, the description, the open incidents and their status
    (not the components, nor the page's ``updated_at``, which move without news)."""
    said = {
        "indicator": indicator,
        "description": description,
        "incidents": sorted(
            (i.get("id", ""), i.get("name", ""), i.get("status", "")) for i in incidents
        ),
    }
    return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()[:32]


def _store_read(
    ci: ConfigurationItem, read: channel.Read, mi_ids: list[int], now: datetime | None
) -> int:
    summary = read.summary
    assert summary is not None
    moment = now or timezone.now()
    incidents = [i.as_dict() for i in summary.incidents]
    new = fingerprint(summary.indicator, summary.description, incidents)
    with transaction.atomic():
        status = _locked_status(ci)
        old = (
            fingerprint(status.indicator, status.description, status.incidents)
            if status.indicator
            else ""
        )
        status.indicator = summary.indicator
        status.description = summary.description
        status.components = summary.components
        status.incidents = incidents
        status.page_updated_at = summary.page_updated_at
        status.fetched_at = moment
        status.last_error = ""
        status.etag = read.etag
        if new != old:
            status.changed_at = moment
        status.save()
        return _tell_major_incidents(ci, status, new, mi_ids)


def _tell_major_incidents(
    ci: ConfigurationItem, status: UpstreamStatus, said: str, mi_ids: list[int]
) -> int:
    """One timeline row on each open MI whose last word on this provider was something else
    (a new MI hears what the page says now, even if it has not changed since the last tick)."""
    message = describe(ci, status)
    rows = 0
    mis = MajorIncident.objects.select_related("incident").filter(pk__in=mi_ids).order_by("pk")
    for mi in mis:
        last = (
            TimelineEntry.objects.filter(
                major_incident=mi, kind=TimelineKind.UPSTREAM_STATUS, data__ci=ci.pk
            )
            .order_by("-created_at", "-id")
            .values_list("data", flat=True)
            .first()
        )
        if isinstance(last, dict) and last.get("fingerprint") == said:
            continue
        record(
            mi.incident,
            TimelineKind.UPSTREAM_STATUS,
            message,
            major_incident=mi,
            data={
                "ci": ci.pk,
                "provider": ci.name,
                "indicator": status.indicator,
                "description": status.description,
                "incidents": [i.get("name", "") for i in status.incidents][:MAX_INCIDENTS_SAID],
                "fingerprint": said,
            },
        )
        rows += 1
    return rows


def describe(ci: ConfigurationItem, status: UpstreamStatus) -> str:
    """The timeline's sentence: what the provider's page now says (internal text: it names the
    provider; customer-facing drafts do not)."""
    text = f"{ci.name}'s status page now says: {status.description or status.indicator}"
    text += f" (indicator: {status.indicator})."
    names = [f"{i.get('name', '')} ({i.get('status', '')})" for i in status.incidents]
    if names:
        shown = "; ".join(names[:MAX_INCIDENTS_SAID])
        more = len(names) - MAX_INCIDENTS_SAID
        text += f" Open incidents: {shown}" + (f"; and {more} more." if more > 0 else ".")
    else:
        text += " No open incidents on it."
    return text
