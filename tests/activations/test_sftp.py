"""The SFTP file drop against a real SFTP server on loopback: what the partner finds, under which name, and
what each failure says."""

import datetime
import re
import socket
import uuid

import asyncssh
import pytest
from django.utils import timezone

from activations.connectors import Batch, ConnectorError, Recipient
from activations.connectors.sftp import SftpConnector
from activations.models import Campaign, CampaignRun, ConnectorKind, Destination
from tests.activations.sftp_server import ALICE_PASSWORD, SftpPeer

pytestmark = pytest.mark.django_db

RUN = "5b0e3c1e-8f4a-4c59-9d0e-2f1d6a7b8c90"
FILE = f"spring-sale_{RUN}.csv"


def recipients() -> list[Recipient]:
    """Alice, Hélène (accents that Windows-1252 holds) and Bob, as the run hands them to the connector."""
    return [
        Recipient(1, "key-1", 11, "uuid-11", "alice.martin@example.fr", {"first_name": "Alice", "city": "Lyon"}),
        Recipient(
            2,
            "key-2",
            12,
            "uuid-12",
            "helene.lefevre@example.fr",
            {"first_name": "Hélène", "last_name": "Lefèvre", "city": "Besançon", "tier": "gold"},
        ),
        Recipient(3, "key-3", 13, "uuid-13", "bob.durand@example.fr", {"first_name": "Bob", "city": "Nantes; Est"}),
    ]


def run_batch(run: str = RUN, people: list[Recipient] | None = None) -> Batch:
    people = recipients() if people is None else people
    return Batch(f"msg_{run}_0", "spring-sale", run, "email", {}, people)


def sftp_connector(server: SftpPeer, *, secrets: dict | None = None, **settings) -> SftpConnector:
    settings.setdefault("file_name", "{campaign}_{run}.csv")
    destination = Destination.objects.create(
        name="Partner drop",
        kind=ConnectorKind.SFTP,
        settings=server.settings(**settings),
        secrets={"password": ALICE_PASSWORD} if secrets is None else secrets,
    )
    return SftpConnector(destination)


def files_in(server: SftpPeer, folder: str = "in") -> list[str]:
    return sorted(path.name for path in (server.root / folder).iterdir())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_run_arrives_as_one_complete_file_with_the_chosen_columns_delimiter_and_encoding(sftp_server):
    connector = sftp_connector(
        sftp_server,
        columns=["profile_id", "email", "first_name", "last_name", "city", "tier"],
        delimiter=";",
        encoding="cp1252",
    )

    outcome = connector.send(run_batch())

    assert outcome.delivered == [1, 2, 3] and not outcome.failed and not outcome.retry
    assert files_in(sftp_server) == [FILE]
    assert (sftp_server.root / "in" / FILE).read_bytes() == (
        "profile_id;email;first_name;last_name;city;tier\r\n"
        "11;alice.martin@example.fr;Alice;;Lyon;\r\n"
        "12;helene.lefevre@example.fr;Hélène;Lefèvre;Besançon;gold\r\n"
        '13;bob.durand@example.fr;Bob;;"Nantes; Est";\r\n'
    ).encode("cp1252")


def many_recipients(count: int) -> list[Recipient]:
    return [
        Recipient(index, f"key-{index}", index, f"uuid-{index}", f"person{index}@example.fr", {"city": "Lyon"})
        for index in range(1, count + 1)
    ]


def test_the_file_is_written_under_a_temporary_name_and_appears_under_its_own_name_only_when_complete(sftp_server):
    connector = sftp_connector(sftp_server)

    connector.send(run_batch(people=many_recipients(5000)))

    temporary, final = f"/in/.{FILE}.part", f"/in/{FILE}"
    assert len(sftp_server.names("write")) > 3
    written_to = {path for operation in ("open", "write", "close") for (path,) in sftp_server.names(operation)}
    assert written_to == {temporary}
    # The final name is only ever the target of the rename, the last operation: no one can read it half written.
    assert sftp_server.operations[-1] == ("posix_rename", temporary, final)
    assert [operation for operation in sftp_server.operations if final in operation] == [sftp_server.operations[-1]]
    assert len((sftp_server.root / "in" / FILE).read_bytes().splitlines()) == 5001


def test_an_upload_cut_off_midway_leaves_no_file_under_its_name_and_is_retried(sftp_server):
    connector = sftp_connector(sftp_server)
    sftp_server.drop_after_writes = 2

    outcome = connector.send(run_batch(people=many_recipients(5000)))

    assert set(outcome.retry) == set(range(1, 5001)) and not outcome.failed and not outcome.delivered
    assert FILE not in files_in(sftp_server)
    assert connector.send(run_batch(people=many_recipients(5000))).delivered == list(range(1, 5001))
    assert files_in(sftp_server) == [FILE]
    assert len((sftp_server.root / "in" / FILE).read_bytes().splitlines()) == 5001


def test_sending_the_same_run_again_replaces_its_file(sftp_server):
    connector = sftp_connector(sftp_server, columns=["first_name"])
    connector.send(run_batch())

    outcome = connector.send(run_batch(people=recipients()[:1]))

    assert outcome.delivered == [1]
    assert files_in(sftp_server) == [FILE]
    assert (sftp_server.root / "in" / FILE).read_bytes() == b"first_name\r\nAlice\r\n"


def test_a_server_without_posix_rename_gets_the_old_file_removed_then_the_new_one_renamed(sftp_server):
    sftp_server.posix_rename = False
    connector = sftp_connector(sftp_server, columns=["first_name"])
    connector.send(run_batch())
    sftp_server.operations.clear()

    outcome = connector.send(run_batch(people=recipients()[2:]))

    temporary, final = f"/in/.{FILE}.part", f"/in/{FILE}"
    assert outcome.delivered == [3]
    assert sftp_server.operations[-3:] == [
        ("posix_rename", temporary, final),
        ("remove", final),
        ("rename", temporary, final),
    ]
    assert files_in(sftp_server) == [FILE]
    assert (sftp_server.root / "in" / FILE).read_bytes() == b"first_name\r\nBob\r\n"


def test_the_default_file_name_carries_the_campaign_the_run_and_the_day_the_run_started(sftp_server):
    destination = Destination.objects.create(name="Unused", kind=ConnectorKind.CSV_FILE)
    campaign = Campaign.objects.create(name="Spring sale", slug="spring-sale", channel="email", destination=destination)
    run = CampaignRun.objects.create(campaign=campaign, trigger="manual")
    started = timezone.make_aware(datetime.datetime(2026, 3, 14, 23, 30))
    CampaignRun.objects.filter(pk=run.pk).update(created_at=started)
    connector = sftp_connector(sftp_server, file_name="")

    connector.send(run_batch(run=str(run.uuid)))

    # A retry the next morning finds the same name: the day is the run's, not the upload's.
    assert files_in(sftp_server) == [f"spring-sale_{run.uuid}_20260314.csv"]


def test_a_public_key_logs_in(sftp_server):
    connector = sftp_connector(
        sftp_server, username="bob", secrets={"private_key": sftp_server.private_key_text(sftp_server.bob_key)}
    )

    assert connector.send(run_batch()).delivered == [1, 2, 3]
    assert files_in(sftp_server) == [FILE]


def test_a_passphrase_protected_rsa_key_logs_in_with_its_passphrase(sftp_server):
    key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    sftp_server.authorize("bob", key)
    text = sftp_server.private_key_text(key, "pkcs8-pem", passphrase="correct horse")

    without = sftp_connector(sftp_server, username="bob", secrets={"private_key": text})
    assert without.send(run_batch()).failed[1] == (
        "The private key is protected by a passphrase: set the secret “key_passphrase”."
    )
    Destination.objects.all().delete()
    connector = sftp_connector(
        sftp_server, username="bob", secrets={"private_key": text, "key_passphrase": "correct horse"}
    )
    assert connector.send(run_batch()).delivered == [1, 2, 3]


def test_a_wrong_password_fails_every_delivery_with_the_exact_reason(sftp_server):
    connector = sftp_connector(sftp_server, secrets={"password": "not-the-password"})

    outcome = connector.send(run_batch())

    reason = f"Authentication failed for user alice on 127.0.0.1:{sftp_server.port}"
    assert outcome.failed == {1: reason, 2: reason, 3: reason} and not outcome.retry and not outcome.delivered
    assert files_in(sftp_server) == []
    with pytest.raises(ConnectorError, match=f"^{reason}$"):
        connector.test_connection()


def test_a_key_the_server_does_not_know_fails_with_the_exact_reason(sftp_server):
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    connector = sftp_connector(
        sftp_server, username="bob", secrets={"private_key": sftp_server.private_key_text(stranger)}
    )

    assert (
        connector.send(run_batch()).failed[1] == f"Authentication failed for user bob on 127.0.0.1:{sftp_server.port}"
    )


def test_a_host_key_mismatch_fails_before_logging_in(sftp_server):
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    connector = sftp_connector(sftp_server, host_key=impostor.export_public_key().decode())

    outcome = connector.send(run_batch())

    reason = (
        f"Host key mismatch: expected ssh-ed25519 {impostor.get_fingerprint('sha256')}, "
        f"got ssh-ed25519 {sftp_server.host_key.get_fingerprint('sha256')}"
    )
    assert outcome.failed == {1: reason, 2: reason, 3: reason}
    assert sftp_server.operations == []
    with pytest.raises(ConnectorError, match="^Host key mismatch: expected"):
        connector.test_connection()


def test_an_unknown_host_key_is_never_trusted_silently(sftp_server):
    connector = sftp_connector(sftp_server, host_key="")

    outcome = connector.send(run_batch())

    key_type, key_base64 = sftp_server.host_key.export_public_key().decode().split()[:2]
    assert outcome.failed[1] == (
        f"Unknown host key: 127.0.0.1:{sftp_server.port} presented {key_type} "
        f"{sftp_server.host_key.get_fingerprint('sha256')}. Check it with the partner, then set “host_key” to: "
        f"{key_type} {key_base64}"
    )
    assert sftp_server.operations == []
    with pytest.raises(ConnectorError, match=re.escape(f"set “host_key” to: {key_type} {key_base64}")):
        connector.test_connection()


def test_an_unknown_host_key_is_accepted_only_when_the_destination_says_so(sftp_server):
    connector = sftp_connector(sftp_server, host_key="", accept_unknown_host_key=True)

    assert connector.send(run_batch()).delivered == [1, 2, 3]
    assert "host key NOT checked" in connector.test_connection()


def test_a_missing_directory_fails_with_its_name(sftp_server):
    connector = sftp_connector(sftp_server, path="/outbox")

    outcome = connector.send(run_batch())

    assert outcome.failed == dict.fromkeys([1, 2, 3], "No such directory: /outbox")
    with pytest.raises(ConnectorError, match="^No such directory: /outbox$"):
        connector.test_connection()


def test_a_directory_we_may_not_write_to_fails_with_permission_denied(sftp_server):
    connector = sftp_connector(sftp_server, path="/readonly")

    outcome = connector.send(run_batch())

    assert outcome.failed[1] == f"Permission denied: /readonly/.{FILE}.part"
    assert files_in(sftp_server, "readonly") == []


def test_a_server_that_is_down_gives_a_retry(sftp_server):
    port = closed_port()
    connector = sftp_connector(
        sftp_server, port=port, host_key=f"[127.0.0.1]:{port} {sftp_server.host_key_line.split(maxsplit=1)[1]}"
    )

    outcome = connector.send(run_batch())

    assert set(outcome.retry) == {1, 2, 3} and not outcome.failed and not outcome.delivered
    assert outcome.retry[1].startswith(f"Cannot connect to 127.0.0.1:{port}: ")
    with pytest.raises(ConnectorError, match=f"^Cannot connect to 127.0.0.1:{port}"):
        connector.test_connection()


def test_a_server_that_never_answers_gives_a_retry_after_the_timeout(sftp_server):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        connector = sftp_connector(sftp_server, port=silent.getsockname()[1], timeout=0.5)

        outcome = connector.send(run_batch())

    assert set(outcome.retry) == {1, 2, 3} and not outcome.failed


def test_testing_the_connection_says_what_was_checked_and_writes_nothing(sftp_server):
    connector = sftp_connector(sftp_server)

    sentence = connector.test_connection()

    assert sentence == (
        f"Connected to 127.0.0.1:{sftp_server.port} as alice "
        f"(host key ssh-ed25519 {sftp_server.host_key.get_fingerprint('sha256')} matches); /in is a directory. "
        "Nothing was written, to leave the partner's folder untouched."
    )
    assert sftp_server.operations == [("stat", "/in")]


@pytest.mark.parametrize(
    ("settings", "secrets", "reason"),
    [
        ({"host": ""}, None, "The SFTP setting “host” is missing."),
        ({"file_name": "{campaign}_{when}.csv"}, None, "Unknown placeholder {when} in the file name"),
        ({"file_name": "{campaign}_{date:%Y}.csv"}, None, "Unknown placeholder {date:%Y} in the file name"),
        ({"file_name": "../{run}.csv"}, None, "must be a name without a folder"),
        ({"encoding": "latin-9"}, None, "Unsupported encoding 'latin-9'"),
        ({"host_key": "not a key"}, None, "is not a public key line"),
        ({}, {}, "Set the secret “password” or “private_key”"),
        ({}, {"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope"}, "The private key cannot be read"),
    ],
)
def test_wrong_settings_fail_without_sending_and_say_which(sftp_server, settings, secrets, reason):
    connector = sftp_connector(sftp_server, secrets=secrets, **settings)

    outcome = connector.send(run_batch(people=recipients()[:1]))

    assert reason in outcome.failed[1]
    assert not any(operation[0] == "open" for operation in sftp_server.operations)


def test_a_uuid_run_name_is_kept_whole_and_different_runs_get_different_files(sftp_server):
    connector = sftp_connector(sftp_server)
    other = str(uuid.uuid4())

    connector.send(run_batch())
    connector.send(run_batch(run=other))

    assert files_in(sftp_server) == sorted([FILE, f"spring-sale_{other}.csv"])
