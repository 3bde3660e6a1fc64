"""The filesystem broker of `make run` (config/broker.py): a worker never reads a message that is
still being written, and an unreadable message does not stop it.

Under `make run`'s load the stock transport killed the worker within a minute
("Unrecoverable error: JSONDecodeError"): kombu creates the message file under its final name and
writes it afterwards, so a worker listing the folder in between takes an empty file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from kombu import Connection

import config.broker

TRANSPORT = "config.broker:Transport"


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[Any]:
    folder = tmp_path / "queue"
    folder.mkdir()
    connection = Connection(
        "filesystem://",
        transport=TRANSPORT,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(tmp_path / "control"),
        },
    )
    try:
        yield connection.default_channel
    finally:
        connection.release()


def test_a_message_gets_its_name_only_once_it_is_written(channel, monkeypatch):
    folder = Path(channel.data_folder_out)
    seen_while_writing: list[list[str]] = []
    real = config.broker.str_to_bytes

    def writing(data: Any) -> bytes:
        # The moment the bytes go to the file: what a consumer listing the folder would find.
        seen_while_writing.append([n for n in os.listdir(folder) if n.endswith(".events.msg")])
        return real(data)

    monkeypatch.setattr(config.broker, "str_to_bytes", writing)
    channel._put("events", {"body": "x"})
    assert seen_while_writing == [[]]
    assert [n for n in os.listdir(folder) if n.endswith(".events.msg")] != []
    assert channel._get("events") == {"body": "x"}


def test_an_unreadable_message_is_skipped_not_fatal(channel, caplog):
    folder = Path(channel.data_folder_in)
    # What the stock transport leaves in its window: the file exists, nothing written yet.
    # Named to sort before any real message (kombu reads the folder in name order; real names
    # start with the monotonic clock in ms, which never starts with 0): "1_…" sorted after them
    # once the machine had been up long enough for that clock to pass 10,000,000.
    (folder / "0_00000000-0000-0000-0000-000000000000.events.msg").write_bytes(b"")
    channel._put("events", {"body": "next"})
    assert channel._get("events") == {"body": "next"}
    assert "dropped an unreadable message of queue events" in caplog.text


def test_the_embedded_broker_uses_it():
    if not str(settings.CELERY_BROKER_URL).startswith("filesystem://"):
        pytest.skip("the broker of this run is not the filesystem one")
    assert settings.CELERY_BROKER_TRANSPORT == TRANSPORT
