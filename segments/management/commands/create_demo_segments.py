from django.core.management.base import BaseCommand, CommandParser

from segments.demo import demo_segments_create
from segments.models import Segment


class Command(BaseCommand):
    help = "Create example segments on the demo data (and refresh them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any segment exists.")

    def handle(self, *args: object, if_empty: bool, **options: object) -> None:
        if if_empty and Segment.objects.exists():
            self.stdout.write("Segments exist already: no example segment created.")
            return
        created = demo_segments_create()
        for segment in created:
            segment.refresh_from_db()
            self.stdout.write(f"{segment.name}: {segment.member_count} members ({segment.control_count} in control)")
