"""System properties: defaults, validation by type and range, history, cache."""

from __future__ import annotations

import pytest

from incidents import selectors, services
from incidents.errors import DomainError
from incidents.models import SystemProperty, SystemPropertyChange
from incidents.properties import REGISTRY

# DESIGN, "System properties".
DESIGN_DEFAULTS = {
    "major_incident_auto_declare_threshold": 50,
    "major_incident_ack_timeout_minutes": 15,
    "major_incident_auto_declare_mode": "declare",
    "major_incident_update_cadence_minutes": 30,
    "executive_update_cadence_minutes": 60,
    "resolution_stability_minutes": 15,
    "recovery_monitoring_hours": 2,
    "pir_delay_hours": 48,
    "escalation_resolution_hours": 2,
    "ticket_volume_escalation_factor": 5,
    "first_customer_update_target_minutes": 30,
    "security_breach_notification_hours": 72,
}
# Added by issue 9 ("enforces a publish deadline (a system property)"); DESIGN's table names the
# twelve above.
ISSUE_DEFAULTS = {"pir_publish_deadline_days": 5}
DEFAULTS = DESIGN_DEFAULTS | ISSUE_DEFAULTS

THRESHOLD = "major_incident_auto_declare_threshold"
MODE = "major_incident_auto_declare_mode"


def test_migration_creates_every_property_with_its_design_default(db):
    assert dict(SystemProperty.objects.values_list("key", "value")) == DEFAULTS


def test_registry_defaults_match_design():
    assert {key: spec.default for key, spec in REGISTRY.items()} == DEFAULTS


@pytest.mark.parametrize(("key", "value"), DEFAULTS.items())
def test_get_property_returns_the_default(db, key, value):
    assert selectors.get_property(key) == value


def test_get_property_falls_back_to_registry_when_row_is_missing(db):
    SystemProperty.objects.filter(key=THRESHOLD).delete()
    assert selectors.get_property(THRESHOLD) == 50


@pytest.mark.parametrize(("key", "spec"), REGISTRY.items())
def test_every_default_passes_its_own_validation(key, spec):
    assert spec.validate(spec.default) == spec.default


# --- validation ------------------------------------------------------------------------------

BAD_VALUES = [
    (THRESHOLD, "abc"),
    (THRESHOLD, -1),
    (THRESHOLD, 0),
    (THRESHOLD, True),
    (THRESHOLD, False),
    (THRESHOLD, 10**9),
    (THRESHOLD, 1.5),
    (THRESHOLD, None),
    (THRESHOLD, [50]),
    (THRESHOLD, {"value": 50}),
    (THRESHOLD, ""),
    (THRESHOLD, "1e3"),
    ("major_incident_ack_timeout_minutes", 1441),
    ("major_incident_update_cadence_minutes", 4),
    ("ticket_volume_escalation_factor", 1),
    ("pir_delay_hours", 0),
    (MODE, "maybe"),
    (MODE, ""),
    (MODE, 1),
    (MODE, None),
    (MODE, True),
    (MODE, ["declare"]),
    (MODE, "DECLARE"),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_set_property_refuses_bad_values(sam, key, value):
    with pytest.raises(DomainError) as err:
        services.set_property(key=key, value=value, actor=sam)
    assert err.value.field == "value"
    assert key in err.value.message
    assert SystemProperty.objects.get(key=key).value == DESIGN_DEFAULTS[key]
    assert not SystemPropertyChange.objects.exists()


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_api_patch_bad_value_is_400_naming_value(sam_api, key, value):
    response = sam_api.patch(f"/api/system-properties/{key}/", {"value": value}, format="json")
    assert response.status_code == 400, response.content
    assert "value" in response.json()
    assert SystemProperty.objects.get(key=key).value == DESIGN_DEFAULTS[key]


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        (THRESHOLD, 1, 1),
        (THRESHOLD, 10_000_000, 10_000_000),
        (THRESHOLD, "75", 75),
        (THRESHOLD, " 80 ", 80),
        ("resolution_stability_minutes", 0, 0),
        (MODE, "propose", "propose"),
        (MODE, "off", "off"),
        (MODE, " declare ", "declare"),
    ],
)
def test_api_patch_good_value_is_stored_typed(sam_api, key, value, stored):
    response = sam_api.patch(f"/api/system-properties/{key}/", {"value": value}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["value"] == stored
    assert SystemProperty.objects.get(key=key).value == stored


def test_api_patch_without_value_is_400(sam_api):
    response = sam_api.patch(f"/api/system-properties/{THRESHOLD}/", {}, format="json")
    assert response.status_code == 400
    assert "value" in response.json()


def test_api_patch_unknown_key_is_404(sam_api):
    response = sam_api.patch("/api/system-properties/no_such_key/", {"value": 1}, format="json")
    assert response.status_code == 404


def test_set_property_unknown_key_refused(sam):
    with pytest.raises(DomainError):
        services.set_property(key="no_such_key", value=1, actor=sam)


def test_api_put_is_not_offered(sam_api):
    response = sam_api.put(f"/api/system-properties/{THRESHOLD}/", {"value": 60}, format="json")
    assert response.status_code == 405


def test_api_list_shows_type_default_and_description(alice_api):
    response = alice_api.get("/api/system-properties/")
    assert response.status_code == 200
    rows = {row["key"]: row for row in response.json()}
    assert set(rows) == set(DEFAULTS)
    assert rows[THRESHOLD]["type"] == "integer"
    assert rows[THRESHOLD]["default"] == 50
    assert rows[MODE]["type"] == "choice"
    assert rows[MODE]["description"]


# --- history ---------------------------------------------------------------------------------


def test_change_is_recorded_with_who_and_when(sam, sam_api):
    response = sam_api.patch(f"/api/system-properties/{THRESHOLD}/", {"value": 120}, format="json")
    assert response.status_code == 200
    assert response.json()["updated_by"] == sam.username
    change = SystemPropertyChange.objects.get()
    assert (change.prop.key, change.old_value, change.new_value) == (THRESHOLD, 50, 120)
    assert change.changed_by == sam
    assert change.changed_at is not None
    prop = SystemProperty.objects.get(key=THRESHOLD)
    assert prop.updated_by == sam
    assert prop.updated_at == change.changed_at


def test_setting_the_same_value_records_nothing(sam):
    services.set_property(key=THRESHOLD, value=50, actor=sam)
    assert not SystemPropertyChange.objects.exists()


def test_successive_changes_each_recorded(sam, alice):
    services.set_property(key=MODE, value="propose", actor=sam)
    services.set_property(key=MODE, value="off", actor=alice)
    history = list(
        SystemPropertyChange.objects.filter(prop__key=MODE)
        .order_by("id")
        .values_list("old_value", "new_value", "changed_by__username")
    )
    assert history == [
        ("declare", "propose", sam.username),
        ("propose", "off", alice.username),
    ]


def test_change_history_visible_on_admin_change_page(sam, browser_for):
    services.set_property(key=THRESHOLD, value=99, actor=sam)
    prop = SystemProperty.objects.get(key=THRESHOLD)
    response = browser_for(sam).get(f"/admin/incidents/systemproperty/{prop.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert sam.username in html
    assert "99" in html


# --- cache -----------------------------------------------------------------------------------


def test_cached_value_refreshed_after_change(sam, django_capture_on_commit_callbacks):
    assert selectors.get_property(THRESHOLD) == 50  # now cached
    SystemProperty.objects.filter(key=THRESHOLD).update(value=51)  # behind the cache's back
    assert selectors.get_property(THRESHOLD) == 50
    with django_capture_on_commit_callbacks(execute=True):
        services.set_property(key=THRESHOLD, value=200, actor=sam)
    assert selectors.get_property(THRESHOLD) == 200


def test_cached_value_refreshed_after_api_change(sam_api, django_capture_on_commit_callbacks):
    assert selectors.get_property(MODE) == "declare"
    with django_capture_on_commit_callbacks(execute=True):
        response = sam_api.patch(f"/api/system-properties/{MODE}/", {"value": "off"}, format="json")
    assert response.status_code == 200
    assert selectors.get_property(MODE) == "off"


def test_cache_not_dropped_before_commit(sam, django_capture_on_commit_callbacks):
    assert selectors.get_property(THRESHOLD) == 50
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.set_property(key=THRESHOLD, value=70, actor=sam)
    assert callbacks
    for callback in callbacks:
        callback()
    assert selectors.get_property(THRESHOLD) == 70
