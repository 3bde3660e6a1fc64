"""Amazon SNS: publish the update's text to a topic (``MIM_SNS_TOPIC_ARN`` or a stakeholder
group's topic; the outbox row's recipient is the topic ARN).

The subject is what SNS accepts (ASCII, no line breaks or control characters, under 100
characters); the text carries the war-room link; the MI's number and the update type go as
message attributes, so subscribers can filter. A FIFO topic gets a deduplication id from the
outbox row's key: SNS itself drops a second copy within its five-minute window.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from django.conf import settings

from ..models import OutboxMessage, StakeholderGroup
from . import aws
from .base import Channel, Sent, TransportError

SUBJECT_MAX = 99  # SNS: "less than 100 characters"
MESSAGE_MAX = 256 * 1024  # bytes, SNS's limit for one message
_NOT_SUBJECT = re.compile(r"[^\x20-\x7e]+")
_SUBJECT_START = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]")


def sns_subject(text: str) -> str:
    """``text`` as an SNS subject: ASCII (accents folded, the rest dropped), one line, < 100."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    one_line = " ".join(_NOT_SUBJECT.sub(" ", folded).split())
    if len(one_line) > SUBJECT_MAX:
        one_line = one_line[: SUBJECT_MAX - 3].rstrip() + "..."
    return one_line if _SUBJECT_START.match(one_line) else "MIM Desk notification"


def sns_text(message: OutboxMessage) -> str:
    payload = message.payload
    text = payload.get("text", "") or message.subject
    url = (payload.get("mi") or {}).get("url")
    if url:
        text += f"\n\nWar room: {url}"
    raw = text.encode()
    if len(raw) > MESSAGE_MAX:
        text = raw[: MESSAGE_MAX - 3].decode(errors="ignore") + "..."
    return text


class SNSChannel(Channel):
    name = "sns"

    def off_reason(self) -> str:
        if not settings.AWS_REGION:
            return "AWS_REGION is unset"
        if not settings.MIM_SNS_TOPIC_ARN and not (
            StakeholderGroup.objects.exclude(sns_topic_arn="").exists()
        ):
            return "no SNS topic: MIM_SNS_TOPIC_ARN is unset and no stakeholder group names one"
        return ""

    def send(self, message: OutboxMessage) -> Sent:
        from botocore.exceptions import BotoCoreError, ClientError

        mi = message.payload.get("mi") or {}
        attributes = {
            "update_type": {
                "DataType": "String",
                "StringValue": message.payload.get("update_type") or message.purpose,
            }
        }
        if mi.get("number"):
            attributes["major_incident"] = {"DataType": "String", "StringValue": mi["number"]}
        params = {
            "TopicArn": message.recipient,
            "Subject": sns_subject(message.subject or message.payload.get("subject", "")),
            "Message": sns_text(message),
            "MessageAttributes": attributes,
        }
        if message.recipient.endswith(".fifo"):
            params["MessageGroupId"] = mi.get("number") or "mimdesk"
            params["MessageDeduplicationId"] = hashlib.sha256(
                message.idempotency_key.encode()
            ).hexdigest()
        try:
            answer = aws.client("sns").publish(**params)
        except (BotoCoreError, ClientError) as exc:
            raise aws.transport_error(exc, "SNS Publish") from exc
        if not answer.get("MessageId"):
            raise TransportError("SNS Publish: no MessageId in the answer")
        return Sent(provider_message_id=answer["MessageId"])
