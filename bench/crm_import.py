"""The CRM import benchmark (issue 3): ``import_profiles`` on a generated CRM export, beside the stock
django-import-export path and a raw PostgreSQL COPY of the same file, all measured in the same run.

The file (``bench.crm_file``: ``--import-rows`` rows, ``;``-delimited Windows-1252,
5 % duplicates, 2 % bad rows) is generated once per process, untimed, in a
temporary directory removed at exit. Each path starts from emptied profile
tables (and import records), and the tables are emptied again at the end:

- ours: ``manage.py import_profiles FILE --no-progress`` in a child process,
  with DEBUG off as in production, on the whole file with the bulk path
  (``profiles.importing.bulk``, the default on PostgreSQL). Its rows/s are on
  the child's wall time (start-up, reading, checks, writes and commit), its
  peak RSS is the child's own (``os.wait4``). Until the bulk path exists, the
  row-by-row path on a 20,000-row slice, labelled so. Inside a transaction
  (the test suite) or off PostgreSQL, it runs in this process instead.
- stock: what a developer gets out of the box from django-import-export: a
  plain ``ModelResource`` for Profile with the file's columns mapped to model
  fields, default options, ``import_data(dataset, dry_run=False)`` on a tablib
  Dataset loaded from a 20,000-row slice (reading the slice is timed too).
- raw COPY: the whole file into an unindexed, unlogged table of text columns,
  fed to psycopg's ``cursor.copy`` in chunks: the floor of any import.
"""

import atexit
import functools
import importlib.util
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from bench import BenchContext, Measurement, benchmark
from bench.crm_file import ENCODING, HEADER, CrmFileSummary, crm_file_head, crm_file_write
from profiles.models import ImportRejection, Profile, ProfileImport

SLICE_ROWS = 20_000  # the stock path's slice, and ours when the bulk path is missing
TARGET_ROWS_PER_SECOND = 25_000
TARGET_PEAK_MB = 500
TARGET_TIMES_STOCK = 20
RAW_TABLE = "bench_crm_raw"


@functools.cache
def _work_directory() -> Path:
    path = Path(tempfile.mkdtemp(prefix="cdp-bench-crm-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def crm_file(rows: int, seed: int) -> tuple[Path, CrmFileSummary]:
    """The generated file of ``rows`` rows, made once per process."""
    path = _work_directory() / f"crm-{rows}-{seed}.csv"
    return path, crm_file_write(path, rows=rows, seed=seed)


@functools.cache
def crm_slice(rows: int, seed: int, slice_rows: int) -> tuple[Path, int]:
    """The header and the first ``slice_rows`` rows of that file; the rows it holds."""
    source, _summary = crm_file(rows, seed)
    path = _work_directory() / f"crm-{rows}-{seed}-head-{slice_rows}.csv"
    return path, crm_file_head(source, path, rows=slice_rows)


def import_tables_clear() -> None:
    """Empty the profile tables and the import records."""
    # Imported here: importing bench.profiles registers its benchmarks, which must come after this one.
    from bench.profiles import profile_data_clear

    profile_data_clear()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(ProfileImport._meta.db_table)} CASCADE")
    else:
        ImportRejection.objects.all().delete()
        ProfileImport.objects.all().delete()


def bulk_path_available() -> bool:
    return connection.vendor == "postgresql" and importlib.util.find_spec("profiles.importing.bulk") is not None


def _megabytes(kibibytes: int) -> float:
    return kibibytes * 1024 / 1e6  # ru_maxrss is in KiB on Linux


def import_in_child(path: Path, method: str | None) -> tuple[float, float]:
    """Run ``manage.py import_profiles`` on the file in a child process: (wall seconds, its peak RSS in MB)."""
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "import_profiles", str(path)]
    command += ["--no-progress", "--rejects", f"{path}.rejected.csv"]
    if method:
        command += ["--method", method]
    environment = {**os.environ, "DEBUG": "false"}
    # DEBUG off needs a SECRET_KEY; the command signs nothing, so a throw-away one does.
    environment.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
            command, stdout=output, stderr=subprocess.STDOUT, env=environment, cwd=settings.BASE_DIR
        )
        # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would keep the peak of every child).
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode:
        raise RuntimeError(f"import_profiles failed (exit status {process.returncode}):\n{text[-4000:]}")
    return seconds, _megabytes(usage.ru_maxrss)


def import_in_process(path: Path, method: str | None) -> tuple[float, float]:
    """The same import in this process (inside a test's transaction): (seconds, this process's peak RSS in MB)."""
    from profiles.importing.services import profile_import_run

    started = time.perf_counter()
    with path.open("rb") as stream:
        profile_import_run(stream=stream, file_name=path.name, method=method, actor="bench")
    seconds = time.perf_counter() - started
    return seconds, _megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def stock_resource():
    """A plain django-import-export resource for Profile, the file's columns mapped to its fields."""
    from import_export import fields, resources, widgets

    class CrmProfileResource(resources.ModelResource):
        first_name = fields.Field(attribute="first_name", column_name="Prénom")
        last_name = fields.Field(attribute="last_name", column_name="Nom")
        city = fields.Field(attribute="city", column_name="Ville")
        postcode = fields.Field(attribute="postcode", column_name="CP")
        birth_date = fields.Field(
            attribute="birth_date", column_name="Date de naissance", widget=widgets.DateWidget(format="%d/%m/%Y")
        )

        class Meta:
            model = Profile

    return CrmProfileResource()


def stock_import(path: Path) -> tuple[float, dict[str, int]]:
    """(seconds, totals) of import_data on a Dataset read from the file, as the admin would load it."""
    import tablib

    resource_ = stock_resource()
    started = time.perf_counter()
    dataset = tablib.Dataset().load(path.read_text(encoding=ENCODING), format="csv", delimiter=";")
    result = resource_.import_data(dataset, dry_run=False)
    seconds = time.perf_counter() - started
    if result.has_errors():
        error = result.base_errors[0] if result.base_errors else result.row_errors()[0][1][0]
        raise RuntimeError(f"The stock import failed: {error.error!r}")
    return seconds, dict(result.totals)


def raw_copy(path: Path) -> tuple[float, int]:
    """(seconds, rows) of COPY of the whole file into an unindexed, unlogged table of text columns."""
    quote = connection.ops.quote_name
    columns = ", ".join(f"{quote(name)} text" for name in HEADER)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        cursor.execute(f"CREATE UNLOGGED TABLE {RAW_TABLE} ({columns})")
        started = time.perf_counter()
        with (
            path.open("rb") as stream,
            cursor.cursor.copy(
                f"COPY {RAW_TABLE} FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true, ENCODING 'WIN1252')"
            ) as copy,
        ):
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        rows = cursor.cursor.rowcount
        cursor.execute(f"DROP TABLE {RAW_TABLE}")
    return seconds, rows


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


@benchmark(
    "crm_import",
    description="import_profiles on a generated CRM CSV (--import-rows), beside stock django-import-export "
    "(20,000-row slice) and a raw COPY.",
)
def crm_import(context: BenchContext) -> list[Measurement]:
    rows = context.import_rows or context.scale
    path, summary = crm_file(rows, context.seed)
    planted = (
        f"{summary.rows:,} rows, {summary.bytes / 1e6:,.0f} MB, generated in {summary.seconds:.1f} s: "
        f"{summary.people:,} people, {summary.duplicate_rows:,} duplicates, {summary.bad_rows:,} bad rows"
    )
    measurements = []

    # a. Ours: the command, the bulk path on the whole file.
    bulk = bulk_path_available()
    if bulk:
        ours_path, ours_rows, method = path, summary.rows, None
        ours_figure, ours_label = "import_profiles, whole file", "bulk path"
    else:
        ours_path, ours_rows = crm_slice(rows, context.seed, SLICE_ROWS)
        method = "rows"
        ours_figure = f"import_profiles --method rows, {ours_rows:,}-row slice"
        ours_label = (
            "row-by-row path: profiles.importing.bulk does not exist yet"
            if connection.vendor == "postgresql"
            else f"row-by-row path ({connection.vendor})"
        )
    in_child = connection.vendor == "postgresql" and not connection.in_atomic_block and "DATABASE_URL" in os.environ
    import_tables_clear()
    runner = import_in_child if in_child else import_in_process
    seconds, peak_mb = runner(ours_path, method)
    ours_speed = ours_rows / seconds
    record = ProfileImport.objects.order_by("-id").first()
    profiles = Profile.objects.count()
    outcome = "no import record"
    if record is not None and record.finished_at is not None:
        outcome = (
            f"{record.rows_new:,} new, {record.rows_updated:,} updated, {record.rows_merged:,} merged, "
            f"{record.rows_rejected:,} rejected, {(record.finished_at - record.started_at).total_seconds():.1f} s "
            f"on the import's record; {profiles:,} profiles"
        )
    where = "child process manage.py import_profiles, DEBUG off" if in_child else "in this process"
    measurements.append(
        Measurement(
            ours_figure,
            ours_speed,
            "rows/s",
            f"{ours_label}, {where}; {ours_rows:,} rows in {seconds:.1f} s: {outcome}; "
            f"target >= {TARGET_ROWS_PER_SECOND:,} rows/s: {_verdict(ours_speed >= TARGET_ROWS_PER_SECOND)}",
        )
    )
    measurements.append(
        Measurement(
            "import_profiles peak RSS",
            peak_mb,
            "MB",
            (
                "the child process's maximum resident set (os.wait4)"
                if in_child
                else "this whole process's maximum resident set (in-process run)"
            )
            + f"; target < {TARGET_PEAK_MB} MB: {_verdict(peak_mb < TARGET_PEAK_MB)}",
        )
    )

    # b. Stock django-import-export on a slice of the same file.
    import_tables_clear()
    slice_path, slice_rows = crm_slice(rows, context.seed, SLICE_ROWS)
    seconds, totals = stock_import(slice_path)
    stock_speed = slice_rows / seconds
    measurements.append(
        Measurement(
            f"stock import-export, {slice_rows:,}-row slice",
            stock_speed,
            "rows/s",
            f"ModelResource.import_data, default options; {slice_rows:,} rows in {seconds:.1f} s: "
            f"{totals.get('new', 0):,} new, {totals.get('invalid', 0):,} invalid; Profile rows only "
            "(no identifiers, merges or consents)",
        )
    )

    # c. Raw COPY of the whole file.
    copy_speed = None
    if connection.vendor == "postgresql":
        import_tables_clear()
        seconds, copied = raw_copy(path)
        copy_speed = summary.rows / seconds
        measurements.append(
            Measurement(
                "raw COPY, whole file",
                copy_speed,
                "rows/s",
                f"{copied:,} rows in {seconds:.1f} s into an unlogged table of text columns, no index; file: {planted}",
            )
        )
    import_tables_clear()

    # d. The ratios.
    times_stock = ours_speed / stock_speed
    measurements.append(
        Measurement(
            "ours / stock",
            times_stock,
            "x",
            f"rows/s of import_profiles over stock import-export's; "
            f"target >= {TARGET_TIMES_STOCK}x: {_verdict(times_stock >= TARGET_TIMES_STOCK)}",
        )
    )
    if copy_speed is not None:
        measurements.append(
            Measurement(
                "ours / raw COPY",
                ours_speed / copy_speed,
                "x",
                f"import_profiles at {ours_speed / copy_speed:.1%} of the raw COPY's rows/s",
            )
        )
    return measurements
