"""How long requests wait for the IdP's keys when the IdP hangs: PyJWT's client vs ours.

Issue 6, item 2. Starts a JWKS server on loopback that serves one RSA key and can be made to
hang (accept the connection, answer nothing), then, for each of the two key caches:

1. ``hanging``: N requests at once (default 4) for a key id the cache does not hold yet, while the
   IdP hangs: how long each waits, and how many fetches reach the IdP.
2. ``again``: one more request right after: how long it waits, and whether it asks the IdP again.
3. ``known``: a key the cache already holds, asked by N requests while a fetch for another key
   id hangs: how long those wait (a request with a known key should never wait for the IdP).
4. ``failing``: one requester asking for an unknown key id in a loop for ``--failing-seconds``
   against an IdP that answers 500: how many fetches reach it (the rate the IdP is asked at).

The "before" is PyJWT's ``PyJWKClient`` as ``incidents/services/tokens.py`` used it until issue 6
(``cache_keys=True, lifespan=300, timeout=5``); the "after" is ``incidents.services.jwks.KeySet``
with the settings' defaults (``JWT_JWKS_LIFESPAN`` 300, ``JWT_JWKS_TIMEOUT`` 3,
``JWT_JWKS_COOLDOWN`` 10). No Django, no database: the two caches are called directly, as the
authentication does for each request.

    .venv/bin/python bench/jwks_waits.py                 # ~1 minute
    .venv/bin/python bench/jwks_waits.py --requests 8 --json /tmp/jwks.json
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

# The module alone, not through ``incidents.services`` (whose package needs Django set up): it
# uses only the standard library and PyJWT.
_spec = importlib.util.spec_from_file_location(
    "jwks", Path(__file__).resolve().parents[1] / "incidents" / "services" / "jwks.py"
)
assert _spec is not None and _spec.loader is not None
_jwks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_jwks)
KeySet = _jwks.KeySet


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwk(kid: str) -> dict[str, str]:
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    numbers = public.public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": _b64(numbers.n),
        "e": _b64(numbers.e),
    }


class IdP:
    """A JWKS endpoint on loopback: ``serve`` (200 with the keys), ``hang`` or ``fail`` (500)."""

    def __init__(self) -> None:
        self.keys = [_jwk("known")]
        self.mode = "serve"
        self.hits = 0
        self.release = threading.Event()
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp.hits += 1
                if idp.mode == "hang":
                    idp.release.wait(60)
                    return
                if idp.mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps({"keys": idp.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, mode: str) -> None:
        self.release.set()  # let any hanging request go
        self.release = threading.Event()
        self.mode = mode
        self.hits = 0


def _token(kid: str) -> str:
    # Only the header matters to a key cache; the signature is never checked here.
    return jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": kid})


class Cache:
    """One of the two caches behind the same call: the key for a token, or an exception."""

    def __init__(self, name: str, get: Callable[[str], Any]) -> None:
        self.name = name
        self._get = get

    def wait(self, kid: str) -> float:
        started = time.monotonic()
        # A refusal (no key, IdP down) is the expected outcome here; only the wait is measured.
        with contextlib.suppress(Exception):
            self._get(kid)
        return time.monotonic() - started


def pyjwt_cache(url: str) -> Cache:
    client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)
    return Cache("before: PyJWKClient", lambda kid: client.get_signing_key_from_jwt(_token(kid)))


def keyset_cache(url: str) -> Cache:
    keys = KeySet(url, lifespan=300, timeout=3, cooldown=10)
    return Cache("after: KeySet", keys.key)


def at_once(calls: list[Callable[[], float]]) -> list[float]:
    results: list[float] = [0.0] * len(calls)
    gate = threading.Barrier(len(calls))

    def run(i: int) -> None:
        gate.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def measure(make: Callable[[str], Cache], requests: int, failing_seconds: float) -> dict[str, Any]:
    idp = IdP()
    cache = make(idp.url)
    out: dict[str, Any] = {"cache": cache.name}

    idp.set("hang")
    waits = at_once([lambda: cache.wait("new-1") for _ in range(requests)])
    out["hanging"] = {"waits_s": sorted(round(w, 2) for w in waits), "fetches": idp.hits}
    hits = idp.hits
    again = cache.wait("new-1")
    out["again"] = {"wait_s": round(again, 2), "fetched_again": idp.hits > hits}

    # A cache that holds the "known" key, then a fetch for another id that hangs.
    idp.set("serve")
    cache = make(idp.url)
    cache.wait("known")
    idp.set("hang")
    fetching = threading.Thread(target=cache.wait, args=("new-2",))
    fetching.start()
    time.sleep(0.2)  # the fetch for new-2 is in flight
    waits = at_once([lambda: cache.wait("known") for _ in range(requests)])
    out["known"] = {"waits_s": sorted(round(w, 3) for w in waits)}
    idp.set("serve")
    fetching.join()

    idp.set("fail")
    cache = make(idp.url)
    deadline = time.monotonic() + failing_seconds
    asked = 0
    while time.monotonic() < deadline:
        cache.wait("new-3")
        asked += 1
    out["failing"] = {"seconds": failing_seconds, "requests": asked, "fetches": idp.hits}
    idp.set("serve")
    idp.server.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4, help="requests at once (4)")
    parser.add_argument("--failing-seconds", type=float, default=3.0, help="failing phase (3)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    results = [
        measure(factory, args.requests, args.failing_seconds)
        for factory in (pyjwt_cache, keyset_cache)
    ]
    for result in results:
        print(f"\n{result['cache']}")
        hanging = result["hanging"]
        print(
            f"  {args.requests} requests at once, IdP hanging: waits {hanging['waits_s']} s, "
            f"{hanging['fetches']} fetch(es)"
        )
        again = result["again"]
        print(
            f"  one more right after: {again['wait_s']} s, "
            f"{'asks the IdP again' if again['fetched_again'] else 'no new fetch'}"
        )
        print(f"  known key while a fetch hangs: waits {result['known']['waits_s']} s")
        failing = result["failing"]
        print(
            f"  IdP answering 500 for {failing['seconds']} s: {failing['requests']} requests, "
            f"{failing['fetches']} fetches"
        )
    print(f"\n1-minute load average at the start: {load:.2f} ({os.cpu_count()} cores)")
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "results": results}, indent=2))


if __name__ == "__main__":
    main()
