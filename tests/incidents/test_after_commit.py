"""After commit, robustly (issue 6, item 18): one failing receiver or hook drops nothing else.

The war room, comms and the PIR will hang receivers off the domain signals; the messages to the
worker are after-commit hooks too. The change is committed when they run, so a failure is
logged (with its traceback) and the others still run.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError

import incidents.tasks  # noqa: F401  (registers the tasks this test stands in for)
from incidents import events, services
from incidents.models import Incident

pytestmark = pytest.mark.after_commit_errors


def _broken(sender: Any = None, **kwargs: Any) -> None:
    raise RuntimeError("the war room is down")


@pytest.fixture
def broken_receiver():
    events.major_incident_declared.connect(_broken, weak=False)
    yield _broken
    events.major_incident_declared.disconnect(_broken)


def test_a_failing_receiver_does_not_stop_the_others(
    db, broken_receiver, listen, caplog, django_capture_on_commit_callbacks
):
    # Connected after the broken one, so it runs after it.
    after = listen(events.major_incident_declared)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.send_after_commit(events.major_incident_declared, major_incident_id=7, actor_id=None)
    assert after.calls == [{"major_incident_id": 7, "actor_id": None}]
    failed = [r for r in caplog.records if r.name == "incidents.events"]
    assert len(failed) == 1
    assert failed[0].levelno == logging.ERROR
    assert "major_incident_declared" in failed[0].getMessage()
    assert "_broken" in failed[0].getMessage()
    assert failed[0].exc_info and "the war room is down" in str(failed[0].exc_info[1])


def test_a_failing_receiver_does_not_fail_the_request_that_committed(
    alice, alice_api, broken_receiver, make_incident, listen, django_capture_on_commit_callbacks
):
    incident = make_incident(impact=2, urgency=2)
    declared = listen(events.major_incident_declared)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/major-incidents/",
            {
                "incident_id": incident.number,
                "major_incident_manager": alice.username,
                "initial_impact_statement": "Checkout down",
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    assert len(declared.calls) == 1


def test_a_message_the_broker_refuses_does_not_drop_the_signals_after_it(
    db, make_incident, listen, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    incident = make_incident()
    task = current_app.tasks["incidents.tasks.evaluate_incident"]

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(task, "delay", broker_down)
    proposed = listen(events.major_incident_proposed)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.evaluate_rules_after_commit(Incident.objects.get(pk=incident.pk))
        events.send_after_commit(
            events.major_incident_proposed, candidate_id=1, incident_id=incident.pk
        )
    assert proposed.calls == [{"candidate_id": 1, "incident_id": incident.pk}]
    refused = [r for r in caplog.records if "in on_commit()" in r.getMessage()]
    assert len(refused) == 1
    assert "incidents.tasks.evaluate_incident" in refused[0].getMessage()
