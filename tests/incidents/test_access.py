"""``selectors.access``: one answer to "may they", used by the API, the web and the admin alike."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.test import Client

from incidents import selectors, services
from incidents.errors import NotAllowed
from incidents.models import (
    ConfigurationItem,
    Incident,
    MajorIncident,
    Problem,
    RaciRole,
)
from tests.conftest import bearer_client
from tests.incidents.mi_fixtures import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice: Any, person: Any, make_incident: Any) -> dict[str, Any]:
    """One MI run by alice, with gus (no role) as its scribe and cora (no role) its comms lead."""
    mi = declare(make_incident(impact=2, urgency=2), alice)
    gus, cora = person("usr_gus_guest"), person("usr_cora_comms")
    services.assign_role(mi=mi, role=RaciRole.SCRIBE, user=gus, actor=alice)
    services.assign_role(mi=mi, role=RaciRole.COMMUNICATIONS_LEAD, user=cora, actor=alice)
    other = declare(make_incident(short_description="another", impact=2, urgency=2), alice)
    return {"mi": mi, "other": other, "gus": gus, "cora": cora}


@pytest.mark.parametrize(
    ("persona", "action", "expected"),
    [
        ("tina", "view", True),
        ("tina", "add", True),
        ("tina", "change", True),
        ("tina", "delete", False),
        ("oscar", "view", False),
        ("alice", "change", True),
        ("sam", "delete", False),  # incidents are records: no role deletes them
    ],
)
def test_model_actions_follow_the_role_groups(request, persona, action, expected):
    user = request.getfixturevalue(persona)
    assert selectors.can(user, action, Incident) is expected


def test_change_lets_one_view_as_in_the_admin(person):
    from django.contrib.auth.models import Permission

    clerk = person("usr_clerk")
    clerk.user_permissions.add(Permission.objects.get(codename="change_configurationitem"))
    assert selectors.can(clerk, "view", ConfigurationItem)
    assert not selectors.can(clerk, "add", ConfigurationItem)


def test_anonymous_and_inactive_may_nothing(tina, alice, team):
    from django.contrib.auth.models import AnonymousUser

    for nobody in (None, AnonymousUser()):
        assert not selectors.can(nobody, "view", Incident)
        assert not selectors.can(nobody, "declare")
        assert not selectors.restrict(MajorIncident.objects.all(), nobody, "view").exists()
    alice.is_active = False
    assert not selectors.can(alice, "declare")
    assert not selectors.can(alice, "manage", team["mi"])


def test_per_mi_actions_come_from_the_role_on_that_mi(team, tina, alice):
    mi, other, gus, cora = team["mi"], team["other"], team["gus"], team["cora"]
    # The scribe without a role: reads and writes the war room of their MI, nothing else.
    assert selectors.can(gus, "view", mi)
    assert selectors.can(gus, "post_timeline", mi)
    assert selectors.can(gus, "edit_scratchpad", mi)
    assert not selectors.can(gus, "send_updates", mi)
    assert not selectors.can(gus, "manage", mi)
    assert not selectors.can(gus, "view", other)
    assert selectors.can(cora, "send_updates", mi)
    # A technician outside the team reads every MI but writes to none (DESIGN).
    assert selectors.can(tina, "view", mi)
    assert not selectors.can(tina, "post_timeline", mi)
    assert not selectors.can(tina, "manage", mi)
    # ITSM managers run every MI, on its team or not.
    for action in ("view", "manage", "post_timeline", "edit_scratchpad", "send_updates"):
        assert selectors.can(alice, action, other)


def test_restrict_keeps_the_rows_one_may(team, tina, oscar, django_assert_num_queries):
    everything = MajorIncident.objects.all()
    assert set(selectors.restrict(everything, tina, "view")) == {team["mi"], team["other"]}
    assert list(selectors.restrict(everything, team["gus"], "view")) == [team["mi"]]
    assert list(selectors.restrict(everything, oscar, "view")) == []
    assert list(selectors.restrict(everything, team["gus"], "manage")) == []
    assert list(selectors.restrict(Incident.objects.all(), oscar, "view")) == []
    gus = team["gus"]
    selectors.can(gus, "view", Incident)  # fills the user's permission caches
    with django_assert_num_queries(1):  # one query however many MIs the team member is on
        list(selectors.restrict(everything, gus, "view"))


def test_a_group_object_permission_counts_too(team, person):
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    vendors = Group.objects.create(name="vendor_x")
    assign_perm("incidents.view_majorincident", vendors, team["other"])
    vera = person("usr_vera_vendor", "vendor_x")
    assert selectors.can(vera, "view", team["other"])
    assert list(selectors.restrict(MajorIncident.objects.all(), vera, "view")) == [team["other"]]


def test_unknown_actions_are_refused_loudly(tina):
    with pytest.raises(ValueError, match="unknown action"):
        selectors.can(tina, "destroy", Incident)
    with pytest.raises(ValueError, match="needs the object or the model"):
        selectors.can(tina, "view")
    with pytest.raises(ValueError, match="major incidents only"):
        selectors.can(tina, "manage", Incident)


def test_a_permission_name_maps_onto_the_vocabulary():
    assert selectors.action_of("incidents.change_incident") == ("change", Incident)
    assert selectors.action_of("incidents.declare_majorincident") == ("declare", None)
    assert selectors.action_of("incidents.post_timeline_majorincident") == (
        "post_timeline",
        MajorIncident,
    )
    with pytest.raises(ValueError):
        selectors.action_of("incidents.frobnicate_incident")


CODENAME = re.compile(r"[a-z_]+\.[a-z]+_[a-z]+")


MANAGERS = "Only ITSM managers and super admins may"


@pytest.mark.parametrize(
    ("action", "target", "sentence"),
    [
        ("view", Problem, "Only technicians, ITSM managers and super admins may see problems."),
        ("add", ConfigurationItem, f"{MANAGERS} add configuration items."),
        ("declare", None, f"{MANAGERS} declare, cancel or downgrade a major incident."),
        ("delete", Incident, "No role may delete incidents; only a superuser may."),
        ("override_priority", None, f"{MANAGERS} set an incident's priority by hand."),
    ],
)  # fmt: skip
def test_refusal_says_who_may_in_words(db, action, target, sentence):
    assert selectors.refusal(action, target) == sentence


def test_refusal_on_one_mi_names_its_team_roles(team):
    mi = team["mi"]
    number = mi.number
    assert selectors.refusal("manage", mi) == (
        f"Only {number}'s incident commander, ITSM managers and super admins may run {number} "
        "(its lifecycle, roles and milestones)."
    )
    assert selectors.refusal("send_updates", mi).startswith(
        f"Only {number}'s incident commander and communications lead, ITSM managers and super"
    )
    assert selectors.refusal("post_timeline", mi).startswith(f"Only {number}'s team, ")
    assert "except the executive sponsor and external consultant" in selectors.refusal(
        "edit_scratchpad", mi
    )
    assert selectors.refusal("view", mi).startswith(f"Only {number}'s team, technicians, legal")


def test_ensure_raises_not_allowed_with_the_refusal(tina, team):
    with pytest.raises(NotAllowed) as refused:
        selectors.ensure(tina, "manage", team["mi"])
    assert refused.value.message == selectors.refusal("manage", team["mi"])
    selectors.ensure(tina, "view", team["mi"])  # no error


def test_the_old_names_are_thin_wrappers(alice, tina, team):
    assert selectors.can_declare(alice) and not selectors.can_declare(tina)
    assert selectors.can_manage(alice, team["mi"]) and not selectors.can_manage(tina, team["mi"])
    assert selectors.can_override_priority(alice) and not selectors.can_override_priority(tina)


# --- the surfaces use it --------------------------------------------------------------------------


def test_api_403_body_says_who_may(tina, oscar, team):
    response = bearer_client(oscar).get("/api/incidents/")
    assert response.status_code == 403
    assert response.json()["detail"] == selectors.refusal("view", Incident)
    response = bearer_client(tina).post(
        f"/api/major-incidents/{team['mi'].number}/roles/",
        {"role": "scribe", "user": "usr_tina_tech"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == selectors.refusal("manage", team["mi"])
    assert not CODENAME.search(response.json()["detail"])


def test_web_and_api_agree_on_one_mi_for_every_persona(request, team):
    people = {
        "oscar": request.getfixturevalue("oscar"),
        "lee": request.getfixturevalue("lee"),
        "tina": request.getfixturevalue("tina"),
        "alice": request.getfixturevalue("alice"),
        "gus": team["gus"],
    }
    for name, user in people.items():
        web = Client()
        web.force_login(user)
        for mi in (team["mi"], team["other"]):
            page = web.get(f"/war-rooms/{mi.number}/").status_code
            api = bearer_client(user).get(f"/api/major-incidents/{mi.number}/").status_code
            assert page == api, (name, mi.number, page, api)


# --- a 403 in the log ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/incidents/", "/major-incidents/candidates/", "/admin/incidents/systemproperty/"]
)
def test_a_403_is_one_warning_line_not_a_traceback(request, caplog, path):
    who = request.getfixturevalue("lee" if path.startswith("/admin/") else "oscar")
    if path.startswith("/admin/"):
        who.is_staff = True  # staff, but no role that reads system properties
        who.save()
    client = Client()
    client.force_login(who)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(path)
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in records] == [f"Forbidden (Permission denied): {path}"]
    assert records[0].levelno == logging.WARNING
    assert records[0].exc_info is None and not records[0].exc_text
    assert "Traceback" not in caplog.text
