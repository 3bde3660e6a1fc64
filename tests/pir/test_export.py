"""The Markdown export: every section in DESIGN's order under its heading, the action items as a
table that user text cannot break, and the timeline in order with milestones marked."""

from __future__ import annotations

from typing import Any

import pytest

from pir import services
from pir.models import PostIncidentReview
from pir.selectors.export import cell, markdown

pytestmark = pytest.mark.django_db

HEADINGS = [
    "## Summary", "## Impact", "## Root causes", "## Trigger", "## Resolution", "## Detection",
    "## Action items", "## Lessons learned", "### What went well", "### What went wrong",
    "### Where we got lucky", "## Timeline", "## Supporting information",
    "## Contributing factors", "## Delays", "### Why detection was delayed",
    "### Why escalation was delayed", "## Prevention", "### Prevent", "### Detect faster",
    "### Respond better", "## Communication review", "### What users asked most",
    "### How updates kept their cadence", "## Distribution",
]  # fmt: skip


def test_every_section_is_there_in_order(review: PostIncidentReview, alice: Any) -> None:
    services.update_review(
        review=review,
        actor=alice,
        changes={
            "root_causes": "A bad push",
            "lessons_got_lucky": "Low traffic",
            "authors": [alice.username],
        },
    )
    text = markdown(PostIncidentReview.objects.get(pk=review.pk))
    assert text.startswith(f"# {review.title}\n")
    for label in ("**Date:**", "**Authors:** ", "**Status:** Draft"):
        assert label in text
    positions = [text.index(f"\n{heading}\n") for heading in HEADINGS]
    assert positions == sorted(positions)
    assert "| Customers affected |" in text and "Low traffic" in text


def test_the_timeline_is_in_order_with_milestones_marked(review: PostIncidentReview) -> None:
    text = markdown(review)
    timeline = text.split("\n## Timeline\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in timeline.splitlines() if line.startswith("- ")]
    assert len(rows) == review.major_incident.timeline.count()
    times = [row[2:18] for row in rows]
    assert times == sorted(times)
    assert all("[source](" in row and "#entry-" in row for row in rows)
    assert "(milestone)" in rows[0] and rows[0].split(" — ", 1)[1].startswith(
        "**Major incident declared"
    )


def test_user_text_does_not_break_the_action_items_table(
    review: PostIncidentReview, alice: Any
) -> None:
    services.add_action_item(
        review=review,
        actor=alice,
        fields={"title": "Fix | the\nrouter", "kind": "repair", "owner": alice.username,
                "due_date": "2026-12-31", "priority": 2},
    )  # fmt: skip
    text = markdown(review)
    table = text.split("\n## Action items\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| # | Action | Type | Owner | Due | Priority | Status | Tracker")
    assert len(lines) == 3  # head, rule, one row: the newline stayed in its cell
    assert r"Fix \| the<br>router" in lines[2]
    assert "Repair" in lines[2] and "2026-12-31" in lines[2] and "P2" in lines[2]
    assert lines[2].count(" | ") == 7


def test_cells_escape_pipes_and_breaks() -> None:
    assert cell("a|b") == r"a\|b"
    assert cell("a\r\nb") == "a<br>b"
    assert cell("") == "—" and cell(None) == "—"
