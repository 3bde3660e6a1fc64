"""The scratchpad on the war-room page: save (post/redirect/get), a stale save keeps the user's
text and shows theirs, versions with who saved them, escaping, who may."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.test import Client

from incidents.models import MajorIncident, MIStatus
from tests.warroom.conftest import force_status
from warroom import services
from warroom.models import Scratchpad

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('pad')</script>"


def panel(mi: MajorIncident) -> str:
    return f"/war-rooms/{mi.number}/scratchpad/"


def save(client: Client, mi: MajorIncident, text: str, version: int) -> Any:
    return client.post(panel(mi), {"text": text, "version": str(version)})


def test_save_and_see_the_new_version(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    page = client.get(panel(mi))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="scratchpad-form"' in html
    assert 'name="version" value="0"' in html
    response = save(client, mi, "Failover at 10:05\r\nDNS TTL 300", 0)
    assert response.status_code == 302
    assert response["Location"] == f"/war-rooms/{mi.number}/#scratchpad"
    html = client.get(panel(mi)).content.decode()
    assert "Failover at 10:05\nDNS TTL 300" in unescape(html)
    assert 'name="version" value="1"' in html
    assert f"saved by {bob.username}" in html


def test_a_stale_save_keeps_my_text_and_shows_theirs(
    web: Callable[[Any], Client], bob: Any, alice: Any, mi: MajorIncident
) -> None:
    services.save_scratchpad(mi=mi, actor=alice, text="alice v1", version=0)
    client = web(bob)
    client.get(panel(mi))  # bob opens the pad at version 1…
    services.save_scratchpad(mi=mi, actor=alice, text="alice v2", version=1)  # …alice saves
    response = save(client, mi, "bob's notes from v1", 1)
    assert response.status_code == 303
    assert response["Location"].endswith("#scratchpad")
    page = client.get(f"/war-rooms/{mi.number}/scratchpad/")
    html = unescape(page.content.decode())
    assert 'data-testid="scratchpad-conflict"' in html
    theirs = re.search(r'data-testid="scratchpad-theirs">(.*?)</pre>', html, re.S)
    assert theirs and theirs.group(1) == "alice v2"
    mine = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)
    assert mine and mine.group(1).strip() == "bob's notes from v1"
    assert 'name="version" value="2"' in html  # saving again now names the current version
    assert f"{alice.username} saved version 2 while you edited" in html
    # Saving the merged text goes through; the conflict is gone from the page after that.
    assert save(client, mi, "alice v2\nbob's notes", 2).status_code == 302
    html = client.get(panel(mi)).content.decode()
    assert 'data-testid="scratchpad-conflict"' not in html
    assert Scratchpad.objects.get(major_incident=mi).text == "alice v2\nbob's notes"


def test_the_stale_warning_is_a_message_on_the_page(
    web: Callable[[Any], Client], bob: Any, alice: Any, mi: MajorIncident
) -> None:
    services.save_scratchpad(mi=mi, actor=alice, text="theirs", version=0)
    response = web(bob).post(panel(mi), {"text": "mine", "version": "0"}, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("Your text is below, theirs above" in m for m in shown)


def test_versions_are_listed_with_who_saved_them(
    web: Callable[[Any], Client], bob: Any, alice: Any, tina: Any, mi: MajorIncident
) -> None:
    services.save_scratchpad(mi=mi, actor=bob, text="first", version=0)
    services.save_scratchpad(mi=mi, actor=alice, text="second", version=1)
    html = web(tina).get(f"/war-rooms/{mi.number}/scratchpad/versions/").content.decode()
    rows = re.findall(r"<tr>\s*<td><a [^>]*>(\d+)</a></td>\s*<td>([^<]*)</td>", html)
    assert rows == [("2", alice.username), ("1", bob.username)]
    one = web(tina).get(f"/war-rooms/{mi.number}/scratchpad/versions/1/")
    assert one.status_code == 200
    assert "first" in one.content.decode()
    assert f"Saved by {bob.username}" in one.content.decode()
    assert web(tina).get(f"/war-rooms/{mi.number}/scratchpad/versions/9/").status_code == 404
    panel_html = web(tina).get(panel(mi)).content.decode()
    assert f"Version 1</a> · {bob.username}" in panel_html


def test_script_in_the_text_shows_as_text(
    web: Callable[[Any], Client], bob: Any, tina: Any, mi: MajorIncident
) -> None:
    services.save_scratchpad(mi=mi, actor=bob, text=SCRIPT, version=0)
    for html in (
        web(bob).get(panel(mi)).content.decode(),
        web(tina).get(panel(mi)).content.decode(),
        web(tina).get(f"/war-rooms/{mi.number}/scratchpad/versions/1/").content.decode(),
    ):
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(&#x27;pad&#x27;)&lt;/script&gt;" in html


def test_too_long_text_comes_back_with_its_error(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    response = save(client, mi, "x" * 100_001, 0)
    assert response.status_code == 303
    html = client.get(panel(mi)).content.decode()
    assert "at most 100000 characters" in html
    assert mi.scratchpad_versions.count() == 0


def test_a_bad_version_is_refused_without_a_500(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    client = web(bob)
    assert client.post(panel(mi), {"text": "x", "version": "abc"}).status_code == 303
    assert client.post(panel(mi), {"text": "x"}).status_code == 303
    assert mi.scratchpad_versions.count() == 0


def test_who_may_edit_on_the_page(
    web: Callable[[Any], Client], tina: Any, lee: Any, oscar: Any, mi: MajorIncident
) -> None:
    for reader in (tina, lee):
        html = web(reader).get(panel(mi)).content.decode()
        assert 'data-testid="scratchpad-form"' not in html
        assert save(web(reader), mi, "mine", 0).status_code == 403
    assert web(oscar).get(panel(mi)).status_code == 403
    assert save(web(oscar), mi, "mine", 0).status_code == 403
    assert web(tina).get("/war-rooms/MI9999999/scratchpad/").status_code == 404
    assert mi.scratchpad_versions.count() == 0


def test_a_closed_mi_shows_no_form_and_refuses_a_save(
    web: Callable[[Any], Client], bob: Any, mi: MajorIncident
) -> None:
    services.save_scratchpad(mi=mi, actor=bob, text="final notes", version=0)
    force_status(mi, MIStatus.CLOSED)
    client = web(bob)
    html = client.get(panel(mi)).content.decode()
    assert 'data-testid="scratchpad-form"' not in html
    assert "final notes" in html
    response = client.post(panel(mi), {"text": "late", "version": "1"}, follow=True)
    assert any("closed" in str(m) for m in response.context["messages"])
    assert mi.scratchpad_versions.count() == 1
