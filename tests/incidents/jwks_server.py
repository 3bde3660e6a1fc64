"""A local identity provider's JWKS endpoint that the tests control: rotate keys, answer garbage,
fail, or hang; it counts the fetches it was asked for."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.example.test/"
AUDIENCE = "mimdesk"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    data.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return data


class JWKSServer:
    """Serves ``body`` (a dict as JSON, or raw bytes) with ``status``; ``hang`` makes every
    request wait (until ``release()`` or the server stops) before answering."""

    def __init__(self, body: dict[str, Any] | bytes) -> None:
        self.body: dict[str, Any] | bytes = body
        self.status = 200
        self.headers: dict[str, str] = {}
        self.hits = 0
        self._hang = threading.Event()
        self._released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                if owner._hang.is_set():
                    owner._released.wait(60)
                body = owner.body
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(owner.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    for name, value in owner.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def serve_keys(self, *keys: dict[str, Any]) -> None:
        self.body = {"keys": list(keys)}
        self.status = 200

    def hang(self) -> None:
        self._released.clear()
        self._hang.set()

    def release(self) -> None:
        self._hang.clear()
        self._released.set()

    def __enter__(self) -> JWKSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class IdP:
    """The identity provider of a test: its JWKS server and keys, and tokens signed by it."""

    def __init__(self, server: JWKSServer, key: rsa.RSAPrivateKey, kid: str) -> None:
        self.server = server
        self.key = key
        self.kid = kid

    def token(
        self,
        *,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """An RS256 token as the IdP issues it (claims given as None are left out)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": "usr_sso",
            "roles": ["technician"],
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(
            body, pem(key or self.key), algorithm="RS256", headers={"kid": kid or self.kid}
        )


_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def idp_key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name for the whole run (making one takes a while)."""
    if name not in _KEYS:
        _KEYS[name] = rsa_key()
    return _KEYS[name]


def idp_settings(settings: Any, url: str, **overrides: Any) -> None:
    """What settings.py makes of JWT_JWKS_URL (with the audience and issuer it then requires)."""
    settings.JWT_JWKS_URL = url
    settings.JWT_ALGORITHM = "RS256"
    settings.JWT_AUDIENCE = AUDIENCE
    settings.JWT_ISSUER = ISSUER
    for name, value in overrides.items():
        setattr(settings, name, value)
