from django.core.management.base import BaseCommand, CommandParser

from activations.models import Campaign
from reporting.demo import demo_campaign_create


class Command(BaseCommand):
    help = (
        "Create a finished demo email campaign on the demo profiles (10 % control group, sent to a CSV file), "
        "purchases after it, and refresh the report. The same --seed gives the same report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any campaign exists.")

    def handle(self, *args: object, seed: int, if_empty: bool, **options: object) -> None:
        if if_empty and Campaign.objects.exists():
            self.stdout.write("Campaigns exist already: no demo campaign created.")
            return
        demo = demo_campaign_create(seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"{demo.campaign.name}: sent to {demo.treated} people, {demo.held_out} in the control group, "
                f"{demo.purchases} purchases after the send; report refreshed in {demo.refresh.seconds:.2f} s."
            )
        )
