"""What the tests' real peers (Dovecot, Alertmanager, …) share: a free loopback port, and the
rule for a missing peer: skip on a developer's machine, fail in CI, where it must be there."""

from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_peer(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
