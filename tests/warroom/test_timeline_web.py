"""The war room's timeline panel on the page (issue 7, items 1 and 2): the post form with and
without htmx, the poll fragment and its cursor, filters, older entries, corrections, who may,
and ``<script>`` as text.

The page itself is another module's; these tests render the panel's partial with the context
``panel`` gives (as the page does) and call the panel's own fragment and form views.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import MajorIncident, MIStatus, RaciRole, TimelineEntry
from tests.warroom.conftest import force_status
from warroom import services
from warroom.web import timeline as panel_module

pytestmark = pytest.mark.django_db


def panel_html(mi: MajorIncident, user: Any, client: Client | None = None, **query: str) -> str:
    """The panel as the war-room page includes it, for ``user`` (with ``client``'s session)."""
    request = RequestFactory().get(f"/war-rooms/{mi.number}/", query)
    request.user = user or AnonymousUser()
    request.session = client.session if client is not None else Client().session
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    context = {"mi": mi, "request": request, "user": user, "now": timezone.now()}
    context |= panel_module.panel(request, mi)
    return render_to_string("warroom/_timeline.html", context, request=request)


def entries_in(html: str) -> list[str]:
    return re.findall(r'data-testid="timeline-entry" data-entry-id="(\d+)"', html)


def poll_url(html: str) -> str:
    match = re.search(r'id="timeline-poller-[^"]+"[^>]*hx-get="([^"]+)"', html)
    assert match, html
    return match.group(1).replace("&amp;", "&")


HX = {"HTTP_HX_REQUEST": "true"}


# --- The panel ------------------------------------------------------------------------------------


def test_the_team_sees_the_form_and_the_entries(bob: Any, mi: MajorIncident) -> None:
    services.post_to_timeline(mi=mi, actor=bob, body="**CPU** at 90%", kind="finding")
    html = panel_html(mi, bob)
    assert '<form method="post" action="/war-rooms/' in html
    assert 'data-testid="timeline-post"' in html and '<textarea name="body"' in html
    assert '<button type="submit" class="btn btn--primary">Post</button>' in html
    assert "<strong>CPU</strong> at 90%" in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00">', html)
    assert "Finding" in html and bob.username in html
    # Bob (technical lead) is not offered command updates; the IC is.
    assert 'value="command_update"' not in html.split('data-testid="timeline-filters"')[0]


def test_the_ic_is_offered_command_updates(alice: Any, mi: MajorIncident) -> None:
    form = panel_html(mi, alice).split('data-testid="timeline-filters"')[0]
    assert 'value="command_update"' in form


def test_outsiders_read_without_a_form(tina: Any, lee: Any, bob: Any, mi: MajorIncident) -> None:
    services.post_to_timeline(mi=mi, actor=bob, body="visible to readers")
    for user in (tina, lee):
        html = panel_html(mi, user)
        assert "visible to readers" in html
        assert 'data-testid="timeline-post"' not in html
        assert 'data-testid="thread-form"' not in html
        assert "Correct</a>" not in html


def test_a_closed_mi_shows_no_form(bob: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.CLOSED)
    html = panel_html(mi, bob)
    assert 'data-testid="timeline-post"' not in html
    assert "read-only" in html


def test_script_in_a_post_and_a_thread_name_is_text_on_the_page(
    bob: Any, mi: MajorIncident
) -> None:
    thread = services.open_thread(mi=mi, actor=bob, name="<script>alert('t')</script>")
    services.post_to_timeline(
        mi=mi,
        actor=bob,
        body="<script>alert('p')</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
        thread=thread.slug,
    )
    html = panel_html(mi, bob)
    assert "<script>" not in html
    assert "&lt;script&gt;alert('p')&lt;/script&gt;" in html  # Markdown's own escaping
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in html  # the thread's name
    assert 'href="javascript' not in html and "<img" not in html


# --- Posting --------------------------------------------------------------------------------------


def post_url(mi: MajorIncident) -> str:
    return f"/war-rooms/{mi.number}/timeline/post/"


def test_posting_without_js_is_post_redirect_get(bob: Any, web: Any, mi: MajorIncident) -> None:
    client = web(bob)
    response = client.post(post_url(mi), {"body": "plain form post", "kind": "note"})
    assert response.status_code == 302
    assert response["Location"] == f"/war-rooms/{mi.number}/#timeline-post"
    entry = TimelineEntry.objects.get(message="plain form post")
    assert (entry.actor, entry.major_incident, entry.kind) == (bob, mi, "note")


def test_posting_with_htmx_answers_a_fresh_form_and_the_posted_event(
    bob: Any, web: Any, mi: MajorIncident
) -> None:
    response = web(bob).post(post_url(mi), {"body": "via htmx", "kind": "decision"}, **HX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-posted"
    html = response.content.decode()
    assert 'data-testid="timeline-post"' in html and "via htmx" not in html  # emptied
    assert TimelineEntry.objects.filter(message="via htmx", kind="decision").exists()


def test_a_refused_post_keeps_what_was_typed(bob: Any, web: Any, mi: MajorIncident) -> None:
    client = web(bob)
    response = client.post(post_url(mi), {"body": "x" * 10_001, "kind": "note"})
    assert response.status_code == 303
    assert response["Location"].endswith("#timeline-post")
    form = client.get(f"/war-rooms/{mi.number}/timeline/form/").content.decode()
    assert "at most 10,000 characters" in form
    assert "x" * 10_001 in form
    again = client.get(f"/war-rooms/{mi.number}/timeline/form/").content.decode()
    assert "at most 10,000" not in again  # shown once
    htmx = client.post(post_url(mi), {"body": "  ", "kind": "note"}, **HX)
    assert htmx.status_code == 200 and "field__error" in htmx.content.decode()
    assert not TimelineEntry.objects.filter(message__startswith="xxx").exists()


def test_command_updates_on_the_page(alice: Any, bob: Any, web: Any, mi: MajorIncident) -> None:
    assert web(bob).post(post_url(mi), {"body": "cmd", "kind": "command_update"}).status_code == 403
    response = web(alice).post(post_url(mi), {"body": "cmd", "kind": "command_update"})
    assert response.status_code == 302
    assert TimelineEntry.objects.get(message="cmd").thread == "command"


def test_who_may_not_post_on_the_page(
    tina: Any, oscar: Any, lee: Any, web: Any, client: Client, mi: MajorIncident
) -> None:
    for user in (tina, oscar, lee):
        assert web(user).post(post_url(mi), {"body": "no", "kind": "note"}).status_code == 403
    anonymous = client.post(post_url(mi), {"body": "no", "kind": "note"})
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert not TimelineEntry.objects.filter(message="no").exists()
    assert web(oscar).get(f"/war-rooms/{mi.number}/timeline/").status_code == 403
    assert web(tina).get(f"/war-rooms/{mi.number}/timeline/").status_code == 200
    assert web(tina).get("/war-rooms/MI0009999/timeline/").status_code == 404


def test_a_closed_mi_refuses_a_post_on_the_page(bob: Any, web: Any, mi: MajorIncident) -> None:
    force_status(mi, MIStatus.CANCELLED)
    client = web(bob)
    response = client.post(post_url(mi), {"body": "late", "kind": "note"}, follow=False)
    assert response.status_code == 303
    assert "cancelled" in str(client.session.get("mim_refused_forms"))
    assert not TimelineEntry.objects.filter(message="late").exists()


def test_correcting_an_entry(bob: Any, web: Any, mi: MajorIncident) -> None:
    wrong = services.post_to_timeline(mi=mi, actor=bob, body="root cause: DNS", kind="finding")
    html = panel_html(mi, bob)
    assert f"?timeline_corrects={wrong.pk}#timeline-post" in html
    form = panel_html(mi, bob, timeline_corrects=str(wrong.pk))
    assert f'name="corrects" value="{wrong.pk}"' in form and "Correcting" in form
    client = web(bob)
    response = client.post(
        post_url(mi), {"body": "root cause: BGP", "kind": "finding", "corrects": wrong.pk}
    )
    assert response.status_code == 302
    fix = TimelineEntry.objects.get(message="root cause: BGP")
    assert fix.corrects == wrong
    html = panel_html(mi, bob)
    assert f'Corrects <a href="#entry-{wrong.pk}">#{wrong.pk}</a>' in html
    assert f'Corrected by <a href="#entry-{fix.pk}">#{fix.pk}</a>' in html


# --- Live updates ---------------------------------------------------------------------------------


def test_the_poller_brings_new_entries_and_its_next_cursor(
    bob: Any, tina: Any, web: Any, mi: MajorIncident
) -> None:
    reader = web(tina)
    html = panel_html(mi, tina)
    first = poll_url(html)
    assert 'hx-trigger="every 2s, timeline-posted from:body"' in html
    assert 'hx-swap="afterbegin"' in html and 'hx-target="#timeline-list-all--all"' in html
    assert reader.get(first).status_code == 204  # nothing new: nothing to swap
    one = services.post_to_timeline(mi=mi, actor=bob, body="first new")
    two = services.post_to_timeline(mi=mi, actor=bob, body="second new")
    answer = reader.get(first)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert entries_in(body) == [str(two.pk), str(one.pk)]
    assert 'hx-swap-oob="true"' in body
    following = poll_url(body)
    assert following != first
    assert reader.get(following).status_code == 204
    assert reader.get(first).status_code == 200  # the old cursor still answers


def test_the_poller_keeps_the_filters(bob: Any, tina: Any, web: Any, mi: MajorIncident) -> None:
    db = services.open_thread(mi=mi, actor=bob, name="DB")
    html = web(tina).get(
        f"/war-rooms/{mi.number}/timeline/", {"timeline_thread": "db", "timeline_kind": "finding"}
    )
    assert html.status_code == 200
    url = poll_url(html.content.decode())
    assert "timeline_thread=db" in url and "timeline_kind=finding" in url
    # The swapped-in list brings its filter form, showing the filters it applies.
    assert '<option value="db" selected>DB</option>' in html.content.decode()
    assert '<option value="finding" selected>Finding</option>' in html.content.decode()
    services.post_to_timeline(mi=mi, actor=bob, body="elsewhere", kind="finding")
    services.post_to_timeline(mi=mi, actor=bob, body="db note", thread=db.slug)
    match = services.post_to_timeline(
        mi=mi, actor=bob, body="db finding", kind="finding", thread=db.slug
    )
    body = web(tina).get(url).content.decode()
    assert entries_in(body) == [str(match.pk)]
    assert "timeline_thread=db" in poll_url(body)


def test_bad_fragment_queries_are_400s(tina: Any, web: Any, mi: MajorIncident) -> None:
    reader = web(tina)
    base = f"/war-rooms/{mi.number}/timeline/"
    assert reader.get(base + "poll/", {"since": "garbage"}).status_code == 400
    assert reader.get(base + "poll/").status_code == 400
    assert reader.get(base + "poll/", {"since": "cy4x", "timeline_kind": "nope"}).status_code == 400
    assert reader.get(base, {"timeline_kind": "nope"}).status_code == 400
    assert reader.get(base, {"timeline_before": "zzz"}).status_code == 400
    # The page's panel ignores a bad filter rather than failing the whole page.
    assert "timeline-entry" in panel_html(mi, tina, timeline_kind="nope")


def test_older_entries_load_in_place(bob: Any, tina: Any, web: Any, mi: MajorIncident) -> None:
    TimelineEntry.objects.bulk_create(
        TimelineEntry(incident_id=mi.incident_id, major_incident=mi, kind="note", message=f"n{i}")
        for i in range(60)
    )
    html = panel_html(mi, tina)
    shown = entries_in(html)
    assert len(shown) == 50
    match = re.search(r'id="timeline-older-all--all".*?hx-get="([^"]+)"', html)
    assert match
    older = web(tina).get(match.group(1).replace("&amp;", "&")).content.decode()
    rest = entries_in(older)
    total = TimelineEntry.objects.filter(incident_id=mi.incident_id).count()
    assert len(shown) + len(rest) == total and not set(shown) & set(rest)
    assert min(map(int, shown)) > max(map(int, rest))
    assert 'id="timeline-older' not in older  # the end


def test_the_scribe_posts_command_updates_on_the_page(
    alice: Any, person: Any, web: Any, mi: MajorIncident
) -> None:
    scribe = person("usr_sue_scribe", "technician")
    incident_services.assign_role(mi=mi, actor=alice, role=RaciRole.SCRIBE, user=scribe)
    html = panel_html(mi, scribe)
    assert 'value="command_update"' in html.split('data-testid="timeline-filters"')[0]
    response = web(scribe).post(
        post_url(mi), {"body": "next update 10:30", "kind": "command_update"}
    )
    assert response.status_code == 302


def test_the_threads_panel_lists_owners(alice: Any, bob: Any, tina: Any, mi: MajorIncident) -> None:
    services.open_thread(mi=mi, actor=bob, name="Storage", owner=tina)
    html = panel_html(mi, bob)
    threads = html.split('data-testid="threads"')[1]
    assert re.findall(r'data-testid="thread" data-slug="([^"]+)"', threads) == [
        "command",
        "storage",
    ]
    assert f"IC {alice.username}" in threads and tina.username in threads
    assert 'data-testid="thread-form"' in threads


def test_a_filter_change_does_not_swallow_a_refused_form(
    bob: Any, web: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    client.post(post_url(mi), {"body": "", "kind": "note"})
    feed = client.get(f"/war-rooms/{mi.number}/timeline/", {"timeline_kind": "note"})
    assert feed.status_code == 200
    form = client.get(f"/war-rooms/{mi.number}/timeline/form/").content.decode()
    assert "field__error" in form
