"""A real SFTP server on loopback (asyncssh), run in a background thread, that records what clients do.

Each test gets its own server on a free port of 127.0.0.1, with a temporary
root directory holding ``/in`` (writable) and ``/readonly`` (every write refused
with "permission denied"), a generated Ed25519 host key, the user alice who logs
in with a password and the user bob who logs in with a public key.

``server.operations`` lists every SFTP request in order, as ``(name, path, ...)``
with the paths the client used, so a test can prove which names a file was
written under. ``server.posix_rename = False`` makes the server refuse the
posix-rename extension, like servers that only know plain SFTP rename, and
``server.drop_after_writes = n`` cuts the connection in the middle of an upload.
"""

import asyncio
import errno
import threading
from pathlib import Path
from typing import Any

import asyncssh
import pytest

ALICE_PASSWORD = "alice-sftp-password"

# asyncssh logs every connection at INFO: keep a failing test's captured log about the test.
asyncssh.set_log_level("WARNING")
asyncssh.set_sftp_log_level("WARNING")


class SftpPeer:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "in").mkdir()
        (root / "readonly").mkdir()
        self.read_only = {"/readonly"}
        self.posix_rename = True
        self.drop_after_writes: int | None = None  # cut the connection at the next write after this many
        self.operations: list[tuple[str, ...]] = []
        self.passwords = {"alice": ALICE_PASSWORD}
        self.authorized: dict[str, list[asyncssh.SSHKey]] = {}
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.bob_key = asyncssh.generate_private_key("ssh-ed25519")
        self.authorize("bob", self.bob_key)
        self._lock = threading.Lock()
        self._connections: list[asyncssh.SSHServerConnection] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._listener = self._run(self._listen())
        self.port: int = self._listener.get_port()

    @property
    def host_key_line(self) -> str:
        """The server's key as a known_hosts line, the way an administrator pastes it into "host_key"."""
        key_type, key_base64 = self.host_key.export_public_key().decode().split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key_base64}"

    def authorize(self, username: str, key: asyncssh.SSHKey) -> None:
        self.authorized.setdefault(username, []).append(key)

    def private_key_text(
        self, key: asyncssh.SSHKey, format_name: str = "openssh", passphrase: str | None = None
    ) -> str:
        return key.export_private_key(format_name, passphrase).decode()

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Destination settings that reach this server as alice, into /in, checking its host key."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "username": "alice",
            "path": "/in",
            "host_key": self.host_key_line,
            "timeout": 5,
            **overrides,
        }

    def record(self, *operation: str) -> None:
        with self._lock:
            self.operations.append(operation)

    def names(self, operation: str) -> list[tuple[str, ...]]:
        return [recorded[1:] for recorded in self.operations if recorded[0] == operation]

    def close(self) -> None:
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _shutdown(self) -> None:
        """Close the listener, then every connection and the tasks serving them, before the loop stops."""
        self._listener.close()
        await self._listener.wait_closed()
        for connection in self._connections:
            connection.close()
            await connection.wait_closed()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self) -> asyncssh.SSHAcceptor:
        peer = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                peer._connections.append(conn)

            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return peer.passwords.get(username) == password

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                return any(key.public_data == known.public_data for known in peer.authorized.get(username, []))

        class RecordingSftpServer(asyncssh.SFTPServer):
            def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
                super().__init__(chan, chroot=str(peer.root).encode())
                self._paths: dict[int, str] = {}

            def _refuse_in_read_only(self, *paths: bytes) -> None:
                for path in paths:
                    if any(path.decode().startswith(folder + "/") for folder in peer.read_only):
                        raise asyncssh.SFTPPermissionDenied("Permission denied")

            def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
                peer.record("open", path.decode())
                if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC):
                    self._refuse_in_read_only(path)
                file = super().open(path, pflags, attrs)
                self._paths[id(file)] = path.decode()
                return file

            def write(self, file_obj: object, offset: int, data: bytes) -> int:
                peer.record("write", self._paths.get(id(file_obj), "?"))
                if peer.drop_after_writes is not None and len(peer.names("write")) > peer.drop_after_writes:
                    peer.drop_after_writes = None
                    self.channel.get_connection().abort()
                    raise asyncssh.SFTPConnectionLost("Connection dropped by the test")
                return super().write(file_obj, offset, data)

            def close(self, file_obj: object) -> None:
                peer.record("close", self._paths.pop(id(file_obj), "?"))
                return super().close(file_obj)

            def stat(self, path: bytes) -> Any:
                peer.record("stat", path.decode())
                return super().stat(path)

            def remove(self, path: bytes) -> None:
                peer.record("remove", path.decode())
                self._refuse_in_read_only(path)
                return super().remove(path)

            def rename(self, oldpath: bytes, newpath: bytes) -> None:
                peer.record("rename", oldpath.decode(), newpath.decode())
                self._refuse_in_read_only(oldpath, newpath)
                if Path(self.map_path(newpath).decode()).exists():
                    # Plain SFTP rename never replaces a file (draft-ietf-secsh-filexfer-02).
                    raise asyncssh.SFTPFailure(errno.errorcode[errno.EEXIST])
                return super().rename(oldpath, newpath)

            def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
                peer.record("posix_rename", oldpath.decode(), newpath.decode())
                if not peer.posix_rename:
                    raise asyncssh.SFTPOpUnsupported("posix-rename is not supported")
                self._refuse_in_read_only(oldpath, newpath)
                return super().posix_rename(oldpath, newpath)

        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=Server,
            server_host_keys=[self.host_key],
            sftp_factory=RecordingSftpServer,
            allow_scp=False,
        )


@pytest.fixture
def sftp_server(tmp_path_factory: pytest.TempPathFactory):
    peer = SftpPeer(tmp_path_factory.mktemp("sftp_root"))
    yield peer
    peer.close()
