"""Django admin: every page renders, roles decide who sees what, and edits go through services."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.utils import timezone

from incidents import selectors, services
from incidents.models import (
    Change,
    CIDependency,
    ConfigurationItem,
    Incident,
    MajorIncidentCandidate,
    Problem,
    ProblemTask,
    RoleRoster,
    SystemProperty,
    SystemPropertyChange,
    TimelineKind,
)

THRESHOLD = "major_incident_auto_declare_threshold"

# Admin pages of the apps this project configures (incidents) and the ones its roles manage.
ADMIN_MODELS = sorted(
    model._meta.label
    for model in admin.site._registry
    if model._meta.app_label in ("incidents", "auth", "django_celery_beat")
)
# A fixed set, an append-only log, and rows only rules and escalations create.
NO_ADD = {
    "incidents.SystemProperty",
    "incidents.TimelineEntry",
    "incidents.EscalationFiring",
    "incidents.MajorIncidentCandidate",
}


def _url(label: str, page: str = "changelist", pk: Any = None) -> str:
    app, model = label.lower().split(".")
    return (
        f"/admin/{app}/{model}/"
        + {
            "changelist": "",
            "add": "add/",
            "change": f"{pk}/change/",
            "delete": f"{pk}/delete/",
            "history": f"{pk}/history/",
        }[page]
    )


@pytest.fixture
def populated(make_ci, make_incident, sam):
    """One of everything, so changelists and change pages have rows to show."""
    db_ci = make_ci("Orders DB", users=5, kind="database")
    ci = make_ci("Checkout", users=50, depends_on=(db_ci,))
    incident = make_incident(actor=sam, affected_ci=ci, impact=1, urgency=1)
    problem = Problem.objects.create(short_description="Pool exhaustion", affected_ci=ci)
    ProblemTask.objects.create(problem=problem, short_description="Alert on pool saturation")
    Change.objects.create(
        short_description="Raise pool",
        problem=problem,
        planned_start=timezone.now(),
        planned_end=timezone.now() + timedelta(hours=1),
    )
    services.set_property(key=THRESHOLD, value=60, actor=sam)
    # Major-incident rows: an on-call IC, a declared MI with an escalation that fired, and a
    # rule's proposal waiting for a manager.
    RoleRoster.objects.create(role="major_incident_manager", user=sam)
    declared = make_incident(actor=sam, short_description="Gateway 503s", impact=2, urgency=2)
    mi = services.declare_major_incident(
        incident=declared, manager=sam, actor=sam, initial_impact_statement="All API calls fail"
    )
    services.evaluate_escalations(now=mi.declared_at + timedelta(hours=3))
    # Its war room's checkpoints and an assessment revision (admin pages of the war room).
    from warroom import services as warroom_services

    warroom_services.open_checkpoints(mi.pk)
    warroom_services.revise_assessment(
        mi=mi, actor=sam, affected_services="API", sla_breach_risk="high", customer_symptoms="503"
    )
    warroom_services.open_thread(mi=mi, actor=sam, name="Gateway", owner=sam)
    warroom_services.add_action_item(mi=mi, actor=sam, title="Fail over the gateway", owner=sam)
    warroom_services.join_bridge(mi=mi, actor=sam, user=sam)
    warroom_services.save_scratchpad(mi=mi, actor=sam, text="Gateway notes", version=0)
    proposed = make_incident(actor=sam, short_description="Search slow", impact=3, urgency=3)
    MajorIncidentCandidate.objects.create(incident=proposed, reason="P1, 80 affected users")
    return {"incident": incident, "ci": ci, "db_ci": db_ci, "problem": problem}


def _any_pk(label: str) -> Any:
    from django.apps import apps

    return apps.get_model(label).objects.order_by("pk").values_list("pk", flat=True).first()


# --- rendering -----------------------------------------------------------------------------------


def test_admin_index_renders(browser_for, root):
    assert browser_for(root).get("/admin/").status_code == 200


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_changelist_renders(browser_for, root, populated, label):
    response = browser_for(root).get(_url(label))
    assert response.status_code == 200


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_add_page_renders(browser_for, root, populated, label):
    response = browser_for(root).get(_url(label, "add"))
    assert response.status_code == (403 if label in NO_ADD else 200)


@pytest.mark.parametrize("label", [m for m in ADMIN_MODELS if m.startswith("incidents.")])
def test_change_page_renders(browser_for, root, populated, label):
    pk = _any_pk(label)
    assert pk is not None
    response = browser_for(root).get(_url(label, "change", pk))
    assert response.status_code == 200
    assert browser_for(root).get(_url(label, "history", pk)).status_code == 200


@pytest.mark.parametrize(
    ("label", "query"),
    [
        ("incidents.Incident", "q={inc}"),
        ("incidents.Incident", "q=checkout"),
        ("incidents.Incident", "state__exact=new&priority__exact=1"),
        ("incidents.Incident", "affected_ci__kind=application"),
        ("incidents.Problem", "q={prb}"),
        ("incidents.Change", "q={chg}&change_type__exact=normal"),
        ("incidents.ConfigurationItem", "q=orders&kind__exact=database"),
        ("incidents.CIDependency", "q=checkout"),
        ("incidents.SystemProperty", "q=threshold"),
        ("incidents.TimelineEntry", "kind__exact=created"),
    ],
)
def test_changelist_search_and_filters(browser_for, root, populated, label, query):
    numbers = {
        "inc": populated["incident"].number,
        "prb": populated["problem"].number,
        "chg": Change.objects.get().number,
    }
    response = browser_for(root).get(f"{_url(label)}?{query.format(**numbers)}")
    assert response.status_code == 200
    assert "0 results" not in response.content.decode()


def test_number_search_finds_the_incident(browser_for, root, populated):
    incident = populated["incident"]
    response = browser_for(root).get(f"/admin/incidents/incident/?q={incident.number.lower()}")
    assert incident.short_description in response.content.decode()


def test_ci_change_page_has_dependency_inlines(browser_for, root, populated):
    response = browser_for(root).get(
        _url("incidents.ConfigurationItem", "change", populated["ci"].pk)
    )
    html = response.content.decode()
    assert "provider_links-TOTAL_FORMS" in html
    assert "consumer_links-TOTAL_FORMS" in html


# --- who may see what ---------------------------------------------------------------------------

SAM_VIEWS = [
    "incidents.Incident",
    "incidents.ConfigurationItem",
    "incidents.CIDependency",
    "incidents.Problem",
    "incidents.Change",
    "incidents.SystemProperty",
    "incidents.TimelineEntry",
    "auth.User",
    "auth.Group",
    "django_celery_beat.PeriodicTask",
]
SAM_ADDS = [
    "incidents.Incident",
    "incidents.ConfigurationItem",
    "incidents.CIDependency",
    "incidents.Problem",
    "incidents.Change",
    "auth.User",
]


@pytest.mark.parametrize("label", SAM_VIEWS)
def test_super_admin_sees_changelists(browser_for, sam, populated, label):
    assert browser_for(sam).get(_url(label)).status_code == 200


@pytest.mark.parametrize("label", SAM_ADDS)
def test_super_admin_add_pages_render(browser_for, sam, populated, label):
    assert browser_for(sam).get(_url(label, "add")).status_code == 200


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("incidents.Incident", 200),
        ("incidents.ConfigurationItem", 200),
        ("incidents.SystemProperty", 200),
        ("auth.Group", 403),
        ("django_celery_beat.PeriodicTask", 403),
    ],
)
def test_itsm_manager_changelists(browser_for, alice, populated, label, code):
    assert browser_for(alice).get(_url(label)).status_code == code


@pytest.mark.parametrize("persona", ["tina", "oscar", "lee"])
@pytest.mark.parametrize("label", ["incidents.Incident", "incidents.SystemProperty"])
def test_non_staff_are_sent_to_login(request, browser_for, populated, persona, label):
    response = browser_for(request.getfixturevalue(persona)).get(_url(label))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_anonymous_is_sent_to_login(client, populated):
    response = client.get("/admin/incidents/incident/")
    assert response.status_code == 302


def test_itsm_manager_sees_properties_read_only(browser_for, alice, populated, admin_form):
    prop = SystemProperty.objects.get(key=THRESHOLD)
    client = browser_for(alice)
    response = client.get(_url("incidents.SystemProperty", "change", prop.pk))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    response = client.post(
        _url("incidents.SystemProperty", "change", prop.pk), {"value": "99", "_save": "Save"}
    )
    assert response.status_code == 403
    assert SystemProperty.objects.get(key=THRESHOLD).value == 60


@pytest.mark.parametrize("user", ["sam", "root"])
@pytest.mark.parametrize("page", ["add", "delete"])
def test_system_properties_cannot_be_added_or_deleted(request, browser_for, populated, user, page):
    prop = SystemProperty.objects.get(key=THRESHOLD)
    client = browser_for(request.getfixturevalue(user))
    assert client.get(_url("incidents.SystemProperty", page, prop.pk)).status_code == 403
    assert (
        client.post(_url("incidents.SystemProperty", page, prop.pk), {"post": "yes"}).status_code
        == 403
    )
    assert SystemProperty.objects.filter(key=THRESHOLD).exists()


@pytest.mark.parametrize("user", ["sam", "root"])
def test_incidents_cannot_be_deleted(request, browser_for, populated, user):
    incident = populated["incident"]
    client = browser_for(request.getfixturevalue(user))
    assert (
        client.post(_url("incidents.Incident", "delete", incident.pk), {"post": "yes"}).status_code
        == 403
    )
    assert Incident.objects.filter(pk=incident.pk).exists()


# --- incident admin goes through services -------------------------------------------------------


def _add_incident(client, admin_form, **fields: Any):
    page = client.get(_url("incidents.Incident", "add"))
    data = admin_form(page)
    data.update({"_save": "Save", **fields})
    return client.post(_url("incidents.Incident", "add"), data)


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"), [(1, 1, 1), (1, 2, 2), (2, 3, 4), (3, 3, 5)]
)
def test_admin_create_goes_through_services(
    browser_for, sam, populated, admin_form, impact, urgency, priority
):
    ci = populated["ci"]
    response = _add_incident(
        browser_for(sam),
        admin_form,
        short_description="Search returns nothing",
        impact=impact,
        urgency=urgency,
        affected_ci=ci.pk,
        channel="phone",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get(short_description="Search returns nothing")
    assert (
        response["Location"].endswith(_url("incidents.Incident"))
        or str(incident.pk) in response["Location"]
    )
    assert incident.priority == priority
    assert incident.priority_is_manual is False
    assert incident.affected_users == 50
    assert incident.created_by == sam
    assert incident.channel == "phone"
    assert incident.detected_at is not None
    created = incident.timeline.get()
    assert (created.kind, created.actor) == (TimelineKind.CREATED, sam)


def test_admin_create_with_a_future_detection_time_is_a_form_error(
    browser_for, sam, populated, admin_form
):
    future = timezone.now() + timedelta(days=2)
    response = _add_incident(
        browser_for(sam),
        admin_form,
        short_description="Time traveller",
        detected_at_0=future.strftime("%Y-%m-%d"),
        detected_at_1=future.strftime("%H:%M:%S"),
    )
    assert response.status_code == 200
    assert "future" in response.content.decode()
    assert not Incident.objects.filter(short_description="Time traveller").exists()


def test_admin_change_recomputes_priority_and_records(browser_for, sam, populated, admin_form):
    incident = populated["incident"]
    client = browser_for(sam)
    data = admin_form(client.get(_url("incidents.Incident", "change", incident.pk)))
    data.update({"impact": "3", "urgency": "2", "_save": "Save"})
    response = client.post(_url("incidents.Incident", "change", incident.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    incident.refresh_from_db()
    assert incident.priority == 4
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds == [TimelineKind.CREATED, TimelineKind.UPDATED, TimelineKind.PRIORITY_CHANGED]


def test_admin_change_without_edits_records_nothing(browser_for, sam, populated, admin_form):
    incident = populated["incident"]
    client = browser_for(sam)
    data = admin_form(client.get(_url("incidents.Incident", "change", incident.pk)))
    data["_save"] = "Save"
    response = client.post(_url("incidents.Incident", "change", incident.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert incident.timeline.count() == 1


def test_admin_parent_is_read_only_once_created(
    browser_for, sam, populated, make_incident, admin_form
):
    # Linking is an operation (services.link_incident), not a field edit.
    incident = populated["incident"]
    parent = make_incident(short_description="Everything is slow")
    client = browser_for(sam)
    page = client.get(_url("incidents.Incident", "change", incident.pk))
    data = admin_form(page)
    assert "parent" not in data
    data.update({"parent": str(parent.pk), "_save": "Save"})
    response = client.post(_url("incidents.Incident", "change", incident.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    incident.refresh_from_db()
    assert incident.parent is None


def test_admin_create_with_a_parent(browser_for, sam, populated, admin_form):
    parent = populated["incident"]
    response = _add_incident(
        browser_for(sam), admin_form, short_description="Me too", parent=str(parent.pk)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    child = Incident.objects.get(short_description="Me too")
    assert child.parent == parent
    # Linked through link_incident: its row on both timelines, as the Link action writes them.
    assert child.timeline.filter(kind=TimelineKind.LINKED, actor=sam).count() == 1
    assert parent.timeline.filter(kind=TimelineKind.LINKED, data__child=child.number).exists()


def test_admin_create_under_a_cancelled_incident_is_a_form_error(
    browser_for, sam, populated, make_incident, admin_form
):
    cancelled = make_incident(short_description="Wrong alarm")
    services.update_incident(incident=cancelled, actor=sam, state="cancelled")
    response = _add_incident(
        browser_for(sam), admin_form, short_description="Orphan", parent=str(cancelled.pk)
    )
    assert response.status_code == 200
    assert f"{cancelled.number} is cancelled" in response.content.decode()
    assert not Incident.objects.filter(short_description="Orphan").exists()


def test_admin_create_under_a_child_is_a_form_error(
    browser_for, sam, populated, make_incident, admin_form
):
    parent = populated["incident"]
    child = make_incident(short_description="Child")
    services.link_incident(incident=child, parent=parent, actor=sam)
    response = _add_incident(
        browser_for(sam), admin_form, short_description="Grandchild", parent=str(child.pk)
    )
    assert response.status_code == 200
    assert "itself a child" in response.content.decode()
    assert not Incident.objects.filter(short_description="Grandchild").exists()


@pytest.mark.parametrize(
    ("started", "detected", "error"),
    [
        (timedelta(hours=-1), timedelta(hours=-2), "must not be before"),
        (timedelta(days=1), timedelta(days=1), "future"),
    ],
)
def test_admin_change_with_bad_milestones_is_a_form_error(
    browser_for, sam, populated, admin_form, started, detected, error
):
    incident = populated["incident"]
    client = browser_for(sam)
    data = admin_form(client.get(_url("incidents.Incident", "change", incident.pk)))
    now = timezone.now()
    for name, delta in (("impact_started_at", started), ("detected_at", detected)):
        if delta is not None:
            data[f"{name}_0"] = (now + delta).strftime("%Y-%m-%d")
            data[f"{name}_1"] = (now + delta).strftime("%H:%M:%S")
    data["_save"] = "Save"
    response = client.post(_url("incidents.Incident", "change", incident.pk), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert incident.timeline.count() == 1


def test_admin_acknowledge_action(browser_for, sam, populated, make_incident):
    incident = populated["incident"]
    resolved = make_incident(short_description="Already fixed")
    services.resolve_incident(incident=resolved, actor=sam, resolution_notes="Done")
    response = browser_for(sam).post(
        _url("incidents.Incident"),
        {"action": "acknowledge_selected", "_selected_action": [incident.pk, resolved.pk]},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acknowledged 1 incident" in html
    assert resolved.number in html
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED, actor=sam).exists()


# --- system property admin ----------------------------------------------------------------------


def test_property_admin_change_records_who(
    browser_for, sam, populated, django_capture_on_commit_callbacks
):
    prop = SystemProperty.objects.get(key=THRESHOLD)
    assert selectors.get_property(THRESHOLD) == 60
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(sam).post(
            _url("incidents.SystemProperty", "change", prop.pk),
            {
                "value": "80",
                "changes-TOTAL_FORMS": "1",
                "changes-INITIAL_FORMS": "1",
                "changes-0-id": prop.changes.get().pk,
                "changes-0-prop": prop.pk,
                "_save": "Save",
            },
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert SystemProperty.objects.get(key=THRESHOLD).value == 80
    last = SystemPropertyChange.objects.filter(prop=prop).order_by("-id").first()
    assert (last.old_value, last.new_value, last.changed_by) == (60, 80, sam)
    assert selectors.get_property(THRESHOLD) == 80
    page = (
        browser_for(sam).get(_url("incidents.SystemProperty", "change", prop.pk)).content.decode()
    )
    assert page.count(sam.username) >= 2


@pytest.mark.parametrize(
    ("key", "value"),
    [(THRESHOLD, '"abc"'), (THRESHOLD, "-1"), (THRESHOLD, "true"), (THRESHOLD, "1000000000"),
     (THRESHOLD, "not json"), ("major_incident_auto_declare_mode", '"maybe"')],
)  # fmt: skip
def test_property_admin_refuses_bad_values(browser_for, sam, admin_form, key, value):
    prop = SystemProperty.objects.get(key=key)
    client = browser_for(sam)
    data = admin_form(client.get(_url("incidents.SystemProperty", "change", prop.pk)))
    data.update({"value": value, "_save": "Save"})
    response = client.post(_url("incidents.SystemProperty", "change", prop.pk), data)
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert SystemProperty.objects.get(key=key).value == prop.value
    assert not SystemPropertyChange.objects.exists()


# --- CMDB admin keeps incidents current ---------------------------------------------------------


def test_ci_inline_edit_refreshes_incidents(
    browser_for, sam, populated, make_ci, admin_form, django_capture_on_commit_callbacks
):
    incident = populated["incident"]  # on Checkout (50) <- nothing; Checkout -> Orders DB
    mobile = make_ci("Mobile app", users=500)
    ci = populated["ci"]
    client = browser_for(sam)
    data = admin_form(client.get(_url("incidents.ConfigurationItem", "change", mobile.pk)))
    data.update(
        {
            "provider_links-TOTAL_FORMS": "1",
            "provider_links-0-provider": str(ci.pk),
            "provider_links-0-consumer": str(mobile.pk),
            "_save": "Save",
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("incidents.ConfigurationItem", "change", mobile.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert CIDependency.objects.filter(consumer=mobile, provider=ci).exists()
    incident.refresh_from_db()
    assert incident.affected_users == 550
    assert incident.timeline.filter(kind=TimelineKind.IMPACT_CHANGED).exists()


def test_dependency_admin_move_refreshes_old_and_new_provider(
    browser_for, sam, make_ci, make_incident, django_capture_on_commit_callbacks
):
    old, new = make_ci("Old provider", users=1), make_ci("New provider", users=2)
    consumer = make_ci("Consumer", users=100, depends_on=(old,))
    on_old, on_new = make_incident(affected_ci=old), make_incident(affected_ci=new)
    assert (on_old.affected_users, on_new.affected_users) == (101, 2)
    link = CIDependency.objects.get(consumer=consumer)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(sam).post(
            _url("incidents.CIDependency", "change", link.pk),
            {"consumer": consumer.pk, "provider": new.pk, "_save": "Save"},
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    on_old.refresh_from_db()
    on_new.refresh_from_db()
    assert (on_old.affected_users, on_new.affected_users) == (1, 102)


def test_dependency_admin_delete_refreshes(
    browser_for, sam, make_ci, make_incident, django_capture_on_commit_callbacks
):
    provider = make_ci("Provider", users=1)
    consumer = make_ci("Consumer", users=100, depends_on=(provider,))
    incident = make_incident(affected_ci=provider)
    link = CIDependency.objects.get(consumer=consumer)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(sam).post(
            _url("incidents.CIDependency", "delete", link.pk), {"post": "yes"}
        )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.affected_users == 1


def test_ci_admin_delete_goes_through_services(
    browser_for, sam, make_ci, make_incident, django_capture_on_commit_callbacks
):
    provider = make_ci("Provider", users=1)
    consumer = make_ci("Consumer", users=100, depends_on=(provider,))
    incident = make_incident(affected_ci=provider)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(sam).post(
            _url("incidents.ConfigurationItem", "delete", consumer.pk), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not ConfigurationItem.objects.filter(pk=consumer.pk).exists()
    incident.refresh_from_db()
    assert incident.affected_users == 1


# --- a property is edited as its type ------------------------------------------------------------

MODE = "major_incident_auto_declare_mode"


def test_a_choice_property_is_a_dropdown_and_saves_the_plain_value(
    browser_for, sam, admin_form, django_capture_on_commit_callbacks
):
    prop = SystemProperty.objects.get(key=MODE)
    client = browser_for(sam)
    page = client.get(_url("incidents.SystemProperty", "change", prop.pk)).content.decode()
    select = re.search(r'<select name="value"[^>]*>(.*?)</select>', page, re.S)
    assert select, "the mode is a dropdown, not a text box for JSON"
    options = re.findall(r'<option value="([^"]*)"( selected)?>', select.group(1))
    assert options == [("declare", " selected"), ("propose", ""), ("off", "")]
    data = admin_form(client.get(_url("incidents.SystemProperty", "change", prop.pk)))
    data.update({"value": "propose", "_save": "Save"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("incidents.SystemProperty", "change", prop.pk), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SystemProperty.objects.get(key=MODE).value == "propose"
    assert selectors.get_property(MODE) == "propose"


def test_a_number_property_is_a_number_box_with_its_bounds(browser_for, sam):
    prop = SystemProperty.objects.get(key=THRESHOLD)
    page = browser_for(sam).get(_url("incidents.SystemProperty", "change", prop.pk)).content
    box = re.search(r'<input type="number" name="value"[^>]*>', page.decode())
    assert box, "the threshold is a number box"
    assert 'value="50"' in box.group(0)
    assert 'min="1"' in box.group(0) and 'max="10000000"' in box.group(0)


def test_a_flag_property_would_be_a_checkbox():
    from django import forms

    from incidents.admin.properties import value_field
    from incidents.properties import PropertySpec

    flag = PropertySpec("some_flag", bool, False, "A flag")
    assert isinstance(value_field(flag), forms.BooleanField)
    assert isinstance(value_field(flag).widget, forms.CheckboxInput)
    assert flag.validate(True) is True
    with pytest.raises(ValueError):
        flag.validate("yes")


@pytest.mark.parametrize("who", ["alice", "sam"])
def test_values_are_shown_plain_not_as_json(request, browser_for, who):
    client = browser_for(request.getfixturevalue(who))
    listing = client.get(_url("incidents.SystemProperty")).content.decode()
    assert '"declare"' not in listing and "&quot;declare&quot;" not in listing
    assert re.search(r'<td class="field-shown_value">declare</td>', listing)
    prop = SystemProperty.objects.get(key=MODE)
    page = client.get(_url("incidents.SystemProperty", "change", prop.pk)).content.decode()
    assert "&quot;declare&quot;" not in page.split('id="changes-group"')[0]


# --- a manager's tool ----------------------------------------------------------------------------


def test_the_admin_is_mim_desks(browser_for, alice):
    html = browser_for(alice).get("/admin/").content.decode()
    assert "<title>Manage MIM Desk | MIM Desk admin</title>" in html
    assert "MIM Desk administration</a>" in html
    assert "Django administration" not in html and "Django site admin" not in html


def _filter_fields(model_admin: Any) -> list[str]:
    return [f if isinstance(f, str) else f[0] for f in model_admin.list_filter]


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_no_changelist_filters_a_field_twice(label):
    from django.apps import apps

    model_admin = admin.site._registry[apps.get_model(label)]
    fields = _filter_fields(model_admin)
    assert len(fields) == len(set(fields)), fields
    # The date hierarchy above the list is a filter on its field already.
    assert model_admin.date_hierarchy not in fields


@pytest.mark.parametrize(
    ("label", "title"),
    [("incidents.Incident", "By security"), ("incidents.Incident", "By affected CI kind"),
     ("incidents.MajorIncident", "By security")],
)  # fmt: skip
def test_filters_are_titled_in_words(browser_for, root, populated, label, title):
    html = browser_for(root).get(_url(label)).content.decode()
    assert title in html
    assert "By is security" not in html and "By kind" not in html
