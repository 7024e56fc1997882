"""SFTP file drop: the whole run as one CSV file in the partner's directory.

Settings: host, port (22), username, path (the remote directory, "." for the
login directory), file_name ("{campaign}_{run}_{date}.csv"), the file format
(columns, delimiter, encoding, header: see files.py), host_key (the server's
public key line, as in known_hosts or a .pub file) or accept_unknown_host_key,
and timeout (seconds, 30). Secrets: password and/or private_key (PEM or
OpenSSH text) with its key_passphrase.

The file is uploaded under a temporary name (".<name>.part") and renamed when
complete, so the partner never reads half a file. Its name derives from the run
only, so a retried upload replaces the same file: never two files for one run.
"""

import base64
import binascii
import contextlib
import errno
import io
import posixpath
import socket
import stat
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.utils import timezone
from django.utils.translation import gettext

from activations.connectors import Batch, BatchOutcome, Connector, ConnectorError, register
from activations.connectors.files import FileFormat, csv_write
from activations.models import CampaignRun, ConnectorKind

DEFAULT_FILE_NAME = "{campaign}_{run}_{date}.csv"
FILE_NAME_PLACEHOLDERS = ("campaign", "run", "date")
DEFAULT_TIMEOUT = 30.0


class SftpUnreachable(ConnectorError):
    """A failure that may pass (connection refused, timeout, dropped connection): the batch is retried."""


class _UnknownHostKey(Exception):
    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__(key.get_name())
        self.key = key


class _HostKeyCheck(paramiko.MissingHostKeyPolicy):
    """Called when no host key is configured: refuse, showing the key, unless told to trust any key."""

    def __init__(self, accept_unknown: bool) -> None:
        self.accept_unknown = accept_unknown

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if not self.accept_unknown:
            raise _UnknownHostKey(key)


@dataclass(frozen=True)
class SftpSettings:
    host: str
    port: int
    username: str
    directory: str
    file_name: str
    host_keys: tuple[paramiko.PKey, ...]
    accept_unknown_host_key: bool
    timeout: float

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "SftpSettings":
        """Read the destination's settings; a missing or wrong value raises ConnectorError naming it."""
        host = str(settings.get("host") or "").strip()
        username = str(settings.get("username") or "").strip()
        for name, value in (("host", host), ("username", username)):
            if not value:
                raise ConnectorError(gettext("The SFTP setting “%(name)s” is missing.") % {"name": name})
        try:
            port = int(settings.get("port") or 22)
            timeout = float(settings.get("timeout") or DEFAULT_TIMEOUT)
        except (TypeError, ValueError):
            raise ConnectorError(gettext("The SFTP settings “port” and “timeout” must be numbers."))
        if not 0 < port < 65536 or timeout <= 0:
            raise ConnectorError(gettext("The SFTP settings “port” and “timeout” must be positive numbers."))
        file_name = str(settings.get("file_name") or DEFAULT_FILE_NAME)
        _file_name_check(file_name)
        host_keys = _host_keys_parse(str(settings.get("host_key") or ""))
        # Without host_key the connection is refused once the server has shown its key (see _HostKeyCheck),
        # so that testing the connection tells the administrator which key to check and paste.
        accept_unknown = settings.get("accept_unknown_host_key") is True
        return cls(
            host=host,
            port=port,
            username=username,
            directory=str(settings.get("path") or ".").strip() or ".",
            file_name=file_name,
            host_keys=host_keys,
            accept_unknown_host_key=accept_unknown,
            timeout=timeout,
        )


def _file_name_check(pattern: str) -> None:
    """Refuse a pattern with an unknown placeholder or a folder in it before anything is sent."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(pattern)]
    except ValueError as error:
        raise ConnectorError(
            gettext("The file name “%(pattern)s” is not valid: %(error)s.") % {"pattern": pattern, "error": error}
        )
    unknown = [
        "".join(filter(None, (name, conversion and f"!{conversion}", spec and f":{spec}")))
        for name, spec, conversion in fields
        if name is not None and (name not in FILE_NAME_PLACEHOLDERS or spec or conversion)
    ]
    if unknown:
        raise ConnectorError(
            gettext("Unknown placeholder {%(name)s} in the file name: use %(choices)s.")
            % {"name": unknown[0], "choices": ", ".join(f"{{{name}}}" for name in FILE_NAME_PLACEHOLDERS)}
        )
    if "/" in pattern or "\\" in pattern or pattern.strip(".") == "":
        raise ConnectorError(
            gettext("The file name “%(pattern)s” must be a name without a folder: set the folder in “path”.")
            % {"pattern": pattern}
        )


def _host_keys_parse(text: str) -> tuple[paramiko.PKey, ...]:
    """Public keys from known_hosts lines ("host type base64") or .pub lines ("type base64 comment")."""
    identifiers = {identifier for key_class in paramiko.key_classes for identifier in key_class.identifiers()}
    keys = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        position = next((index for index, word in enumerate(words[:-1]) if word in identifiers), None)
        if position is None:
            raise ConnectorError(
                gettext("The host key “%(line)s” is not a public key line such as “ssh-ed25519 AAAA…”.")
                % {"line": line.strip()[:80]}
            )
        try:
            keys.append(paramiko.PKey.from_type_string(words[position], base64.b64decode(words[position + 1])))
        except (binascii.Error, ValueError, paramiko.SSHException) as error:
            raise ConnectorError(
                gettext("The host key “%(line)s” cannot be read: %(error)s")
                % {"line": line.strip()[:80], "error": error}
            )
    return tuple(keys)


def _private_key_load(text: str, passphrase: str | None) -> paramiko.PKey:
    """A paramiko key from any private key text (OpenSSH, PEM, PKCS#8; RSA, ECDSA or Ed25519).

    cryptography reads every format and says whether the passphrase is wrong or
    missing; paramiko reads only some, so the key is handed to it re-serialised
    in the OpenSSH format, which it reads for every key type.
    """
    data = text.strip().encode() + b"\n"
    password = passphrase.encode() if passphrase else None

    def load(password: bytes | None) -> Any:
        try:
            return serialization.load_ssh_private_key(data, password=password)
        except ValueError:
            return serialization.load_pem_private_key(data, password=password)

    try:
        try:
            loaded = load(password)
        except TypeError:
            if password is None:
                raise
            loaded = load(None)  # a passphrase was set for a key that has none: harmless
    except TypeError:
        raise ConnectorError(gettext("The private key is protected by a passphrase: set the secret “key_passphrase”."))
    except ValueError:
        raise ConnectorError(
            gettext("The private key cannot be read: it is not a private key, or its passphrase is wrong.")
        )
    except Exception as error:  # the cryptography backend reports unsupported keys with its own exceptions
        raise ConnectorError(gettext("The private key cannot be read: %(error)s") % {"error": error})
    key_class: type[paramiko.PKey]
    if isinstance(loaded, rsa.RSAPrivateKey):
        key_class = paramiko.RSAKey
    elif isinstance(loaded, ed25519.Ed25519PrivateKey):
        key_class = paramiko.Ed25519Key
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        key_class = paramiko.ECDSAKey
    else:
        raise ConnectorError(gettext("Unsupported private key type: use an RSA, ECDSA or Ed25519 key."))
    openssh = loaded.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return key_class.from_private_key(io.StringIO(openssh.decode()))


def _key_describe(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def _remote_error(error: OSError, path: str) -> ConnectorError:
    """An SFTP operation's error on one path, said in words: permanent (rights) or transient (the rest)."""
    if isinstance(error, TimeoutError):
        return SftpUnreachable(gettext("Timed out on %(path)s.") % {"path": path})
    if error.errno in (errno.EACCES, errno.EPERM):
        return ConnectorError(gettext("Permission denied: %(path)s") % {"path": path})
    if error.errno == errno.ENOENT:
        # The directory was there a moment ago (checked first): something moved the file, worth another try.
        return SftpUnreachable(gettext("No such file or directory: %(path)s") % {"path": path})
    return SftpUnreachable(gettext("SFTP error on %(path)s: %(error)s") % {"path": path, "error": error})


def _connect(
    client: paramiko.SSHClient, options: SftpSettings, *, password: str | None, private_key: paramiko.PKey | None
) -> None:
    """Connect, check the host key and log in, saying exactly what went wrong, and whether it may pass.

    Keys of the worker's own account (~/.ssh, an agent) are never tried: only the destination's secrets.
    """
    try:
        client.connect(
            options.host,
            port=options.port,
            username=options.username,
            password=password,
            pkey=private_key,
            timeout=options.timeout,
            banner_timeout=options.timeout,
            auth_timeout=options.timeout,
            channel_timeout=options.timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.BadHostKeyException as error:
        raise ConnectorError(
            gettext("Host key mismatch: expected %(expected)s, got %(got)s")
            % {"expected": _key_describe(error.expected_key), "got": _key_describe(error.key)}
        )
    except _UnknownHostKey as error:
        # The key line last: a reason cut to fit a delivery's error column keeps the fingerprint and the advice.
        raise ConnectorError(
            gettext(
                "Unknown host key: %(server)s presented %(key_type)s %(fingerprint)s. "
                "Check it with the partner, then set “host_key” to: %(key_type)s %(key_base64)s"
            )
            % {
                "server": options.server,
                "key_type": error.key.get_name(),
                "key_base64": error.key.get_base64(),
                "fingerprint": error.key.fingerprint,
            }
        )
    except paramiko.AuthenticationException:
        raise ConnectorError(
            gettext("Authentication failed for user %(username)s on %(server)s")
            % {"username": options.username, "server": options.server}
        )
    except socket.gaierror as error:
        raise SftpUnreachable(
            gettext("Cannot resolve the host name %(host)s: %(error)s") % {"host": options.host, "error": error}
        )
    except TimeoutError:
        raise SftpUnreachable(
            gettext("No answer from %(server)s within %(timeout)s s.")
            % {"server": options.server, "timeout": f"{options.timeout:g}"}
        )
    except (OSError, EOFError, paramiko.SSHException) as error:
        raise SftpUnreachable(
            gettext("Cannot connect to %(server)s: %(error)s")
            % {"server": options.server, "error": error or repr(error)}
        )


@register
class SftpConnector(Connector):
    kind = ConnectorKind.SFTP
    default_batch_size = None

    @contextlib.contextmanager
    def _session(self, options: SftpSettings) -> Iterator[tuple[paramiko.SFTPClient, paramiko.PKey]]:
        """An authenticated SFTP session whose host key was checked, and the key the server presented."""
        private_key = None
        if self.secrets.get("private_key"):
            private_key = _private_key_load(self.secrets["private_key"], self.secrets.get("key_passphrase"))
        password = self.secrets.get("password") or None
        if private_key is None and password is None:
            raise ConnectorError(gettext("Set the secret “password” or “private_key” of this SFTP destination."))
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_HostKeyCheck(options.accept_unknown_host_key))
        # paramiko looks the server up under "host" on port 22, "[host]:port" elsewhere.
        known_name = options.host if options.port == 22 else f"[{options.host}]:{options.port}"
        for key in options.host_keys:
            client.get_host_keys().add(known_name, key.get_name(), key)
        try:
            _connect(client, options, password=password, private_key=private_key)
            try:
                sftp = client.open_sftp()
            except (OSError, EOFError, paramiko.SSHException) as error:
                raise SftpUnreachable(
                    gettext("%(server)s refused the SFTP session: %(error)s")
                    % {"server": options.server, "error": error}
                )
            sftp.get_channel().settimeout(options.timeout)
            try:
                yield sftp, client.get_transport().get_remote_server_key()
            except (OSError, EOFError, paramiko.SSHException) as error:
                # What the steps did not say in their own words: the connection dropped or stalled.
                raise SftpUnreachable(
                    gettext("The connection to %(server)s was lost: %(error)s")
                    % {"server": options.server, "error": error or repr(error)}
                )
        finally:
            client.close()

    def _directory_check(self, sftp: paramiko.SFTPClient, directory: str) -> None:
        try:
            attributes = sftp.stat(directory)
        except OSError as error:
            if error.errno == errno.ENOENT:
                raise ConnectorError(gettext("No such directory: %(path)s") % {"path": directory})
            raise _remote_error(error, directory)
        if attributes.st_mode is not None and not stat.S_ISDIR(attributes.st_mode):
            raise ConnectorError(gettext("Not a directory: %(path)s") % {"path": directory})

    def file_name(self, batch: Batch, pattern: str) -> str:
        """The run's file name: the same on every attempt, so a retry replaces the file instead of adding one."""
        values = {"campaign": batch.campaign, "run": batch.run, "date": ""}
        if "{date" in pattern:
            # The run's start date, not today's: a retry after midnight must find the same name.
            started = CampaignRun.objects.filter(uuid=batch.run).values_list("created_at", flat=True).first()
            values["date"] = f"{timezone.localdate(started or timezone.now()):%Y%m%d}"
        return pattern.format_map(values)

    def test_connection(self) -> str:
        options = SftpSettings.from_settings(self.settings)
        with self._session(options) as (sftp, presented):
            self._directory_check(sftp, options.directory)
        if options.host_keys:
            checked = gettext("host key %(key)s matches") % {"key": _key_describe(presented)}
        else:
            checked = gettext("host key NOT checked (accept_unknown_host_key is on); the server presented %(key)s") % {
                "key": _key_describe(presented)
            }
        return gettext(
            "Connected to %(server)s as %(username)s (%(checked)s); %(path)s is a directory. "
            "Nothing was written, to leave the partner's folder untouched."
        ) % {"server": options.server, "username": options.username, "checked": checked, "path": options.directory}

    def send(self, batch: Batch) -> BatchOutcome:
        try:
            options = SftpSettings.from_settings(self.settings)
            file_format = FileFormat.from_settings(self.settings)
            self._upload(batch, options, file_format)
        except SftpUnreachable as error:
            return BatchOutcome.all_retry(batch, str(error))
        except ConnectorError as error:
            return BatchOutcome.all_failed(batch, str(error))
        return BatchOutcome.all_delivered(batch)

    def _upload(self, batch: Batch, options: SftpSettings, file_format: FileFormat) -> None:
        name = self.file_name(batch, options.file_name)
        final = posixpath.join(options.directory, name)
        temporary = posixpath.join(options.directory, f".{name}.part")
        with self._session(options) as (sftp, _presented):
            self._directory_check(sftp, options.directory)
            try:
                # "wb" truncates what a failed attempt left under the temporary name. Unbuffered: csv_write
                # already writes large chunks, and no buffered bytes are left to flush on a broken connection.
                remote = sftp.open(temporary, "wb", bufsize=0)
                try:
                    remote.set_pipelined(True)
                    written = csv_write(recipients=batch.recipients, file_format=file_format, output=remote)
                    remote.close()  # waits for the acknowledgements of the pipelined writes
                except BaseException:
                    # Stop waiting for acknowledgements that will never come, so that closing the handle,
                    # now or when it is collected, does not fail again.
                    remote.set_pipelined(False)
                    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                        remote.close()
                    raise
                size = sftp.stat(temporary).st_size  # proves that no write was lost
            except OSError as error:
                raise _remote_error(error, temporary)
            if size != written:
                raise SftpUnreachable(
                    gettext("The upload of %(path)s is incomplete: %(size)s of %(written)s bytes.")
                    % {"path": temporary, "size": size, "written": written}
                )
            self._rename(sftp, temporary, final)

    def _rename(self, sftp: paramiko.SFTPClient, temporary: str, final: str) -> None:
        """Replace the final file in one step when the server can (posix-rename), else remove then rename."""
        try:
            sftp.posix_rename(temporary, final)
            return
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EPERM, errno.ENOENT) or isinstance(error, TimeoutError):
                raise _remote_error(error, final)
            # The server lacks the posix-rename extension: plain SFTP rename refuses an existing target.
        try:
            with contextlib.suppress(FileNotFoundError):
                sftp.remove(final)
            sftp.rename(temporary, final)
        except OSError as error:
            raise _remote_error(error, final)
