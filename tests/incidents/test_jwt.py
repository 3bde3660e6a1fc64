"""JWT bearer authentication: every bad token is a 401 (never a 500).

Tokens MIM Desk issues itself (HS256) name a user of ours, whose roles the database decides; only
the configured IdP's tokens (RS256 from its JWKS) create users and set their groups from the
roles claim, and only to MIM Desk's roles and groups that exist. The IdP's key cache itself
(rotation, garbage, a hanging IdP) is in test_jwks.py.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.services import tokens
from tests.conftest import PASSWORD, make_user
from tests.incidents.jwks_server import idp_key, pem

User = get_user_model()

# The key settings.py fell back to when SECRET_KEY was unset, also with DEBUG=false: public, in
# the repository's history. A token signed with it must never be accepted.
OLD_PUBLIC_KEY = "mimdesk-insecure-development-key-change-me-in-production-0123456789"


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


@pytest.fixture(autouse=True)
def token_user(db: None) -> Any:
    """The user ``make_token`` names by default: a technician of ours."""
    return make_user("usr_token_user", "technician")


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
    # The username is used as given: these are not usr_token_user, and not made to be.
    "sub with a trailing space": {"sub": "usr_token_user "},
    "sub with a leading space": {"sub": " usr_token_user"},
    # RFC 7519's NumericDate is a number; PyJWT alone reads these with int() and accepts them.
    "exp a numeric string": {"exp": str(_from_now(hours=1))},
    "exp Infinity": {"exp": float("inf")},
    "exp NaN": {"exp": float("nan")},
    "exp true": {"exp": True},
    "nbf a numeric string": {"nbf": "0"},
    "iat a numeric string": {"iat": str(_ago(minutes=1))},
    # Role names that could not be stored as a group name.
    "role longer than a group name": {"roles": ["technician", "r" * 151]},
    "role with a NUL": {"roles": ["technician\x00"]},
    "roles a string": {"roles": "technician"},
    "roles a dict": {"roles": {"technician": True}},
    "roles of numbers": {"roles": [1, 2]},
    "roles nested": {"roles": [["technician"]]},
    "refresh used as access": {"token_type": "refresh"},
}


@pytest.mark.parametrize("claims", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_bad_claims_are_401(db, bearer, make_token, claims):
    _assert_401(bearer(make_token(**claims)).get("/api/incidents/"))
    assert User.objects.count() == 1  # usr_token_user only: nobody was made from the claims
    assert not Group.objects.filter(name__startswith="r" * 100).exists()


def test_expiry_allows_the_configured_leeway(db, bearer, make_token, settings):
    settings.JWT_LEEWAY_SECONDS = 30
    token = make_token(exp=_ago(seconds=10))
    assert bearer(token).get("/api/incidents/").status_code == 200
    _assert_401(bearer(make_token(exp=_ago(seconds=60))).get("/api/incidents/"))


@pytest.mark.parametrize("key", ["a-wrong-key-that-is-long-enough-for-hmac-sha256", OLD_PUBLIC_KEY])
def test_wrong_signature_is_401(db, bearer, make_token, key):
    _assert_401(bearer(make_token(key=key)).get("/api/incidents/"))


def test_the_old_public_key_cannot_sign_a_super_admin_token(sam, bearer, settings):
    assert OLD_PUBLIC_KEY not in (settings.SECRET_KEY, settings.JWT_SIGNING_KEY)
    forged = jwt.encode(
        {"sub": sam.username, "roles": ["super_admin"], "exp": _from_now(hours=1)},
        OLD_PUBLIC_KEY,
        algorithm="HS256",
    )
    _assert_401(bearer(forged).patch("/api/system-properties/auto_declare_mode/", {"value": "off"}))


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


# --- tokens MIM Desk issues itself: the database decides the roles ---------------------------


def test_own_token_for_an_unknown_user_is_401(db, bearer, make_token):
    _assert_401(bearer(make_token(sub="usr_ghost", roles=["super_admin"])).get("/api/incidents/"))
    assert not User.objects.filter(username="usr_ghost").exists()


def test_own_token_roles_claim_grants_nothing(tina, bearer, make_token):
    # Signed with our key, as a token issued before a demotion is: the claim is display only.
    token = make_token(sub=tina.username, roles=["itsm_manager", "super_admin", "chatops-bot"])
    client = bearer(token)
    assert client.get("/api/incidents/").status_code == 200  # tina is a technician
    assert client.post("/api/cis/", {"name": "Search", "kind": "application"}).status_code == 403
    assert list(tina.groups.values_list("name", flat=True)) == ["technician"]
    assert not Group.objects.filter(name="chatops-bot").exists()


def test_own_token_without_roles_keeps_the_users_roles(tina, bearer, make_token):
    assert (
        bearer(make_token(sub=tina.username, roles=None)).get("/api/incidents/").status_code == 200
    )
    assert list(tina.groups.values_list("name", flat=True)) == ["technician"]


def test_removing_a_role_in_the_admin_takes_effect_on_the_next_request(
    alice, root, admin_form, as_user
):
    manager = as_user(alice)  # a token that still says itsm_manager
    ci = {"name": "Search", "kind": "application"}
    assert manager.post("/api/cis/", ci, format="json").status_code == 201

    admin = Client()
    admin.force_login(root)
    url = f"/admin/auth/user/{alice.pk}/change/"
    form = admin_form(admin.get(url))
    form["groups"] = []
    response = admin.post(url, form)
    assert response.status_code == 302, response.content
    assert not alice.groups.exists()

    # The same token, the very next request: the role is gone, and the token did not bring it
    # back (before, its claim rewrote the groups and undid the demotion).
    response = manager.post("/api/cis/", {**ci, "name": "Search 2"}, format="json")
    assert response.status_code == 403, response.content
    assert manager.get("/api/incidents/").status_code == 403
    assert not alice.groups.exists()


def test_refresh_rereads_the_roles(api, alice):
    pair = api.post(
        "/api/auth/token/", {"username": alice.username, "password": PASSWORD}, format="json"
    ).json()
    alice.groups.clear()  # demoted in the admin
    old_access = APIClient()
    old_access.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert old_access.get("/api/incidents/").status_code == 403

    refreshed = api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert tokens.decode(refreshed.json()["access"])["roles"] == []
    alice.groups.add(Group.objects.get(name="technician"))
    refreshed = api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert tokens.decode(refreshed.json()["access"])["roles"] == ["technician"]


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


# --- tokens from the configured IdP (RS256, its JWKS on a local server) ------------------------


def test_idp_token_is_accepted(idp, bearer):
    client = bearer(idp.token(sub="usr_sso"))
    assert client.get("/api/incidents/").status_code == 200
    assert client.get("/api/incidents/").status_code == 200
    assert idp.server.hits == 1  # the key set is cached, not fetched per request
    assert User.objects.get(username="usr_sso").groups.get().name == "technician"


def test_idp_unknown_user_is_created_with_the_roles_groups(idp, bearer):
    token = idp.token(sub="usr_new_manager", roles=["itsm_manager", "technician"])
    assert bearer(token).get("/api/system-properties/").status_code == 200
    user = User.objects.get(username="usr_new_manager")
    assert sorted(user.groups.values_list("name", flat=True)) == ["itsm_manager", "technician"]


def test_user_created_from_an_idp_token_cannot_log_in_with_an_empty_password(
    idp, bearer, api, settings
):
    bearer(idp.token(sub="usr_created")).get("/api/incidents/")
    # authenticate() is what every login here calls (the token endpoint, the login page); the
    # forms refuse a blank password before it, so ask it directly. A user made with
    # set_password("") or create_user(password="") would be let in here.
    assert authenticate(None, username="usr_created", password="") is None
    user = User.objects.get(username="usr_created")
    assert not user.has_usable_password()
    # Nor does the stored marker work as a password, once local logins are on again.
    settings.JWT_JWKS_URL = ""
    for password in (user.password, " "):
        response = api.post(
            "/api/auth/token/", {"username": "usr_created", "password": password}, format="json"
        )
        assert response.status_code == 401, response.content


def test_idp_roles_follow_the_claim_on_each_request(idp, bearer):
    user = "usr_role_hopper"
    as_tech = bearer(idp.token(sub=user, roles=["technician"]))
    as_manager = bearer(idp.token(sub=user, roles=["itsm_manager"]))
    as_nobody = bearer(idp.token(sub=user, roles=[]))
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


def test_idp_claim_grants_known_roles_and_existing_groups_only(idp, bearer):
    Group.objects.create(name="oncall-eu")  # made by an admin
    groups_before = Group.objects.count()
    invented = [f"invented-{i}" for i in range(500)]
    token = idp.token(sub="usr_bot", roles=["technician", "oncall-eu", "chatops-bot", *invented])
    assert bearer(token).get("/api/incidents/").status_code == 200
    user = User.objects.get(username="usr_bot")
    assert sorted(user.groups.values_list("name", flat=True)) == ["oncall-eu", "technician"]
    assert Group.objects.count() == groups_before  # not one group per name in a claim


def test_idp_claim_restores_a_deleted_role_group(idp, bearer):
    Group.objects.filter(name="legal").delete()
    bearer(idp.token(sub="usr_counsel", roles=["legal"])).get("/api/incidents/")
    assert User.objects.get(username="usr_counsel").groups.get().name == "legal"


@pytest.mark.parametrize(
    "roles",
    [["technician", "r" * 151], ["technician\x00"], ["\x00"]],
    ids=["too long", "NUL inside", "NUL alone"],
)
def test_idp_role_that_cannot_be_stored_is_401(idp, bearer, roles):
    _assert_401(bearer(idp.token(sub="usr_sso", roles=roles)).get("/api/incidents/"))
    assert not User.objects.filter(username="usr_sso").exists()


def test_idp_username_is_used_as_given(idp, bearer, tina):
    _assert_401(bearer(idp.token(sub=f"{tina.username} ")).get("/api/incidents/"))
    assert User.objects.filter(username__startswith=tina.username).count() == 1


def test_idp_exp_must_be_a_number(idp, bearer):
    _assert_401(bearer(idp.token(exp=str(_from_now(hours=1)))).get("/api/incidents/"))


def test_idp_missing_roles_claim_means_no_roles(idp, bearer, tina):
    assert (
        bearer(idp.token(sub=tina.username, roles=None)).get("/api/incidents/").status_code == 403
    )
    assert not tina.groups.exists()


def test_idp_roles_claim_name_is_configurable(idp, bearer, settings):
    settings.JWT_ROLES_CLAIM = "groups"
    token = idp.token(sub="usr_idp_user", roles=None, groups=["technician"])
    assert bearer(token).get("/api/incidents/").status_code == 200


def test_idp_token_signed_with_another_key_is_401(idp, bearer):
    _assert_401(bearer(idp.token(key=idp_key("other"))).get("/api/incidents/"))


def test_idp_token_with_unknown_kid_is_401(idp, bearer):
    _assert_401(bearer(idp.token(kid="rotated-away")).get("/api/incidents/"))


def test_idp_token_without_kid_is_401(idp, bearer):
    now = int(timezone.now().timestamp())
    token = jwt.encode(
        {"sub": "usr_sso", "exp": now + 60, "aud": "mimdesk", "iss": "https://idp.example.test/"},
        pem(idp.key),
        algorithm="RS256",
    )
    _assert_401(bearer(token).get("/api/incidents/"))


def test_idp_audience_and_issuer_checked(idp, bearer):
    assert bearer(idp.token()).get("/api/incidents/").status_code == 200
    _assert_401(bearer(idp.token(aud="other")).get("/api/incidents/"))
    _assert_401(bearer(idp.token(iss="https://evil.example.test/")).get("/api/incidents/"))


def test_hs256_token_is_401_when_rs256_is_configured(idp, make_token, bearer, tina):
    # Our own HS256 tokens, and the classic confusion: HMAC keyed with the public key.
    public_pem = idp.key.public_key().public_bytes(
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


def test_alg_none_is_401_when_rs256_is_configured(idp, bearer):
    token = _unsigned({"sub": "usr_mallory", "exp": _from_now(hours=1)})
    _assert_401(bearer(token).get("/api/incidents/"))


def test_token_endpoints_are_off_when_the_idp_issues_tokens(api, tina, settings):
    settings.JWT_JWKS_URL = "http://127.0.0.1:9/jwks.json"
    for path, body in [
        ("/api/auth/token/", {"username": tina.username, "password": "x"}),
        ("/api/auth/token/refresh/", {"refresh": "x"}),
    ]:
        response = api.post(path, body, format="json")
        assert response.status_code == 400
        assert "identity provider" in response.json()["detail"]
