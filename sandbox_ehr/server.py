"""Run a WSGI app on loopback in a background thread (werkzeug's threaded server): for ``smart-edu demo``
and the end-to-end fixtures only; the app's real server is gunicorn."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry patient ids and launch parameters."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _not_ready(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


class ServerThread:
    """Bind first (port 0 = a free port), so each side can be configured with the other's URL, then serve."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, _not_ready, threaded=True, request_handler=QuietHandler
        )
        self.host = host
        self.port = int(self._server.server_port)
        self.app: Any = None
        self._thread: threading.Thread | None = None

    def serve(self, app: Any) -> ServerThread:
        self.app = app
        self._server.app = app
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"wsgi-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def install_stop_handlers() -> threading.Event:
    """Ctrl-C and SIGTERM set the returned event from now on. Install before telling anyone how to stop: a
    signal that arrives between the message and the handler would kill the process uncleanly."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return stop


def wait_for_stop(stop: threading.Event | None = None) -> None:
    """Block until Ctrl-C or SIGTERM (the main thread's job while the servers run in theirs)."""
    stop = stop or install_stop_handlers()
    while not stop.wait(0.5):
        pass
