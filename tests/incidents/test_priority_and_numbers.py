"""The ITIL priority matrix and the public numbers of tickets (DESIGN, "Numbers…")."""

from __future__ import annotations

import pytest

from incidents import services
from incidents.errors import DomainError
from incidents.models import Change, Incident, Problem

# DESIGN, "Priority matrix": (impact, urgency) -> priority, all nine cells.
MATRIX = [
    (1, 1, 1),
    (1, 2, 2),
    (2, 1, 2),
    (1, 3, 3),
    (2, 2, 3),
    (3, 1, 3),
    (2, 3, 4),
    (3, 2, 4),
    (3, 3, 5),
]


@pytest.mark.parametrize(("impact", "urgency", "priority"), MATRIX)
def test_compute_priority_matrix(impact, urgency, priority):
    assert services.compute_priority(impact, urgency) == priority


@pytest.mark.parametrize(("impact", "urgency"), [(0, 1), (1, 4), (4, 4), (None, 1), ("x", 2)])
def test_compute_priority_refuses_values_off_the_matrix(impact, urgency):
    with pytest.raises(DomainError):
        services.compute_priority(impact, urgency)


@pytest.mark.parametrize(("impact", "urgency", "priority"), MATRIX)
def test_api_create_computes_priority_from_matrix(tina_api, impact, urgency, priority):
    response = tina_api.post(
        "/api/incidents/",
        {"short_description": "Login page slow", "impact": impact, "urgency": urgency},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["priority"] == priority
    assert body["priority_is_manual"] is False
    assert Incident.objects.get().priority == priority


@pytest.mark.parametrize(("impact", "urgency", "priority"), MATRIX)
def test_api_patch_recomputes_priority_from_matrix(
    tina_api, make_incident, impact, urgency, priority
):
    incident = make_incident(impact=3, urgency=3)
    assert incident.priority == 5
    response = tina_api.patch(
        f"/api/incidents/{incident.number}/",
        {"impact": impact, "urgency": urgency},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["priority"] == priority
    incident.refresh_from_db()
    assert incident.priority == priority


def test_default_impact_and_urgency_give_p5(tina_api):
    response = tina_api.post("/api/incidents/", {"short_description": "Typo"}, format="json")
    assert response.status_code == 201
    assert response.json()["priority"] == 5


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "pk", "number"),
    [
        (Incident, 1, "INC0000001"),
        (Incident, 1234, "INC0001234"),
        (Incident, 9_999_999, "INC9999999"),
        (Incident, 12_345_678, "INC12345678"),
        (Problem, 7, "PRB0000007"),
        (Change, 11, "CHG0000011"),
    ],
)
def test_number_is_prefix_and_seven_digit_pk(model, pk, number):
    assert model(pk=pk).number == number
    assert model.pk_from_number(number) == pk


def test_unsaved_ticket_has_no_number():
    assert Incident().number == ""


@pytest.mark.parametrize(
    ("model", "number", "pk"),
    [
        (Incident, "inc0000042", 42),
        (Incident, " INC0000042 ", 42),
        (Incident, "INC00000042", 42),
        (Incident, "INC", None),
        (Incident, "INC42", None),
        (Incident, "INC000004", None),
        (Incident, "PRB0000042", None),
        (Incident, "INC0000042x", None),
        (Incident, "INC-000042", None),
        (Incident, "INC" + "9" * 19, None),
        (Incident, "", None),
        (Problem, "PRB0000007", 7),
        (Problem, "INC0000007", None),
        (Change, "CHG0000011", 11),
        (Change, "PRB0000011", None),
    ],
)
def test_pk_from_number(model, number, pk):
    assert model.pk_from_number(number) == pk


def test_numbers_follow_primary_keys(make_incident):
    first, second = make_incident(), make_incident()
    assert first.number == f"INC{first.pk:07d}"
    assert second.number == f"INC{second.pk:07d}"
    assert second.pk > first.pk


def test_by_number_finds_the_row_and_nothing_for_malformed(make_incident):
    incident = make_incident()
    assert list(Incident.objects.by_number(incident.number)) == [incident]
    assert list(Incident.objects.by_number(incident.number.lower())) == [incident]
    assert not Incident.objects.by_number("INC12").exists()
    assert not Incident.objects.by_number(f"PRB{incident.pk:07d}").exists()


def test_number_never_reused_after_delete(db):
    problem = Problem.objects.create(short_description="Leaky pool")
    number = problem.number
    problem.delete()
    again = Problem.objects.create(short_description="Another")
    assert again.number != number


@pytest.mark.parametrize(
    ("endpoint", "make"),
    [
        ("incidents", lambda: services.create_incident(actor=None, short_description="Down")),
        ("problems", lambda: Problem.objects.create(short_description="Pool")),
        ("changes", lambda: Change.objects.create(short_description="Patch")),
    ],
)
def test_api_looks_tickets_up_by_number(alice_api, endpoint, make):
    ticket = make()
    response = alice_api.get(f"/api/{endpoint}/{ticket.number}/")
    assert response.status_code == 200
    assert response.json()["number"] == ticket.number
    # Lower case is the same number.
    assert alice_api.get(f"/api/{endpoint}/{ticket.number.lower()}/").status_code == 200


@pytest.mark.parametrize(
    "number",
    [
        "INC9999999",  # well formed, no such row
        "INC0000000",
        "INC12",  # too few digits
        "PRB0000001",  # another ticket's prefix
        "INC" + "9" * 25,  # more digits than any key
        "INC",
        "INC-1",
        "42",
        "hello",
        "INC 0000001",
    ],
)
def test_api_malformed_or_unknown_number_is_404(alice_api, make_incident, number):
    make_incident()
    response = alice_api.get(f"/api/incidents/{number}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


@pytest.mark.parametrize("endpoint", ["problems", "changes"])
@pytest.mark.parametrize("number", ["PRB9999999", "CHG9999999", "XYZ0000001", "CHG1", "nope"])
def test_api_problem_and_change_unknown_numbers_are_404(alice_api, endpoint, number):
    response = alice_api.get(f"/api/{endpoint}/{number}/")
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "link"])
def test_api_actions_on_unknown_number_are_404(alice_api, action):
    response = alice_api.post(
        f"/api/incidents/INC9999999/{action}/",
        {"resolution_notes": "x", "parent": "INC0000001"},
        format="json",
    )
    assert response.status_code == 404
