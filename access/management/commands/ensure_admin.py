from django.conf import settings
from django.core.management.base import BaseCommand

from access.services import login_ensure


class Command(BaseCommand):
    help = "Create the administrator login of a development instance (once) and print it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        password_file = settings.VAR_DIR / "admin-password.txt"
        password = login_ensure(username=username, password_file=password_file, superuser=True, email="")
        self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {password}  (kept in {password_file})"))
