"""A real HTTP peer on loopback: it records what it receives and answers as a test scripts it.

``receiver.script(...)`` queues the answers of the next requests: a status
(with headers and a body), a delay longer than the client's timeout, or a
dropped connection. Once the script is used up it answers 200. Every request is
kept with its headers and body, in order, including those it answered badly.
"""

import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0  # seconds to wait before answering (a timeout when longer than the client's)
    drop: bool = False  # close the connection without answering


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None  # the status sent back, None when dropped

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._script.pop(0) if self._script else Answer()

    def accepted(self) -> list[Received]:
        return [request for request in self.requests if request.answered and 200 <= request.answered < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = receiver._next_answer()
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Received(self.command, self.path, headers, body, None)
                with receiver._lock:
                    receiver.requests.append(record)
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                # Processed, then answered: a client that gave up waiting misses the answer, not the effect.
                record.answered = answer.status
                try:
                    self.send_response(answer.status)
                    for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_PUT = do_DELETE = do_GET = do_POST  # noqa: N815

        return Handler


@pytest.fixture
def receiver():
    peer = Receiver()
    yield peer
    peer.close()


from tests.activations.sftp_server import sftp_server  # noqa: E402, F401 (a real SFTP server on loopback)
from tests.activations.smtp_server import smtp_server  # noqa: E402, F401 (a real SMTP server on loopback)
