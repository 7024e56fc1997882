"""A real SMTP server on loopback (aiosmtpd), that records what it accepts and answers as a test scripts it.

Each test gets its own server on a free port of 127.0.0.1. ``server.messages``
holds every accepted message (envelope sender and recipients, parsed message);
``server.refuse(address, "550 5.1.1 ...")`` makes it refuse one recipient at RCPT,
``server.answer_data("451 4.3.0 ...")`` makes it refuse the next messages at DATA.
It takes AUTH LOGIN/PLAIN without TLS from the user ``SMTP_USER`` with
``SMTP_PASSWORD``, and every other password is refused with 535.
"""

import email
import email.message
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "shop@example.fr"
SMTP_PASSWORD = "smtp-password-for-tests"


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: email.message.EmailMessage

    def part(self, content_type: str) -> str:
        body = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert body is not None, f"no {content_type} part"
        return body.get_content()


class SmtpPeer:
    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.logins: list[str] = []
        self._refused: dict[str, str] = {}
        self._data_answer: str | None = None
        self._lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            auth_required=False,
        )
        self.controller.start()

    def refuse(self, address: str, answer: str) -> None:
        with self._lock:
            self._refused[address.lower()] = answer

    def answer_data(self, answer: str | None) -> None:
        with self._lock:
            self._data_answer = answer

    def close(self) -> None:
        self.controller.stop()

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if login == SMTP_USER and password == SMTP_PASSWORD:
                with self._lock:
                    self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:  # noqa: N802
        with self._lock:
            refused = self._refused.get(address.lower())
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            if self._data_answer:
                return self._data_answer
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpPeer]:
    peer = SmtpPeer()
    yield peer
    peer.close()
