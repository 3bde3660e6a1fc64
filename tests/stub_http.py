"""A local HTTP peer that records every request and answers from a script: the stand-in for
Slack, Teams, Statuspage, PagerDuty, Opsgenie, webhooks and the drafting model in tests.

    with StubServer() as stub:
        stub.script("/api/chat.postMessage", Reply(500), Reply(429, headers={"Retry-After": "2"}))
        stub.default = Reply(200, {"ok": True})
        ... code under test posts to stub.url + "/api/chat.postMessage" ...
        assert [r.path for r in stub.requests] == [...]

A scripted path answers its replies in turn, then ``default``. A reply can ``hang`` (sleep
before answering) to test timeouts; ``handler`` computes a reply from the request.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list → JSON; str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


class StubServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default = Reply(200, {"ok": True})
        self.handler: Callable[[Recorded], Reply | None] | None = None
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                reply = owner._reply_for(recorded)
                if reply.hang:
                    time.sleep(reply.hang)
                raw = reply.body
                if isinstance(raw, (dict, list)):
                    raw = json.dumps(raw).encode()
                    ctype = "application/json"
                else:
                    raw = raw.encode() if isinstance(raw, str) else raw
                    ctype = "text/plain"
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": ctype, **reply.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _reply_for(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            queue = self._scripts.get(recorded.path)
            if queue:
                return queue.popleft()
        if self.handler is not None:
            reply = self.handler(recorded)
            if reply is not None:
                return reply
        return self.default

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies``, in turn."""
        with self._lock:
            self._scripts[path].extend(replies)

    def to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
