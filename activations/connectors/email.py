"""Email: one message per recipient through Django's email backend, one SMTP connection per batch.

Destination settings: ``from_email`` (else DEFAULT_FROM_EMAIL), ``reply_to`` (an
address or a list), ``unsubscribe_mailto`` (an address that also takes
unsubscribe requests), ``message_id_domain`` (else the sender's domain). For a
server of its own: ``host``, ``port``, ``username``, ``use_tls`` (STARTTLS),
``use_ssl``, ``timeout``, with the password in ``secrets["password"]``; without
a host, messages go through the project's EMAIL_BACKEND.

Content: ``subject``, ``text`` and ``html`` (optional), written in Django's
template language with the profile's fields as placeholders, plus ``address``
and ``unsubscribe_url``: ``Bonjour {{ first_name|default:'' }}``. The HTML is
escaped, the text and the subject are not.

Every message carries List-Unsubscribe and List-Unsubscribe-Post (RFC 8058
one-click) and a Message-ID made of the delivery's idempotency key, so a resent
message is the same message. It goes to the consented address only.

A recipient the server accepted is sent; one it refused for good (5xx, for
that address or that message) is failed with the server's words; a 4xx, a
timeout or a lost connection leaves it, and those after it, to retry.
"""

import contextlib
import email.utils
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import DNS_NAME
from django.template import Template, TemplateSyntaxError
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from activations.connectors import (
    Batch,
    BatchOutcome,
    Connector,
    ConnectorError,
    Recipient,
    links_rewrite,
    placeholder_render,
    placeholder_template,
    register,
)
from activations.models import ConnectorKind, DeliveryStatus
from activations.unsubscribe import unsubscribe_url

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class EmailTemplates:
    subject: Template
    text: Template | None
    html: Template | None


def _smtp_reason(error: smtplib.SMTPResponseException) -> str:
    answer = error.smtp_error
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    return f"{error.smtp_code} {text}".strip()[:400]


def _server_error(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _smtp_reason(error)
    if isinstance(error, TimeoutError):
        return _("no answer in time")
    return str(error)[:400] or error.__class__.__name__


@register
class EmailConnector(Connector):
    kind = ConnectorKind.EMAIL
    default_batch_size = 500
    # An SMTP server accepting a message has sent it on, not put it in the mailbox.
    accepted_status = DeliveryStatus.SENT

    @property
    def from_email(self) -> str:
        return str(self.settings.get("from_email") or django_settings.DEFAULT_FROM_EMAIL)

    @property
    def reply_to(self) -> list[str]:
        reply_to = self.settings.get("reply_to") or []
        return [reply_to] if isinstance(reply_to, str) else [str(address) for address in reply_to]

    @property
    def message_id_domain(self) -> str:
        domain = self.settings.get("message_id_domain")
        if not domain:
            domain = email.utils.parseaddr(self.from_email)[1].rpartition("@")[2]
        return str(domain or DNS_NAME)

    @property
    def server(self) -> str:
        return f"{self.settings.get('host')}:{self._port()}"

    def _port(self) -> int:
        if self.settings.get("port"):
            return int(self.settings["port"])
        if self.settings.get("use_ssl"):
            return 465
        return 587 if self.settings.get("use_tls") else 25

    def backend(self) -> BaseEmailBackend:
        """The destination's own SMTP server when it names one, else the project's email backend."""
        if not self.settings.get("host"):
            return get_connection(fail_silently=False)
        try:
            return get_connection(
                SMTP_BACKEND,
                fail_silently=False,
                host=str(self.settings["host"]),
                port=self._port(),
                username=str(self.settings.get("username") or ""),
                password=str(self.secrets.get("password") or ""),
                use_tls=bool(self.settings.get("use_tls")),
                use_ssl=bool(self.settings.get("use_ssl")),
                timeout=float(self.settings.get("timeout") or DEFAULT_TIMEOUT),
            )
        except (TypeError, ValueError) as error:
            raise ConnectorError(_("The email settings of this destination are wrong: %(error)s") % {"error": error})

    def templates(self, content: Mapping[str, Any]) -> EmailTemplates:
        """The subject and bodies of the campaign, compiled; ConnectorError saying which one is wrong."""
        if not str(content.get("subject") or "").strip():
            raise ConnectorError(_("The email has no subject."))
        if not content.get("text") and not content.get("html"):
            raise ConnectorError(_("The email has no text."))
        mistakes = {
            "subject": _("The subject of the email has a mistake in its placeholders: %(error)s"),
            "text": _("The text of the email has a mistake in its placeholders: %(error)s"),
            "html": _("The HTML of the email has a mistake in its placeholders: %(error)s"),
        }
        compiled: dict[str, Template | None] = {}
        for part, mistake in mistakes.items():
            try:
                compiled[part] = placeholder_template(str(content[part])) if content.get(part) else None
            except TemplateSyntaxError as error:
                raise ConnectorError(mistake % {"error": error}) from None
        subject = compiled["subject"]
        assert subject is not None
        return EmailTemplates(subject=subject, text=compiled["text"], html=compiled["html"])

    def message(
        self, *, batch: Batch, recipient: Recipient, templates: EmailTemplates, backend: BaseEmailBackend
    ) -> EmailMultiAlternatives:
        link = unsubscribe_url(recipient, batch)
        values = {**recipient.fields, "address": recipient.address, "unsubscribe_url": link}
        # A header is one line: a line break in a field would otherwise be refused (or injected).
        subject = " ".join(placeholder_render(templates.subject, values).split())
        html = placeholder_render(templates.html, values, html=True) if templates.html else None
        text = placeholder_render(templates.text, values) if templates.text else strip_tags(html or "")
        # Tracked links in both bodies, and the open pixel in the HTML (when reporting registered them).
        track = {"recipient": recipient, "batch": batch, "destination": self.destination}
        html = links_rewrite(html, part="html", **track) if html else None
        text = links_rewrite(text, part="text", **track)
        unsubscribe = [f"<{link}>"]
        if self.settings.get("unsubscribe_mailto"):
            unsubscribe.append(f"<mailto:{self.settings['unsubscribe_mailto']}?subject=unsubscribe>")
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=self.from_email,
            to=[recipient.address],
            reply_to=self.reply_to,
            connection=backend,
            headers={
                "Message-ID": f"<{recipient.idempotency_key}@{self.message_id_domain}>",
                "List-Unsubscribe": ", ".join(unsubscribe),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        if html:
            message.attach_alternative(html, "text/html")
        return message

    def send(self, batch: Batch) -> BatchOutcome:
        try:
            templates = self.templates(batch.content)
        except ConnectorError as error:
            return BatchOutcome.all_failed(batch, str(error))
        try:
            backend = self.backend()
            backend.open()
        except ConnectorError as error:
            return BatchOutcome.all_retry(batch, str(error))
        except (smtplib.SMTPException, OSError) as error:
            return BatchOutcome.all_retry(batch, self._connection_failed(error))
        outcome = BatchOutcome()
        try:
            for position, recipient in enumerate(batch.recipients):
                stop = self._send_one(
                    batch=batch, recipient=recipient, templates=templates, backend=backend, outcome=outcome
                )
                if stop is not None:
                    # The connection is gone, or the server refuses our sender: the others share that fate.
                    reason, for_good = stop
                    for later in batch.recipients[position + 1 :]:
                        (outcome.failed if for_good else outcome.retry)[later.delivery_id] = reason
                    break
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                backend.close()
        return outcome

    def _send_one(
        self,
        *,
        batch: Batch,
        recipient: Recipient,
        templates: EmailTemplates,
        backend: BaseEmailBackend,
        outcome: BatchOutcome,
    ) -> tuple[str, bool] | None:
        """Send to one recipient and record its fate; (reason, for good) when the batch cannot go on."""
        key = recipient.delivery_id
        try:
            message = self.message(batch=batch, recipient=recipient, templates=templates, backend=backend)
            sent = backend.send_messages([message])
        except smtplib.SMTPRecipientsRefused as error:
            code, answer = next(iter(error.recipients.values()), (0, b""))
            text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
            reason = _("The server refused %(address)s: %(answer)s") % {
                "address": recipient.address,
                "answer": f"{code} {text}".strip(),
            }
            (outcome.failed if code >= 500 else outcome.retry)[key] = reason
            return None
        except smtplib.SMTPSenderRefused as error:
            reason = _("The server refused the sender %(sender)s: %(answer)s") % {
                "sender": self.from_email,
                "answer": _smtp_reason(error),
            }
            for_good = error.smtp_code >= 500
            (outcome.failed if for_good else outcome.retry)[key] = reason
            return reason, for_good
        except smtplib.SMTPResponseException as error:
            reason = _("The server refused the message: %(answer)s") % {"answer": _smtp_reason(error)}
            (outcome.failed if error.smtp_code >= 500 else outcome.retry)[key] = reason
            # 421: the server is closing the connection.
            return (reason, False) if error.smtp_code == 421 else None
        except (smtplib.SMTPException, OSError) as error:
            reason = _("The connection to the mail server was lost: %(error)s") % {"error": _server_error(error)}
            outcome.retry[key] = reason
            return reason, False
        except ValueError as error:
            # A header Django refuses to write (a line break in the subject or an address).
            outcome.failed[key] = _("The message could not be written: %(error)s") % {"error": error}
            return None
        if sent:
            outcome.delivered.append(key)
        else:
            outcome.retry[key] = _("The email backend did not send the message.")
        return None

    def _connection_failed(self, error: Exception) -> str:
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return _("%(server)s refused the login of %(user)s: %(answer)s") % {
                "server": self.server,
                "user": self.settings.get("username") or "",
                "answer": _smtp_reason(error),
            }
        if not self.settings.get("host"):
            return _("The project's email backend cannot send: %(error)s") % {"error": _server_error(error)}
        return _("Cannot connect to the mail server %(server)s: %(error)s") % {
            "server": self.server,
            "error": _server_error(error),
        }

    def test_connection(self) -> str:
        backend = self.backend()
        try:
            backend.open()
        except (smtplib.SMTPException, OSError) as error:
            raise ConnectorError(self._connection_failed(error)) from None
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                backend.close()
        if not self.settings.get("host"):
            return _(
                "This destination names no mail server: messages go through the project's email backend "
                "(%(backend)s), which opened without error."
            ) % {"backend": django_settings.EMAIL_BACKEND}
        if self.settings.get("use_ssl"):
            security = _("over TLS")
        elif self.settings.get("use_tls"):
            security = _("with STARTTLS")
        else:
            security = _("without encryption")
        if self.settings.get("username") and self.secrets.get("password"):
            return _("Connected to %(server)s %(security)s and logged in as %(user)s.") % {
                "server": self.server,
                "security": security,
                "user": self.settings["username"],
            }
        return _("Connected to %(server)s %(security)s (no login: no user name and password set).") % {
            "server": self.server,
            "security": security,
        }
