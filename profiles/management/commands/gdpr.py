import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from profiles.gdpr import gdpr_erase, gdpr_export
from profiles.models import Profile
from profiles.selectors import profile_find


class Command(BaseCommand):
    help = (
        "GDPR requests for one person, found by an identifier (email=..., phone=..., crm_id=...) "
        "or by profile public id: `gdpr export email=alice@example.fr -o alice.json`, "
        "`gdpr erase phone=0612345678 --reason 'request #123' --yes`. Each request is written to the privacy log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("person", help="kind=value (email=..., phone=..., crm_id=...) or a profile public id")
        parser.add_argument("-o", "--output", help="export: write the JSON to this file (default: standard output)")
        parser.add_argument("--reason", default="", help="why: the request's reference, kept in the privacy log")
        parser.add_argument("--actor", default="command line", help="who asked, kept in the privacy log")
        parser.add_argument("--yes", action="store_true", help="erase: do not ask for confirmation")

    def handle(
        self, *args, action: str, person: str, output: str | None, reason: str, actor: str, yes: bool, **options
    ) -> None:
        profile = self._find(person)
        if action == "export":
            data = gdpr_export(profile=profile, actor=actor, reason=reason)
            text = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
            if output:
                with open(output, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
                self.stderr.write(f"Exported profile {profile.uuid} to {output}.")
            else:
                self.stdout.write(text)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("Erasure cannot be undone: add --yes to confirm.")
            answer = input(f"Erase profile {profile.uuid} and everything held about this person? Type 'erase': ")
            if answer.strip() != "erase":
                raise CommandError("Nothing erased.")
        log = gdpr_erase(profile=profile, actor=actor, reason=reason)
        self.stdout.write(self.style.SUCCESS(f"Erased profile {log.profile_uuid}: {log.detail['rows']}"))

    def _find(self, person: str) -> Profile:
        if "=" in person:
            kind, _sep, value = person.partition("=")
            try:
                profile = profile_find(kind=kind.strip(), value=value)
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
        else:
            try:
                profile = Profile.objects.filter(uuid=person).first()
            except ValidationError:
                raise CommandError(f"“{person}” is neither kind=value nor a profile public id.") from None
        if profile is None:
            raise CommandError(f"No profile matches “{person}”.")
        return profile
