"""The API's contract, whatever the client sends (issue 6, items 4, 6 and 11).

- No input gives a 500: JSON nested ~1,000 deep, a body over the upload limit, a POST to an
  unknown path, two creations of one CI name, a NUL in the CI picker, ``affected_ci: 1.5``.
- One rule for status codes: the input itself is wrong → 400 (an unknown field included, named);
  the current state of a row refuses the request → 409.
- Every list paginates, except the short lists the README names; the war room's timeline by cursor.
- The schema tells the truth: every error answer documented where it occurs, ``bridge_link``
  null when there is none.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from incidents import services
from incidents.errors import DomainError
from incidents.models import (
    AutoDeclarationRule,
    Change,
    ConfigurationItem,
    Incident,
    MajorIncident,
    MajorIncidentCandidate,
    Problem,
    SystemProperty,
)
from incidents.services import tokens
from tests.conftest import PASSWORD, bearer_client
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
_SCHEMA: dict[str, Any] = {}


def schema() -> dict[str, Any]:
    """The OpenAPI schema as /api/schema/ serves it, built once."""
    if not _SCHEMA:
        _SCHEMA.update(SchemaGenerator().get_schema(request=None, public=True))
    return _SCHEMA


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema()["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


BODY_OPERATIONS = [(m, p) for m, p, op in operations() if "requestBody" in op]


@pytest.fixture
def world(alice: Any, make_incident: Any, make_ci: Any) -> dict[str, Any]:
    """One open row of every kind, so that every path of the schema names something real."""
    ci = make_ci("Checkout", users=10)
    make_ci("Search", users=5)
    incident = make_incident(affected_ci=ci)
    parent = make_incident(short_description="Everything is slow")
    mi = declare(make_incident(impact=1, urgency=1), alice)
    declare(make_incident(), alice)
    candidates = [
        MajorIncidentCandidate.objects.create(incident=make_incident(), reason="many users")
        for _ in range(2)
    ]
    services.acknowledge_incident(incident=incident, actor=alice)  # a second timeline row
    problem = services.save_problem(
        problem=Problem(short_description="Pool exhaustion"), actor=alice
    )
    changes = [Change.objects.create(short_description=f"Raise pool size {i}") for i in range(2)]
    role = mi.role_assignments.first()
    assert role is not None
    from warroom import services as warroom_services

    warroom_services.open_checkpoints(mi.pk)  # its declaration's receiver runs after commit

    # The war room's lists (issue 7): two of each, so that they page.
    from warroom import services as warroom_services

    items = [
        warroom_services.add_action_item(mi=mi, actor=alice, title=f"Item {i}") for i in range(2)
    ]
    for version in range(2):
        warroom_services.save_scratchpad(mi=mi, actor=alice, text=f"v{version}", version=version)
    # Stakeholder updates (issue 8): two drafts, so that they page.
    from comms import services as comms_services

    updates = [
        comms_services.create_update(
            mi=mi, actor=alice, update_type="resolution", current_impact=f"Impact {i}",
            current_action="Acting", user_action="Wait", next_update_at=None,
        )
        for i in range(2)
    ]  # fmt: skip
    # The review (issue 9): made here for the open MI (resolution makes it in real life), with
    # two comments and two action items, so that its lists page.
    from pir import services as pir_services
    from pir.models import PostIncidentReview

    review = PostIncidentReview.objects.create(major_incident=mi, title="Review")
    for i in range(2):
        pir_services.add_comment(review=review, actor=alice, body=f"Comment {i}")
        pir_services.add_action_item(review=review, actor=alice, fields={"title": f"Fix {i}"})
    # Scheduled maintenance (issue 10): two windows on a business service, so that they page.
    from datetime import timedelta

    from django.utils import timezone

    from comms.services import maintenance as maintenance_services

    service = make_ci("Storefront", kind="business_service")
    windows = [
        maintenance_services.create_maintenance(
            actor=alice,
            name=f"Upgrade {i}",
            components=[service.pk],
            scheduled_for=timezone.now() + timedelta(days=i + 1),
            scheduled_until=timezone.now() + timedelta(days=i + 1, hours=2),
        )
        for i in range(2)
    ]
    return {
        "maintenance": windows[0],
        "number": incident.number,
        "incident": incident,
        "parent": parent,
        "ci": ci,
        "mi": mi,
        "candidate": candidates[0],
        "problem": problem,
        "change": changes[0],
        "role_id": role.pk,
        "item_id": items[0].pk,
        "update_id": updates[0].pk,
    }


def fill(path: str, world: dict[str, Any]) -> str:
    """A schema path with its parameters replaced by rows of ``world``."""
    if path.startswith("/api/incidents/"):
        number = world["incident"].number
    elif path.startswith("/api/major-incidents/"):
        number = world["mi"].number
    elif path.startswith("/api/problems/"):
        number = world["problem"].number
    else:
        number = world["change"].number
    ident = (
        (world["candidate"].pk if path.startswith("/api/major-incident-candidates/") else None)
        or (world["maintenance"].pk if path.startswith("/api/scheduled-maintenances/") else None)
        or world["ci"].pk
    )
    return (
        path.replace("{number}", number)
        .replace("{id}", str(ident))
        .replace("{key}", "pir_delay_hours")
        .replace("{role_id}", str(world["role_id"]))
        .replace("{item_id}", str(world["item_id"]))
        .replace("{update_id}", str(world["update_id"]))
        .replace("{version}", "1")
    )


def client_for(path: str, sam: Any) -> APIClient:
    return APIClient() if path.startswith("/api/auth/") else bearer_client(sam)


def _send(client: APIClient, method: str, url: str, body: str) -> Any:
    return getattr(client, method.lower())(url, body, content_type="application/json")


# --- Item 4: no 500 from any input ---------------------------------------------------------------


def test_every_body_operation_is_listed():
    assert ("POST", "/api/auth/token/") in BODY_OPERATIONS
    assert ("PATCH", "/api/major-incidents/{number}/milestones/") in BODY_OPERATIONS
    assert len(BODY_OPERATIONS) >= 20


@pytest.mark.parametrize(
    "body",
    [
        "[" * 1000 + "]" * 1000,
        '{"a": ' * 1000 + "1" + "}" * 1000,
        '{"short_description": ' + "[" * 5000 + "]" * 5000 + "}",
        "[" * 33 + "]" * 33,  # past the parser's limit, far below Python's
    ],
    ids=["list-1000", "object-1000", "field-5000", "list-33"],
)
@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_deeply_nested_json_is_a_400(sam, world, method, path, body):
    response = _send(client_for(path, sam), method, fill(path, world), body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert "nested deeper than 32 levels" in response.json()["detail"]


def test_json_nested_to_the_limit_is_parsed(tina_api):
    body = {"short_description": "x", "description": json.loads("[" * 31 + "]" * 31)}
    response = tina_api.post("/api/incidents/", body, format="json")
    assert response.status_code == 400  # parsed: the field refuses a list, the parser did not
    assert "description" in response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/incidents/"),
        ("patch", "/api/incidents/{number}/"),
        ("post", "/api/cis/"),
        ("post", "/api/auth/token/"),
        ("post", "/api/major-incidents/"),
    ],
)
def test_a_body_over_the_upload_limit_is_a_json_413(sam, world, settings, method, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"short_description": "x", "description": "y" * 2000})
    response = _send(client_for(path, sam), method, fill(path, world), body)
    assert response.status_code == 413, response.content
    assert response.json() == {"detail": "the request body is larger than the limit of 1000 bytes"}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "path", ["/api/nope/", "/api/incidents/INC0000001/nope/", "/api/cis/null,null/"]
)
def test_a_write_to_an_unknown_api_path_is_the_json_404(tina, method, path):
    # Django's CSRF check runs for real here, as it does for a browser or a plain HTTP client.
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(tina)}")
    response = getattr(client, method)(path, {"a": 1}, format="json")
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found."}
    # Signed in with a session, the same.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tina)
    response = getattr(browser, method)(path, "{}", content_type="application/json")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_csrf_still_guards_session_writes_to_real_endpoints(tina):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tina)
    body = json.dumps({"short_description": "VPN down"})
    refused = browser.post("/api/incidents/", body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert not Incident.objects.exists()
    browser.get("/incidents/new/")  # a page with a form sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/incidents/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201, accepted.content


def test_a_bearer_token_needs_no_csrf_token(tina):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(tina)}")
    response = client.post("/api/incidents/", {"short_description": "VPN down"}, format="json")
    assert response.status_code == 201


def test_a_ci_name_taken_when_saving_is_a_400_on_name(alice, make_ci):
    # Two requests with one new name both pass the serializer's check; the service meets the
    # unique index. (The two-process race itself: test_ci_race_pg.py.)
    make_ci("Search", users=1)
    with transaction.atomic():
        with pytest.raises(DomainError) as refused:
            services.save_configuration_item(actor=alice, name="Search", kind="application")
        # The transaction is still usable (on PostgreSQL, a failed INSERT outside a savepoint
        # would abort it).
        assert ConfigurationItem.objects.filter(name="Search").count() == 1
    assert refused.value.field == "name"
    assert refused.value.status_code == 400


@pytest.mark.parametrize("model", ["systemproperty", "autodeclarationrule"])
def test_deeply_nested_json_in_an_admin_form_is_a_form_error(root, model):
    # The admin's JSON fields parse what a manager types with json.loads too.
    row = (SystemProperty if model == "systemproperty" else AutoDeclarationRule).objects.first()
    assert row is not None
    browser = Client()
    browser.force_login(root)
    field = "value" if model == "systemproperty" else "states"
    url = f"/admin/incidents/{model}/{row.pk}/change/"
    before = getattr(row, field)
    response = browser.post(url, {field: "[" * 1000 + "]" * 1000, "name": "x", "order": 1})
    assert response.status_code == 200  # the form again, with its error
    # A rule's states are a JSON field; a property's value is typed by the registry (a number
    # box for this one), so it is refused as not a number rather than as bad JSON.
    page = response.content.decode()
    assert "Enter a valid JSON." in page or "Enter a whole number." in page
    row.refresh_from_db()
    assert getattr(row, field) == before


def test_ci_picker_with_a_nul_is_400(tina):
    browser = Client()
    browser.force_login(tina)
    response = browser.get("/incidents/cis/search/", {"ci_q": "pay\x00"})
    assert response.status_code == 400
    assert browser.get("/incidents/cis/search/", {"ci_q": "pay"}).status_code == 200


def _not_an_id(ci: ConfigurationItem) -> list[Any]:
    return [ci.pk + 0.5, float(ci.pk) + 0.25, f"{ci.pk}.5", f"{ci.pk}a", True, [ci.pk]]


@pytest.mark.parametrize("endpoint", ["incidents", "problems", "changes"])
def test_a_ci_id_that_is_not_an_integer_is_400(sam_api, make_ci, endpoint):
    ci = make_ci("Checkout", users=10)
    for value in _not_an_id(ci):
        body = {"short_description": "Down", "affected_ci": value}
        response = sam_api.post(f"/api/{endpoint}/", body, format="json")
        assert response.status_code == 400, (value, response.content)
        assert "affected_ci" in response.json()
    ok = sam_api.post(
        f"/api/{endpoint}/", {"short_description": "Down", "affected_ci": ci.pk}, format="json"
    )
    assert ok.status_code == 201, ok.content
    assert ok.json()["affected_ci"] == ci.pk


def test_depends_on_ids_that_are_not_integers_are_400(alice_api, make_ci):
    provider = make_ci("Payments DB", users=10)
    ci = make_ci("Checkout", users=10)
    for value in [provider.pk + 0.5, True, f"{provider.pk}.0"]:
        response = alice_api.patch(f"/api/cis/{ci.pk}/", {"depends_on": [value]}, format="json")
        assert response.status_code == 400, (value, response.content)
        assert "depends_on" in response.json()
    assert not ci.depends_on.exists()


# --- Item 11: one rule for status codes -----------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_an_unknown_field_is_a_400_naming_it(sam, world, method, path):
    body = json.dumps({"zz_not_a_field": 1})
    response = _send(client_for(path, sam), method, fill(path, world), body)
    assert response.status_code == 400, response.content
    assert "zz_not_a_field" in response.json(), response.json()


def test_a_typo_in_a_field_name_creates_nothing(tina_api):
    body = {"short_description": "VPN down", "impact": 1, "urgancy": 1}
    response = tina_api.post("/api/incidents/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"urgancy": ["unknown field"]}
    assert not Incident.objects.exists()


def test_declaring_with_an_undocumented_key_is_a_400(alice_api, alice, make_incident):
    incident = make_incident()
    body = {
        "incident_id": incident.number,
        "major_incident_manager": alice.username,
        "initial_impact_statement": "Checkout down",
        "priority": 1,
    }
    response = alice_api.post("/api/major-incidents/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"priority": ["unknown field"]}
    assert not MajorIncident.objects.exists()


def test_a_read_only_field_is_a_400_naming_it(tina_api, world):
    response = tina_api.patch(
        f"/api/incidents/{world['number']}/", {"affected_users": 5000}, format="json"
    )
    assert response.status_code == 400
    assert "read-only" in response.json()["affected_users"][0]


def _move(client: APIClient, mi: Any, to: str, **extra: Any) -> Any:
    url = f"/api/major-incidents/{mi.number}/transition/"
    return client.post(url, {"to": to, **extra}, format="json")


def test_a_conflicting_state_is_409_everywhere(alice_api, alice, make_incident):
    resolved = make_incident()
    services.resolve_incident(incident=resolved, actor=alice, resolution_notes="fixed")
    url = f"/api/incidents/{resolved.number}/"
    answers = {
        "declare a resolved incident": alice_api.post(
            "/api/major-incidents/",
            {
                "incident_id": resolved.number,
                "major_incident_manager": alice.username,
                "initial_impact_statement": "Down",
            },
            format="json",
        ),
        "resolve a resolved incident": alice_api.post(
            url + "resolve/", {"resolution_notes": "again"}, format="json"
        ),
        "acknowledge a resolved incident": alice_api.post(url + "acknowledge/"),
        "a state move the state refuses": alice_api.patch(url, {"state": "on_hold"}, format="json"),
    }
    mi = declare(make_incident(), alice)
    answers["a refused move"] = _move(alice_api, mi, "closed")
    assert _move(alice_api, mi, "monitoring").status_code == 200
    answers["resolve before the stability period"] = _move(alice_api, mi, "resolved")
    services.transition_major_incident(
        mi=mi, to="resolved", actor=alice, override_stability=True, reason="verified"
    )
    answers["close before the PIR"] = _move(alice_api, mi, "closed")
    for name, response in answers.items():
        assert response.status_code == 409, (name, response.content)
        body = response.json()
        assert body.get("detail") or any(isinstance(v, list) and v for v in body.values()), name


def test_the_web_pages_still_show_a_conflict_as_a_message(alice, make_incident):
    incident = make_incident()
    services.resolve_incident(incident=incident, actor=alice, resolution_notes="fixed")
    browser = Client()
    browser.force_login(alice)
    response = browser.post(
        f"/incidents/{incident.number}/resolve/", {"resolution_notes": "again"}, follow=True
    )
    assert response.status_code == 200
    assert f"{incident.number} is already resolved" in response.content.decode()


# --- Item 11: pagination --------------------------------------------------------------------------

# Short lists of a known, small size, returned whole (README, "The API in brief").
UNPAGINATED = {
    "/api/system-properties/",  # the fixed set of system properties
    "/api/major-incidents/{number}/roles/",  # the MI's active role holders
    "/api/major-incidents/{number}/checkpoints/",  # the MI's first-hour checkpoints (seven)
    "/api/major-incidents/{number}/threads/",  # the MI's threads: a handful per outage
    "/api/major-incidents/{number}/canned-responses/",  # one per MI, rendered on request
}
# Read by cursor, newest first, and polled with ?since= (the war room's timeline).
CURSOR_PAGINATED = {"/api/major-incidents/{number}/timeline/"}


def _list_operations() -> tuple[set[str], set[str]]:
    paginated, plain = set(), set()
    for method, path, operation in operations():
        if method != "GET":
            continue
        content = operation["responses"]["200"].get("content", {}).get("application/json", {})
        ref = content.get("schema", {}).get("$ref", "")
        if ref.rsplit("/", 1)[-1].startswith("Paginated"):
            paginated.add(path)
        elif content.get("schema", {}).get("type") == "array":
            plain.add(path)
    return paginated, plain


def test_only_the_documented_short_lists_are_unpaginated():
    paginated, plain = _list_operations()
    assert plain == UNPAGINATED
    assert {
        "/api/incidents/",
        "/api/incidents/{number}/timeline/",
        "/api/cis/",
        "/api/problems/",
        "/api/changes/",
        "/api/major-incidents/",
        "/api/major-incident-candidates/",
    } <= paginated
    assert not CURSOR_PAGINATED & (paginated | plain)


@pytest.mark.parametrize("path", sorted(_list_operations()[0]))
def test_every_list_paginates_as_the_readme_says(sam_api, world, path):
    url = fill(path, world)
    whole = sam_api.get(url).json()
    assert set(whole) == {"count", "next", "previous", "results"}
    assert whole["count"] >= 2, whole
    assert whole["previous"] is None
    first = sam_api.get(url, {"page_size": 1}).json()
    assert (first["count"], len(first["results"])) == (whole["count"], 1)
    assert first["next"] and "page=2" in first["next"]
    second = sam_api.get(first["next"]).json()
    assert second["previous"] and second["results"] != first["results"]
    assert sam_api.get(url, {"page": 10_000}).status_code == 404


@pytest.mark.parametrize("path", sorted(CURSOR_PAGINATED))
def test_the_cursor_lists_page_by_their_next_link(sam_api, world, path):
    url = fill(path, world)
    whole = sam_api.get(url).json()
    assert set(whole) == {"results", "next", "since", "more"}
    assert len(whole["results"]) >= 2, whole
    first = sam_api.get(url, {"page_size": 1}).json()
    assert len(first["results"]) == 1 and first["next"]
    second = sam_api.get(first["next"]).json()
    assert second["results"] and second["results"] != first["results"]
    assert sam_api.get(url, {"cursor": "not-a-cursor"}).status_code == 400


@pytest.mark.parametrize("path", sorted(UNPAGINATED))
def test_the_short_lists_are_plain_arrays(sam_api, world, path):
    body = sam_api.get(fill(path, world)).json()
    assert isinstance(body, list) and body


# --- Item 6: the schema tells the truth -----------------------------------------------------------


def test_an_mi_without_a_bridge_link_shows_null(tina_api, alice, make_incident):
    mi = declare(make_incident(), alice, bridge_link="")
    body = tina_api.get(f"/api/major-incidents/{mi.number}/").json()
    assert body["bridge_link"] is None
    field = schema()["components"]["schemas"]["MajorIncident"]["properties"]["bridge_link"]
    assert field["nullable"] is True
    with_link = declare(make_incident(), alice, bridge_link="https://meet.example/abc")
    body = tina_api.get(f"/api/major-incidents/{with_link.number}/").json()
    assert body["bridge_link"] == "https://meet.example/abc"


CONFLICTS = {
    ("PATCH", "/api/incidents/{number}/"),
    ("POST", "/api/incidents/{number}/acknowledge/"),
    ("POST", "/api/incidents/{number}/resolve/"),
    ("POST", "/api/incidents/{number}/link/"),
    ("POST", "/api/major-incidents/"),
    ("PATCH", "/api/major-incidents/{number}/"),
    ("POST", "/api/major-incidents/{number}/transition/"),
    ("PATCH", "/api/major-incidents/{number}/milestones/"),
    ("POST", "/api/major-incidents/{number}/roles/"),
    ("POST", "/api/major-incidents/{number}/timeline/"),
    ("POST", "/api/major-incidents/{number}/threads/"),
    ("POST", "/api/major-incident-candidates/{id}/accept/"),
    # Flagging (issue 10): an MI already, proposed before (pending or rejected), not open.
    ("POST", "/api/incidents/{number}/flag-major/"),
    ("POST", "/api/major-incident-candidates/{id}/reject/"),
    # The war room: a closed or cancelled MI's war room is read-only.
    ("PUT", "/api/major-incidents/{number}/assessment/"),
    ("PATCH", "/api/major-incidents/{number}/checkpoints/"),
    # The war room's writes (issue 7): a closed or cancelled MI is read-only.
    ("PUT", "/api/major-incidents/{number}/scratchpad/"),
    ("POST", "/api/major-incidents/{number}/action-items/"),
    ("PATCH", "/api/major-incidents/{number}/action-items/{item_id}/"),
    ("POST", "/api/major-incidents/{number}/bridge/attendees/"),
    # Stakeholder updates (issue 8): a sent or discarded update, a finished MI, a security MI's
    # update not approved by legal yet, an MI that is no security incident.
    ("POST", "/api/major-incidents/{number}/updates/"),
    ("PATCH", "/api/major-incidents/{number}/updates/{update_id}/"),
    ("POST", "/api/major-incidents/{number}/updates/{update_id}/submit/"),
    ("POST", "/api/major-incidents/{number}/updates/{update_id}/approve/"),
    ("POST", "/api/major-incidents/{number}/updates/{update_id}/send/"),
    ("POST", "/api/major-incidents/{number}/updates/{update_id}/discard/"),
    ("POST", "/api/major-incidents/{number}/drafts/"),
    ("POST", "/api/major-incidents/{number}/security-investigation/complete/"),
    # The review (issue 9): a stale version, a published review, a move its status refuses.
    ("PATCH", "/api/major-incidents/{number}/pir/"),
    ("POST", "/api/major-incidents/{number}/pir/submit/"),
    ("POST", "/api/major-incidents/{number}/pir/publish/"),
    ("POST", "/api/major-incidents/{number}/pir/action-items/"),
    ("PATCH", "/api/major-incidents/{number}/pir/action-items/{item_id}/"),
    # PIR action items into work (issue 9): converted already, cancelled, Jira not configured.
    ("POST", "/api/major-incidents/{number}/pir/action-items/{item_id}/convert/"),
    # The review meeting (issue 9): a published review, an MI not resolved.
    ("POST", "/api/major-incidents/{number}/pir/meeting/"),
    # Scheduled maintenance (issue 10): a move its status table refuses, a completed window.
    ("PATCH", "/api/scheduled-maintenances/{id}/"),
}


@pytest.mark.parametrize(
    ("method", "path", "operation"), operations(), ids=[f"{m} {p}" for m, p, _ in operations()]
)
def test_every_error_answer_is_documented_where_it_occurs(method, path, operation):
    responses = operation["responses"]
    codes = set(responses)
    if not path.startswith("/api/auth/"):
        assert {"401", "403"} <= codes
    if "{" in path:
        assert "404" in codes
    if "requestBody" in operation:
        assert {"400", "413", "415"} <= codes
    assert ("409" in codes) == ((method, path) in CONFLICTS)
    assert ("429" in codes) == ((method, path) == ("POST", "/api/auth/token/"))  # throttled
    # The server's own 414 (a request line over gunicorn's limit) is its HTML page, everywhere.
    assert responses["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}
    for code, response in responses.items():
        if code >= "400" and code != "414":
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (code, ref)


def test_request_bodies_refuse_unlisted_keys_in_the_schema():
    components = schema()["components"]["schemas"]
    for method, path, operation in operations():
        if "requestBody" not in operation:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        component = components[ref.rsplit("/", 1)[-1]]
        assert component["additionalProperties"] is False, (method, path)


def test_the_fuzz_run_checks_status_codes_and_response_schemas():
    script = (REPO / "scripts" / "fuzz_api.sh").read_text()
    checks = re.search(r"--checks (\S+)", script)
    assert checks is not None
    assert set(checks.group(1).split(",")) >= {
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
    }


# --- Item 11: legal's access is README's table ---------------------------------------------------


def test_legal_reads_cis_mis_and_timelines_but_not_incidents(lee, world):
    api = bearer_client(lee)
    mi, ci, number = world["mi"].number, world["ci"].pk, world["number"]
    readable = [
        "/api/cis/",
        f"/api/cis/{ci}/",
        f"/api/cis/{ci}/impact/",
        "/api/major-incidents/",
        f"/api/major-incidents/{mi}/",
        f"/api/major-incidents/{mi}/roles/",
        f"/api/major-incidents/{mi}/timeline/",
        f"/api/major-incidents/{mi}/raci/?activity=declare",
        f"/api/incidents/{number}/timeline/",
    ]
    refused = [
        "/api/incidents/",
        f"/api/incidents/{number}/",
        "/api/problems/",
        "/api/changes/",
        "/api/system-properties/",
        "/api/major-incident-candidates/",
    ]
    assert {url: api.get(url).status_code for url in readable} == dict.fromkeys(readable, 200)
    assert {url: api.get(url).status_code for url in refused} == dict.fromkeys(refused, 403)
    writes = [
        api.post("/api/incidents/", {"short_description": "x"}, format="json"),
        api.post("/api/cis/", {"name": "x", "kind": "server"}, format="json"),
        api.post(f"/api/major-incidents/{mi}/roles/", {"role": "scribe", "user": lee.username}),
    ]
    assert [response.status_code for response in writes] == [403, 403, 403]


def test_legal_signs_in_to_the_major_incidents_not_to_a_403(lee, tina, world):
    browser = Client()
    page = browser.post(
        "/accounts/login/", {"username": lee.username, "password": PASSWORD}, follow=True
    )
    assert page.redirect_chain[-1][0] == "/major-incidents/"
    assert page.status_code == 200
    assert 'href="/incidents/"' not in page.content.decode()  # no link to a page it may not see
    assert browser.get(f"/major-incidents/{world['mi'].number}/", follow=True).status_code == 200
    assert browser.get("/incidents/cis/search/", {"ci_q": "check"}).status_code == 200
    assert browser.get("/incidents/").status_code == 403
    assert browser.get(f"/incidents/{world['number']}/").status_code == 403

    technician = Client()
    page = technician.post(
        "/accounts/login/", {"username": tina.username, "password": PASSWORD}, follow=True
    )
    assert page.redirect_chain[-1][0] == "/incidents/"
    assert 'href="/incidents/"' in page.content.decode()
