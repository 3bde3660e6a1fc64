"""The people of the test suite, and API clients that act as them.

- tina: a service desk technician
- alice: an ITSM manager (``usr_alice_johnson``, as in DESIGN's example body)
- sam: a super admin
- lee: legal
- oscar: an outsider, logged in but holding no role
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from incidents import services
from incidents.models import ConfigurationItem
from incidents.services import tokens

User = get_user_model()
PASSWORD = "correct-horse-battery"


def make_user(username: str, *roles: str, staff: bool = False) -> Any:
    user = User.objects.create_user(username=username, password=PASSWORD, is_staff=staff)
    services.set_user_roles(user, roles)
    return user


def reseed_reference_data() -> None:
    """Put back what the data migrations seed: role groups, system properties, rules, RACI,
    escalation paths and beat schedules. Idempotent.

    A transactional test (live_server, a real worker, a race between processes) ends with a flush
    that empties every table; the flush's post_migrate recreates permissions and content types,
    but not our reference rows. Django's ``serialized_rollback`` would restore them by primary
    key and collides with the recreated content types on PostgreSQL, so we rerun the seeding.
    """
    from django.apps import apps

    migrations = "incidents.migrations."
    roles = importlib.import_module(migrations + "0002_role_groups_and_system_properties")
    defaults = importlib.import_module(migrations + "0004_major_incident_defaults")
    legal = importlib.import_module(migrations + "0005_legal_reads_cis_not_incidents")
    schedules = importlib.import_module(migrations + "0008_reconcile_schedule_and_beat_expiry")
    checkpoints = importlib.import_module("warroom.migrations.0002_seed_checkpoint_templates")
    records = importlib.import_module("warroom.migrations.0003_war_room_records_in_the_admin")
    comms_plan = importlib.import_module("comms.migrations.0002_seed_communication_plan")
    tasks = importlib.import_module(migrations + "0011_problem_tasks_and_change_sources")
    pir_seed = importlib.import_module("pir.migrations.0002_seed_review_schedules_and_permissions")
    inbound = importlib.import_module(
        "comms.migrations.0005_seed_inbound_schedules_and_permissions"
    )
    roles.grant_roles(apps)
    roles.create_properties(apps, None)
    defaults.seed_defaults(apps)
    legal.set_legal_permissions(apps)  # after grant_roles, whose legal group it corrects
    schedules.seed_schedules(apps)
    checkpoints.seed(apps)  # the first-hour templates, their admin permissions, the beat row
    records.seed(apps)  # managers read the war room's records in the admin
    comms_plan.seed(apps)  # the communication plan, its templates and groups, comms' beat rows
    tasks.grant_problem_task_permissions(apps)
    pir_seed.seed(apps)  # the PIR's beat rows, its property, admin permissions on reviews
    inbound.seed(apps)  # mail in and upstream status beat rows, inbound records in the admin


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.postgres`` tests skip on SQLite and are tagged in the JUnit report.

    CI reads the tag (``postgres_only``) to fail the PostgreSQL run if any of them was skipped
    there: a race test that silently skips proves nothing.
    """
    from django.db import connection

    on_postgres = connection.vendor == "postgresql"
    for item in items:
        if item.get_closest_marker("postgres") is None:
            continue
        item.user_properties.append(("postgres_only", "1"))
        if not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL=postgres://…)"))


_SET_UP = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "setup":
        item.stash[_SET_UP] = report.passed
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    result = yield
    marker = item.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in getattr(item, "fixturenames", ()) for name in ("transactional_db", "live_server")
    )
    # A test skipped before its fixtures ran never touched the database, and after the last test
    # the session teardown has dropped the test database: nothing to reseed in either case.
    used_db = item.stash.get(_SET_UP, True)
    if transactional and used_db and nextitem is not None:
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            reseed_reference_data()
    return result


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "incidents.events" or "in on_commit()" in message:
            self.records.append(record)


@pytest.fixture(autouse=True)
def _after_commit_errors_fail_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """After-commit hooks and domain-signal receivers are robust: in production a failure is
    logged, not raised, because the change is committed already. Here a failure would then pass
    unseen (an eager task that raised, a receiver that broke), so it fails the test, unless the
    test is about exactly that (``@pytest.mark.after_commit_errors``)."""
    handler = _ErrorRecords()
    loggers = [logging.getLogger(name) for name in ("django", "incidents.events")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("after_commit_errors") is None:
        first = handler.records[0]
        detail = logging.Formatter().formatException(first.exc_info) if first.exc_info else ""
        pytest.fail(
            f"{len(handler.records)} after-commit failure(s) logged: {first.getMessage()}\n{detail}"
        )


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # System properties are cached; each test starts from the database.
    cache.clear()


@pytest.fixture
def tina(db: None) -> Any:
    return make_user("usr_tina_tech", "technician")


@pytest.fixture
def alice(db: None) -> Any:
    return make_user("usr_alice_johnson", "itsm_manager", staff=True)


@pytest.fixture
def sam(db: None) -> Any:
    return make_user("usr_sam_admin", "super_admin", staff=True)


@pytest.fixture
def lee(db: None) -> Any:
    return make_user("usr_lee_legal", "legal")


@pytest.fixture
def oscar(db: None) -> Any:
    return make_user("usr_oscar_outsider")


def bearer_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(user)}")
    return client


@pytest.fixture
def api() -> APIClient:
    """An anonymous client."""
    return APIClient()


@pytest.fixture
def as_user() -> Callable[[Any], APIClient]:
    """``as_user(alice)``: a client sending alice's bearer token."""
    return bearer_client


@pytest.fixture
def tina_api(tina: Any) -> APIClient:
    return bearer_client(tina)


@pytest.fixture
def alice_api(alice: Any) -> APIClient:
    return bearer_client(alice)


@pytest.fixture
def sam_api(sam: Any) -> APIClient:
    return bearer_client(sam)


@pytest.fixture
def oscar_api(oscar: Any) -> APIClient:
    return bearer_client(oscar)


@pytest.fixture
def make_ci(db: None) -> Callable[..., ConfigurationItem]:
    counter = iter(range(1, 1_000_000))

    def _make(
        name: str | None = None,
        *,
        users: int = 0,
        kind: str = "application",
        depends_on: tuple[ConfigurationItem, ...] = (),
    ) -> ConfigurationItem:
        ci = ConfigurationItem.objects.create(
            name=name or f"ci-{next(counter)}", kind=kind, user_count=users
        )
        if depends_on:
            services.set_dependencies(ci=ci, providers=list(depends_on))
        return ci

    return _make


@pytest.fixture
def make_incident(db: None) -> Callable[..., Any]:
    def _make(actor: Any = None, **fields: Any) -> Any:
        fields.setdefault("short_description", "Checkout returns 503")
        return services.create_incident(actor=actor, **fields)

    return _make
