"""Fixtures shared by the incidents tests, on top of the personas in ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

User = get_user_model()


@pytest.fixture
def root(db: None) -> Any:
    """A Django superuser: sees every admin page, whatever the role groups grant."""
    return User.objects.create_superuser(
        username="usr_root", password=PASSWORD, email="root@example.test"
    )


@pytest.fixture
def browser_for() -> Callable[[Any], Client]:
    """``browser_for(sam)``: a Django test client logged in (session) as that user."""

    def _client(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _client


def claims_for(username: str = "usr_token_user", **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    claims: dict[str, Any] = {
        "sub": username,
        "roles": ["technician"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def make_token() -> Callable[..., str]:
    """``make_token(sub=..., roles=[...], key=..., algorithm=...)``: a hand-made bearer token.

    Claims given as ``None`` are left out, so ``make_token(sub=None)`` has no subject.
    """

    def _token(
        *,
        key: Any = None,
        algorithm: str = "HS256",
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        username = claims.pop("sub", "usr_token_user")
        body = claims_for(username, **claims) if username is not None else claims_for(**claims)
        if username is None:
            body.pop("sub")
        return jwt.encode(
            body,
            settings.JWT_SIGNING_KEY if key is None else key,
            algorithm=algorithm,
            headers=headers,
        )

    return _token


@pytest.fixture
def bearer() -> Callable[[str], APIClient]:
    """``bearer(token)``: an API client sending exactly that token."""

    def _client(token: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return _client


class _FormParser(HTMLParser):
    """Collects what a browser would submit from the page's main form (``id$="_form"``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.data: dict[str, list[str]] = {}
        self.in_form = False
        self.select: str | None = None
        self.select_multiple = False
        self.textarea: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id", "").endswith("_form"):
            self.in_form = True
        if not self.in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.data.setdefault(name, []).append(
                a.get("value", "on" if kind == "checkbox" else "")
            )
        elif tag == "select" and name:
            self.select, self.select_multiple = name, "multiple" in a
            self.data.setdefault(name, [])
        elif tag == "option" and self.select and "selected" in a:
            self.data[self.select].append(a.get("value", ""))
        elif tag == "textarea" and name:
            self.textarea, self.text = name, []

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "select" and self.select:
            if not self.data[self.select] and not self.select_multiple:
                self.data[self.select] = [""]
            self.select = None
        elif tag == "textarea" and self.textarea:
            # Django renders a newline right after <textarea>; browsers drop it.
            self.data[self.textarea] = ["".join(self.text).removeprefix("\n")]
            self.textarea = None


@pytest.fixture
def admin_form() -> Callable[[Any], dict[str, Any]]:
    """``admin_form(response)``: the admin page's form fields as a browser would post them."""

    def _parse(response: Any) -> dict[str, Any]:
        parser = _FormParser()
        parser.feed(response.content.decode())
        return {k: v if len(v) != 1 else v[0] for k, v in parser.data.items()}

    return _parse


# Major-incident fixtures (listen, mi, p1, person, roster_ic) live in their own module.
from tests.incidents.mi_fixtures import listen, mi, p1, person, roster_ic  # noqa: E402, F401


@pytest.fixture
def idp(settings: Any) -> Any:
    """A running IdP whose JWKS holds one key (``idp-1``); the settings point at it."""
    from incidents.services import tokens
    from tests.incidents.jwks_server import IdP, JWKSServer, idp_key, idp_settings, jwk

    key = idp_key("idp-1")
    tokens._key_set.cache_clear()
    with JWKSServer({"keys": [jwk(key, "idp-1")]}) as server:
        idp_settings(settings, server.url)
        yield IdP(server, key, "idp-1")
    tokens._key_set.cache_clear()
