"""The review as Markdown (``GET …/pir/export.md``): every section in DESIGN's order, each under
its heading, the action items as a table and the timeline in order with its milestones marked.

User text is the review's own Markdown and goes in as written, except in table cells, where a
``|`` or a line break would end the cell or the row: those are escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from incidents.selectors import name_of

from ..models import PostIncidentReview, ReviewActionItem
from .document import timeline_rows
from .reviews import action_items

NONE = "_None recorded._"


def cell(value: Any) -> str:
    """One table cell: ``|`` escaped, line breaks as ``<br>``, never empty."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    text = "<br>".join(line.strip() for line in text.replace("\r\n", "\n").split("\n"))
    return text.strip() or "—"


def _text(value: str) -> str:
    return value.strip() or NONE


def _figure(value: Decimal | int | None, suffix: str = "") -> str:
    if value is None:
        return "not known"
    return f"{value:,}{suffix}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _table(head: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _tracker(item: ReviewActionItem) -> str:
    if item.problem_task_id and item.problem_task is not None:
        return str(item.problem_task.number)
    if item.change_id and item.change is not None:
        return str(item.change.number)
    if item.tracker_url:
        return f"[{item.tracker_key or 'issue'}]({item.tracker_url})"
    return item.tracker_key or ""


def markdown(review: PostIncidentReview) -> str:
    mi = review.major_incident
    authors = ", ".join(name_of(u) for u in review.authors.all()) or "—"
    timeline = review.timeline or timeline_rows(mi)
    items = list(action_items(review))
    out: list[str] = [f"# {review.title or mi.number}", ""]
    out += [
        f"- **Major incident:** {mi.number}",
        f"- **Date:** {_when(mi.impact_started_at or mi.declared_at)}",
        f"- **Authors:** {authors}",
        f"- **Status:** {review.get_status_display()}"
        + (f" ({_when(review.published_at)})" if review.published_at else ""),
        f"- **Version:** {review.version}",
        "",
    ]

    def section(heading: str, body: str, level: int = 2) -> None:
        out.extend([f"{'#' * level} {heading}", "", _text(body), ""])

    section("Summary", review.summary)
    out += ["## Impact", "", _text(review.impact), ""]
    pct = review.customers_affected_percent
    tickets_pct = review.support_tickets_increase_percent
    revenue = review.revenue_impact
    credits = review.sla_credits
    out += _table(
        ("Figure", "Value"),
        (
            ("Customers affected", _figure(review.customers_affected)),
            ("Customers affected (% of the base)", _figure(pct, " %")),
            (
                "Revenue impact",
                f"{_figure(revenue)} {review.revenue_currency}"
                if revenue is not None
                else "not known",
            ),
            ("SLA breaches", review.sla_breaches or "none recorded"),
            (
                "SLA credits",
                f"{_figure(credits)} {review.revenue_currency}"
                if credits is not None
                else "not known",
            ),
            ("Support tickets", _figure(review.support_tickets)),
            ("Support tickets (% increase)", _figure(tickets_pct, " %")),
            ("Reputation", review.reputation or "none recorded"),
        ),
    )
    out.append("")
    section("Root causes", review.root_causes)
    section("Trigger", review.trigger)
    section("Resolution", review.resolution)
    section("Detection", review.detection)

    out += ["## Action items", ""]
    if items:
        out += _table(
            ("#", "Action", "Type", "Owner", "Due", "Priority", "Status", "Tracker"),
            (
                (
                    n,
                    item.title,
                    item.get_kind_display(),
                    name_of(item.owner) if item.owner else "",
                    item.due_date.isoformat() if item.due_date else "",
                    f"P{item.priority}" if item.priority else "",
                    item.get_status_display(),
                    _tracker(item),
                )
                for n, item in enumerate(items, 1)
            ),
        )
    else:
        out.append(NONE)
    out.append("")

    out += ["## Lessons learned", ""]
    section("What went well", review.lessons_went_well, 3)
    section("What went wrong", review.lessons_went_wrong, 3)
    section("Where we got lucky", review.lessons_got_lucky, 3)

    out += ["## Timeline", "", "All times UTC; **milestones** in bold.", ""]
    base = str(settings.MIM_BASE_URL).rstrip("/")
    if timeline:
        for row in timeline:
            at = str(row.get("at", "")).replace("T", " ").replace("Z", "")[:16]
            text = " ".join(str(row.get("text", "")).split())
            who = f" ({row['actor']})" if row.get("actor") else ""
            line = f"{row.get('label', row.get('kind', ''))}: {text}{who}"
            if row.get("milestone"):
                line = f"**{line}** _(milestone)_"
            source = f" [source]({base}{row['url']})" if row.get("url") else ""
            out.append(f"- {at} — {line}{source}")
    else:
        out.append(NONE)
    out.append("")

    section("Supporting information", review.supporting_information)
    section("Contributing factors", review.contributing_factors)
    out += ["## Delays", ""]
    section("Why detection was delayed", review.detection_delay, 3)
    section("Why escalation was delayed", review.escalation_delay, 3)
    out += ["## Prevention", ""]
    section("Prevent", review.prevention_prevent, 3)
    section("Detect faster", review.prevention_detect_faster, 3)
    section("Respond better", review.prevention_respond_better, 3)
    out += ["## Communication review", ""]
    section("What users asked most", review.communication_most_asked, 3)
    section("How updates kept their cadence", review.communication_cadence, 3)
    out += ["## Distribution", "", review.get_distribution_display(), ""]
    if review.post_publicly and review.public_summary.strip():
        section("Public summary", review.public_summary, 3)
    return "\n".join(out).rstrip() + "\n"
