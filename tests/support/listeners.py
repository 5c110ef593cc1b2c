"""Hosts a hostile registry file might name, run by the test itself on loopback, that record
everything that reaches them: nothing secret may.

`HttpRecorder` answers every request `200 {}` (an empty MLflow) and records method, path and
headers; `endless=True` answers every request with a new `next_page_token` (a server that never
stops paging). `FakePostgres` speaks the start of PostgreSQL's protocol: it asks the client for a
cleartext password and records whatever password arrives, then refuses.
"""

from __future__ import annotations

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.services import free_port


class HttpRecorder:
    def __init__(self, endless: bool = False):
        self.port = free_port()
        self.requests: list[tuple[str, str, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.requests.append((self.command, self.path, dict(self.headers.items())))
                body = b'{"next_page_token": "t%d"}' % len(recorder.requests) if endless else b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104


class _SocketListener:
    """A raw TCP listener on 127.0.0.1 that serves each connection on its own thread until stopped."""

    def __init__(self):
        self.port = free_port()
        self.connections = 0
        self._stopped = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()


class FakePostgres(_SocketListener):
    def __init__(self):
        self.passwords: list[bytes] = []
        super().__init__()

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:  # SSL and GSS requests first, answered "no"; then the startup message
                length, code = struct.unpack("!ii", self._read(conn, 8))
                self._read(conn, length - 8)
                if code in (_SSL_REQUEST, _GSS_REQUEST):
                    conn.sendall(b"N")
                    continue
                break
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            kind = self._read(conn, 1)
            length = struct.unpack("!i", self._read(conn, 4))[0]
            payload = self._read(conn, length - 4)
            if kind == b"p":
                self.passwords.append(payload.rstrip(b"\0"))
            msg = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
            conn.sendall(b"E" + struct.pack("!i", len(msg) + 4) + msg)
        except (ConnectionError, OSError, struct.error):
            pass
        finally:
            conn.close()


class HttpTrickler(_SocketListener):
    """A server that never finishes answering: `headers` sends its status line one byte every
    half second, forever; `body` sends a 200 with a chunked body that never ends."""

    def __init__(self, mode: str = "headers"):
        self.mode = mode
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, conn: socket.socket) -> None:
        import time

        try:
            conn.recv(65536)
            if self.mode == "headers":
                for b in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 10_000:
                    if self._stopped.is_set():
                        return
                    conn.sendall(bytes([b]))
                    time.sleep(0.5)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                chunk = b"[" * 65536
                while not self._stopped.is_set():
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        finally:
            conn.close()
