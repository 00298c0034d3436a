"""Tiny local proxies in front of the real Orthanc that inject faults.

- :class:`HttpFaultProxy` (DICOMweb): answers 503 for chosen requests, checks credentials,
  counts requests in flight, and can "die": cut the response it is sending after a number of
  bytes and drop every later connection.
- :class:`TcpFaultProxy` (DIMSE): forwards bytes; :meth:`TcpFaultProxy.kill` drops every
  connection and refuses new ones until :meth:`TcpFaultProxy.revive`.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cadbusi_assets_tests.support import free_port

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"}


class HttpFaultProxy:
    def __init__(self, target_base: str) -> None:
        target = urlsplit(target_base)
        self.target_host = target.hostname or "127.0.0.1"
        self.target_port = target.port or 80
        self.port = free_port()
        self.lock = threading.Lock()
        # (path substring, failures per distinct path, status); counts per path
        self.fail_rules: list[tuple[str, int, int]] = []
        self.failed_per_path: dict[str, int] = {}
        self.require_token: str | None = None
        # (path suffix, bytes, replacement): rewrite answers (a PACS sending a bad part)
        self.rewrites: list[tuple[str, bytes, bytes]] = []
        self.require_basic: tuple[str, str] | None = None
        self.die_after_bytes: int | None = None
        self.dead = False
        self.body_bytes = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                proxy._handle(self)

            def do_POST(self) -> None:
                proxy._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, match: str, times: int, status: int = 503) -> None:
        """The first ``times`` requests of every distinct path containing ``match`` get
        ``status`` (``times`` large = always)."""
        with self.lock:
            self.fail_rules.append((match, times, status))

    def rewrite(self, path_suffix: str, old: bytes, new: bytes) -> None:
        """Replace every ``old`` by ``new`` in the answers to paths ending in ``path_suffix``."""
        with self.lock:
            self.rewrites.append((path_suffix, old, new))

    def heal(self) -> None:
        with self.lock:
            self.fail_rules.clear()
            self.rewrites.clear()
            self.failed_per_path.clear()
            self.die_after_bytes = None
            self.dead = False
            self.body_bytes = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- request handling --------------------------------------------------------------------
    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        header = handler.headers.get("Authorization", "")
        if self.require_token is not None:
            return header == f"Bearer {self.require_token}"
        if self.require_basic is not None:
            user, password = self.require_basic
            expected = base64.b64encode(f"{user}:{password}".encode()).decode()
            return header == f"Basic {expected}"
        return True

    def _planned_failure(self, path: str) -> int | None:
        with self.lock:
            for match, times, status in self.fail_rules:
                if match in path:
                    seen = self.failed_per_path.get(path, 0)
                    if seen < times:
                        self.failed_per_path[path] = seen + 1
                        return status
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append(handler.path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            dead = self.dead
        try:
            if dead:
                handler.close_connection = True
                handler.connection.shutdown(socket.SHUT_RDWR)
                return
            if not self._authorised(handler):
                self._reply(handler, 401, b"unauthorised")
                return
            status = self._planned_failure(handler.path)
            if status is not None:
                self._reply(handler, status, b"injected failure", {"Retry-After": "0"})
                return
            self._forward(handler)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _reply(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(self.target_host, self.target_port, timeout=60)
        headers = {
            k: v
            for k, v in handler.headers.items()
            if k.lower() not in _HOP_HEADERS | {"host", "authorization"}
        }
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        with self.lock:
            for suffix, old, new in self.rewrites:
                if handler.path.split("?")[0].endswith(suffix):
                    data = data.replace(old, new)
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_HEADERS | {"content-length"}:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        with self.lock:
            limit = self.die_after_bytes
            allowed = len(data) if limit is None else max(0, limit - self.body_bytes)
            self.body_bytes += min(allowed, len(data))
            if allowed < len(data):
                self.dead = True
        if allowed < len(data):  # die mid-response: half the body, then the connection drops
            handler.wfile.write(data[:allowed])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(data)


class TcpFaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.alive = True
        #: bytes from the target after which every connection drops (None: never)
        self.cut_after: int | None = None
        self._from_target = 0
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.alive:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_target: bool = False) -> None:
        try:
            while data := source.recv(65536):
                if from_target and self.cut_after is not None:
                    self._from_target += len(data)
                    if self._from_target > self.cut_after:
                        self.cut_after = None
                        self.kill()
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def kill(self) -> None:
        """The PACS 'dies': every open connection drops, new ones are closed at once."""
        self.alive = False
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def revive(self) -> None:
        self.alive = True

    def close(self) -> None:
        self._stop = True
        self.kill()
        self._listener.close()


def proxied_dimse(orthanc, uri: str) -> tuple[TcpFaultProxy, str]:
    """A :class:`TcpFaultProxy` in front of ``orthanc``'s DIMSE port and ``uri`` (a DIMSE PACS
    URI of that Orthanc) pointed at the proxy instead."""
    proxy = TcpFaultProxy("127.0.0.1", orthanc.dicom_port)
    return proxy, uri.replace(f":{orthanc.dicom_port}?", f":{proxy.port}?")
