"""The CRM import in the admin: upload, column mapping, preview, confirm; and the imports' pages."""

import csv
import datetime
import importlib.util
import io
import os
import tempfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from profiles.importing.services import import_method_default
from profiles.models import ConsentRecord, ImportStatus, ProfileImport
from tests.profiles.importing import (
    csv_bytes,
    import_bytes,
    profile_tables_count,
    profiles_clear,
    profiles_snapshot,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:profiles_profile_changelist")
IMPORT = reverse("admin:profiles_profile_import")
PREVIEW = reverse("admin:profiles_profile_import_preview")
CONFIRM = reverse("admin:profiles_profile_process_import")
PROGRESS = reverse("admin:profiles_profile_import_progress", args=["0"]).removesuffix("0/")

HEADER = "Courriel;Prénom;Nom;Téléphone;Date de naissance;Ville;Optin email;Fidélité"
# A CRM export saved by Excel: semicolons, Windows-1252, accents (Œ is Windows-1252 only).
MESSY_ROWS = [
    " Zoe.Lefevre@Exemple.FR ;Zoé;Lefèvre;;12/05/1980;Besançon;oui;or",  # 2: new
    "zoe.lefevre@exemple.fr;;;;;Dijon;;argent",  # 3: the same person, another spelling: updated
    "pas-un-email;Jérôme;Müller;;;Nîmes;;",  # 4: rejected
    "helene@exemple.fr;Hélène;Garçon;;31/02/1990;Orléans;non;",  # 5: rejected
    ";Anaïs;Sans-Identifiant;;;Reims;;",  # 6: rejected
    ";Inès;Moreau;06 98 76 54 32;;Saint-Étienne;;",  # 7: new
    "ines.moreau@exemple.fr;;;;;;;bronze",  # 8: new
    "ines.moreau@exemple.fr;;;+33698765432;;;1;",  # 9: merges 7 and 8
    "francois.boeuf@exemple.fr;François;Bœuf;07 61 23 45 67;1975-03-14;Saint-Étienne;non;",  # 10: new
]
MESSY_FILE = csv_bytes([HEADER, *MESSY_ROWS], encoding="cp1252")
GUESSED = [
    "identifier:email",
    "field:first_name",
    "field:last_name",
    "identifier:phone",
    "field:birth_date",
    "field:city",
    "consent:email",
    "trait:fidelite",
]
REJECTED = [
    (4, "Courriel", "pas-un-email", "“pas-un-email” is not a valid email address."),
    (5, "Date de naissance", "31/02/1990", "“31/02/1990” is not a date that exists."),
    (6, "—", "", "No identifier: the row has no email, phone, CRM id or anonymous id."),
]
# What the valid rows give, as profiles_snapshot() writes them.
IMPORTED = [
    (
        (("email", "francois.boeuf@exemple.fr"), ("phone", "+33761234567")),
        "François",
        "Bœuf",
        datetime.date(1975, 3, 14),
        "Saint-Étienne",
        "",
        "",
        "",
        (),
        (("email", "francois.boeuf@exemple.fr", "withdrawn"),),
    ),
    (
        (("email", "ines.moreau@exemple.fr"), ("phone", "+33698765432")),
        "Inès",
        "Moreau",
        None,
        "Saint-Étienne",
        "",
        "",
        "",
        (("fidelite", "bronze"),),
        (("email", "ines.moreau@exemple.fr", "granted"),),
    ),
    (
        (("email", "zoe.lefevre@exemple.fr"),),
        "Zoé",
        "Lefèvre",
        datetime.date(1980, 5, 12),
        "Dijon",
        "",
        "",
        "",
        (("fidelite", "argent"),),
        (("email", "zoe.lefevre@exemple.fr", "granted"),),
    ),
]


@pytest.fixture(autouse=True)
def imports_run_in_this_process(settings, uploads_in_tmp_path, queued_tasks_run):
    """The worker's part (the preview and the import are Celery tasks) runs in this process as soon as the request
    that queued it has committed, before the client follows the redirect to the wait page; the progress goes to a
    cache of this process."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def upload(client, data: bytes, name: str = "export-crm.csv"):
    return client.post(IMPORT, {"import_file": SimpleUploadedFile(name, data, content_type="text/csv")})


def mapping_post(response, **changes: str) -> dict[str, str]:
    """The mapping form as shown, with some columns' choices changed (by column name)."""
    form = response.context["form"]
    data = {name: form[name].value() for name in ("import_file_name", "original_file_name", "format", "resource")}
    for position, column in enumerate(form.header):
        data[f"column_{position}"] = changes.get(column, form[f"column_{position}"].value())
    return {name: "" if value is None else str(value) for name, value in data.items()}


def preview(client, data: bytes = MESSY_FILE, **changes: str):
    mapping_page = upload(client, data)
    assert mapping_page.status_code == 200, mapping_page.context["form"].errors
    return client.post(PREVIEW, mapping_post(mapping_page, **changes), follow=True)


def confirm_post(preview_response, rows: str) -> dict[str, str]:
    form = preview_response.context["form"]
    data = {field.name: field.value() for field in form.hidden_fields()}
    return {**{name: str(value) for name, value in data.items()}, "rows": rows}


def stored_file_path(response) -> str:
    return os.path.join(tempfile.gettempdir(), response.context["form"]["import_file_name"].value())


def test_the_profile_list_has_an_import_button(admin_client):
    response = admin_client.get(CHANGELIST)

    assert f'href="{IMPORT}"' in response.text
    assert "Import a CRM file" in response.text


def test_the_upload_page_asks_only_for_the_file(admin_client):
    response = admin_client.get(IMPORT)

    assert response.status_code == 200
    assert [field.name for field in response.context["form"].visible_fields()] == ["import_file"]


def test_the_mapping_page_shows_the_columns_with_their_guessed_targets(admin_client):
    response = upload(admin_client, MESSY_FILE)

    assert response.status_code == 200
    assert (response.context["encoding"], response.context["delimiter"]) == ("Windows-1252", "semicolon (;)")
    form = response.context["form"]
    assert form.header == tuple(HEADER.split(";"))
    assert [form[f"column_{position}"].value() for position in range(8)] == GUESSED
    columns = {column["field"].label: column["examples"] for column in response.context["columns"]}
    assert columns["Prénom"] == ["Zoé", "Jérôme", "Hélène"]
    assert 'value="trait:fidelite" selected' in response.text
    assert "Custom trait “fidelite” (kept as written)" in response.text
    assert os.path.exists(stored_file_path(response))


def test_the_preview_counts_and_lists_the_rejected_rows_and_writes_no_profile(admin_client):
    response = preview(admin_client)

    assert response.status_code == 200
    record = response.context["record"]
    assert (record.status, record.method, record.created_by) == (
        ImportStatus.PREVIEWED,
        import_method_default(),
        "admin",
    )
    assert [(key, count) for key, _label, count in response.context["counts"]] == [
        ("new", 4),
        ("updated", 1),
        ("merged", 1),
        ("rejected", 3),
    ]
    assert response.context["valid_rows"] == 6
    shown = [(row.line, row.column, row.value, row.reason) for row in response.context["rejections"]]
    assert shown == REJECTED
    assert "“31/02/1990” is not a date that exists." in response.text
    assert "Import the 6 valid rows" in response.text
    assert "Import nothing if any row is rejected" in response.text
    sample = response.context["sample_rows"]
    assert [(row["line"], row["rejected"]) for row in sample] == [
        (2, False),
        (3, False),
        (4, True),
        (5, True),
        (6, True),
        (7, False),
        (8, False),
        (9, False),
        (10, False),
    ]
    assert sample[0]["cells"][:3] == [" Zoe.Lefevre@Exemple.FR ", "Zoé", "Lefèvre"]
    assert profile_tables_count() == {
        "Profile": 0,
        "Identifier": 0,
        "ConsentRecord": 0,
        "ConsentState": 0,
        "Event": 0,
        "MergeLog": 0,
    }


def test_a_changed_mapping_is_used_by_the_preview(admin_client):
    response = preview(admin_client, **{"Fidélité": "ignore", "Date de naissance": "trait:date_de_naissance"})

    assert response.context["record"].mapping["Fidélité"] == "ignore"
    assert response.context["record"].mapping["Date de naissance"] == "trait:date_de_naissance"
    assert [row.line for row in response.context["rejections"]] == [4, 6]


def test_confirming_the_valid_rows_imports_exactly_them(admin_client):
    preview_page = preview(admin_client)
    stored = stored_file_path(preview_page)

    response = admin_client.post(CONFIRM, confirm_post(preview_page, "valid"), follow=True)

    record = ProfileImport.objects.get(status=ImportStatus.DONE)
    assert [url.startswith(PROGRESS) for url, _status in response.redirect_chain] == [True, False]
    assert response.redirect_chain[-1] == (CHANGELIST, 302)
    assert profiles_snapshot() == IMPORTED
    assert (record.rows_read, record.rows_new, record.rows_updated, record.rows_merged, record.rows_rejected) == (
        9,
        4,
        1,
        1,
        3,
    )
    assert (record.file_name, record.encoding, record.delimiter, record.all_or_nothing) == (
        "export-crm.csv",
        "cp1252",
        ";",
        False,
    )
    assert list(record.rejections.values_list("line", "column", "value", "reason")) == REJECTED
    zoe_consent = ConsentRecord.objects.get(address="zoe.lefevre@exemple.fr")
    assert (zoe_consent.status, zoe_consent.source, zoe_consent.recorded_by) == ("granted", record.source, "admin")
    assert zoe_consent.proof == {
        "import": record.pk,
        "file": "export-crm.csv",
        "file_sha256": record.file_sha256,
        "line": 2,
        "column": "Optin email",
        "value": "oui",
    }
    message = str(list(response.context["messages"])[0])
    assert message.startswith(
        "“export-crm.csv” imported. New profiles: 4; rows updating a profile: 1; rows merging profiles: 1; "
        "rejected rows: 3."
    )
    assert reverse("admin:profiles_profileimport_change", args=[record.pk]) in message
    assert not os.path.exists(stored)


def test_confirming_all_or_nothing_imports_nothing_and_the_record_says_cancelled(admin_client):
    preview_page = preview(admin_client)

    response = admin_client.post(CONFIRM, confirm_post(preview_page, "all_or_nothing"), follow=True)

    record = ProfileImport.objects.exclude(status=ImportStatus.PREVIEWED).get()
    assert (record.status, record.all_or_nothing, record.rows_rejected) == (ImportStatus.CANCELLED, True, 3)
    assert list(record.rejections.values_list("line", flat=True)) == [4, 5, 6]
    assert profile_tables_count()["Profile"] == 0
    assert "Nothing was imported from “export-crm.csv”: 3 rows were rejected" in str(
        list(response.context["messages"])[0]
    )


def test_cancel_imports_nothing_and_forgets_the_file(admin_client):
    preview_page = preview(admin_client)
    stored = stored_file_path(preview_page)

    response = admin_client.post(CONFIRM, {**confirm_post(preview_page, ""), "cancel": "1"}, follow=True)

    assert response.redirect_chain == [(CHANGELIST, 302)]
    assert not ProfileImport.objects.exclude(status=ImportStatus.PREVIEWED).exists()
    assert profile_tables_count()["Profile"] == 0
    assert not os.path.exists(stored)


def test_confirming_twice_imports_once(admin_client):
    preview_page = preview(admin_client)
    admin_client.post(CONFIRM, confirm_post(preview_page, "valid"), follow=True)

    response = admin_client.post(CONFIRM, confirm_post(preview_page, "valid"), follow=True)

    assert response.redirect_chain == [(IMPORT, 302)]
    assert "The uploaded file is no longer available" in str(list(response.context["messages"])[0])
    assert ProfileImport.objects.filter(status=ImportStatus.DONE).count() == 1


def test_change_the_mapping_from_the_preview_goes_back_with_the_choices_kept(admin_client):
    preview_page = preview(admin_client, **{"Fidélité": "ignore"})

    response = admin_client.post(PREVIEW, {**confirm_post(preview_page, ""), "edit": "1"})

    assert response.templates[0].name == "admin/profiles/profile/import_mapping.html"
    assert response.context["form"]["column_7"].value() == "ignore"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"  \r\n\r\n", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "This is not a CSV text file (it holds binary data)"),
        (csv_bytes([HEADER]), "The file has a header line but no rows to import."),
        (csv_bytes(["Courriel;Nom;courriel", "a@exemple.fr;A;b@exemple.fr"]), "Two columns have the same name"),
    ],
    ids=["empty", "blank", "binary", "header-only", "duplicate-columns"],
)
def test_a_file_that_cannot_be_imported_is_refused_at_upload_with_a_clear_error(admin_client, data, message):
    before = profile_tables_count()

    response = upload(admin_client, data)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/profiles/profile/import.html"
    assert message in " ".join(response.context["form"].errors["import_file"])
    assert "“export-crm.csv” cannot be imported." in response.text
    assert profile_tables_count() == before
    assert not ProfileImport.objects.exists()


def test_a_file_without_identifier_column_is_refused_at_the_mapping_with_a_clear_error(admin_client):
    data = csv_bytes(["Prénom;Nom;Ville", "Zoé;Lefèvre;Dijon"])
    mapping_page = upload(admin_client, data)
    assert "No column was recognised as identifying people" in mapping_page.text

    response = admin_client.post(PREVIEW, mapping_post(mapping_page))

    assert response.status_code == 200
    assert response.templates[0].name == "admin/profiles/profile/import_mapping.html"
    assert response.context["form"].non_field_errors() == [
        "No column identifies the people: the file needs an email, phone, CRM id or anonymous id column "
        "(its columns are: Prénom, Nom, Ville)."
    ]
    assert "No column identifies the people" in response.text
    assert profile_tables_count()["Profile"] == 0
    assert not ProfileImport.objects.exists()


def test_a_file_without_identifier_column_imports_once_a_column_is_mapped_to_one(admin_client):
    data = csv_bytes(["Prénom;Adresse", "Zoé;zoe@exemple.fr"])

    response = preview(admin_client, data, Adresse="identifier:email")

    assert response.context["record"].rows_new == 1


def test_a_page_without_the_uploaded_file_asks_to_upload_again(admin_client):
    response = admin_client.post(
        PREVIEW,
        {"import_file_name": "tmp-gone", "original_file_name": "a.csv", "format": "0", "resource": ""},
        follow=True,
    )

    assert response.redirect_chain == [(IMPORT, 302)]
    assert "Upload it again." in str(list(response.context["messages"])[0])


def test_importing_needs_the_right_to_add_and_change_profiles(client, django_user_model):
    user = django_user_model.objects.create_user(username="bob", password="pw", is_staff=True)
    client.force_login(user)

    assert client.get(IMPORT).status_code == 403
    assert client.post(CONFIRM, {}).status_code == 403
    assert client.get(PROGRESS + "0123abcd/").status_code == 403
    assert client.get(PROGRESS + "0123abcd/status/").status_code == 403


# ---------------------------------------------------------------------------
# The imports' pages


@pytest.fixture
def imported(admin_client) -> ProfileImport:
    admin_client.post(CONFIRM, confirm_post(preview(admin_client), "valid"))
    return ProfileImport.objects.get(status=ImportStatus.DONE)


def test_the_import_list_shows_the_imports_and_the_previews_when_asked(admin_client, imported):
    imports = reverse("admin:profiles_profileimport_changelist")

    response = admin_client.get(imports)
    with_previews = admin_client.get(imports + "?status=all")

    assert [record.pk for record in response.context["cl"].result_list] == [imported.pk]
    assert "export-crm.csv" in response.text
    assert [record.status for record in with_previews.context["cl"].result_list] == [
        ImportStatus.DONE,
        ImportStatus.PREVIEWED,
    ]


def test_the_import_list_does_not_run_more_queries_for_more_imports(admin_client, imported):
    imports = reverse("admin:profiles_profileimport_changelist")

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as context:
            response = admin_client.get(imports + "?status=all")
        assert response.status_code == 200
        return len(context.captured_queries)

    with_two = queries_for_the_list()
    for _number in range(3):
        import_bytes(MESSY_FILE, dry_run=True)

    assert queries_for_the_list() == with_two


def test_the_import_page_shows_the_counts_the_file_the_mapping_and_the_rejected_rows(admin_client, imported):
    response = admin_client.get(reverse("admin:profiles_profileimport_change", args=[imported.pk]))

    assert response.status_code == 200
    text = response.text
    for expected in ("Windows-1252", "semicolon (;)", "Custom trait “fidelite”", "Profile: first name", "admin"):
        assert expected in text
    assert [(row.line, row.column, row.value, row.reason) for row in response.context["rejections_page"]] == REJECTED
    assert "“pas-un-email” is not a valid email address." in text
    assert reverse("admin:profiles_profileimport_rejected_rows", args=[imported.pk]) in text
    assert 'name="_save"' not in text  # read-only


def test_the_rejected_rows_download_as_a_csv_excel_opens(admin_client, imported):
    response = admin_client.get(reverse("admin:profiles_profileimport_rejected_rows", args=[imported.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="export-crm-rejected-rows.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows == [["Line", "Column", "Value", "Reason"], *[[str(row[0]), *row[1:]] for row in REJECTED]]


def test_the_import_pages_are_read_only(admin_client, imported):
    assert admin_client.get(reverse("admin:profiles_profileimport_add")).status_code == 403
    assert admin_client.post(reverse("admin:profiles_profileimport_delete", args=[imported.pk])).status_code == 403


# ---------------------------------------------------------------------------
# The acceptance test: one code path for the admin and the command


def _command_methods() -> list:
    bulk_skip = pytest.mark.skipif(
        connection.vendor != "postgresql" or importlib.util.find_spec("profiles.importing.bulk") is None,
        reason="the bulk path needs PostgreSQL and profiles/importing/bulk.py",
    )
    return ["rows", pytest.param("bulk", marks=bulk_skip)]


@pytest.mark.parametrize("command_method", _command_methods())
def test_the_admin_and_the_command_give_the_same_profiles_for_the_same_file(admin_client, tmp_path, command_method):
    admin_client.post(CONFIRM, confirm_post(preview(admin_client), "valid"))
    by_admin = profiles_snapshot()
    assert by_admin == IMPORTED

    profiles_clear()
    path = tmp_path / "export-crm.csv"
    path.write_bytes(MESSY_FILE)
    call_command("import_profiles", str(path), "--method", command_method, "--no-progress")

    assert profiles_snapshot() == by_admin
    by_command = ProfileImport.objects.get(method=command_method, created_by="command line")
    by_admin_record = ProfileImport.objects.get(status=ImportStatus.DONE, created_by="admin")
    assert (by_command.rows_new, by_command.rows_updated, by_command.rows_merged, by_command.rows_rejected) == (
        by_admin_record.rows_new,
        by_admin_record.rows_updated,
        by_admin_record.rows_merged,
        by_admin_record.rows_rejected,
    )
