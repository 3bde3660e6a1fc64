"""The war room's timeline over the API and the services (issue 7, items 1, 2 and 10).

Posting and its kinds, the command thread's rule, corrections, cursor pages and the poll (its
queries counted at 100 and 1,000 entries), filters, the 400s that name their field, who may not,
a closed MI, and ``<script>`` as text.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from incidents import services as incident_services
from incidents.errors import Conflict, DomainError, NotAllowed
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineEntry, TimelineKind
from tests.warroom.conftest import force_status
from warroom import events, services
from warroom.selectors.markdown import render

pytestmark = pytest.mark.django_db


def url(mi: MajorIncident, query: str = "") -> str:
    return f"/api/major-incidents/{mi.number}/timeline/{query}"


def post(client: APIClient, mi: MajorIncident, **body: Any) -> Any:
    return client.post(url(mi), body, format="json")


def bulk(mi: MajorIncident, n: int, actor: Any = None, **fields: Any) -> None:
    """``n`` notes straight into the table (the history of a long outage)."""
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            incident_id=mi.incident_id,
            major_incident=mi,
            kind=fields.get("kind", TimelineKind.NOTE),
            message=f"note {i}",
            thread=fields.get("thread", ""),
            actor=actor,
        )
        for i in range(n)
    )


# --- Markdown -------------------------------------------------------------------------------------

NASTY = [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "<img src=x onerror=alert(1)>",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    "![x](https://evil.example/x.png)",
    "<svg onload=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    '[x](https://ok.example "title" onmouseover=alert(1))',
    "<style>body{display:none}</style>",
    "`<script>`",
]


class _Tags(HTMLParser):
    """Every tag and attribute an HTML fragment really holds (text is not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def markup(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("text", NASTY)
def test_markdown_lets_nothing_executable_through(text: str) -> None:
    for tag, attrs in markup(render(text)):
        assert tag in {
            "p",
            "br",
            "strong",
            "em",
            "code",
            "pre",
            "ul",
            "ol",
            "li",
            "blockquote",
            "a",
        }
        allowed = {"href", "rel"} if tag == "a" else set()
        assert set(attrs) <= allowed, (tag, attrs)
        href = (attrs.get("href") or "https:").strip().lower()
        assert href.split(":")[0] in {"http", "https", "mailto"}, href


def test_markdown_escapes_raw_html_as_text() -> None:
    assert render("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    assert "<a" not in render("[click](javascript:alert(1))")


def test_markdown_keeps_the_small_allowlist() -> None:
    html = render(
        "**bold** _em_ `code`\n\n- one\n- two\n\n> quoted\n\n[site](https://x.example/?a=1)"
    )
    for tag in ("<strong>", "<em>", "<code>", "<ul>", "<li>", "<blockquote>"):
        assert tag in html
    assert '<a href="https://x.example/?a=1" rel="noopener noreferrer">site</a>' in html
    assert '<a href="mailto:ops@x.example"' in render("[mail](mailto:ops@x.example)")
    assert "href" not in render("[rel](/admin/)")  # relative links go: a post links outward
    assert render("# Heading") == "Heading\n"  # no headings in a timeline entry


# --- Posting --------------------------------------------------------------------------------------


def test_the_team_posts_each_kind(bob_api: APIClient, bob: Any, mi: MajorIncident) -> None:
    for kind in ("note", "decision", "finding"):
        response = post(bob_api, mi, body=f"a {kind} **here**", kind=kind)
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["kind"] == kind
        assert data["body"] == f"a {kind} **here**"
        assert data["body_html"] == f"<p>a {kind} <strong>here</strong></p>\n"
        assert data["author"] == bob.username
        assert data["thread"] == ""
        assert data["corrects"] is None and data["corrected_by"] == []
        assert set(data) == {
            "id", "kind", "body", "body_html", "thread", "author", "created_at", "corrects",
            "corrected_by",
        }  # fmt: skip
    row = TimelineEntry.objects.get(pk=data["id"])
    assert (row.major_incident, row.incident_id, row.actor) == (mi, mi.incident_id, bob)
    assert post(bob_api, mi, body="plain").json()["kind"] == "note"  # the default


def test_command_updates_are_the_ic_s_and_the_scribe_s(
    alice: Any,
    alice_api: APIClient,
    bob_api: APIClient,
    person: Any,
    as_user: Any,
    mi: MajorIncident,
) -> None:
    response = post(alice_api, mi, body="Status: mitigating", kind="command_update")
    assert response.status_code == 201, response.content
    assert response.json()["thread"] == "command"  # where command updates go
    refused = post(bob_api, mi, body="I am the tech lead", kind="command_update")
    assert refused.status_code == 403
    assert "incident commander or scribe" in refused.json()["detail"]
    scribe = person("usr_sue_scribe", "technician")
    incident_services.assign_role(mi=mi, actor=alice, role=RaciRole.SCRIBE, user=scribe)
    response = post(
        as_user(scribe), mi, body="Bridge at :30", kind="command_update", thread="command"
    )
    assert response.status_code == 201, response.content
    assert post(alice_api, mi, body="x", kind="command_update", thread="db").status_code == 400
    note = post(alice_api, mi, body="a note", kind="note", thread="command")
    assert note.status_code == 400 and "command updates only" in note.json()["thread"][0]


def test_a_correction_is_a_new_entry_pointing_at_the_old(
    bob_api: APIClient, mi: MajorIncident, alice: Any, make_incident: Any
) -> None:
    first = post(bob_api, mi, body="DB at 90% CPU", kind="finding").json()
    fix = post(bob_api, mi, body="DB at 60% CPU, not 90%", kind="finding", corrects=first["id"])
    assert fix.status_code == 201, fix.content
    assert fix.json()["corrects"] == first["id"]
    assert TimelineEntry.objects.get(pk=first["id"]).message == "DB at 90% CPU"  # kept as was
    rows = {r["id"]: r for r in bob_api.get(url(mi)).json()["results"]}
    assert rows[first["id"]]["corrected_by"] == [fix.json()["id"]]
    other = incident_services.create_incident(actor=alice, short_description="elsewhere")
    elsewhere = TimelineEntry.objects.filter(incident=other).first()
    for bad in (elsewhere.pk, 10**12, "7", 1.5, True):
        response = post(bob_api, mi, body="x", corrects=bad)
        assert response.status_code == 400, (bad, response.content)
        assert "corrects" in response.json()


def test_the_service_refuses_like_the_api(
    alice: Any, bob: Any, tina: Any, mi: MajorIncident
) -> None:
    with pytest.raises(NotAllowed):
        services.post_to_timeline(mi=mi, actor=tina, body="x")
    with pytest.raises(DomainError) as bad:
        services.post_to_timeline(mi=mi, actor=bob, body="x", kind="declared")
    assert bad.value.field == "kind"
    entry = services.post_to_timeline(mi=mi, actor=alice, body="ok", kind="command_update")
    assert entry.thread == "command"
    fix = services.post_to_timeline(mi=mi, actor=bob, body="ok!", corrects=entry.pk)
    assert fix.corrects == entry


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": ""}, "body"),
        ({"body": "   \n "}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"body": 42}, "body"),
        ({"body": ["x"]}, "body"),
        ({"body": None}, "body"),
        ({}, "body"),
        ({"body": "x", "kind": "declared"}, "kind"),
        ({"body": "x", "kind": 3}, "kind"),
        ({"body": "x", "thread": "no-such-thread"}, "thread"),
        ({"body": "x", "thread": 5}, "thread"),
        ({"body": "x", "thread": "y" * 65}, "thread"),
        ({"body": "x", "thread": "a\x00b"}, "thread"),
        ({"body": "x", "corrects": 2**63}, "corrects"),
        ({"body": "x", "corrects": "abc"}, "corrects"),
        ({"body": "x", "mesage": "typo"}, "mesage"),
        ({"body": "x", "author": "usr_sam_admin"}, "author"),
        ({"body": "x\x00y"}, "body"),
    ],
)
def test_bad_posts_are_400s_naming_the_field(
    bob_api: APIClient, mi: MajorIncident, body: dict[str, Any], field: str
) -> None:
    before = TimelineEntry.objects.count()
    response = post(bob_api, mi, **body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert TimelineEntry.objects.count() == before


def test_not_json_and_not_an_object(bob_api: APIClient, mi: MajorIncident) -> None:
    assert bob_api.post(url(mi), "{", content_type="application/json").status_code == 400
    assert bob_api.post(url(mi), ["x"], format="json").status_code == 400


def test_who_may_not_post(
    tina_api: APIClient,
    oscar_api: APIClient,
    lee: Any,
    as_user: Any,
    api: APIClient,
    mi: MajorIncident,
) -> None:
    for client in (tina_api, oscar_api, as_user(lee)):
        response = post(client, mi, body="let me in")
        assert response.status_code == 403, response.content
        assert response.json()["detail"]
    assert post(api, mi, body="anonymous").status_code == 401
    assert not TimelineEntry.objects.filter(message__in=["let me in", "anonymous"]).exists()
    # Reading is for every role: tina (outside the team) and legal read, oscar may not.
    assert tina_api.get(url(mi)).status_code == 200
    assert as_user(lee).get(url(mi)).status_code == 200
    assert oscar_api.get(url(mi)).status_code == 403


def test_unknown_mi_is_a_404(bob_api: APIClient) -> None:
    assert bob_api.get("/api/major-incidents/MI0009999/timeline/").status_code == 404
    assert bob_api.get("/api/major-incidents/nonsense/timeline/").status_code == 404
    response = bob_api.post(
        "/api/major-incidents/MI0009999/timeline/", {"body": "x"}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("status", [MIStatus.CLOSED, MIStatus.CANCELLED])
def test_a_closed_mi_is_read_only(bob_api: APIClient, mi: MajorIncident, status: str) -> None:
    force_status(mi, status)
    response = post(bob_api, mi, body="too late")
    assert response.status_code == 409
    assert status in response.json()["detail"]
    assert bob_api.get(url(mi)).status_code == 200


def test_script_in_a_post_comes_back_as_text(bob_api: APIClient, mi: MajorIncident) -> None:
    body = "<script>alert('x')</script> [me](javascript:alert(1)) <img src=x onerror=alert(1)>"
    data = post(bob_api, mi, body=body).json()
    assert data["body"] == body  # raw, as written: the client escapes it
    assert "<script" not in data["body_html"] and "&lt;script&gt;" in data["body_html"]
    assert "<img" not in data["body_html"] and 'href="javascript' not in data["body_html"]


def test_service_rows_are_escaped_text(tina_api: APIClient, mi: MajorIncident) -> None:
    # A service's row is plain text (a summary, a name someone typed), never Markdown.
    incident_services.record(
        mi.incident, TimelineKind.MILESTONE, "<b>bold</b> & *stars*", major_incident=mi
    )
    row = tina_api.get(url(mi)).json()["results"][0]
    assert row["body"] == "<b>bold</b> & *stars*"
    assert row["body_html"] == "&lt;b&gt;bold&lt;/b&gt; &amp; *stars*"
    assert row["author"] is None


# --- Reading: cursor pages, the poll, filters ---------------------------------------------------


def test_newest_first_with_every_row_of_the_mi_and_its_incident(
    tina_api: APIClient, bob_api: APIClient, mi: MajorIncident
) -> None:
    post(bob_api, mi, body="latest")
    data = tina_api.get(url(mi)).json()
    assert set(data) == {"results", "next", "since", "more"}
    rows = data["results"]
    assert rows[0]["body"] == "latest"
    kinds = [r["kind"] for r in rows]
    assert kinds[-1] == TimelineKind.CREATED  # the incident's own first row, before the MI
    assert {TimelineKind.DECLARED, TimelineKind.ROLE_ASSIGNED} <= set(kinds)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)


def test_cursor_pages_walk_back_to_the_start(
    tina_api: APIClient, bob: Any, mi: MajorIncident
) -> None:
    bulk(mi, 120, actor=bob)
    total = TimelineEntry.objects.filter(incident_id=mi.incident_id).count()
    seen: list[int] = []
    link = url(mi, "?page_size=50")
    pages = 0
    while link:
        data = tina_api.get(link).json()
        seen += [r["id"] for r in data["results"]]
        link = data["next"]
        pages += 1
        assert pages < 10
    assert len(seen) == total == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    assert pages == -(-total // 50)
    default = tina_api.get(url(mi)).json()
    assert len(default["results"]) == 50
    assert len(tina_api.get(url(mi, "?page_size=100000")).json()["results"]) == total  # capped 500
    assert len(tina_api.get(url(mi, "?page_size=zz")).json()["results"]) == 50


def test_polling_with_since(tina_api: APIClient, bob_api: APIClient, mi: MajorIncident) -> None:
    first = tina_api.get(url(mi)).json()
    since = first["since"]
    empty = tina_api.get(url(mi), {"since": since}).json()
    assert empty == {"results": [], "next": None, "since": since, "more": False}
    a = post(bob_api, mi, body="one").json()
    b = post(bob_api, mi, body="two").json()
    data = tina_api.get(url(mi), {"since": since}).json()
    assert [r["id"] for r in data["results"]] == [b["id"], a["id"]]  # newest first
    assert data["since"] != since and data["more"] is False
    assert tina_api.get(url(mi), {"since": data["since"]}).json()["results"] == []
    # An older page brings the "now" cursor too, so a client may start polling from anywhere.
    older = tina_api.get(url(mi), {"page_size": 1}).json()
    assert tina_api.get(older["next"]).json()["since"] == data["since"]


def test_a_burst_longer_than_a_page_is_never_skipped(
    tina_api: APIClient, bob: Any, mi: MajorIncident
) -> None:
    since = tina_api.get(url(mi)).json()["since"]
    bulk(mi, 7, actor=bob)
    got: list[str] = []
    for _ in range(5):
        data = tina_api.get(url(mi), {"since": since, "page_size": 3}).json()
        got += [r["body"] for r in reversed(data["results"])]
        since = data["since"]
        if not data["more"]:
            break
    assert got == [f"note {i}" for i in range(7)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?since=garbage", "since"),
        ("?since=", "since"),
        ("?since=%00", "since"),
        ("?cursor=Yi4x", None),  # b.1 is a cursor: fine
        ("?cursor=cy4x", "cursor"),  # s.1 is a since cursor, not a page's
        ("?cursor=" + "A" * 500, "cursor"),
        ("?since=cy4x&cursor=Yi4x", "since"),
        ("?kind=bogus", "kind"),
        ("?kind=%00", "kind"),
        ("?thread=a%20b", "thread"),
        ("?thread=" + "x" * 65, "thread"),
    ],
)
def test_bad_query_parameters_are_400s(
    tina_api: APIClient, mi: MajorIncident, query: str, field: str | None
) -> None:
    response = tina_api.get(url(mi, query))
    if field is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_filters_by_thread_and_kind(
    alice: Any, alice_api: APIClient, bob: Any, bob_api: APIClient, mi: MajorIncident
) -> None:
    db = services.open_thread(mi=mi, actor=bob, name="Database")
    post(bob_api, mi, body="in db", thread=db.slug, kind="finding")
    post(bob_api, mi, body="in db, a note", thread=db.slug)
    post(bob_api, mi, body="nowhere")
    post(alice_api, mi, body="cmd", kind="command_update")
    in_db = alice_api.get(url(mi), {"thread": "database"}).json()["results"]
    assert [r["body"] for r in in_db if r["kind"] != "thread_opened"] == ["in db, a note", "in db"]
    findings = alice_api.get(url(mi), {"kind": "finding"}).json()["results"]
    assert [r["body"] for r in findings] == ["in db"]
    both = alice_api.get(url(mi), {"kind": "note", "thread": "database"}).json()
    assert [r["body"] for r in both["results"]] == ["in db, a note"]
    command = alice_api.get(url(mi), {"thread": "command"}).json()["results"]
    assert [r["body"] for r in command] == ["cmd"]
    assert alice_api.get(url(mi), {"thread": "unknown"}).json()["results"] == []
    # A filtered poll sees only its own kind.
    since = both["since"]
    post(bob_api, mi, body="elsewhere")
    post(bob_api, mi, body="db again", thread=db.slug)
    polled = alice_api.get(url(mi), {"since": since, "thread": "database", "kind": "note"}).json()
    assert [r["body"] for r in polled["results"]] == ["db again"]


def _queries(client: APIClient, path: str) -> tuple[int, int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    on_timeline = [s for s in sql if '"incidents_timelineentry"' in s.split("WHERE")[0]]
    return len(sql), len(on_timeline), response.json()


def test_the_poll_is_one_query_on_the_timeline_at_100_and_at_1000(
    tina_api: APIClient, bob: Any, mi: MajorIncident
) -> None:
    bulk(mi, 100, actor=bob)
    since = tina_api.get(url(mi)).json()["since"]
    poll = url(mi, f"?since={since}")
    tina_api.get(poll)  # warm: the first request of a client may read more (its roles)
    small_total, small_timeline, body = _queries(tina_api, poll)
    assert body["results"] == []
    assert small_timeline == 1
    first_small, _, _ = _queries(tina_api, url(mi))
    bulk(mi, 900, actor=bob)
    since = tina_api.get(url(mi)).json()["since"]
    poll = url(mi, f"?since={since}")
    large_total, large_timeline, body = _queries(tina_api, poll)
    assert body["results"] == []
    assert (large_total, large_timeline) == (small_total, small_timeline)
    first_large, _, body = _queries(tina_api, url(mi))
    assert len(body["results"]) == 50
    assert first_large == first_small
    # A poll that finds entries (with their authors and corrections) is still that one query.
    bulk(mi, 3, actor=bob)
    found_total, found_timeline, body = _queries(tina_api, poll)
    assert len(body["results"]) == 3
    assert (found_total, found_timeline) == (small_total, 1)


def test_the_poll_beyond_authentication_is_two_queries(
    tina_api: APIClient, tina: Any, mi: MajorIncident
) -> None:
    """The MI and its entries; the rest is who the user is and what their roles allow."""
    since = tina_api.get(url(mi)).json()["since"]
    with CaptureQueriesContext(connection) as ctx:
        assert tina_api.get(url(mi, f"?since={since}")).status_code == 200
    tables = [q["sql"].split("FROM")[1].split()[0] for q in ctx.captured_queries]
    product = [t for t in tables if "majorincident" in t or "timelineentry" in t]
    assert product == ['"incidents_majorincident"', '"incidents_timelineentry"'], tables


# --- Events ---------------------------------------------------------------------------------------


def test_the_post_event_is_sent_after_commit(
    bob: Any,
    bob_api: APIClient,
    mi: MajorIncident,
    listen: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    added = listen(events.timeline_post_added)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        data = post(bob_api, mi, body="seen after commit", kind="finding").json()
    assert added.calls == []  # not before the commit
    for callback in callbacks:
        callback()
    assert added.calls == [
        {
            "major_incident_id": mi.pk,
            "entry_id": data["id"],
            "kind": "finding",
            "thread": "",
            "actor_id": bob.pk,
        }
    ]


def test_a_refused_post_sends_nothing(
    tina_api: APIClient, mi: MajorIncident, listen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    added = listen(events.timeline_post_added)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(tina_api, mi, body="x").status_code == 403
    assert added.calls == []


def test_a_closed_mi_refuses_the_service_too(bob: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.CLOSED)
    with pytest.raises(Conflict):
        services.post_to_timeline(mi=mi, actor=bob, body="x")
