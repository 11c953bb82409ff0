"""Test helpers: a local HTTP server that receives webhooks, and waiting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """Records every POST it gets; answers ``fail_first`` requests with 500, then ``status``.

    ``script`` overrides that per request: its n-th entry, (status, seconds to wait before
    answering), answers the n-th request.
    """

    def __init__(self, fail_first: int = 0, status: int = 200, script: list[tuple[int, float]] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.status = status
        self.script = script or []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "json": json.loads(body)})
                    n = len(receiver.requests)
                    status = 500 if n <= receiver.fail_first else receiver.status
                    wait = 0.0
                    if n <= len(receiver.script):
                        status, wait = receiver.script[n - 1]
                time.sleep(wait)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
