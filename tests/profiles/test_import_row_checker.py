"""The import's fast row checker (RowChecker) gives exactly what row_parse gives, row for row.

row_parse is the judge: the checker's fast paths must agree with it on every
value, every rejection (line, column, value, reason) and every fallback. They
are compared on the benchmark's generated export and on rows drawn at random
from awkward cells.
"""

import datetime
import io
import random

import pytest
from django.test import override_settings
from django.utils import timezone

from bench.crm_file import crm_file_write
from profiles.importing.mapping import mapping_check, mapping_guess
from profiles.importing.parsing import RowChecker, row_parse
from profiles.importing.reading import csv_layout_detect, csv_rows

HEADER = (
    "Code client",
    "Courriel",
    "Email pro",
    "Téléphone",
    "Prénom",
    "Date de naissance",
    "CP",
    "Pays",
    "Langue",
    "Optin email",
    "Optin SMS",
    "Date optin",
    "Date optin SMS",
    "Segment",
    "Ancien champ",
)
MAPPING = {
    "Code client": "identifier:crm_id",
    "Courriel": "identifier:email",
    "Email pro": "identifier:email",
    "Téléphone": "identifier:phone",
    "Prénom": "field:first_name",
    "Date de naissance": "field:birth_date",
    "CP": "field:postcode",
    "Pays": "field:country",
    "Langue": "field:language",
    "Optin email": "consent:email",
    "Optin SMS": "consent:sms",
    "Date optin": "consent_date:email",
    "Date optin SMS": "consent_date:sms",
    "Segment": "trait:segment",
    "Ancien champ": "ignore",
}
tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).strftime("%d/%m/%Y")
in_two_days = (timezone.now() + datetime.timedelta(days=2)).strftime("%d/%m/%Y %H:%M")
CELLS = {
    "Code client": ["CLI-1", " CLI-2 ", "", "x" * 256, "CLI-1"],
    "Courriel": [
        "alice@example.fr",
        " Alice.Martin@Example.FR ",
        "bob+news@mail.example.co.uk",
        "alice@example",
        "alice@@example.fr",
        "al ice@example.fr",
        "élodie@exemple.fr",
        "alice@exämple.fr",
        "alice@-example.fr",
        "alice@example.f",
        "a..b@example.fr",
        '"quoted"@example.fr',
        "o'brien@example.ie",
        "alice@[127.0.0.1]",
        "alice@localhost",
        "x" * 250 + "@example.fr",
        "ALICE@EXAMPLE.FR",
        "alice@xn--exmple-cua.fr",
        "",
    ],
    "Email pro": ["", "", "alice@example.fr", "Bob@Work.example", "nope"],
    "Téléphone": [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "+33 6 12 34 56 78",
        "0033612345678",
        "+32 470 12 34 56",
        "0041 79 123 45 67",
        "+44 7911 123456",
        "+1 202 555 0143",
        "+33 (0)6 12 34 56 78",
        "06 12 34",
        "00 12",
        "n/c",
        "０６１２３４５６７８",
        "+999 12 34",
        "+262 692 12 34 56",
        "",
    ],
    "Prénom": ["Éléonore", "", "x" * 200],
    "Date de naissance": [
        "23/09/1964",
        "23/09/1964 00:00",
        "1964-09-23",
        "23.09.1964",
        "31/02/1965",
        "00/12/1946",
        "23/09/64",
        "23/09/1864",
        tomorrow,
        "12/05/1980 12:00",
        "",
    ],
    "CP": ["75016", "1000", "01000", "B-1000", ""],
    "Pays": ["France", "FR", "fr", "Belgique", "BE", "Nowhere", "", "Suisse"],
    "Langue": ["fr", "Français", "en_GB", "klingon", ""],
    "Optin email": ["Oui", "non", "X", "1", "peut-être", "", "Désabonné"],
    "Optin SMS": ["Oui", "Non", "", "opt-in"],
    "Date optin": [
        "09/03/2020",
        "09/03/2020 21:51",
        "09/03/2020 25:51",
        "2020-03-09T21:51:00Z",
        "09/03/20",
        in_two_days,
        "",
    ],
    "Date optin SMS": ["", "01/01/2021 08:00"],
    "Segment": ["VIP", "", "Client"],
    "Ancien champ": ["anything", ""],
}


def _compare(header, mapping, rows) -> int:
    checker = RowChecker(header, mapping)
    for line, cells in rows:
        assert checker(line, cells) == row_parse(line, cells, header, mapping), (line, cells)
    return len(rows)


def test_the_checker_agrees_with_row_parse_on_the_benchmark_export():
    buffer = io.BytesIO()
    crm_file_write(buffer, rows=3_000, seed=5)
    layout = csv_layout_detect(io.BytesIO(buffer.getvalue()))
    mapping = mapping_check(layout.header, mapping_guess(layout.header))
    rows = list(csv_rows(io.BytesIO(buffer.getvalue()), layout))

    assert _compare(layout.header, mapping, rows) == 3_000


@pytest.mark.parametrize("region", ["FR", "BE"])
def test_the_checker_agrees_with_row_parse_on_awkward_cells(region):
    rng = random.Random(region)
    rows = []
    for line in range(2, 6_002):
        cells = [rng.choice(CELLS[column]) for column in HEADER]
        if rng.random() < 0.02:
            cells.append(rng.choice(["", "extra"]))  # a row wider than the header
        elif rng.random() < 0.02:
            cells.pop()  # or narrower
        rows.append((line, tuple(cells)))
    with override_settings(CDP_DEFAULT_PHONE_REGION=region):
        assert _compare(HEADER, MAPPING, rows) == 6_000


@override_settings(CDP_EXTRA_IDENTIFIER_KINDS=["loyalty_card"])
def test_the_checker_agrees_with_row_parse_on_other_identifier_kinds():
    header = ("Carte", "Cookie", "Consentement courrier")
    mapping = {
        "Carte": "identifier:loyalty_card",
        "Cookie": "identifier:anonymous_id",
        "Consentement courrier": "consent:postal",
    }
    values = ["LC-1", " LC-2 ", "", "y" * 300]
    rows = [
        (line, (random.choice(values), random.choice(values), random.choice(["oui", "", "non"])))
        for line in range(2, 502)
    ]

    assert _compare(header, mapping, rows) == 500


def test_the_bulk_path_writes_traits_as_json_dumps_does():
    import json

    from profiles.importing.bulk import _traits_json

    rng = random.Random(3)
    alphabet = 'abc é"\\/\t\n\x01€😀'
    keys: dict[str, str] = {}
    for _attempt in range(2_000):
        traits = {
            "".join(rng.choice(alphabet) for _char in range(rng.randint(1, 5))): "".join(
                rng.choice(alphabet) for _char in range(rng.randint(0, 8))
            )
            for _trait in range(rng.randint(0, 4))
        }
        expected = json.dumps(traits, ensure_ascii=False) if traits else None
        assert _traits_json(traits, keys) == expected
