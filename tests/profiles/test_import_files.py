import codecs
import io

import pytest

from profiles.importing.mapping import mapping_check, mapping_guess
from profiles.importing.reading import ImportFileError, csv_layout_detect, csv_rows
from profiles.models import ImportStatus, Profile
from tests.profiles.importing import csv_bytes, import_bytes, profile_tables_count

pytestmark = pytest.mark.django_db

HEADER = "Prénom;Nom;Courriel;Téléphone;Ville"
ROWS = ["Élodie;Dupré;elodie.dupre@exemple.fr;06 12 34 56 78;Besançon", "Maël;Lefèvre;mael@exemple.fr;;Orléans"]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "label"),
    [
        ("cp1252", ";", "Windows-1252"),
        ("utf-8-sig", ",", "UTF-8 (BOM)"),
        ("utf-8", ";", "UTF-8"),
        ("utf-16", "\t", "UTF-16"),
    ],
)
def test_excel_and_crm_exports_are_read_with_their_accents(encoding, delimiter, label):
    data = csv_bytes([HEADER, *ROWS], encoding=encoding, delimiter=delimiter)

    layout = csv_layout_detect(io.BytesIO(data))
    record = import_bytes(data)

    assert (layout.encoding_label, layout.delimiter) == (label, delimiter)
    assert layout.header == ("Prénom", "Nom", "Courriel", "Téléphone", "Ville")
    assert record.status == ImportStatus.DONE
    assert sorted(Profile.objects.values_list("first_name", "last_name", "city")) == [
        ("Maël", "Lefèvre", "Orléans"),
        ("Élodie", "Dupré", "Besançon"),
    ]


def test_a_windows_1252_file_with_a_bom_less_header_is_not_mistaken_for_utf8():
    data = csv_bytes([HEADER, *ROWS], encoding="cp1252")
    assert not data.startswith(codecs.BOM_UTF8)

    assert csv_layout_detect(io.BytesIO(data)).encoding == "cp1252"


def test_rows_keep_their_file_line_numbers_across_quoted_newlines_and_blank_lines():
    data = csv_bytes(["Courriel;Adresse", 'a@exemple.fr;"12 rue\nBâtiment B"', "", "b@exemple.fr;3 place"])
    layout = csv_layout_detect(io.BytesIO(data))

    rows = list(csv_rows(io.BytesIO(data), layout))

    assert [line for line, _cells in rows] == [2, 5]
    assert rows[0][1] == ("a@exemple.fr", "12 rue\nBâtiment B")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf  \r\n", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00binary xlsx", "not a CSV text file"),
        (bytes(range(256)) * 10, "not a CSV text file"),
        (csv_bytes(["Courriel;Nom"]), "a header line but no rows"),
        (csv_bytes(["Nom;Ville", "Dupont;Lyon"]), "No column identifies the people"),
        (csv_bytes(["Courriel;Nom;nom", "a@exemple.fr;A;B"]), "same name"),
        (csv_bytes(["Courriel;;Nom", "a@exemple.fr;x;A"]), "have none \\(by position\\): 2"),
    ],
    ids=["empty", "only-bom", "xlsx", "binary", "header-only", "no-identifier-column", "duplicate", "unnamed"],
)
def test_a_file_that_cannot_be_imported_says_why_and_changes_nothing(alice, data, message):
    before = profile_tables_count()

    with pytest.raises(ImportFileError, match=message):
        import_bytes(data)

    assert profile_tables_count() == before


def test_a_file_that_breaks_its_encoding_half_way_changes_nothing(alice):
    filler = "é" * 2_000  # UTF-8 for more than the 1 MB read to tell the encoding
    good = "\r\n".join(["Courriel;Commentaire", *[f"p{n}@exemple.fr;{filler}" for n in range(300)]]).encode()
    data = good + "\r\nbad@exemple.fr;Ren\xe9\r\n".encode("latin-1")
    before = profile_tables_count()

    with pytest.raises(ImportFileError, match="Line 302 is not valid UTF-8"):
        import_bytes(data)

    assert profile_tables_count() == before


def test_columns_are_recognised_by_their_usual_french_and_english_names():
    header = [
        "Code client",
        "Civilité",
        "Prénom",
        "NOM",
        "E-mail",
        "Tél. portable",
        "Date de naissance",
        "CP",
        "Ville",
        "Pays",
        "Optin email",
        "Optin SMS",
        "Date optin",
        "CA 12 mois",
    ]

    assert mapping_guess(header) == {
        "Code client": "identifier:crm_id",
        "Civilité": "trait:civilite",
        "Prénom": "field:first_name",
        "NOM": "field:last_name",
        "E-mail": "identifier:email",
        "Tél. portable": "identifier:phone",
        "Date de naissance": "field:birth_date",
        "CP": "field:postcode",
        "Ville": "field:city",
        "Pays": "field:country",
        "Optin email": "consent:email",
        "Optin SMS": "consent:sms",
        "Date optin": "consent_date:email",
        "CA 12 mois": "trait:ca_12_mois",
    }


@pytest.mark.parametrize("column", ["SMS opt-in", "Email opt-in", "Opt-in SMS", "sms_optin"])
def test_english_and_french_opt_in_columns_are_consent_columns(column: str) -> None:
    channel = "sms" if "sms" in column.lower() else "email"
    assert mapping_guess(["E-mail", column])[column] == f"consent:{channel}"


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Courriel": "identifier:fax"}, "is not something a column can be imported into"),
        ({"Courriel": "field:password"}, "is not something a column can be imported into"),
        ({"Courriel": "ignore"}, "No column identifies the people"),
        ({"Absent": "ignore"}, "columns the file does not have: Absent"),
        ({"Nom": "field:city"}, "same place"),
    ],
)
def test_a_wrong_column_mapping_is_refused(mapping, message):
    header = ["Courriel", "Nom", "Ville"]
    with pytest.raises(ImportFileError, match=message):
        mapping_check(header, {**mapping_guess(header), **mapping})
