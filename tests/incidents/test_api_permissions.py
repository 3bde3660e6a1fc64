"""Every endpoint, for every persona: anonymous, oscar (no role), lee (legal), tina (technician),
alice (itsm_manager) and sam (super_admin)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from incidents import services
from incidents.models import (
    Change,
    ConfigurationItem,
    Incident,
    Problem,
    SystemProperty,
    SystemPropertyChange,
)
from tests.conftest import PASSWORD

PERSONAS = ["anonymous", "oscar", "lee", "tina", "alice", "sam"]
THRESHOLD = "major_incident_auto_declare_threshold"


@pytest.fixture
def world(db: None, make_ci, make_incident) -> dict[str, Any]:
    provider = make_ci("Payments DB", users=10, kind="database")
    ci = make_ci("Checkout", users=100, depends_on=(provider,))
    spare = make_ci("Spare", users=1)
    incident = make_incident(affected_ci=ci, impact=2, urgency=2)
    parent = make_incident(short_description="Everything is slow")
    problem = Problem.objects.create(short_description="Pool exhaustion", affected_ci=ci)
    change = Change.objects.create(short_description="Raise pool size", problem=problem)
    return {
        "ci": ci,
        "spare": spare,
        "provider": provider,
        "incident": incident,
        "inc": incident.number,
        "parent": parent.number,
        "problem": problem.number,
        "change": change.number,
    }


@pytest.fixture
def client_of(request, api) -> Any:
    def _client(persona: str) -> APIClient:
        if persona == "anonymous":
            return api
        return request.getfixturevalue(f"{persona}_api") if persona != "lee" else _lee(request)

    return _client


def _lee(request) -> APIClient:
    from tests.conftest import bearer_client

    return bearer_client(request.getfixturevalue("lee"))


def codes(anonymous, oscar, lee, tina, alice, sam) -> dict[str, int]:
    return dict(zip(PERSONAS, (anonymous, oscar, lee, tina, alice, sam), strict=True))


READ = codes(401, 403, 200, 200, 200, 200)
READ_NOT_LEGAL = codes(401, 403, 403, 200, 200, 200)
WORK = codes(401, 403, 403, 200, 200, 200)
CREATE = codes(401, 403, 403, 201, 201, 201)
MANAGE = codes(401, 403, 403, 403, 200, 200)
MANAGE_CREATE = codes(401, 403, 403, 403, 201, 201)
MANAGE_DELETE = codes(401, 403, 403, 403, 204, 204)
MANAGE_READ = codes(401, 403, 403, 403, 200, 200)
SUPER = codes(401, 403, 403, 403, 403, 200)

# (name, method, path, body, expected codes by persona). Paths use ``{key}`` from ``world``.
MATRIX: list[tuple[str, str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("incident list", "get", "/api/incidents/", None, READ_NOT_LEGAL),
    ("incident create", "post", "/api/incidents/", {"short_description": "VPN down"}, CREATE),
    ("incident retrieve", "get", "/api/incidents/{inc}/", None, READ_NOT_LEGAL),
    ("incident patch", "patch", "/api/incidents/{inc}/", {"description": "more"}, WORK),
    ("incident acknowledge", "post", "/api/incidents/{inc}/acknowledge/", {}, WORK),
    (
        "incident flag major",
        "post",
        "/api/incidents/{inc}/flag-major/",
        {"reason": "40 callers"},
        CREATE,
    ),
    (
        "incident resolve",
        "post",
        "/api/incidents/{inc}/resolve/",
        {"resolution_notes": "Restarted"},
        WORK,
    ),
    ("incident link", "post", "/api/incidents/{inc}/link/", {"parent": "{parent}"}, WORK),
    ("incident timeline", "get", "/api/incidents/{inc}/timeline/", None, READ),
    ("ci list", "get", "/api/cis/", None, READ),
    ("ci retrieve", "get", "/api/cis/{ci_id}/", None, READ),
    (
        "ci create",
        "post",
        "/api/cis/",
        {"name": "Search", "kind": "application", "user_count": 5},
        MANAGE_CREATE,
    ),
    (
        "ci update",
        "put",
        "/api/cis/{ci_id}/",
        {"name": "Checkout", "kind": "application", "user_count": 150},
        MANAGE,
    ),
    ("ci partial update", "patch", "/api/cis/{ci_id}/", {"user_count": 150}, MANAGE),
    ("ci depends_on update", "patch", "/api/cis/{ci_id}/", {"depends_on": []}, MANAGE),
    ("ci delete", "delete", "/api/cis/{spare_id}/", None, MANAGE_DELETE),
    ("ci impact", "get", "/api/cis/{ci_id}/impact/", None, READ),
    ("problem list", "get", "/api/problems/", None, READ_NOT_LEGAL),
    ("problem create", "post", "/api/problems/", {"short_description": "Leak"}, CREATE),
    ("problem retrieve", "get", "/api/problems/{problem}/", None, READ_NOT_LEGAL),
    (
        "problem update",
        "put",
        "/api/problems/{problem}/",
        {"short_description": "Pool exhaustion", "state": "assessed"},
        WORK,
    ),
    ("problem partial update", "patch", "/api/problems/{problem}/", {"known_error": True}, WORK),
    ("change list", "get", "/api/changes/", None, READ_NOT_LEGAL),
    ("change create", "post", "/api/changes/", {"short_description": "Patch kernel"}, CREATE),
    ("change retrieve", "get", "/api/changes/{change}/", None, READ_NOT_LEGAL),
    (
        "change update",
        "put",
        "/api/changes/{change}/",
        {"short_description": "Raise pool size", "change_type": "emergency"},
        WORK,
    ),
    ("change partial update", "patch", "/api/changes/{change}/", {"state": "assess"}, WORK),
    ("property list", "get", "/api/system-properties/", None, MANAGE_READ),
    ("property retrieve", "get", f"/api/system-properties/{THRESHOLD}/", None, MANAGE_READ),
    ("property patch", "patch", f"/api/system-properties/{THRESHOLD}/", {"value": 75}, SUPER),
]


def _fill(template: Any, world: dict[str, Any]) -> Any:
    keys = {
        **{k: v for k, v in world.items() if isinstance(v, str)},
        "ci_id": world["ci"].pk,
        "spare_id": world["spare"].pk,
    }
    if isinstance(template, str):
        return template.format(**keys)
    if isinstance(template, dict):
        return {k: _fill(v, world) for k, v in template.items()}
    return template


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(m, p, b, e, id=name) for name, m, p, b, e in MATRIX],
)
def test_endpoint_permissions(client_of, world, persona, method, path, body, expected):
    client = client_of(persona)
    kwargs = {"format": "json"} if body is not None else {}
    response = getattr(client, method)(_fill(path, world), _fill(body, world), **kwargs)
    assert response.status_code == expected[persona], response.content
    if response.status_code in (401, 403):
        assert response.json()["detail"]  # the body says why
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


# Writes refused must leave the data alone.


@pytest.mark.parametrize("persona", ["anonymous", "oscar", "lee", "tina"])
def test_refused_cmdb_writes_change_nothing(client_of, world, persona):
    client = client_of(persona)
    ci = world["ci"]
    client.patch(f"/api/cis/{ci.pk}/", {"user_count": 1, "depends_on": []}, format="json")
    client.post("/api/cis/", {"name": "Sneaky", "kind": "server"}, format="json")
    client.delete(f"/api/cis/{world['spare'].pk}/")
    ci.refresh_from_db()
    assert ci.user_count == 100
    assert list(ci.depends_on.all()) == [world["provider"]]
    assert not ConfigurationItem.objects.filter(name="Sneaky").exists()
    assert ConfigurationItem.objects.filter(pk=world["spare"].pk).exists()


@pytest.mark.parametrize("persona", ["anonymous", "oscar", "lee", "tina", "alice"])
def test_refused_property_patch_changes_nothing(client_of, db, persona):
    client_of(persona).patch(f"/api/system-properties/{THRESHOLD}/", {"value": 7}, format="json")
    assert SystemProperty.objects.get(key=THRESHOLD).value == 50
    assert not SystemPropertyChange.objects.exists()


@pytest.mark.parametrize("persona", ["anonymous", "oscar", "lee"])
def test_refused_incident_writes_change_nothing(client_of, world, persona):
    client = client_of(persona)
    number = world["inc"]
    client.post("/api/incidents/", {"short_description": "Sneaky"}, format="json")
    client.patch(f"/api/incidents/{number}/", {"short_description": "Renamed"}, format="json")
    client.post(f"/api/incidents/{number}/acknowledge/", {}, format="json")
    client.post(f"/api/incidents/{number}/resolve/", {"resolution_notes": "x"}, format="json")
    incident = Incident.objects.get(pk=world["incident"].pk)
    assert incident.short_description == "Checkout returns 503"
    assert incident.acknowledged_at is None
    assert incident.state == "new"
    assert not Incident.objects.filter(short_description="Sneaky").exists()


def test_outsider_list_reveals_nothing(oscar_api, world):
    response = oscar_api.get("/api/incidents/")
    assert response.status_code == 403
    assert "results" not in response.json()


@pytest.mark.parametrize("method", ["put", "delete"])
@pytest.mark.parametrize("persona", ["tina", "alice", "sam"])
def test_incidents_are_never_replaced_or_deleted(client_of, world, persona, method):
    response = getattr(client_of(persona), method)(
        f"/api/incidents/{world['inc']}/", {"short_description": "x"}, format="json"
    )
    assert response.status_code == 405
    assert Incident.objects.filter(pk=world["incident"].pk).exists()


@pytest.mark.parametrize("endpoint", ["problems", "changes"])
def test_problems_and_changes_are_not_deleted(sam_api, world, endpoint):
    key = "problem" if endpoint == "problems" else "change"
    assert sam_api.delete(f"/api/{endpoint}/{world[key]}/").status_code == 405


# --- priority by hand ------------------------------------------------------------------------


def test_technician_may_not_set_priority_on_create(tina_api, db):
    response = tina_api.post(
        "/api/incidents/", {"short_description": "Down", "priority": 1}, format="json"
    )
    assert response.status_code == 403
    assert "priority" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("priority", [1, 4, None])
def test_technician_may_not_set_priority_on_update(tina_api, make_incident, priority):
    incident = make_incident(impact=2, urgency=2)
    response = tina_api.patch(
        f"/api/incidents/{incident.number}/", {"priority": priority}, format="json"
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert (incident.priority, incident.priority_is_manual) == (3, False)


@pytest.mark.parametrize("manager", ["alice", "sam"])
def test_manager_sets_priority_and_null_returns_it_to_the_matrix(client_of, make_incident, manager):
    client = client_of(manager)
    incident = make_incident(impact=3, urgency=3)
    url = f"/api/incidents/{incident.number}/"

    response = client.patch(url, {"priority": 1}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["priority"], response.json()["priority_is_manual"]) == (1, True)

    # A manual priority survives a change of impact and urgency...
    response = client.patch(url, {"impact": 2, "urgency": 3}, format="json")
    assert (response.json()["priority"], response.json()["priority_is_manual"]) == (1, True)

    # ...and the technician's edits of other fields.
    assert client_of("tina").patch(url, {"urgency": 2}, format="json").status_code == 200
    incident.refresh_from_db()
    assert (incident.priority, incident.priority_is_manual) == (1, True)

    response = client.patch(url, {"priority": None}, format="json")
    assert response.status_code == 200
    assert (response.json()["priority"], response.json()["priority_is_manual"]) == (3, False)
    assert incident.timeline.filter(kind="priority_changed").count() == 2


@pytest.mark.parametrize("manager", ["alice", "sam"])
def test_manager_sets_priority_on_create(client_of, db, manager):
    response = client_of(manager).post(
        "/api/incidents/",
        {"short_description": "Down", "impact": 3, "urgency": 3, "priority": 2},
        format="json",
    )
    assert response.status_code == 201
    assert (response.json()["priority"], response.json()["priority_is_manual"]) == (2, True)


# --- tokens --------------------------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, settings.JWT_SIGNING_KEY, algorithms=["HS256"])


@pytest.mark.parametrize(
    ("persona", "roles"),
    [
        ("tina", ["technician"]),
        ("alice", ["itsm_manager"]),
        ("sam", ["super_admin"]),
        ("lee", ["legal"]),
        ("oscar", []),
    ],
)
@pytest.mark.django_db
def test_token_for_good_credentials_carries_roles(request, api, persona, roles):
    user = request.getfixturevalue(persona)
    response = api.post(
        "/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == int(settings.JWT_ACCESS_TOKEN_LIFETIME.total_seconds())
    access, refresh = _claims(body["access"]), _claims(body["refresh"])
    assert access["sub"] == user.username
    assert access[settings.JWT_ROLES_CLAIM] == roles
    assert access["token_type"] == "access"
    assert refresh["token_type"] == "refresh"
    # The token works (every role reads the CMDB).
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert client.get("/api/cis/").status_code == (200 if roles else 403)


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "usr_tina_tech", "password": "wrong"},
        {"username": "usr_tina_tech", "password": PASSWORD.upper()},
        {"username": "usr_nobody", "password": PASSWORD},
        {"username": "usr_tina_tech", "password": ""},
    ],
)
def test_token_bad_credentials_is_401(api, tina, credentials):
    response = api.post("/api/auth/token/", credentials, format="json")
    assert response.status_code in (400, 401)
    if credentials["password"]:
        assert response.status_code == 401
        assert response.json()["detail"]
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_for_inactive_user_is_401(api, tina):
    tina.is_active = False
    tina.save()
    response = api.post(
        "/api/auth/token/", {"username": tina.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "usr_tina_tech"}, "password"),
        ({}, "username"),
        ({"username": ["usr_tina_tech"], "password": PASSWORD}, "username"),
        ({"username": "usr\x00tina", "password": PASSWORD}, "username"),
    ],
)
def test_token_missing_or_bad_field_is_400(api, tina, body, field):
    response = api.post("/api/auth/token/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_token_get_not_allowed(api, db):
    assert api.get("/api/auth/token/").status_code == 405


def test_refresh_gives_a_new_pair_with_current_roles(api, tina):
    pair = api.post(
        "/api/auth/token/", {"username": tina.username, "password": PASSWORD}, format="json"
    ).json()
    services.set_user_roles(tina, ["technician", "itsm_manager"])
    response = api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200, response.content
    access = _claims(response.json()["access"])
    assert access["roles"] == ["itsm_manager", "technician"]
    assert access["token_type"] == "access"


def test_refresh_with_an_access_token_is_401(api, tina):
    pair = api.post(
        "/api/auth/token/", {"username": tina.username, "password": PASSWORD}, format="json"
    ).json()
    response = api.post("/api/auth/token/refresh/", {"refresh": pair["access"]}, format="json")
    assert response.status_code == 401
    assert response.json()["detail"]


@pytest.mark.parametrize("refresh", ["garbage", "a.b.c", "x" * 4000])
def test_refresh_with_garbage_is_401(api, db, refresh):
    response = api.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert response.status_code == 401


def test_refresh_for_a_deactivated_user_is_401(api, tina):
    pair = api.post(
        "/api/auth/token/", {"username": tina.username, "password": PASSWORD}, format="json"
    ).json()
    tina.is_active = False
    tina.save()
    response = api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401


def test_refresh_missing_field_is_400(api, db):
    response = api.post("/api/auth/token/refresh/", {}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()
