"""SNS publish against moto's server mode: the message lands in an SQS queue subscribed to the
topic; an unknown topic is dead; the endpoint down then up delivers once; off without a region."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from freezegun import freeze_time

from comms import channels, services
from comms.channels.sns import sns_subject
from comms.models import AttemptOutcome, DeliveryAttempt, OutboxMessage, OutboxStatus
from incidents.models import MajorIncident
from tests.comms.aws_peers import Moto, moto  # noqa: F401

pytestmark = pytest.mark.django_db


@dataclass
class Topic:
    arn: str
    queue_url: str
    moto: Moto

    def received(self) -> list[dict[str, Any]]:
        sqs = self.moto.client("sqs")
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return out
            for message in got["Messages"]:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def topic(moto: Moto) -> Iterator[Topic]:  # noqa: F811
    arn = moto.client("sns").create_topic(Name="mim-leadership")["TopicArn"]
    sqs = moto.client("sqs")
    queue_url = sqs.create_queue(QueueName="mim-leadership-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    moto.client("sns").subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    with override_settings(MIM_SNS_TOPIC_ARN=arn):
        channels.reset()
        yield Topic(arn, queue_url, moto)


def test_the_initial_notification_is_published_to_the_topic(
    topic: Topic, mi: MajorIncident, committed: Any
) -> None:
    mi.summary = "Paiement échoué — checkout\ndown"
    mi.save(update_fields=["summary"])
    with committed():
        update = services.from_template(mi=mi, update_type="initial", slot="initial")
    assert update is not None
    row = OutboxMessage.objects.get(update=update, channel="sns")
    assert row.recipient == topic.arn and row.status == OutboxStatus.SENT
    [envelope] = topic.received()
    assert envelope["MessageId"] == row.provider_message_id
    assert envelope["Subject"] == sns_subject(row.subject)
    assert envelope["Subject"].isascii() and "\n" not in envelope["Subject"]
    assert "Current impact:" in envelope["Message"]
    assert f"/war-rooms/{mi.number}/" in envelope["Message"]
    assert envelope["MessageAttributes"]["major_incident"]["Value"] == mi.number
    assert envelope["MessageAttributes"]["update_type"]["Value"] == "initial"


def test_an_unknown_topic_is_dead_at_once(topic: Topic, mi: MajorIncident, committed: Any) -> None:
    missing = topic.arn.rsplit(":", 1)[0] + ":no-such-topic"
    with committed():
        services.enqueue(
            [services.NewMessage("sns", missing, "missing", "test", {"text": "x"}, "subject")]
        )
    row = OutboxMessage.objects.get(idempotency_key="missing")
    assert row.status == OutboxStatus.DEAD and "NotFound" in row.last_error
    assert DeliveryAttempt.objects.get(message=row).outcome == AttemptOutcome.PERMANENT


def test_the_endpoint_down_then_up_publishes_once(
    topic: Topic, mi: MajorIncident, committed: Any
) -> None:
    topic.moto.stop()
    with freeze_time("2026-03-03 09:00:00") as frozen:
        with committed():
            services.enqueue(
                [services.NewMessage("sns", topic.arn, "down", "test", {"text": "x"}, "s")]
            )
        row = OutboxMessage.objects.get(idempotency_key="down")
        assert row.status == OutboxStatus.FAILED
        topic.moto.start()
        frozen.tick(timedelta(hours=1))
        with committed():
            services.redrive()
        frozen.tick(timedelta(hours=1))
        with committed():
            services.redrive()
        row.refresh_from_db()
        assert row.status == OutboxStatus.SENT and row.attempts == 2
        # Read while the clock is frozen: moto's SQS drops messages past their retention.
        assert [e["MessageId"] for e in topic.received()] == [row.provider_message_id]


def test_sns_is_off_without_a_region_or_a_topic(db: None) -> None:
    with override_settings(AWS_REGION="", MIM_SNS_TOPIC_ARN=""):
        assert channels.get("sns").off_reason() == "AWS_REGION is unset"
    with override_settings(AWS_REGION="eu-west-1", MIM_SNS_TOPIC_ARN=""):
        assert "no SNS topic" in channels.get("sns").off_reason()


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("[MI0001] Checkout is down", "[MI0001] Checkout is down"),
        ("Ärger\nmit\tdem Shop", "Arger mit dem Shop"),
        ("x" * 150, "x" * 96 + "..."),
        ("", "MIM Desk notification"),
        ("   ☃☃", "MIM Desk notification"),
    ],
)
def test_the_subject_is_what_sns_accepts(text: str, subject: str) -> None:
    assert sns_subject(text) == subject
