"""A vendor emulator's server: a real HTTP server on 127.0.0.1, in a daemon thread, that
the tests and the demo start and stop (tooling/emulator.py for the enrichment providers,
tooling/crm_emulator.py for the CRMs)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 (`port` 0: any free port). Use as a context manager,
    or start()/stop(); `stopping` is set when it stops (answers that hang or trickle end)."""

    thread_name = "emulator"

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
