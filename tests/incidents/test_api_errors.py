"""Whatever a client sends, the answer is a 4xx in the API's error shape, never a 500."""

from __future__ import annotations

import pytest

from incidents.models import Change, Incident, Problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(make_incident, make_ci):
    return make_incident(affected_ci=make_ci("Checkout", users=10))


@pytest.fixture
def problem(db):
    return Problem.objects.create(short_description="Pool exhaustion")


@pytest.fixture
def change(db):
    return Change.objects.create(short_description="Raise pool size")


def _detail(response) -> str:
    assert response["Content-Type"].startswith("application/json")
    return response.json()["detail"]


# --- malformed JSON ----------------------------------------------------------------------------

MALFORMED = [
    '{"short_description": ',
    "{'single': 'quotes'}",
    "not json",
    "[1, 2",
    '{"a": NaN}',
    "\x00",
]


@pytest.mark.parametrize("body", MALFORMED)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/incidents/"),
        ("patch", "/api/incidents/{inc}/"),
        ("post", "/api/incidents/{inc}/resolve/"),
        ("post", "/api/incidents/{inc}/link/"),
        ("post", "/api/cis/"),
        ("post", "/api/problems/"),
        ("post", "/api/changes/"),
        ("patch", "/api/system-properties/major_incident_auto_declare_threshold/"),
        ("post", "/api/auth/token/"),
        ("post", "/api/auth/token/refresh/"),
    ],
)
def test_malformed_json_is_400_with_detail(sam_api, incident, method, path, body):
    response = getattr(sam_api, method)(
        path.format(inc=incident.number), body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "JSON" in _detail(response)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_unsupported_media_type_is_415(tina_api, db, content_type):
    response = tina_api.post("/api/incidents/", "short_description=x", content_type=content_type)
    assert response.status_code == 415
    assert _detail(response)


@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null"])
def test_json_that_is_not_an_object_is_400(tina_api, db, body):
    response = tina_api.post("/api/incidents/", body, content_type="application/json")
    assert response.status_code == 400


# --- wrong types -------------------------------------------------------------------------------

INCIDENT_CREATE = [
    ({"impact": "high"}, "impact"),
    ({"impact": 7}, "impact"),
    ({"impact": 0}, "impact"),
    ({"impact": None}, "impact"),
    ({"impact": [1]}, "impact"),
    ({"urgency": "1.5"}, "urgency"),
    ({"urgency": 4}, "urgency"),
    ({"affected_ci": "x"}, "affected_ci"),
    ({"affected_ci": 999999}, "affected_ci"),
    ({"affected_ci": 10**30}, "affected_ci"),
    ({"affected_ci": {"id": 1}}, "affected_ci"),
    ({"caller": "nobody"}, "caller"),
    ({"caller": 1}, "caller"),
    ({"assigned_to": "nobody"}, "assigned_to"),
    ({"channel": "pigeon"}, "channel"),
    ({"state": "resolved"}, "state"),
    ({"state": "bogus"}, "state"),
    ({"priority": 0}, "priority"),
    ({"priority": 6}, "priority"),
    ({"problem": "PRB9999999"}, "problem"),
    ({"problem": "INC0000001"}, "problem"),
    ({"problem": 1}, "problem"),
    ({"is_security": "perhaps"}, "is_security"),
    ({"detected_at": "yesterday"}, "detected_at"),
    ({"detected_at": "2999-01-01T00:00:00Z"}, "detected_at"),
    ({"impact_started_at": "2999-01-01T00:00:00Z"}, "impact_started_at"),
    (
        {"impact_started_at": "2024-01-02T00:00:00Z", "detected_at": "2024-01-01T00:00:00Z"},
        "detected_at",
    ),
    ({"short_description": ""}, "short_description"),
    ({"short_description": "   "}, "short_description"),
    ({"short_description": "x" * 201}, "short_description"),
    ({"short_description": None}, "short_description"),
    ({"short_description": "a\x00b"}, "short_description"),
]


@pytest.mark.parametrize(("patch", "field"), INCIDENT_CREATE)
def test_incident_create_wrong_types_are_400_naming_the_field(sam_api, patch, field):
    body = {"short_description": "Checkout down", **patch}
    response = sam_api.post("/api/incidents/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Incident.objects.exists()


def test_incident_create_without_short_description_is_400(tina_api):
    response = tina_api.post("/api/incidents/", {"impact": 1}, format="json")
    assert response.status_code == 400
    assert "short_description" in response.json()


INCIDENT_PATCH = [
    ({"impact": "high"}, "impact"),
    ({"urgency": 7}, "urgency"),
    ({"affected_ci": "x"}, "affected_ci"),
    ({"caller": "nobody"}, "caller"),
    ({"state": "resolved"}, "state"),
    ({"state": "nonsense"}, "state"),
    ({"short_description": " "}, "short_description"),
    ({"detected_at": "2999-01-01T00:00:00Z"}, "detected_at"),
]


@pytest.mark.parametrize(("patch", "field"), INCIDENT_PATCH)
def test_incident_patch_wrong_values_are_400_naming_the_field(alice_api, incident, patch, field):
    response = alice_api.patch(f"/api/incidents/{incident.number}/", patch, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    incident.refresh_from_db()
    assert (incident.state, incident.impact, incident.short_description) == (
        "new",
        3,
        "Checkout returns 503",
    )


def test_patch_a_state_move_the_state_refuses_is_409(alice_api, incident):
    response = alice_api.patch(
        f"/api/incidents/{incident.number}/", {"state": "closed"}, format="json"
    )  # new -> closed is not a move
    assert response.status_code == 409, response.content
    assert "new" in response.json()["state"][0]
    incident.refresh_from_db()
    assert incident.state == "new"


def test_patch_state_resolved_says_to_use_resolve(tina_api, incident):
    response = tina_api.patch(
        f"/api/incidents/{incident.number}/", {"state": "resolved"}, format="json"
    )
    assert response.status_code == 400
    assert "resolve" in response.json()["state"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "DB", "kind": "mainframe"}, "kind"),
        ({"name": "DB", "kind": "database", "user_count": -1}, "user_count"),
        ({"name": "DB", "kind": "database", "user_count": "many"}, "user_count"),
        ({"name": "DB", "kind": "database", "user_count": 10**20}, "user_count"),
        ({"name": "DB", "kind": "database", "criticality": 9}, "criticality"),
        ({"name": "DB", "kind": "database", "depends_on": [999999]}, "depends_on"),
        ({"name": "DB", "kind": "database", "depends_on": [10**30]}, "depends_on"),
        ({"name": "DB", "kind": "database", "depends_on": ["x"]}, "depends_on"),
        ({"name": "DB", "kind": "database", "depends_on": 1}, "depends_on"),
        ({"name": "DB", "kind": "database", "depends_on": None}, "depends_on"),
        ({"name": "", "kind": "database"}, "name"),
        ({"kind": "database"}, "name"),
        ({"name": "Checkout", "kind": "database"}, "name"),  # names are unique
    ],
)
def test_ci_wrong_types_are_400_naming_the_field(alice_api, incident, body, field):
    response = alice_api.post("/api/cis/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_ci_cannot_depend_on_itself(alice_api, incident):
    ci = incident.affected_ci
    response = alice_api.patch(f"/api/cis/{ci.pk}/", {"depends_on": [ci.pk]}, format="json")
    assert response.status_code == 400
    assert "depends_on" in response.json()
    assert not ci.depends_on.exists()


@pytest.mark.parametrize("ci_id", ["abc", "999999", "1.5", str(10**30)])
def test_unknown_ci_is_404(alice_api, db, ci_id):
    assert alice_api.get(f"/api/cis/{ci_id}/").status_code == 404
    assert alice_api.get(f"/api/cis/{ci_id}/impact/").status_code == 404


# --- actions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{}, {"resolution_notes": ""}, {"resolution_notes": "   "}, {"resolution_notes": None}]
)
def test_resolve_without_notes_is_400_naming_resolution_notes(tina_api, incident, body):
    response = tina_api.post(f"/api/incidents/{incident.number}/resolve/", body, format="json")
    assert response.status_code == 400
    assert "resolution_notes" in response.json()
    incident.refresh_from_db()
    assert incident.state == "new"


def test_resolve_twice_is_409(tina_api, incident):
    url = f"/api/incidents/{incident.number}/resolve/"
    assert tina_api.post(url, {"resolution_notes": "Fixed"}, format="json").status_code == 200
    response = tina_api.post(url, {"resolution_notes": "Again"}, format="json")
    assert response.status_code == 409
    assert "resolved" in _detail(response)


def test_acknowledge_resolved_is_409(tina_api, incident):
    tina_api.post(
        f"/api/incidents/{incident.number}/resolve/", {"resolution_notes": "x"}, format="json"
    )
    response = tina_api.post(f"/api/incidents/{incident.number}/acknowledge/")
    assert response.status_code == 409
    assert _detail(response)


def test_link_to_itself_is_400(tina_api, incident):
    response = tina_api.post(
        f"/api/incidents/{incident.number}/link/", {"parent": incident.number}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()
    incident.refresh_from_db()
    assert incident.parent_id is None


def test_link_to_a_child_is_409(tina_api, make_incident):
    grandparent, parent, orphan = make_incident(), make_incident(), make_incident()
    url = f"/api/incidents/{parent.number}/link/"
    assert tina_api.post(url, {"parent": grandparent.number}, format="json").status_code == 200
    response = tina_api.post(
        f"/api/incidents/{orphan.number}/link/", {"parent": parent.number}, format="json"
    )
    assert response.status_code == 409
    assert grandparent.number in response.json()["parent"][0]
    orphan.refresh_from_db()
    assert orphan.parent_id is None


def test_link_a_parent_under_another_is_409(tina_api, make_incident):
    parent, child, other = make_incident(), make_incident(), make_incident()
    tina_api.post(f"/api/incidents/{child.number}/link/", {"parent": parent.number}, format="json")
    response = tina_api.post(
        f"/api/incidents/{parent.number}/link/", {"parent": other.number}, format="json"
    )
    assert response.status_code == 409
    assert "parent" in response.json()


@pytest.mark.parametrize(
    "parent", ["INC9999999", "INC12", "PRB0000001", "", None, 1, ["INC0000001"], "x" * 500]
)
def test_link_to_unknown_or_malformed_is_400(tina_api, incident, parent):
    response = tina_api.post(
        f"/api/incidents/{incident.number}/link/", {"parent": parent}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()


def test_link_without_parent_is_400(tina_api, incident):
    response = tina_api.post(f"/api/incidents/{incident.number}/link/", {}, format="json")
    assert response.status_code == 400
    assert "parent" in response.json()


# --- changes and problems ----------------------------------------------------------------------


def test_change_with_end_before_start_is_400(tina_api):
    response = tina_api.post(
        "/api/changes/",
        {
            "short_description": "Patch",
            "planned_start": "2030-01-02T10:00:00Z",
            "planned_end": "2030-01-02T09:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "planned_end" in response.json()
    assert not Change.objects.exists()


def test_change_actual_end_before_start_is_400(tina_api):
    response = tina_api.post(
        "/api/changes/",
        {
            "short_description": "Patch",
            "actual_start": "2030-01-02T10:00:00Z",
            "actual_end": "2030-01-01T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "actual_end" in response.json()


def test_change_patch_end_before_existing_start_is_400(tina_api, change):
    url = f"/api/changes/{change.number}/"
    ok = tina_api.patch(url, {"planned_start": "2030-01-02T10:00:00Z"}, format="json")
    assert ok.status_code == 200
    response = tina_api.patch(url, {"planned_end": "2030-01-01T10:00:00Z"}, format="json")
    assert response.status_code == 400
    assert "planned_end" in response.json()
    change.refresh_from_db()
    assert change.planned_end is None


def test_change_equal_start_and_end_is_fine(tina_api):
    response = tina_api.post(
        "/api/changes/",
        {
            "short_description": "Flip a flag",
            "planned_start": "2030-01-02T10:00:00Z",
            "planned_end": "2030-01-02T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"change_type": "urgent"}, "change_type"),
        ({"state": "done"}, "state"),
        ({"risk": "extreme"}, "risk"),
        ({"implementer": "nobody"}, "implementer"),
        ({"problem": "PRB9999999"}, "problem"),
        ({"problem": "CHG0000001"}, "problem"),
        ({"affected_ci": 999999}, "affected_ci"),
        ({"planned_start": "soon"}, "planned_start"),
    ],
)
def test_change_wrong_types_are_400(tina_api, body, field):
    response = tina_api.post("/api/changes/", {"short_description": "Patch", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "done"}, "state"),
        ({"assigned_to": "nobody"}, "assigned_to"),
        ({"known_error": "maybe"}, "known_error"),
        ({"affected_ci": "x"}, "affected_ci"),
        ({"short_description": ""}, "short_description"),
    ],
)
def test_problem_wrong_types_are_400(tina_api, body, field):
    response = tina_api.post("/api/problems/", {"short_description": "Leak", **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("number", ["PRB9999999", "PRB1", "garbage"])
def test_unknown_problem_update_is_404(tina_api, db, number):
    response = tina_api.patch(f"/api/problems/{number}/", {"known_error": True}, format="json")
    assert response.status_code == 404


# --- list parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "priority=9",
        "priority=abc",
        "impact=high",
        "affected_ci=abc",
        "created_after=yesterday",
        "created_before=2024-13-45",
    ],
)
def test_bad_filters_are_400(tina_api, incident, query):
    response = tina_api.get(f"/api/incidents/?{query}")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=999", 404),
        ("page=abc", 404),
        ("page=0", 404),
        ("page_size=0", 200),
        ("page_size=100000", 200),
        ("page_size=-5", 200),
        ("ordering=nonexistent", 200),
        ("ordering=-priority", 200),
        ("is_security=perhaps", 200),  # django-filter ignores a boolean it cannot read
        ("open=maybe", 200),
        ("parent=garbage", 200),
        ("affected_ci=99999999999999999999999", 400),
    ],
)
def test_odd_list_parameters_are_handled(tina_api, incident, query, status):
    response = tina_api.get(f"/api/incidents/?{query}")
    assert response.status_code == status, response.content


def test_search_with_a_nul_is_400_in_the_error_shape(tina_api, incident):
    response = tina_api.get("/api/incidents/?search=a%00b")
    assert response.status_code == 400
    assert "Null" in _detail(response)


def test_page_size_is_honoured_and_capped_at_500(tina_api, db):
    Incident.objects.bulk_create(Incident(short_description=f"n{i}") for i in range(505))
    body = tina_api.get("/api/incidents/?page_size=2").json()
    assert (body["count"], len(body["results"])) == (505, 2)
    assert body["next"] and body["previous"] is None
    body = tina_api.get("/api/incidents/?page_size=100000").json()
    assert len(body["results"]) == 500
    assert len(tina_api.get("/api/incidents/").json()["results"]) == 50


# --- never a 500 -----------------------------------------------------------------------------

ODD_VALUES = [
    "",
    "a\x00b",  # PostgreSQL refuses NUL bytes with an error, not a miss
    "x" * 5000,
    -1,
    2**31,
    2**63,
    -(10**30),
    1.5,
    True,
    None,
    [],
    ["x"],
    {"a": 1},
    "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
    "PRB99999999999999999",
]
WRITABLE = {
    "incidents": [
        "short_description", "description", "caller", "channel", "affected_ci", "impact",
        "urgency", "priority", "state", "assignment_group", "assigned_to", "problem",
        "is_security", "impact_started_at", "detected_at",
    ],
    "cis": ["name", "kind", "user_count", "owner_group", "criticality", "depends_on"],
    "problems": ["short_description", "state", "affected_ci", "assigned_to", "known_error"],
    "changes": [
        "short_description", "change_type", "risk", "affected_ci", "problem", "implementer",
        "planned_start", "planned_end", "actual_start",
    ],
}  # fmt: skip


@pytest.mark.parametrize("endpoint", WRITABLE)
def test_odd_values_in_every_field_never_give_a_500(sam_api, incident, problem, change, endpoint):
    detail = {
        "incidents": incident.number,
        "cis": incident.affected_ci_id,
        "problems": problem.number,
        "changes": change.number,
    }[endpoint]
    failures = []
    for n, (field, value) in enumerate((f, v) for f in WRITABLE[endpoint] for v in ODD_VALUES):
        base = {"short_description": "ok", "name": f"ci-{n}", "kind": "server"}
        for method, url, body in (
            ("post", f"/api/{endpoint}/", {**base, field: value}),
            ("patch", f"/api/{endpoint}/{detail}/", {field: value}),
        ):
            status = getattr(sam_api, method)(url, body, format="json").status_code
            if status >= 500:
                failures.append((method, field, value, status))
    assert not failures


@pytest.mark.parametrize("field", ["caller", "assigned_to"])
def test_username_with_a_nul_is_400(tina_api, tina, field):
    response = tina_api.post(
        "/api/incidents/",
        {"short_description": "x", field: f"{tina.username}\x00"},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/api/system-properties/a%00b/",
        "/api/system-properties/NOT_A_KEY/",
        "/api/incidents/INC0000001%00/",
        "/api/cis/1%00/",
        "/api/problems/%00/",
    ],
)
def test_nul_or_unknown_in_the_path_is_404(sam_api, incident, path):
    assert sam_api.get(path).status_code == 404
    assert sam_api.patch(path, {"value": 1}, format="json").status_code == 404


@pytest.mark.parametrize("value", ["1e400", "-1e400", "NaN", "Infinity"])
def test_non_finite_json_numbers_are_400(sam_api, db, value):
    response = sam_api.patch(
        "/api/system-properties/pir_delay_hours/",
        f'{{"value": {value}}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    response = sam_api.post(
        "/api/incidents/",
        f'{{"short_description": "x", "impact": {value}}}',
        content_type="application/json",
    )
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/api/nope/", "/api/incidents/INC0000001/nope/"])
def test_unknown_api_url_is_json_404(tina_api, path):
    response = tina_api.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
