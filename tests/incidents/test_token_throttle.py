"""/api/auth/token/ is throttled per username and per client address: 429 with Retry-After.

Rates come from settings (here 3 a minute for the one under test, 1000 for the other), and
every attempt runs well within the minute, so the counts are exact.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

URL = "/api/auth/token/"


@pytest.fixture
def rates(settings: Any) -> Any:
    def _set(*, user: str = "1000/minute", address: str = "1000/minute") -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"token_user": user, "token_address": address},
        }

    return _set


def _login(username: str, password: str = "wrong", address: str = "10.0.0.1", **headers: str):
    return APIClient().post(
        URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=address,
        **headers,
    )  # fmt: skip


def _assert_429(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_attempts_at_one_username_are_throttled_from_any_address(rates, tina, alice):
    rates(user="3/minute")
    for i in range(3):
        assert _login(tina.username, address=f"10.0.1.{i}").status_code == 401
    _assert_429(_login(tina.username, address="10.0.1.99"))
    # Even the right password waits: the throttle comes before the password check.
    _assert_429(_login(tina.username, PASSWORD, address="10.0.1.100"))
    # Other users are not held up by the guessing at tina's account.
    assert _login(alice.username, PASSWORD, address="10.0.1.0").status_code == 200


def test_attempts_from_one_address_are_throttled_whatever_the_username(rates, tina):
    rates(address="3/minute")
    for name in ("usr_a", "usr_b", "usr_c"):
        assert _login(name, address="10.0.2.1").status_code == 401
    _assert_429(_login(tina.username, PASSWORD, address="10.0.2.1"))
    assert _login(tina.username, PASSWORD, address="10.0.2.2").status_code == 200


def test_a_forged_forwarded_for_header_does_not_make_a_new_address(rates, db):
    rates(address="3/minute")
    for i in range(3):
        _login(f"usr_{i}", address="10.0.3.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    _assert_429(_login("usr_9", address="10.0.3.1", HTTP_X_FORWARDED_FOR="192.0.2.99"))


def test_behind_one_proxy_the_forwarded_address_counts(rates, settings, db):
    rates(address="3/minute")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.4.1"
    for i in range(3):
        _login(f"usr_{i}", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7")
    _assert_429(_login("usr_9", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7"))
    assert _login("usr_9", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 401


def test_the_default_rates_throttle_a_password_guesser(tina):
    codes = [_login(tina.username, f"guess-{i}", address="10.0.5.1").status_code for i in range(12)]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]
