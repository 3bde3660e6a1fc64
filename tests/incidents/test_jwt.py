"""JWT bearer authentication: every bad token is a 401 (never a 500); roles follow the claim."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.services import tokens

User = get_user_model()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _ago(**delta: int) -> int:
    return int((timezone.now() - timedelta(**delta)).timestamp())


def _from_now(**delta: int) -> int:
    return int((timezone.now() + timedelta(**delta)).timestamp())


def _unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    return f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(claims)}."


def _assert_401(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- negatives (HS256, the default) -------------------------------------------------------------

BAD_CLAIMS = {
    "expired": {"exp": _ago(hours=1), "iat": _ago(hours=2)},
    "no exp": {"exp": None},
    "exp not a number": {"exp": "tomorrow"},
    "not yet valid": {"nbf": _from_now(hours=1)},
    "missing sub": {"sub": None},
    "empty sub": {"sub": "  "},
    "sub not a string": {"sub": 42},
    "sub too long": {"sub": "u" * 151},
    "sub with a NUL": {"sub": "usr\x00admin"},
    "sub with a newline": {"sub": "usr_admin\n"},
    "roles a string": {"roles": "technician"},
    "roles a dict": {"roles": {"technician": True}},
    "roles of numbers": {"roles": [1, 2]},
    "roles nested": {"roles": [["technician"]]},
    "refresh used as access": {"token_type": "refresh"},
}


@pytest.mark.parametrize("claims", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_bad_claims_are_401(db, bearer, make_token, claims):
    _assert_401(bearer(make_token(**claims)).get("/api/incidents/"))
    assert not User.objects.filter(username="usr_token_user").exists()


def test_expiry_allows_the_configured_leeway(db, bearer, make_token, settings):
    settings.JWT_LEEWAY_SECONDS = 30
    token = make_token(exp=_ago(seconds=10))
    assert bearer(token).get("/api/incidents/").status_code == 200
    _assert_401(bearer(make_token(exp=_ago(seconds=60))).get("/api/incidents/"))


@pytest.mark.parametrize(
    "key",
    [
        "a-wrong-key-that-is-long-enough-for-hmac-sha256",
        "mimdesk-insecure-development-key-change-me-in-production-012345678",
    ],
)
def test_wrong_signature_is_401(db, bearer, make_token, key):
    _assert_401(bearer(make_token(key=key)).get("/api/incidents/"))


def test_tampered_payload_is_401(db, bearer, make_token):
    header, _, signature = make_token(roles=["technician"]).split(".")
    payload = _b64({"sub": "usr_token_user", "roles": ["super_admin"], "exp": _from_now(hours=1)})
    _assert_401(bearer(f"{header}.{payload}.{signature}").get("/api/incidents/"))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_401(db, bearer, alg):
    token = _unsigned(
        {"sub": "usr_mallory", "roles": ["super_admin"], "exp": _from_now(hours=1)}, alg
    )
    _assert_401(bearer(token).get("/api/incidents/"))
    assert not User.objects.filter(username="usr_mallory").exists()


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithm_is_401(db, bearer, make_token, algorithm):
    _assert_401(bearer(make_token(algorithm=algorithm)).get("/api/incidents/"))


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        "a.b",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",  # payload is not JSON
        "bm90IGpzb24.e30.c2ln",  # header is not JSON
        "x" * 5000,
        "é",
    ],
)
def test_garbage_token_is_401(db, bearer, token):
    _assert_401(bearer(token).get("/api/incidents/"))


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "bearer  ", "Bearer\ttoken extra"])
def test_malformed_authorization_header_is_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    _assert_401(client.get("/api/incidents/"))


def test_other_scheme_is_anonymous(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert client.get("/api/incidents/").status_code == 401


def test_inactive_user_is_401(tina, bearer, make_token):
    tina.is_active = False
    tina.save()
    _assert_401(bearer(make_token(sub=tina.username)).get("/api/incidents/"))


@pytest.mark.parametrize(
    ("claims", "ok"),
    [
        ({"aud": "mimdesk"}, True),
        ({"aud": ["other", "mimdesk"]}, True),
        ({"aud": "other"}, False),
        ({"aud": ["other"]}, False),
        ({}, False),  # no audience at all
    ],
)
def test_audience_checked_when_set(db, bearer, make_token, settings, claims, ok):
    settings.JWT_AUDIENCE = "mimdesk"
    response = bearer(make_token(**claims)).get("/api/incidents/")
    if ok:
        assert response.status_code == 200
    else:
        _assert_401(response)


@pytest.mark.parametrize(
    ("claims", "ok"),
    [
        ({"iss": "https://idp.example.test/"}, True),
        ({"iss": "https://evil.example.test/"}, False),
        ({"iss": "https://idp.example.test"}, False),
        ({}, False),
    ],
)
def test_issuer_checked_when_set(db, bearer, make_token, settings, claims, ok):
    settings.JWT_ISSUER = "https://idp.example.test/"
    response = bearer(make_token(**claims)).get("/api/incidents/")
    if ok:
        assert response.status_code == 200
    else:
        _assert_401(response)


def test_audience_ignored_when_not_set(db, bearer, make_token, settings):
    settings.JWT_AUDIENCE = ""
    assert bearer(make_token(aud="anything")).get("/api/incidents/").status_code == 200


def test_own_tokens_carry_audience_and_issuer_when_set(tina, settings, bearer):
    settings.JWT_AUDIENCE = "mimdesk"
    settings.JWT_ISSUER = "https://mimdesk.example.test/"
    token = tokens.issue(tina)
    claims = tokens.decode(token)
    assert (claims["aud"], claims["iss"]) == ("mimdesk", "https://mimdesk.example.test/")
    assert bearer(token).get("/api/incidents/").status_code == 200


# --- positives ---------------------------------------------------------------------------------


def test_unknown_user_is_created_with_the_roles_groups(db, bearer, make_token):
    token = make_token(sub="usr_new_manager", roles=["itsm_manager", "technician"])
    response = bearer(token).get("/api/system-properties/")
    assert response.status_code == 200
    user = User.objects.get(username="usr_new_manager")
    assert sorted(user.groups.values_list("name", flat=True)) == ["itsm_manager", "technician"]
    assert not user.has_usable_password()


def test_created_user_cannot_log_in_with_an_empty_password(db, bearer, make_token, api):
    bearer(make_token(sub="usr_created")).get("/api/incidents/")
    response = api.post(
        "/api/auth/token/", {"username": "usr_created", "password": ""}, format="json"
    )
    assert response.status_code in (400, 401)


def test_roles_follow_the_claim_on_each_request(db, bearer, make_token):
    user = "usr_role_hopper"
    as_tech = bearer(make_token(sub=user, roles=["technician"]))
    as_manager = bearer(make_token(sub=user, roles=["itsm_manager"]))
    as_nobody = bearer(make_token(sub=user, roles=[]))
    ci = {"name": "Search", "kind": "application"}

    assert as_tech.post("/api/cis/", ci, format="json").status_code == 403
    created = as_manager.post("/api/cis/", ci, format="json")
    assert created.status_code == 201
    assert list(User.objects.get(username=user).groups.values_list("name", flat=True)) == [
        "itsm_manager"
    ]
    # Back to technician: the manager's rights are gone on the very next request.
    url = f"/api/cis/{created.json()['id']}/"
    assert as_tech.patch(url, {"user_count": 3}, format="json").status_code == 403
    assert as_tech.get("/api/incidents/").status_code == 200
    assert as_nobody.get("/api/incidents/").status_code == 403
    assert not User.objects.get(username=user).groups.exists()


def test_unknown_role_makes_a_group_without_rights(db, bearer, make_token):
    client = bearer(make_token(sub="usr_bot", roles=["chatops-bot"]))
    assert client.get("/api/incidents/").status_code == 403
    group = Group.objects.get(name="chatops-bot")
    assert not group.permissions.exists()


def test_missing_roles_claim_means_no_roles(tina, bearer, make_token):
    assert (
        bearer(make_token(sub=tina.username, roles=None)).get("/api/incidents/").status_code == 403
    )
    assert not tina.groups.exists()


def test_roles_claim_name_is_configurable(db, bearer, make_token, settings):
    settings.JWT_ROLES_CLAIM = "groups"
    token = make_token(sub="usr_idp_user", roles=None, groups=["technician"])
    assert bearer(token).get("/api/incidents/").status_code == 200


def test_issued_token_roundtrip(alice):
    claims = tokens.decode(tokens.issue(alice))
    assert claims["sub"] == alice.username
    assert claims["roles"] == ["itsm_manager"]
    with pytest.raises(tokens.InvalidToken):
        tokens.decode(tokens.issue(alice, token_type=tokens.REFRESH))
    assert tokens.decode(tokens.issue(alice, token_type=tokens.REFRESH), expected_type="refresh")


def test_issued_token_expires(alice, bearer):
    token = tokens.issue(alice, lifetime=timedelta(minutes=-5))
    _assert_401(bearer(token).get("/api/incidents/"))


# --- RS256 through a JWKS served by a local HTTP server ---------------------------------------


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


class _JWKSServer:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                body = json.dumps(owner.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _JWKSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jwks(settings, idp_key) -> Iterator[_JWKSServer]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(idp_key.public_key()))
    jwk.update({"kid": "idp-1", "use": "sig", "alg": "RS256"})
    tokens._jwks_client.cache_clear()
    with _JWKSServer({"keys": [jwk]}) as server:
        settings.JWT_JWKS_URL = server.url
        settings.JWT_ALGORITHM = "RS256"
        yield server
    tokens._jwks_client.cache_clear()


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_rs256_token_from_the_idp_is_accepted(db, jwks, idp_key, make_token, bearer):
    token = make_token(
        key=_pem(idp_key), algorithm="RS256", headers={"kid": "idp-1"}, sub="usr_sso"
    )
    client = bearer(token)
    assert client.get("/api/incidents/").status_code == 200
    assert client.get("/api/incidents/").status_code == 200
    assert jwks.hits == 1  # the key set is cached, not fetched per request
    assert User.objects.get(username="usr_sso").groups.get().name == "technician"


def test_rs256_token_signed_with_another_key_is_401(db, jwks, other_key, make_token, bearer):
    token = make_token(key=_pem(other_key), algorithm="RS256", headers={"kid": "idp-1"})
    _assert_401(bearer(token).get("/api/incidents/"))


def test_rs256_token_with_unknown_kid_is_401(db, jwks, idp_key, make_token, bearer):
    token = make_token(key=_pem(idp_key), algorithm="RS256", headers={"kid": "rotated-away"})
    _assert_401(bearer(token).get("/api/incidents/"))


def test_hs256_token_is_401_when_rs256_is_configured(db, jwks, idp_key, make_token, bearer, tina):
    # Our own HS256 tokens, and the classic confusion: HMAC keyed with the public key.
    public_pem = idp_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = jwt.api_jws.PyJWS()
    confused._algorithms["HS256"].prepare_key = lambda key: key  # allow a PEM as HMAC secret
    body = json.dumps(
        {"sub": "usr_mallory", "roles": ["super_admin"], "exp": _from_now(hours=1)}
    ).encode()
    forged = confused.encode(body, public_pem, algorithm="HS256", headers={"kid": "idp-1"})
    for token in (forged, tokens.issue(tina), make_token(headers={"kid": "idp-1"})):
        _assert_401(bearer(token).get("/api/incidents/"))
    assert not User.objects.filter(username="usr_mallory").exists()


def test_alg_none_is_401_when_rs256_is_configured(db, jwks, bearer):
    token = _unsigned({"sub": "usr_mallory", "exp": _from_now(hours=1)})
    _assert_401(bearer(token).get("/api/incidents/"))


def test_rs256_audience_checked(db, jwks, idp_key, make_token, bearer, settings):
    settings.JWT_AUDIENCE = "mimdesk"
    good = make_token(key=_pem(idp_key), algorithm="RS256", headers={"kid": "idp-1"}, aud="mimdesk")
    bad = make_token(key=_pem(idp_key), algorithm="RS256", headers={"kid": "idp-1"}, aud="other")
    assert bearer(good).get("/api/incidents/").status_code == 200
    _assert_401(bearer(bad).get("/api/incidents/"))


def test_unreachable_jwks_is_401_not_500(db, settings, idp_key, make_token, bearer):
    with _JWKSServer({"keys": []}) as server:
        url = server.url
    tokens._jwks_client.cache_clear()
    settings.JWT_JWKS_URL = url  # nobody listens there any more
    settings.JWT_ALGORITHM = "RS256"
    try:
        token = make_token(key=_pem(idp_key), algorithm="RS256", headers={"kid": "idp-1"})
        _assert_401(bearer(token).get("/api/incidents/"))
    finally:
        tokens._jwks_client.cache_clear()


def test_token_endpoints_are_off_when_the_idp_issues_tokens(api, tina, settings):
    settings.JWT_JWKS_URL = "http://127.0.0.1:9/jwks.json"
    for path, body in [
        ("/api/auth/token/", {"username": tina.username, "password": "x"}),
        ("/api/auth/token/refresh/", {"refresh": "x"}),
    ]:
        response = api.post(path, body, format="json")
        assert response.status_code == 400
        assert "identity provider" in response.json()["detail"]
