"""What a CRM import does to profiles, on the row path and (on PostgreSQL) the set-based path."""

import contextlib
import datetime
import uuid
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from profiles.models import ConsentRecord, ImportStatus, MergeLog, MergeReason, Profile, ProfileImport
from profiles.selectors import consent_gate, consent_gate_allows
from profiles.services import consent_record, profile_resolve
from tests.conftest import ALICE_EMAIL, BOB_PHONE
from tests.profiles.importing import (
    csv_bytes,
    import_bytes,
    profile_tables_count,
    profiles_clear,
    profiles_snapshot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["rows", "bulk"])
def method(request):
    if request.param == "bulk" and connection.vendor != "postgresql":
        pytest.skip("the set-based path is PostgreSQL's")
    return request.param


def identifiers_of(profile: Profile) -> set[tuple[str, str]]:
    return set(profile.identifiers.values_list("kind", "value"))


def test_the_same_email_twice_in_one_file_is_one_profile(method):
    data = csv_bytes(["Courriel;Prénom;Ville", "  Zoe.Petit@Exemple.FR ;Zoé;Lyon", "zoe.petit@exemple.fr;;Paris"])

    record = import_bytes(data, method=method)

    profile = Profile.objects.get()
    assert identifiers_of(profile) == {("email", "zoe.petit@exemple.fr")}
    assert (profile.first_name, profile.city) == ("Zoé", "Paris")  # empty cells keep values, later rows win
    assert (record.rows_read, record.rows_new, record.rows_updated, record.rows_merged, record.rows_rejected) == (
        2,
        1,
        1,
        0,
        0,
    )


def test_the_same_person_across_two_files_is_one_profile(method):
    import_bytes(csv_bytes(["Courriel;Nom", "luc.roy@exemple.fr;Roy"]), method=method)

    second = import_bytes(
        csv_bytes(["Téléphone;E-mail;Ville", "07 61 23 45 67;LUC.ROY@exemple.fr;Brest"]), method=method
    )

    profile = Profile.objects.get()
    assert identifiers_of(profile) == {("email", "luc.roy@exemple.fr"), ("phone", "+33761234567")}
    assert (profile.last_name, profile.city) == ("Roy", "Brest")
    assert (second.rows_new, second.rows_updated) == (0, 1)


def test_a_phone_only_row_an_email_only_row_and_a_row_linking_both_are_one_profile(method):
    data = csv_bytes(
        [
            "Téléphone;Courriel;Prénom",
            "06 98 76 54 32;;Inès",
            ";ines.moreau@exemple.fr;",
            "+33698765432;ines.moreau@exemple.fr;",
        ]
    )

    record = import_bytes(data, method=method)

    profile = Profile.objects.get()
    assert identifiers_of(profile) == {("phone", "+33698765432"), ("email", "ines.moreau@exemple.fr")}
    assert profile.first_name == "Inès"
    assert (record.rows_new, record.rows_updated, record.rows_merged) == (2, 0, 1)
    log = MergeLog.objects.get()
    assert log.reason == MergeReason.IMPORT
    assert log.source == record.source


def test_a_row_linking_two_existing_profiles_merges_them(alice, bob, method):
    data = csv_bytes(["Courriel;Téléphone", f"{ALICE_EMAIL};{BOB_PHONE}"])

    record = import_bytes(data, method=method)

    assert Profile.objects.get() == alice
    assert identifiers_of(alice) == {("email", ALICE_EMAIL), ("crm_id", "CRM-001"), ("phone", BOB_PHONE)}
    assert record.rows_merged == 1
    assert MergeLog.objects.get().absorbed_profile_id == bob.pk


def test_each_kind_of_bad_row_is_reported_with_its_line_column_and_reason(method):
    data = csv_bytes(
        [
            "Courriel;Téléphone;Date de naissance;Optin email;Nom",
            "ok@exemple.fr;;;;Bon",
            "pas-un-email;;;;Mauvais",
            "tel@exemple.fr;06 12;;;Court",
            "date@exemple.fr;;31/02/1990;;Février",
            ";;;;Sans identifiant",
            "choix@exemple.fr;;;peut-être;Indécis",
            "annee@exemple.fr;;01/02/90;;Deux chiffres",
        ]
    )

    record = import_bytes(data, method=method)

    rejections = list(record.rejections.values_list("line", "column", "value", "reason"))
    assert rejections == [
        (3, "Courriel", "pas-un-email", "“pas-un-email” is not a valid email address."),
        (4, "Téléphone", "06 12", "“06 12” is not a valid phone number."),
        (5, "Date de naissance", "31/02/1990", "“31/02/1990” is not a date that exists."),
        (6, "—", "", "No identifier: the row has no email, phone, CRM id or anonymous id."),
        (7, "Optin email", "peut-être", "“peut-être” is not a yes or a no (oui / non, 1 / 0, x / empty)."),
        (8, "Date de naissance", "01/02/90", "“01/02/90”: write the year with four digits."),
    ]
    assert (record.rows_read, record.rows_new, record.rows_rejected, record.status) == (7, 1, 6, ImportStatus.DONE)
    assert list(Profile.objects.values_list("last_name", flat=True)) == ["Bon"]


def test_all_or_nothing_imports_nothing_when_a_row_is_rejected_and_still_reports_it(alice, method):
    before = profile_tables_count()
    data = csv_bytes(["Courriel;Nom", "new@exemple.fr;Nouveau", "bad;Mauvais"])

    record = import_bytes(data, method=method, all_or_nothing=True)

    assert profile_tables_count() == before
    assert record.status == ImportStatus.CANCELLED
    assert list(record.rejections.values_list("line", "column")) == [(3, "Courriel")]
    assert (record.rows_new, record.rows_rejected) == (1, 1)


def test_a_dry_run_counts_and_changes_nothing(alice, method):
    before = profile_tables_count()
    data = csv_bytes(["Courriel;Nom", f"{ALICE_EMAIL};Martin", "new@exemple.fr;Nouveau", "bad;Mauvais"])

    record = import_bytes(data, method=method, dry_run=True)

    assert profile_tables_count() == before
    assert (record.status, record.rows_new, record.rows_updated, record.rows_rejected) == (
        ImportStatus.PREVIEWED,
        1,
        1,
        1,
    )


def test_a_row_naming_another_crm_id_than_its_profile_s_is_rejected(alice, method):
    data = csv_bytes(["Code client;Courriel;Ville", f"CRM-999;{ALICE_EMAIL};Nice", "CRM-777;other@exemple.fr;Pau"])

    record = import_bytes(data, method=method)

    assert list(record.rejections.values_list("line", "column", "value")) == [(2, "Code client", "CRM-999")]
    alice.refresh_from_db()
    assert alice.city == "Lyon"
    assert Profile.objects.count() == 2


def test_consent_columns_are_recorded_with_the_import_as_source_and_the_cell_as_proof(alice, method):
    profile_resolve(identifiers={"email": [ALICE_EMAIL, "alice.pro@work.fr"]}, source="crm")
    data = csv_bytes(["Courriel;Téléphone;Optin email;Optin SMS", f"{ALICE_EMAIL};06 11 22 33 44;oui;non"])

    record = import_bytes(data, method=method, name="export-crm.csv")

    email = ConsentRecord.objects.get(channel="email")
    assert (email.status, email.address, email.source) == ("granted", ALICE_EMAIL, record.source)
    assert email.proof == {
        "import": record.pk,
        "file": "export-crm.csv",
        "file_sha256": record.file_sha256,
        "line": 2,
        "column": "Optin email",
        "value": "oui",
    }
    assert email.recorded_by == "test"
    assert ConsentRecord.objects.get(channel="sms").status == "withdrawn"
    # The consent covers the address on the row, not the profile's other address.
    assert list(consent_gate(channel="email").values_list("address", flat=True)) == [ALICE_EMAIL]
    assert not consent_gate_allows(profile=alice, channel="sms")


def test_an_import_never_grants_consent_the_file_does_not_state(alice, bob, method):
    data = csv_bytes(
        [
            "Courriel;Téléphone;Optin email;Ville",
            f"{ALICE_EMAIL};;;Lyon",
            f"new@exemple.fr;{BOB_PHONE};;Nantes",
        ]
    )

    import_bytes(data, method=method)

    assert not ConsentRecord.objects.exists()
    assert not consent_gate(channel="email").exists()
    assert not consent_gate(channel="sms").exists()


def test_a_consent_dated_before_a_later_withdrawal_does_not_undo_it(alice, method):
    consent_record(
        profile=alice,
        channel="email",
        status="withdrawn",
        address=ALICE_EMAIL,
        source="unsubscribe",
        occurred_at=timezone.now() - datetime.timedelta(days=1),
    )
    data = csv_bytes(["Courriel;Optin email;Date optin", f"{ALICE_EMAIL};oui;15/01/2024 10:30"])

    import_bytes(data, method=method)

    assert not consent_gate_allows(profile=alice, channel="email")
    granted = ConsentRecord.objects.get(status="granted")
    assert timezone.localtime(granted.occurred_at).replace(tzinfo=None) == datetime.datetime(2024, 1, 15, 10, 30)


def test_a_withdrawal_without_address_covers_every_address_of_the_person(alice, method):
    consent_record(
        profile=alice,
        channel="email",
        status="granted",
        address=ALICE_EMAIL,
        source="form",
        occurred_at=timezone.now() - datetime.timedelta(days=3),
    )
    data = csv_bytes(["Code client;Optin email", "CRM-001;non"])

    import_bytes(data, method=method)

    assert not consent_gate_allows(profile=alice, channel="email")


def test_fields_traits_and_countries_are_read_as_a_crm_writes_them(method):
    data = csv_bytes(
        [
            "Courriel;Date de naissance;CP;Pays;Langue;Segment;Fidélité",
            "a@exemple.fr;1980-05-12;1000;France;Français;VIP;or",
            "a@exemple.fr;;;;;;platine",
            "b@exemple.fr;03/04/1975 00:00;75001;be;EN;;",
        ]
    )

    import_bytes(data, method=method)

    a = Profile.objects.get(identifiers__value="a@exemple.fr")
    b = Profile.objects.get(identifiers__value="b@exemple.fr")
    assert (a.birth_date, a.postcode, a.country, a.language) == (datetime.date(1980, 5, 12), "01000", "FR", "fr")
    assert a.traits == {"segment": "VIP", "fidelite": "platine"}
    assert (b.birth_date, b.postcode, b.country, b.language) == (datetime.date(1975, 4, 3), "75001", "BE", "en")


MESSY_FILE = [
    "Code client;Courriel;Téléphone;ID visiteur;Prénom;Ville;Optin email;Optin SMS;Segment",
    # in-file chain: two new people joined by a third row, then a fourth
    ";chain.a@exemple.fr;;;Ana;;oui;;A",
    ";;06 10 00 00 01;;;Rennes;;oui;",
    ";chain.a@exemple.fr;06.10.00.00.01;;;;;;B",
    ";chain.b@exemple.fr;0610000001;;Anaïs;;x;;",
    # existing people: alice (CRM-001) and bob (phone) merged by a row, then updated
    f"CRM-001;;{BOB_PHONE};;;Lille;;1;",
    f";{ALICE_EMAIL};;;;;non;;C",
    # a second CRM id for alice's profile: rejected, the other rows go on
    f"CRM-002;{ALICE_EMAIL};;;;;;;",
    # an anonymous visitor of the website becomes known
    ";visit@exemple.fr;;cookie-charlie-42;Charlie;;;;",
    # plain new and repeated people
    "CRM-100;new1@exemple.fr;;;Noé;Pau;oui;;",
    "CRM-100;NEW1@exemple.fr;;;;;non;;D",
    ";bad-email;;;;;;;",
]


@contextlib.contextmanager
def role_without_superuser() -> Iterator[None]:
    """Run as a role that may write the tables but not set session_replication_role (until the transaction ends)."""
    role = f"cdp_import_test_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOSUPERUSER")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        cursor.execute(f"SET LOCAL ROLE {role}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


@pytest.mark.parametrize("superuser", [True, False], ids=["triggers-skipped", "triggers-fire"])
def test_the_set_based_path_gives_the_same_profiles_as_the_row_path(alice, bob, charlie, superuser, caplog):
    """The same profiles whether the import may skip the foreign keys' triggers (it checks them itself) or not."""
    if connection.vendor != "postgresql":
        pytest.skip("the set-based path is PostgreSQL's")
    data = csv_bytes(MESSY_FILE)
    before = profiles_snapshot()

    by_rows = import_bytes(data, method="rows")
    rows_result = profiles_snapshot()
    rows_counts = (by_rows.rows_new, by_rows.rows_updated, by_rows.rows_merged, by_rows.rows_rejected)
    rows_merges = sorted(MergeLog.objects.values_list("reason", flat=True))

    profiles_clear()
    from tests.conftest import make_profile

    make_profile(
        identifiers={"email": ALICE_EMAIL, "crm_id": "CRM-001"},
        first_name="Alice",
        last_name="Martin",
        city="Lyon",
        country="FR",
    )
    make_profile(identifiers={"phone": BOB_PHONE}, first_name="Bob", last_name="Durand", city="Nantes")
    make_profile(identifiers={"anonymous_id": "cookie-charlie-42"})
    assert profiles_snapshot() == before
    with role_without_superuser() if not superuser else contextlib.nullcontext():
        by_bulk = import_bytes(data, method="bulk")
    checked_row_by_row = "foreign keys are checked row by row" in caplog.text
    assert checked_row_by_row is not superuser

    assert profiles_snapshot() == rows_result
    assert (by_bulk.rows_new, by_bulk.rows_updated, by_bulk.rows_merged, by_bulk.rows_rejected) == rows_counts
    assert sorted(MergeLog.objects.values_list("reason", flat=True)) == rows_merges
    assert rows_counts == (3, 4, 2, 2)


def test_an_existing_profile_deleted_while_the_import_runs_fails_it_and_changes_nothing(alice, monkeypatch):
    """With the triggers skipped, the import locks and checks the profiles it adds to, as the foreign keys would."""
    if connection.vendor != "postgresql":
        pytest.skip("the set-based path is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("the foreign keys' triggers fire for this role: PostgreSQL checks the references itself")
    from profiles.importing import bulk

    lock = bulk._existing_profiles_lock

    def deleted_meanwhile(cursor):
        # As a GDPR erasure committed between the import's look-up and its writes would leave it.
        cursor.execute("DELETE FROM profiles_profile WHERE id = %s", [alice.pk])
        lock(cursor)

    monkeypatch.setattr(bulk, "_existing_profiles_lock", deleted_meanwhile)
    before = profiles_snapshot()
    data = csv_bytes(["Courriel;Ville", f"{ALICE_EMAIL};Paris", "new@exemple.fr;Lille"])

    with pytest.raises(Exception, match="1 of the profiles this import adds to were deleted while it ran"):
        import_bytes(data, method="bulk")

    assert profiles_snapshot() == before
    assert ProfileImport.objects.get().status == ImportStatus.FAILED
