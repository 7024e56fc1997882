import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from profiles.demo import DemoSummary, demo_data_generate

# Below this many profiles a run takes a few seconds: no progress lines.
PROGRESS_FROM = 20_000
PROGRESS_EVERY_SECONDS = 5.0


class Command(BaseCommand):
    help = (
        "Create demo profiles: French names and cities, identifiers, consents and events over the last days. "
        "The same --seed gives the same people."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profiles", type=int, required=True, help="How many profiles to create.")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--days", type=int, default=90, help="Days of events before now (default 90).")
        parser.add_argument("--batch-size", type=int, default=2000, help="Profiles written per transaction.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already holds profiles."
        )

    def handle(self, *args, profiles: int, seed: int, days: int, batch_size: int, if_empty: bool, **options) -> None:
        last_report = time.monotonic()

        def progress(summary: DemoSummary) -> None:
            nonlocal last_report
            if profiles < PROGRESS_FROM or summary.profiles == profiles:
                return
            if time.monotonic() - last_report < PROGRESS_EVERY_SECONDS:
                return
            last_report = time.monotonic()
            remaining = (profiles - summary.profiles) / summary.profiles_per_second
            self.stdout.write(
                f"  {summary.profiles:,} / {profiles:,} profiles ({summary.profiles / profiles:.0%}), "
                f"{summary.events:,} events, {summary.profiles_per_second:,.0f} profiles/s, "
                f"about {remaining:,.0f} s left"
            )

        try:
            summary = demo_data_generate(
                profiles=profiles, seed=seed, days=days, batch_size=batch_size, if_empty=if_empty, progress=progress
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(
                    f"--{name.replace('_', '-')}: {' '.join(messages)}" for name, messages in error.message_dict.items()
                )
            ) from None
        if summary.skipped:
            self.stdout.write("Profiles already exist: no demo data generated (--if-empty).")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {summary.profiles:,} demo profiles (seed {seed}, last {days} days) "
                f"in {summary.seconds:.1f} s: "
                f"{summary.identifiers:,} identifiers, {summary.consent_records:,} consent log entries "
                f"({summary.consents:,} current consents), {summary.events:,} events "
                f"including {summary.purchases:,} purchases; "
                f"{summary.profiles_per_second:,.0f} profiles/s, {summary.events_per_second:,.0f} events/s "
                f"({summary.writer})."
            )
        )
