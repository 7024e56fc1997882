"""The CRM export that the import benchmark generates (bench/crm_file.py): its shape, its planted rows, its seed.

No database: the rows are checked with the importer's own reading and row checks.
"""

import codecs
import csv
import io
import re

import pytest

from bench.crm_file import BAD_KINDS, HEADER, crm_file_head, crm_file_write
from profiles.importing.mapping import mapping_check, mapping_guess
from profiles.importing.parsing import row_parse
from profiles.importing.reading import csv_layout_detect, csv_rows


def generated(rows: int, seed: int):
    buffer = io.BytesIO()
    summary = crm_file_write(buffer, rows=rows, seed=seed)
    return buffer.getvalue(), summary


@pytest.fixture(scope="module")
def small():
    return generated(300, 7)


@pytest.fixture(scope="module")
def checked():
    """A thousand rows, each read and checked as the importer does: (summary, [(line, cells, parsed)])."""
    data, summary = generated(1_000, 11)
    layout = csv_layout_detect(io.BytesIO(data))
    mapping = mapping_check(layout.header, mapping_guess(layout.header))
    rows = [
        (line, cells, row_parse(line, cells, layout.header, mapping))
        for line, cells in csv_rows(io.BytesIO(data), layout)
    ]
    return summary, rows


def test_an_excel_export_semicolons_and_windows_1252(small):
    data, summary = small

    assert not data.startswith(codecs.BOM_UTF8)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # accents as single Windows-1252 bytes
    text = data.decode("cp1252")
    lines = text.split("\r\n")
    assert lines[0] == "Code client;Civilité;Prénom;Nom;Courriel;Téléphone;Date de naissance;Adresse;CP;Ville;Pays;" + (
        "Optin email;Optin SMS;Date optin;Segment;CA 12 mois"
    )
    assert lines[-1] == "" and len(lines) == 302 and "\n" not in "".join(lines)  # a line is a row
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert len(records) == summary.rows + 1 == 301
    assert {len(record) for record in records} == {len(HEADER)}
    assert any(char in text for char in "éèçëï") and summary.bytes == len(data)
    layout = csv_layout_detect(io.BytesIO(data))
    assert (layout.encoding_label, layout.delimiter, layout.header) == ("Windows-1252", ";", HEADER)


def test_values_are_written_the_french_way(checked):
    _summary, rows = checked
    column = {name: position for position, name in enumerate(HEADER)}
    births = [
        cells[column["Date de naissance"]] for _line, cells, _parsed in rows if cells[column["Date de naissance"]]
    ]
    phones = [cells[column["Téléphone"]] for _line, cells, parsed in rows if cells[column["Téléphone"]]]

    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}( 00:00)?", birth) for birth in births)
    styles = {
        "06 12 34 56 78": r"0[67]( \d\d){4}",
        "06.12.34.56.78": r"0[67](\.\d\d){4}",
        "0612345678": r"0[67]\d{8}",
        "+33 6 12 34 56 78": r"\+33 [67]( \d\d){4}",
    }
    for style, pattern in styles.items():
        assert any(re.fullmatch(pattern, phone) for phone in phones), style
    assert {cells[column["Pays"]] for _line, cells, _parsed in rows} >= {"France", "Belgique", "Suisse"}
    assert any(re.fullmatch(r"\d+,\d\d", cells[column["CA 12 mois"]]) for _line, cells, _parsed in rows)


def test_planted_duplicates_and_bad_rows_are_what_the_importer_finds(checked):
    summary, rows = checked
    rejected = [parsed for _line, _cells, parsed in rows if isinstance(parsed, list)]
    seen: dict[tuple[str, str], str] = {}  # email or phone -> the CRM id of the row that named it first
    duplicates = 0
    for _line, _cells, parsed in rows:
        if isinstance(parsed, list):
            continue
        keys = [pair for pair in parsed.identifiers if pair[0] in ("email", "phone")]
        code = dict(parsed.identifiers).get("crm_id", "")
        earlier = [seen[key] for key in keys if key in seen]
        if earlier:
            duplicates += 1
            # A duplicate never carries another customer code: that would be someone else.
            assert not code or code in earlier, parsed
        for key in keys:
            seen.setdefault(key, code)

    assert summary.rows == len(rows) == 1_000
    assert summary.people + summary.duplicate_rows + summary.bad_rows == summary.rows
    assert len(rejected) == summary.bad_rows and 0.01 <= summary.bad_rows / summary.rows <= 0.035
    assert duplicates == summary.duplicate_rows and 0.03 <= duplicates / summary.rows <= 0.07
    assert set(summary.bad) == set(BAD_KINDS) and set(summary.duplicates) == {"email", "phone"}
    reasons = {rejection.column for rejections in rejected for rejection in rejections}
    assert {"Courriel", "Téléphone", "Date de naissance", "—"} <= reasons  # "—": no identifier


def test_the_same_seed_gives_the_same_file(small, tmp_path):
    data, _summary = small
    path = tmp_path / "crm.csv"

    summary = crm_file_write(path, rows=300, seed=7)

    assert path.read_bytes() == data and summary.bytes == len(data)
    assert generated(300, 8)[0] != data
    assert crm_file_head(path, tmp_path / "head.csv", rows=50) == 50
    assert (tmp_path / "head.csv").read_bytes() == b"".join(data.splitlines(keepends=True)[:51])
