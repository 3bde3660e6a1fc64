"""CMDB impact analysis (recursive CTE) and keeping ``Incident.affected_users`` current."""

from __future__ import annotations

import pytest

from incidents import services
from incidents.errors import DomainError
from incidents.models import CIDependency, IncidentState, TimelineEntry, TimelineKind
from incidents.selectors import cmdb


@pytest.fixture
def diamond(make_ci):
    """D depends on B and C, both depend on A: an outage of A reaches D by two paths.

    ``x <- y`` below means y depends on x:  A <- B, A <- C, B <- D, C <- D.
    """
    a = make_ci("A", users=1)
    b = make_ci("B", users=10, depends_on=(a,))
    c = make_ci("C", users=100, depends_on=(a,))
    d = make_ci("D", users=1000, depends_on=(b, c))
    return a, b, c, d


@pytest.fixture
def cycle(make_ci):
    """X <- Y <- Z <- X: each depends on the previous one, and X on Z."""
    x = make_ci("X", users=1)
    y = make_ci("Y", users=20, depends_on=(x,))
    z = make_ci("Z", users=300, depends_on=(y,))
    services.set_dependencies(ci=x, providers=[z])
    return x, y, z


def test_diamond_counts_the_shared_dependent_once(diamond):
    a, b, c, d = diamond
    assert cmdb.affected_users(a.pk) == 1 + 10 + 100 + 1000
    assert cmdb.affected_users(b.pk) == 10 + 1000
    assert cmdb.affected_users(c.pk) == 100 + 1000
    assert cmdb.affected_users(d.pk) == 1000


def test_diamond_impact_lists_each_ci_once_the_ci_first(diamond):
    a, _b, _c, d = diamond
    result = cmdb.impact(a.pk)
    assert result.affected_users == 1111
    assert [ci.name for ci in result.affected_cis] == ["A", "B", "C", "D"]
    assert [ci.id for ci in result.affected_cis].count(d.pk) == 1


def test_cycle_terminates_and_counts_each_once(cycle):
    _x, _y, _z = cycle
    for ci in cycle:
        assert cmdb.affected_users(ci.pk) == 321
        result = cmdb.impact(ci.pk)
        assert result.affected_cis[0].id == ci.pk
        assert sorted(c.id for c in result.affected_cis) == sorted(c.pk for c in cycle)


def test_two_node_cycle(make_ci):
    p = make_ci("P", users=5)
    q = make_ci("Q", users=7, depends_on=(p,))
    services.set_dependencies(ci=p, providers=[q])
    assert cmdb.affected_users(p.pk) == 12
    assert cmdb.affected_users(q.pk) == 12


def test_isolated_ci_reaches_only_itself(make_ci, diamond):
    lonely = make_ci("Lonely", users=42)
    assert cmdb.affected_users(lonely.pk) == 42
    result = cmdb.impact(lonely.pk)
    assert [(c.id, c.name, c.user_count) for c in result.affected_cis] == [
        (lonely.pk, "Lonely", 42)
    ]


def test_unknown_ci_reaches_nobody(db):
    assert cmdb.affected_users(987654) == 0
    assert cmdb.impact(987654).affected_cis == []


def test_long_chain_is_walked_to_the_end(make_ci):
    previous = root = make_ci("root", users=1)
    for i in range(60):
        previous = make_ci(f"link-{i:02d}", users=1, depends_on=(previous,))
    assert cmdb.affected_users(root.pk) == 61
    assert cmdb.affected_users(previous.pk) == 1


def test_provider_side_is_not_counted(diamond):
    # D depends on B and C; an outage of D does not reach its providers.
    _a, _b, _c, d = diamond
    assert [ci.id for ci in cmdb.impact(d.pk).affected_cis] == [d.pk]


def test_self_dependency_is_refused(make_ci):
    ci = make_ci()
    with pytest.raises(DomainError) as err:
        services.set_dependencies(ci=ci, providers=[ci])
    assert err.value.field == "depends_on"


# --- API -------------------------------------------------------------------------------------


def test_impact_endpoint_shape(tina_api, diamond):
    a, b, c, d = diamond
    response = tina_api.get(f"/api/cis/{a.pk}/impact/")
    assert response.status_code == 200
    assert response.json() == {
        "affected_users": 1111,
        "affected_ci_count": 4,
        "affected_cis": [
            {"id": a.pk, "name": "A", "kind": "application", "user_count": 1},
            {"id": b.pk, "name": "B", "kind": "application", "user_count": 10},
            {"id": c.pk, "name": "C", "kind": "application", "user_count": 100},
            {"id": d.pk, "name": "D", "kind": "application", "user_count": 1000},
        ],
    }


def test_impact_endpoint_on_a_cycle(tina_api, cycle):
    x, _, _ = cycle
    body = tina_api.get(f"/api/cis/{x.pk}/impact/").json()
    assert body["affected_users"] == 321
    assert len(body["affected_cis"]) == 3


def test_impact_endpoint_unknown_ci_is_404(tina_api, db):
    assert tina_api.get("/api/cis/987654/impact/").status_code == 404


def test_ci_api_shows_depends_on(tina_api, diamond):
    _a, b, c, d = diamond
    body = tina_api.get(f"/api/cis/{d.pk}/").json()
    assert sorted(body["depends_on"]) == sorted([b.pk, c.pk])


def test_ci_create_with_depends_on(alice_api, diamond):
    a, _b, _c, d = diamond
    response = alice_api.post(
        "/api/cis/",
        {"name": "E", "kind": "business_service", "user_count": 5000, "depends_on": [d.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    e = response.json()
    assert e["depends_on"] == [d.pk]
    assert cmdb.affected_users(a.pk) == 6111
    assert alice_api.get(f"/api/cis/{a.pk}/impact/").json()["affected_users"] == 6111


def test_ci_delete_removes_it_from_impact(alice_api, diamond, django_capture_on_commit_callbacks):
    a, _b, _c, d = diamond
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/cis/{d.pk}/").status_code == 204
    assert cmdb.affected_users(a.pk) == 111
    assert not CIDependency.objects.filter(consumer_id=d.pk).exists()


# --- Incident.affected_users kept current -------------------------------------------------------


def test_incident_created_on_a_ci_gets_its_impact(make_incident, diamond):
    a, b, _c, _d = diamond
    assert make_incident(affected_ci=a).affected_users == 1111
    assert make_incident(affected_ci=b).affected_users == 1010
    assert make_incident().affected_users == 0


def test_api_create_reports_affected_users(tina_api, diamond):
    a, *_ = diamond
    response = tina_api.post(
        "/api/incidents/", {"short_description": "A is down", "affected_ci": a.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["affected_users"] == 1111


@pytest.mark.parametrize(("to", "expected"), [("B", 1010), ("D", 1000), (None, 0)])
def test_patch_affected_ci_recomputes(tina_api, make_incident, diamond, to, expected):
    cis = {ci.name: ci for ci in diamond}
    incident = make_incident(affected_ci=cis["A"])
    response = tina_api.patch(
        f"/api/incidents/{incident.number}/",
        {"affected_ci": cis[to].pk if to else None},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["affected_users"] == expected
    incident.refresh_from_db()
    assert incident.affected_users == expected
    assert incident.timeline.filter(kind=TimelineKind.UPDATED).exists()


def test_user_count_change_updates_open_incidents(
    alice_api, make_incident, diamond, django_capture_on_commit_callbacks
):
    a, b, c, d = diamond
    open_on_a = make_incident(affected_ci=a)
    open_on_b = make_incident(affected_ci=b)
    open_on_c = make_incident(affected_ci=c)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.patch(f"/api/cis/{d.pk}/", {"user_count": 2000}, format="json")
    assert response.status_code == 200, response.content
    for incident, users in ((open_on_a, 2111), (open_on_b, 2010), (open_on_c, 2100)):
        incident.refresh_from_db()
        assert incident.affected_users == users
        row = incident.timeline.get(kind=TimelineKind.IMPACT_CHANGED)
        assert row.data == {"from": users - 1000, "to": users}


def test_depends_on_change_updates_open_incidents(
    alice_api, make_ci, make_incident, diamond, django_capture_on_commit_callbacks
):
    a, _b, _c, d = diamond
    other = make_ci("Other", users=7)
    on_a = make_incident(affected_ci=a)
    on_other = make_incident(affected_ci=other)
    with django_capture_on_commit_callbacks(execute=True):
        # D now depends on Other only: A loses D, Other gains D.
        response = alice_api.patch(f"/api/cis/{d.pk}/", {"depends_on": [other.pk]}, format="json")
    assert response.status_code == 200, response.content
    on_a.refresh_from_db()
    on_other.refresh_from_db()
    assert on_a.affected_users == 111
    assert on_other.affected_users == 1007
    assert on_a.timeline.filter(kind=TimelineKind.IMPACT_CHANGED).count() == 1
    assert on_other.timeline.filter(kind=TimelineKind.IMPACT_CHANGED).count() == 1


def test_new_ci_depending_on_an_incident_ci_updates_it(
    alice_api, make_incident, diamond, django_capture_on_commit_callbacks
):
    a, *_ = diamond
    incident = make_incident(affected_ci=a)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/cis/",
            {"name": "New app", "kind": "application", "user_count": 9, "depends_on": [a.pk]},
            format="json",
        )
    assert response.status_code == 201
    incident.refresh_from_db()
    assert incident.affected_users == 1120


@pytest.mark.parametrize("state", ["resolved", "closed", "cancelled"])
def test_finished_incidents_keep_their_figure(
    alice, alice_api, make_incident, diamond, django_capture_on_commit_callbacks, state
):
    a, _b, _c, d = diamond
    incident = make_incident(affected_ci=a)
    if state == "cancelled":
        services.update_incident(incident=incident, actor=alice, state=IncidentState.CANCELLED)
    else:
        services.resolve_incident(incident=incident, actor=alice, resolution_notes="Restarted")
        if state == "closed":
            services.update_incident(incident=incident, actor=alice, state=IncidentState.CLOSED)
    before = TimelineEntry.objects.filter(incident=incident).count()
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.patch(f"/api/cis/{d.pk}/", {"user_count": 5}, format="json")
    incident.refresh_from_db()
    assert incident.state == state
    assert incident.affected_users == 1111
    assert TimelineEntry.objects.filter(incident=incident).count() == before


def test_unrelated_ci_change_leaves_incidents_alone(
    alice_api, make_ci, make_incident, diamond, django_capture_on_commit_callbacks
):
    a, *_ = diamond
    incident = make_incident(affected_ci=a)
    elsewhere = make_ci("Elsewhere", users=3)
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.patch(f"/api/cis/{elsewhere.pk}/", {"user_count": 3000}, format="json")
    incident.refresh_from_db()
    assert incident.affected_users == 1111
    assert not incident.timeline.filter(kind=TimelineKind.IMPACT_CHANGED).exists()


def test_refresh_is_idempotent(make_incident, diamond):
    a, _b, _c, d = diamond
    incident = make_incident(affected_ci=a)
    d.user_count = 0
    d.save()
    assert services.refresh_affected_users_now([d.pk]) == 1
    assert services.refresh_affected_users_now([d.pk]) == 0
    incident.refresh_from_db()
    assert incident.affected_users == 111
    assert incident.timeline.filter(kind=TimelineKind.IMPACT_CHANGED).count() == 1


def test_cmdb_change_on_a_cycle_updates_incident(
    alice_api, make_incident, cycle, django_capture_on_commit_callbacks
):
    _x, y, z = cycle
    incident = make_incident(affected_ci=y)
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.patch(f"/api/cis/{z.pk}/", {"user_count": 0}, format="json")
    incident.refresh_from_db()
    assert incident.affected_users == 21


def test_refresh_waits_for_commit(
    alice_api, make_incident, diamond, django_capture_on_commit_callbacks
):
    a, _b, _c, d = diamond
    incident = make_incident(affected_ci=a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alice_api.patch(f"/api/cis/{d.pk}/", {"user_count": 0}, format="json")
    incident.refresh_from_db()
    assert incident.affected_users == 1111  # nothing ran inside the transaction
    assert len(callbacks) == 1
    callbacks[0]()
    incident.refresh_from_db()
    assert incident.affected_users == 111


def test_impact_limit_lists_fewer_cis_but_counts_all(alice_api, make_ci):
    root = make_ci("limit-root", users=1)
    for i in range(5):
        make_ci(f"limit-dep-{i}", users=10, depends_on=(root,))
    body = alice_api.get(f"/api/cis/{root.pk}/impact/?limit=2").json()
    assert body["affected_users"] == 51
    assert body["affected_ci_count"] == 6
    assert [ci["name"] for ci in body["affected_cis"]] == ["limit-root", "limit-dep-0"]
    full = alice_api.get(f"/api/cis/{root.pk}/impact/").json()
    assert full["affected_ci_count"] == len(full["affected_cis"]) == 6


@pytest.mark.parametrize("limit", ["0", "-1", "x", "100001"])
def test_impact_bad_limit_is_400_naming_it(alice_api, make_ci, limit):
    root = make_ci("limit-bad")
    response = alice_api.get(f"/api/cis/{root.pk}/impact/?limit={limit}")
    assert response.status_code == 400
    assert "limit" in response.json()
