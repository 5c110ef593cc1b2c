"""Fault-injecting proxies, run in a thread of the test process, in front of the session's real
servers. The `mlreg` CLI under test talks to the proxy; the test decides what goes wrong.

`HttpFaultProxy` (in front of `mlflow server`), per rule (method and path, which matching requests):
- "lose":   forward, let the server act, then drop the connection: the answer is lost;
- "504":    forward, let the server act, then answer 504 (a gateway that gave up waiting);
- "503":    answer 503 without forwarding (refused before anything happened);
- "fake200": answer `200 {}` without forwarding (a server that says it acted and did not);
- "call":   forward, and run a callback first (to break another system at the right moment).
`refuse()` stops listening and cuts open connections (the server is gone); `restore()` comes back
on the same port.

`TcpFaultProxy` (in front of PostgreSQL) passes bytes through until `refuse()`.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.services import free_port

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "trailers"}


@dataclass
class Rule:
    mode: str  # lose | 504 | 503 | call
    method: str | None = None
    path: str | None = None
    times: int | None = 1  # how many matching requests it hits (None: all)
    every: int = 1  # hit every n-th matching request
    callback: Callable[[], None] | None = None
    seen: int = 0
    hits: int = 0

    def fires(self, method: str, path: str) -> bool:
        if (self.method and method != self.method) or (self.path and self.path not in path):
            return False
        self.seen += 1
        if self.times is not None and self.hits >= self.times:
            return False
        if self.seen % self.every:
            return False
        self.hits += 1
        return True


@dataclass
class _State:
    upstream: tuple[str, int]
    rules: list[Rule] = field(default_factory=list)
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, what happened)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sockets: set = field(default_factory=set)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        with self.state.lock:
            self.state.sockets.add(self.connection)

    def finish(self):
        with self.state.lock:
            self.state.sockets.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with self.state.lock:
            rule = next((r for r in self.state.rules if r.fires(self.command, self.path)), None)
        mode = rule.mode if rule else "pass"
        self.state.log.append((self.command, self.path, mode))
        if mode == "503":
            return self._reply(503, {"Content-Type": "text/plain"}, b"unavailable")
        if mode == "fake200":
            return self._reply(200, {"Content-Type": "application/json"}, b"{}")
        if mode == "call" and rule.callback:
            rule.callback()
        status, headers, data = self._forward(body)
        if mode == "lose":  # the server acted; the client never hears about it
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        if mode == "504":
            return self._reply(504, {"Content-Type": "text/plain"}, b"gateway timeout")
        return self._reply(status, headers, data)

    def _forward(self, body):
        host, port = self.state.upstream
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP and k.lower() != "host"}
            headers["Host"] = f"{host}:{port}"
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k: v for k, v in resp.getheaders() if k.lower() not in _HOP}, data
        finally:
            conn.close()

    def _reply(self, status, headers, data):
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address):  # a connection we cut on purpose
        pass


class HttpFaultProxy:
    def __init__(self, upstream_url: str):
        parts = urlsplit(upstream_url)
        self.state = _State(upstream=(parts.hostname, parts.port))
        self.port = free_port()
        self._server = None
        self._thread = None
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(
        self,
        mode: str,
        method: str | None = None,
        path: str | None = None,
        times: int | None = 1,
        every: int = 1,
        callback: Callable[[], None] | None = None,
    ) -> Rule:
        rule = Rule(mode, method, path, times, every, callback)
        with self.state.lock:
            self.state.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.state.lock:
            self.state.rules.clear()

    def requests(self, mode: str | None = None) -> list[tuple[str, str, str]]:
        return [r for r in self.state.log if mode is None or r[2] == mode]

    def refuse(self) -> None:
        """The server goes away: nothing listens on the port, open connections are cut."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self.state.lock:
            for s in list(self.state.sockets):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self) -> None:
        if self._server is not None:
            return
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.refuse()


class TcpFaultProxy:
    """Bytes through to PostgreSQL until `refuse()`: then the port is closed and every open
    connection is cut; `restore()` listens again."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.restore()

    def url(self, database_url: str) -> str:
        parts = urlsplit(database_url)
        return database_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{self.port}")

    def restore(self) -> None:
        if self._listener is not None:
            return
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._conns -= {src, dst}

    def refuse(self) -> None:
        if self._listener is not None:
            try:  # wakes the thread blocked in accept(); close() alone may leave it accepting
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.refuse()
