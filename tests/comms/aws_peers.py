"""Real local peers for the email and SNS channels.

- ``moto``: moto's server mode (``ThreadedMotoServer``) on a free loopback port, dummy
  credentials in the environment, the settings pointed at it (``AWS_ENDPOINT_URL``) and the
  sender verified in SES. ``moto.stop()``/``moto.start()`` take the endpoint down and up on the
  same port (moto's state lives in this process and survives).
- ``smtp``: an aiosmtpd server on a free loopback port that keeps every message it accepts and
  refuses the recipients its ``refuse`` map names with the given reply.
- ``ses_sent(region)``: what moto's SES received, read from the moto backend in this process.
"""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

from comms import channels
from tests.peers import free_port

REGION = "eu-west-1"
SENDER = "major-incidents@mimdesk.example"


class Moto:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("moto did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.url)


def ses_sent(region: str = REGION) -> list[Any]:
    """What moto's SES accepted (``RawMessage``: ``id``, ``destinations``, ``raw_data``)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)


def ses_recipients(region: str = REGION) -> list[str]:
    """One address per message moto's SES accepted and recipient of it (moto lists a raw
    message's envelope recipients and its To header both, so each message's are made unique)."""
    from email.utils import parseaddr

    return [
        address
        for message in ses_sent(region)
        for address in sorted({parseaddr(d)[1].lower() for d in message.destinations})
    ]


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: F401 (moto's state is reset below)

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    peer = Moto()
    peer.start()
    import requests

    requests.post(f"{peer.url}/moto-api/reset", timeout=5)
    with override_settings(AWS_REGION=REGION, AWS_ENDPOINT_URL=peer.url, MIM_SENDER_EMAIL=SENDER):
        channels.reset()
        peer.client("ses").verify_email_identity(EmailAddress=SENDER)
        try:
            yield peer
        finally:
            peer.stop()
            channels.reset()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SMTPHandler:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address → reply, e.g. "550 no such"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


class SMTPPeer:
    def __init__(self) -> None:
        self.handler = SMTPHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[Received]:
        return self.handler.received


@pytest.fixture
def smtp() -> Iterator[SMTPPeer]:
    peer = SMTPPeer()
    peer.controller.start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=peer.port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT=5,
        MIM_SENDER_EMAIL=SENDER,
    ):
        channels.reset()
        try:
            yield peer
        finally:
            peer.controller.stop()
            channels.reset()
