"""HTTP calls with a wall-clock deadline: connect, headers and body together.

`requests`' `timeout` bounds each socket read, not the call: a server (or a proxy) that
sends its headers and then one byte every few seconds keeps a call open for ever. Here
every call made through a `DeadlineSession` is registered with a watchdog thread, which
shuts the call's socket down when its deadline passes (a blocked read then returns at
once), or when `InFlight.cancel` ends every call (SIGTERM, the step's deadline).

    in_flight = InFlight()
    session = DeadlineSession(in_flight)
    response = session.post_within(url, deadline=time.monotonic() + 30, data=..., headers=...)

`CallExpired` is raised when the deadline (or a cancel) ended the call; any other
failure is `requests`' own exception.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the call the running thread is making


class CallExpired(requests.exceptions.Timeout):
    """The call's wall-clock deadline passed (or every call was cancelled) before it finished."""


class _Call:
    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connections: list[HTTPConnection] = []
        self.ended_by: str | None = None  # "deadline" or the reason of a cancel

    def end(self, why: str) -> None:
        if self.ended_by is None:
            self.ended_by = why
        for conn in self.connections:
            sock = conn.sock
            if sock is not None:
                # the plain socket's shutdown, also under TLS: a blocked read returns at once
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _note_connection(conn: HTTPConnection) -> None:
    call = getattr(_current, "call", None)
    if call is not None and conn not in call.connections:
        call.connections.append(conn)


class _TrackedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _note_connection(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:  # a kept-alive connection is not connected again
        _note_connection(self)
        super().request(*args, **kwargs)


class _TrackedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _note_connection(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _note_connection(self)
        super().request(*args, **kwargs)


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_POOLS = {"http": _TrackedHTTPPool, "https": _TrackedHTTPSPool}


class _TrackedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any):  # noqa: ANN201 - urllib3's ProxyManager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


class InFlight:
    """The calls in flight; a watchdog thread ends each one at its deadline."""

    TICK = 0.1  # how often the watchdog looks: a call overruns its deadline by at most this

    def __init__(self) -> None:
        self._calls: set[_Call] = set()
        self._lock = threading.Lock()
        self._cancelled: str | None = None
        self._watchdog: threading.Thread | None = None

    @property
    def cancelled(self) -> str | None:
        return self._cancelled

    def cancel(self, why: str) -> None:
        """End every call in flight now, and refuse new ones."""
        with self._lock:
            self._cancelled = self._cancelled or why
            calls = list(self._calls)
        for call in calls:
            call.end(why)

    def _watch(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                late = [c for c in self._calls if c.deadline <= now]
                if not self._calls:
                    self._watchdog = None
                    return
            for call in late:
                call.end("deadline")

    def _register(self, call: _Call) -> None:
        with self._lock:
            if self._cancelled:
                raise CallExpired(self._cancelled)
            self._calls.add(call)
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch, name="http-deadlines", daemon=True)
                self._watchdog.start()

    def _unregister(self, call: _Call) -> None:
        with self._lock:
            self._calls.discard(call)


class DeadlineSession(requests.Session):
    """A requests Session whose calls end at a wall-clock deadline (see the module doc)."""

    def __init__(self, in_flight: InFlight) -> None:
        super().__init__()
        self.in_flight = in_flight
        adapter = _TrackedAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def post_within(self, url: str, deadline: float, **kwargs: Any) -> requests.Response:
        """POST, with the whole call (connect, headers, body) ended at `deadline` (monotonic)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise CallExpired("deadline")
        call = _Call(deadline)
        self.in_flight._register(call)
        _current.call = call
        try:
            # each socket read is bounded too, so a call can never outlive the watchdog's reach
            return self.post(url, timeout=(min(left, 10.0), left), **kwargs)
        except requests.RequestException as exc:
            if call.ended_by is not None:
                raise CallExpired(call.ended_by) from exc
            raise
        except OSError as exc:  # a socket shut down mid-read can surface bare
            if call.ended_by is not None:
                raise CallExpired(call.ended_by) from exc
            raise
        finally:
            _current.call = None
            self.in_flight._unregister(call)
            if call.ended_by is not None:
                self.close()  # its connections were shut down: none may be reused
