from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from access.roles import MARKETER
from access.services import login_ensure


class Command(BaseCommand):
    help = "Create the demo marketer login of a development instance (once, in the Marketer group) and print it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="marie")

    def handle(self, *args, username: str, **options) -> None:
        password_file = settings.VAR_DIR / f"{username}-password.txt"
        try:
            password = login_ensure(
                username=username,
                password_file=password_file,
                groups=(MARKETER.name,),
                is_staff=True,
                first_name="Marie",
                last_name="Lefèvre",
                email=f"{username}@example.fr",
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"Marketer login: {username} / {password}  (kept in {password_file})"))
