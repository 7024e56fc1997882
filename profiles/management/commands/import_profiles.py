import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from profiles.importing.mapping import target_choices
from profiles.importing.reading import ImportFileError, csv_layout_detect
from profiles.importing.services import profile_import_run
from profiles.models import ImportStatus


class Command(BaseCommand):
    help = (
        "Import a CRM export (CSV, ; or , delimited, UTF-8 or Windows-1252) into profiles: people are matched and "
        "merged on their identifiers, consent columns are recorded with the file as proof. Streams the file, so "
        "any size works. Rejected rows are written with their line, column and reason to FILE.rejected.csv."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=TARGET",
            help="what a column is imported into, e.g. 'Courriel=identifier:email', 'Segment=trait:segment', "
            "'Ancien champ=ignore' (columns not named are recognised by their name; see --targets)",
        )
        parser.add_argument("--targets", action="store_true", help="list the possible targets and stop")
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="import nothing when any row is rejected (default: import the valid rows)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check and count, then import nothing")
        parser.add_argument("--rejects", help="where to write the rejected rows (default: FILE.rejected.csv)")
        parser.add_argument("--method", choices=["rows", "bulk"], help="default: bulk on PostgreSQL, rows elsewhere")
        parser.add_argument("--actor", default="command line", help="who imports, kept on the import's record")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        if options["targets"]:
            for value, label in target_choices():
                self.stdout.write(f"{value:32} {label}")
            self.stdout.write(f"{'trait:NAME':32} custom trait NAME")
            return
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        mapping = {}
        for item in options["map"]:
            column, sep, target = item.partition("=")
            if not sep:
                raise CommandError(f"--map {item!r}: write it COLUMN=TARGET.")
            mapping[column.strip()] = target.strip()
        rejects_path = Path(options["rejects"] or f"{path}.rejected.csv")
        with path.open("rb") as stream:
            try:
                layout = csv_layout_detect(stream)
            except ImportFileError as error:
                raise CommandError(f"{path}: {error}") from None
            self.stderr.write(
                f"{path.name}: {layout.encoding_label}, delimiter {layout.delimiter_label}, "
                f"{len(layout.header)} columns"
            )
            bar = tqdm(
                total=path.stat().st_size,
                unit="B",
                unit_scale=True,
                desc="Importing",
                file=sys.stderr,
                disable=options["no_progress"],
            )

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            try:
                with rejects_path.open("w", newline="", encoding="utf-8") as rejects_out:
                    record = profile_import_run(
                        stream=stream,
                        file_name=path.name,
                        mapping=mapping,
                        all_or_nothing=options["all_or_nothing"],
                        dry_run=options["dry_run"],
                        actor=options["actor"],
                        method=options["method"],
                        progress=progress,
                        rejects_out=rejects_out,
                    )
            except ImportFileError as error:
                raise CommandError(f"{path}: {error}") from None
            finally:
                bar.close()
        if not record.rows_rejected:
            rejects_path.unlink()
        seconds = (record.finished_at - record.started_at).total_seconds()
        summary = (
            f"{record.rows_read:,} rows read in {seconds:.1f} s ({record.rows_read / max(seconds, 1e-9):,.0f} rows/s): "
            f"{record.rows_new:,} new, {record.rows_updated:,} updated, {record.rows_merged:,} merged, "
            f"{record.rows_rejected:,} rejected"
        )
        if record.rows_rejected:
            summary += f" (see {rejects_path})"
        if record.status == ImportStatus.DONE:
            self.stdout.write(self.style.SUCCESS(f"Imported. {summary}."))
        elif record.status == ImportStatus.PREVIEWED:
            self.stdout.write(f"Dry run, nothing imported. {summary}.")
        else:
            self.stdout.write(
                self.style.WARNING(f"Nothing imported: rows were rejected (--all-or-nothing). {summary}.")
            )
            raise CommandError("import cancelled")
