"""Local servers that receive alerts in tests: a minimal SMTP server and a webhook receiver,
both on 127.0.0.1 and a free port (bound to port 0, so no race), each in a daemon thread."""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpSink:
    """Speaks just enough SMTP (RFC 5321: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for
    ``smtplib``. Received messages are in :attr:`mails`."""

    mails: list[ReceivedMail] = field(default_factory=list)
    server: socketserver.ThreadingTCPServer | None = None
    received: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    def start(self) -> SmtpSink:
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 10

            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode("ascii"))

            def handle(self) -> None:
                self.reply("220 127.0.0.1 test SMTP")
                sender, recipients = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb == "EHLO":
                        self.reply("250-127.0.0.1")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 127.0.0.1")
                    elif verb == "MAIL":
                        sender = line.split(":", 1)[1].strip().split()[0].strip("<>")
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        while True:
                            data = self.rfile.readline()
                            if data in (b".\r\n", b".\n", b""):
                                break
                            lines.append(data[1:] if data.startswith(b"..") else data)
                        message = email.message_from_bytes(
                            b"".join(lines), policy=email.policy.default
                        )
                        sink.mails.append(ReceivedMail(sender, recipients, message))  # type: ignore[arg-type]
                        sink.received.set()
                        sender, recipients = "", []
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class WebhookSink:
    """Records every POST (headers and JSON body); answers ``status`` (200 by default)."""

    posts: list[tuple[dict[str, str], dict]] = field(default_factory=list)
    status: int = 200
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cadbusi"

    def start(self) -> WebhookSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                sink.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # keep test output quiet
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
