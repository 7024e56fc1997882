"""Which column of the file feeds what: an identifier, a profile field, a custom trait or a consent.

A target is written ``identifier:email``, ``field:city``, ``trait:loyalty_tier``,
``consent:email``, ``consent_date:email`` or ``ignore``. ``mapping_guess`` reads
the usual French and English column names of CRM and Excel exports.
"""

import re
import unicodedata
from collections.abc import Mapping, Sequence

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from profiles.importing.reading import ImportFileError
from profiles.models import Channel, identifier_kind_choices
from profiles.services import STANDARD_FIELDS

IGNORE = "ignore"
TARGET_PREFIXES = ("identifier", "field", "trait", "consent", "consent_date")


def _words(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(re.findall(r"[a-z0-9]+", text))


_KNOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    "identifier:email": (
        "email",
        "e mail",
        "mail",
        "courriel",
        "adresse email",
        "adresse mail",
        "adresse e mail",
        "email address",
        "e mail address",
        "adresse electronique",
    ),
    "identifier:phone": (
        "telephone",
        "tel",
        "phone",
        "mobile",
        "portable",
        "telephone portable",
        "tel portable",
        "gsm",
        "numero de telephone",
        "num telephone",
        "phone number",
        "mobile phone",
        "telephone mobile",
        "cellulaire",
    ),
    "identifier:crm_id": (
        "crm id",
        "id crm",
        "customer id",
        "id client",
        "code client",
        "numero client",
        "num client",
        "client id",
        "identifiant client",
        "ref client",
        "reference client",
        "customer number",
        "no client",
    ),
    "identifier:anonymous_id": ("anonymous id", "cookie id", "visitor id", "id visiteur"),
    "field:first_name": ("prenom", "first name", "firstname", "given name"),
    "field:last_name": ("nom", "last name", "lastname", "surname", "nom de famille", "family name"),
    "field:birth_date": (
        "date de naissance",
        "naissance",
        "birth date",
        "birthdate",
        "date of birth",
        "dob",
        "birthday",
        "date naissance",
    ),
    "field:city": ("ville", "city", "commune", "localite", "town"),
    "field:postcode": ("code postal", "cp", "postcode", "postal code", "zip", "zip code", "zipcode"),
    "field:country": ("pays", "country", "code pays", "country code"),
    "field:language": ("langue", "language", "lang", "langue preferee", "preferred language"),
    "consent:email": (
        "optin email",
        "opt in email",
        "optin mail",
        "opt in mail",
        "email optin",
        "email opt in",
        "consentement email",
        "consentement mail",
        "consent email",
        "email consent",
        "newsletter",
        "accepte email",
        "accord email",
    ),
    "consent:sms": (
        "optin sms",
        "opt in sms",
        "sms optin",
        "sms opt in",
        "consentement sms",
        "consent sms",
        "sms consent",
        "accepte sms",
        "accord sms",
    ),
    "consent:phone": ("optin telephone", "consentement telephone", "phone consent", "accepte appel"),
    "consent:postal": ("optin courrier", "consentement courrier", "postal consent", "accepte courrier"),
    "consent:advertising": ("optin publicite", "consentement publicite", "advertising consent"),
    "consent:partner_sharing": ("optin partenaires", "consentement partenaires", "partner consent"),
    "consent_date:email": ("date optin email", "date consentement email", "email consent date", "date optin"),
    "consent_date:sms": ("date optin sms", "date consentement sms", "sms consent date"),
}
_GUESSES = {_words(name): target for target, names in _KNOWN_COLUMNS.items() for name in names}


def target_choices() -> list[tuple[str, str]]:
    """Every target, labelled for the marketer's column-mapping form."""
    choices: list[tuple[str, str]] = [(IGNORE, str(gettext_lazy("— ignore this column —")))]
    for kind, label in identifier_kind_choices():
        choices.append((f"identifier:{kind}", _("Identifier: %(label)s") % {"label": label}))
    from profiles.models import Profile

    for name in STANDARD_FIELDS:
        choices.append(
            (f"field:{name}", _("Profile: %(label)s") % {"label": Profile._meta.get_field(name).verbose_name})
        )
    for channel, label in Channel.choices:
        choices.append((f"consent:{channel}", _("Consent: %(label)s (yes / no)") % {"label": label}))
        choices.append((f"consent_date:{channel}", _("Consent date: %(label)s") % {"label": label}))
    return choices


def trait_name(column: str) -> str:
    return "_".join(_words(column).split()) or "column"


def mapping_guess(header: Sequence[str]) -> dict[str, str]:
    """A target for every column: known names by their meaning, any other column kept as a custom trait."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in header:
        target = _GUESSES.get(_words(column))
        if target is None or (target in used and not target.startswith("identifier:")):
            target = f"trait:{trait_name(column)}"
        used.add(target)
        mapping[column] = target
    return mapping


def mapping_check(header: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping for exactly these columns, every target valid, at least one identifier column."""
    valid = {value for value, _label in target_choices()}
    unknown_columns = sorted(set(mapping) - set(header))
    if unknown_columns:
        raise ImportFileError(
            _("The mapping names columns the file does not have: %(columns)s.")
            % {"columns": ", ".join(unknown_columns)}
        )
    checked = {}
    for column in header:
        target = mapping.get(column) or f"trait:{trait_name(column)}"
        if target not in valid and not (target.startswith("trait:") and re.fullmatch(r"trait:[a-z0-9_]{1,64}", target)):
            raise ImportFileError(
                _("Column “%(column)s”: “%(target)s” is not something a column can be imported into.")
                % {"column": column, "target": target}
            )
        checked[column] = target
    fields = [target for target in checked.values() if target.startswith(("field:", "consent:", "consent_date:"))]
    twice = sorted({target for target in fields if fields.count(target) > 1})
    if twice:
        raise ImportFileError(
            _("Two columns are imported into the same place (%(targets)s): keep one.") % {"targets": ", ".join(twice)}
        )
    if not any(target.startswith("identifier:") for target in checked.values()):
        raise ImportFileError(
            _(
                "No column identifies the people: the file needs an email, phone, CRM id or anonymous id column "
                "(its columns are: %(columns)s)."
            )
            % {"columns": ", ".join(header)}
        )
    return checked
