"""The CSV file to download: written whole under the export folder, served to staff who may view runs."""

import datetime
import tracemalloc
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone

from activations.connectors import Batch, ConnectorError, Recipient
from activations.connectors.csv_file import CsvFileConnector
from activations.connectors.files import FileFormat, csv_write
from activations.exports import csv_export_download, csv_export_path
from activations.models import Campaign, CampaignRun, ConnectorKind, Destination

pytestmark = pytest.mark.django_db

RUN = "9a1c2e4f-6b8d-4e0f-a2c4-e6f8a0b2c4d6"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.CDP_EXPORT_DIR = tmp_path / "exports"
    return settings.CDP_EXPORT_DIR


def recipients() -> list[Recipient]:
    return [
        Recipient(1, "key-1", 11, "uuid-11", "alice.martin@example.fr", {"first_name": "Alice", "city": "Lyon"}),
        Recipient(2, "key-2", 12, "uuid-12", "helene.lefevre@example.fr", {"first_name": "Hélène", "city": "Besançon"}),
    ]


def run_batch(run: str = RUN, people: list[Recipient] | None = None) -> Batch:
    return Batch(f"msg_{run}_0", "spring-sale", run, "email", {}, recipients() if people is None else people)


def csv_destination(**settings) -> Destination:
    return Destination.objects.create(name="Download", kind=ConnectorKind.CSV_FILE, settings=settings)


def test_the_run_is_written_as_one_file_named_after_the_run(export_dir):
    connector = CsvFileConnector(csv_destination(columns=["email", "first_name", "city"], encoding="utf-8-sig"))

    outcome = connector.send(run_batch())

    assert outcome.delivered == [1, 2] and not outcome.failed and not outcome.retry
    assert sorted(path.name for path in export_dir.iterdir()) == [f"{RUN}.csv"]
    assert (
        csv_export_path(RUN).read_bytes()
        == (
            "\ufeffemail,first_name,city\r\nalice.martin@example.fr,Alice,Lyon\r\nhelene.lefevre@example.fr,Hélène,Besançon\r\n"
        ).encode()
    )


def test_sending_the_run_again_replaces_its_file(export_dir):
    connector = CsvFileConnector(csv_destination(columns=["first_name"], delimiter=";", encoding="cp1252"))
    connector.send(run_batch())

    connector.send(run_batch(people=recipients()[1:]))

    assert sorted(path.name for path in export_dir.iterdir()) == [f"{RUN}.csv"]
    assert csv_export_path(RUN).read_bytes() == "first_name\r\nHélène\r\n".encode("cp1252")


def test_values_of_every_type_are_written_as_a_partner_reads_them(export_dir):
    connector = CsvFileConnector(csv_destination(columns=["vip", "points", "birth_date", "tags", "unknown"]))
    fields = {"vip": True, "points": Decimal("12.50"), "birth_date": datetime.date(1990, 6, 3), "tags": ["a", "é"]}

    connector.send(run_batch(people=[Recipient(1, "key-1", 11, "uuid-11", "", fields)]))

    assert csv_export_path(RUN).read_text(encoding="utf-8").splitlines() == [
        "vip,points,birth_date,tags,unknown",
        'true,12.50,1990-06-03,"[""a"", ""é""]",',
    ]


def test_the_header_line_can_be_left_out(export_dir):
    CsvFileConnector(csv_destination(columns=["profile_id", "email"], header=False)).send(run_batch())

    assert csv_export_path(RUN).read_bytes() == b"11,alice.martin@example.fr\r\n12,helene.lefevre@example.fr\r\n"


def test_a_wrong_delimiter_fails_without_writing(export_dir):
    outcome = CsvFileConnector(csv_destination(delimiter=":")).send(run_batch())

    assert outcome.failed[1] == "Unsupported delimiter ':': use one of ',' ';' '\\t' '|'."
    assert not export_dir.exists()


def test_an_export_folder_that_cannot_exist_fails_with_the_reason(settings, tmp_path):
    (tmp_path / "a-file").write_text("")
    settings.CDP_EXPORT_DIR = tmp_path / "a-file" / "exports"
    connector = CsvFileConnector(csv_destination())

    outcome = connector.send(run_batch())

    assert outcome.failed[1] == f"Cannot write the file {tmp_path}/a-file/exports/{RUN}.csv: Not a directory"
    with pytest.raises(ConnectorError, match="^Files cannot be written to .*: Not a directory$"):
        connector.test_connection()


def test_testing_the_connection_names_the_export_folder(export_dir):
    assert CsvFileConnector(csv_destination()).test_connection() == (
        f"Files are written to {export_dir}, and it is writable."
    )


def test_a_large_run_is_written_row_by_row_in_flat_memory(tmp_path):
    people = [
        Recipient(index, f"key-{index}", index, f"uuid-{index}", f"person{index}@example.fr", {"city": "Lyon"})
        for index in range(100_000)
    ]
    file_format = FileFormat(columns=("profile_id", "email", "city"))

    with (tmp_path / "large.csv").open("wb") as output:
        tracemalloc.start()
        try:
            size = csv_write(recipients=people, file_format=file_format, output=output)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert size > 3_000_000
    # A few chunks of rows at most, whatever the size of the run (the whole file would be several MB).
    assert peak < size / 5


# The download, as the admin routes to it.


@pytest.fixture
def run(export_dir) -> CampaignRun:
    destination = csv_destination()
    campaign = Campaign.objects.create(name="Spring sale", slug="spring-sale", channel="email", destination=destination)
    run = CampaignRun.objects.create(campaign=campaign, trigger="manual")
    CsvFileConnector(destination).send(run_batch(run=str(run.uuid)))
    return run


def staff(name: str, *, may_view_runs: bool) -> User:
    user = User.objects.create_user(name, is_staff=True)
    if may_view_runs:
        user.user_permissions.add(Permission.objects.get(codename="view_campaignrun"))
    return User.objects.get(pk=user.pk)  # a fresh instance: permissions are cached per instance


def download(user: User | AnonymousUser, run_uuid: uuid.UUID | str):
    request = RequestFactory().get(f"/admin/activations/campaignrun/{run_uuid}/csv/")
    request.user = user
    return csv_export_download(request, run_uuid)


def test_staff_who_may_view_runs_download_the_file_under_a_readable_name(run):
    response = download(staff("alice", may_view_runs=True), run.uuid)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    started = timezone.localtime(run.created_at)  # Europe/Paris, the platform's time zone
    assert response["Content-Disposition"] == f'attachment; filename="spring-sale_{started:%Y-%m-%d_%H%M}.csv"'
    assert b"".join(response.streaming_content) == csv_export_path(run.uuid).read_bytes()


@pytest.mark.parametrize("who", ["anonymous", "not staff", "staff without the permission"])
def test_the_file_is_refused_to_anyone_else(run, who):
    user = {
        "anonymous": lambda: AnonymousUser(),
        "not staff": lambda: User.objects.create_user("bob"),
        "staff without the permission": lambda: staff("charlie", may_view_runs=False),
    }[who]()

    with pytest.raises(PermissionDenied):
        download(user, run.uuid)


@pytest.mark.parametrize("run_uuid", [str(uuid.uuid4()), "not-a-uuid", "../../etc/passwd"])
def test_an_unknown_run_is_not_found(run, run_uuid):
    with pytest.raises(Http404):
        download(staff("alice", may_view_runs=True), run_uuid)


def test_a_run_without_its_file_is_not_found(run):
    csv_export_path(run.uuid).unlink()

    with pytest.raises(Http404):
        download(staff("alice", may_view_runs=True), run.uuid)
