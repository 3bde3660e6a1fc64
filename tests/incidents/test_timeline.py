"""The timeline is append-only: no change or delete through the API, the admin or the model."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models.deletion import ProtectedError
from django.urls import URLResolver, get_resolver

from incidents import services
from incidents.models import AppendOnlyError, Incident, TimelineEntry, TimelineKind
from tests.incidents.mi_fixtures import declare


@pytest.fixture
def incident(make_incident, tina):
    incident = make_incident(actor=tina)
    services.acknowledge_incident(incident=incident, actor=tina)
    return incident


@pytest.fixture
def entry(incident) -> TimelineEntry:
    return incident.timeline.first()


# --- API ---------------------------------------------------------------------------------------


def test_timeline_lists_rows_in_order(tina_api, incident, tina):
    response = tina_api.get(f"/api/incidents/{incident.number}/timeline/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["kind"] for r in rows] == ["created", "acknowledged"]
    assert rows[0]["actor"] == tina.username
    assert set(rows[0]) == {"id", "kind", "message", "data", "actor", "created_at"}


@pytest.mark.parametrize("persona", ["tina_api", "alice_api", "sam_api"])
@pytest.mark.parametrize("method", ["put", "patch", "delete", "post"])
def test_timeline_endpoint_refuses_writes(request, incident, persona, method):
    client = request.getfixturevalue(persona)
    before = list(TimelineEntry.objects.values_list("id", "message"))
    response = getattr(client, method)(
        f"/api/incidents/{incident.number}/timeline/", {"message": "rewritten"}, format="json"
    )
    assert response.status_code == 405
    assert list(TimelineEntry.objects.values_list("id", "message")) == before


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern.url_patterns, route)
        else:
            routes.append(route)
    return routes


def test_no_api_route_addresses_a_single_row():
    # The API reaches the rows only as the two timeline lists: no route takes a row id after
    # "timeline", and the rows have no resource of their own. (The admin's read-only pages are
    # tested below.)
    routes = _routes(get_resolver().url_patterns)
    timeline_routes = sorted(r for r in routes if r.startswith("api/") and "timeline" in r)
    assert timeline_routes == [
        "api/incidents/<str:number>/timeline/",
        "api/major-incidents/<str:number>/timeline/",
    ]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_the_mi_timeline_refuses_edits(alice, sam_api, make_incident, method):
    mi = declare(make_incident(), alice)
    before = list(TimelineEntry.objects.values_list("id", "message"))
    response = getattr(sam_api, method)(
        f"/api/major-incidents/{mi.number}/timeline/", {"message": "rewritten"}, format="json"
    )
    assert response.status_code == 405
    assert list(TimelineEntry.objects.values_list("id", "message")) == before


# --- model -------------------------------------------------------------------------------------


def test_model_refuses_to_save_an_existing_row(entry):
    entry.message = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert TimelineEntry.objects.get(pk=entry.pk).message != "rewritten"


def test_model_refuses_delete(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert TimelineEntry.objects.filter(pk=entry.pk).exists()


def test_bulk_update_and_delete_refused(incident, entry):
    with pytest.raises(AppendOnlyError):
        TimelineEntry.objects.filter(pk=entry.pk).update(message="rewritten")
    with pytest.raises(AppendOnlyError):
        incident.timeline.all().delete()
    assert incident.timeline.count() == 2
    entry.message = "rewritten"
    # Last: bulk_update's own atomic block leaves the test's transaction unusable.
    with pytest.raises(AppendOnlyError):
        TimelineEntry.objects.bulk_update([entry], ["message"])


def test_new_rows_can_be_appended(incident, alice):
    services.record(incident, TimelineKind.NOTE, "Bridge opened", actor=alice)
    assert incident.timeline.last().message == "Bridge opened"


def test_incident_with_a_timeline_cannot_be_deleted(incident):
    with pytest.raises(ProtectedError):
        incident.delete()
    assert Incident.objects.filter(pk=incident.pk).exists()


# --- admin -------------------------------------------------------------------------------------


@pytest.fixture(params=["sam", "root"])
def admin_user(request):
    return request.getfixturevalue(request.param)


def test_admin_changelist_offers_no_delete_action(browser_for, admin_user, entry):
    response = browser_for(admin_user).get("/admin/incidents/timelineentry/")
    assert response.status_code == 200
    assert entry.message[:20] in response.content.decode()
    assert "delete_selected" not in response.content.decode()


def test_admin_change_page_is_read_only(browser_for, admin_user, entry):
    response = browser_for(admin_user).get(f"/admin/incidents/timelineentry/{entry.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html
    assert 'name="message"' not in html
    assert "/delete/" not in html


def test_admin_change_post_is_403(browser_for, admin_user, entry):
    response = browser_for(admin_user).post(
        f"/admin/incidents/timelineentry/{entry.pk}/change/",
        {"message": "rewritten", "kind": "note", "_save": "Save"},
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.message != "rewritten"


@pytest.mark.parametrize("method", ["get", "post"])
def test_admin_delete_view_is_403(browser_for, admin_user, entry, method):
    url = f"/admin/incidents/timelineentry/{entry.pk}/delete/"
    response = getattr(browser_for(admin_user), method)(url, {"post": "yes"})
    assert response.status_code == 403
    assert TimelineEntry.objects.filter(pk=entry.pk).exists()


def test_admin_bulk_delete_action_is_refused(browser_for, admin_user, entry):
    response = browser_for(admin_user).post(
        "/admin/incidents/timelineentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302, 403)
    assert TimelineEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_admin_add_is_403(browser_for, admin_user, incident, method):
    response = getattr(browser_for(admin_user), method)(
        "/admin/incidents/timelineentry/add/",
        {"incident": incident.pk, "kind": "note", "message": "forged"},
    )
    assert response.status_code == 403
    assert not TimelineEntry.objects.filter(message="forged").exists()


def test_incident_admin_shows_timeline_inline_read_only(browser_for, admin_user, entry, incident):
    response = browser_for(admin_user).get(f"/admin/incidents/incident/{incident.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert entry.message[:20] in html
    assert "timeline-0-DELETE" not in html
    assert 'name="timeline-0-message"' not in html
    assert 'name="timeline-__prefix__-message"' not in html


def test_incident_admin_post_cannot_touch_timeline(browser_for, root, entry, incident, admin_form):
    client = browser_for(root)
    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/")
    data = admin_form(page)
    data.update(
        {
            "timeline-0-id": entry.pk,
            "timeline-0-message": "rewritten",
            "timeline-0-DELETE": "on",
            "timeline-TOTAL_FORMS": data.get("timeline-TOTAL_FORMS", "2"),
            "_save": "Save",
        }
    )
    response = client.post(f"/admin/incidents/incident/{incident.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    entry.refresh_from_db()
    assert entry.message.startswith("Incident logged")
    assert incident.timeline.count() == 2
