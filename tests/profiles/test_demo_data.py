import dataclasses
import datetime
import io
import unicodedata
import zoneinfo
from decimal import Decimal

import phonenumbers
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from profiles.demo import CATEGORIES, DemoSummary, Persona, demo_data_generate, persona_default
from profiles.models import (
    CHANNEL_ADDRESS_KIND,
    Channel,
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    Event,
    EventType,
    Identifier,
    IdentifierKind,
    Profile,
)
from profiles.normalisation import normalise_identifier, normalise_phone
from profiles.services import consent_state_rebuild

NOW = datetime.datetime(2026, 3, 10, 14, 30, tzinfo=datetime.UTC)
DAYS = 90
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")


@pytest.fixture
def demo(db) -> DemoSummary:
    return demo_data_generate(profiles=300, seed=42, now=NOW, days=DAYS, batch_size=120)


def people_snapshot() -> list[dict]:
    """Everything generated about each person, without database ids, in the order they were created."""
    snapshot = []
    for profile in Profile.objects.order_by("id").prefetch_related("identifiers", "consent_records", "events"):
        events = []
        for event in sorted(profile.events.all(), key=lambda event: (event.occurred_at, event.type)):
            properties = {key: value for key, value in event.properties.items() if key != "order_id"}
            events.append((event.type, event.occurred_at, event.revenue, event.currency, properties))
        snapshot.append(
            {
                "fields": [getattr(profile, name) for name in ("first_name", "last_name", "birth_date", "city")]
                + [profile.postcode, profile.country, profile.language, profile.traits, profile.created_at],
                "flags": (profile.do_not_track, profile.do_not_contact),
                "identifiers": sorted((i.kind, i.value) for i in profile.identifiers.all()),
                "consents": sorted(
                    (r.occurred_at, r.channel, r.status, r.address, r.legal_basis, str(r.proof))
                    for r in profile.consent_records.all()
                ),
                "events": events,
            }
        )
    return snapshot


def test_creates_the_asked_number_of_profiles_and_says_what_it_wrote(demo):
    assert Profile.objects.count() == 300 == demo.profiles
    assert Identifier.objects.count() == demo.identifiers
    assert ConsentRecord.objects.count() == demo.consent_records
    assert ConsentState.objects.count() == demo.consents
    assert Event.objects.count() == demo.events
    assert Event.objects.filter(type=EventType.PURCHASE).count() == demo.purchases
    # The PostgreSQL run of the suite goes through COPY, the SQLite one through INSERT.
    assert demo.writer == ("copy" if connection.vendor == "postgresql" else "insert")
    assert 5 <= demo.events / demo.profiles <= 15
    assert set(Profile.objects.values_list("source", flat=True)) == {"demo"}


def test_the_same_seed_gives_the_same_people_whatever_the_batch_size(db):
    demo_data_generate(profiles=150, seed=42, now=NOW, batch_size=150)
    first = people_snapshot()
    Profile.objects.all().delete()

    demo_data_generate(profiles=150, seed=42, now=NOW, batch_size=7)
    again = people_snapshot()
    Profile.objects.all().delete()

    demo_data_generate(profiles=150, seed=43, now=NOW)
    other_seed = people_snapshot()

    assert again == first
    assert [person["identifiers"] for person in other_seed] != [person["identifiers"] for person in first]


def test_people_look_french(demo):
    profiles = Profile.objects.exclude(last_name="")
    countries = [profile.country for profile in profiles]
    assert countries.count("FR") / len(countries) > 0.8
    assert {"BE", "CH"} & set(countries)
    assert Profile.objects.filter(language="fr").count() / 300 > 0.8
    assert profiles.filter(city="Paris", postcode__startswith="750").exists()
    assert not profiles.filter(city="Paris").exclude(postcode__startswith="750").exists()
    for profile in profiles:
        age = (NOW.date() - profile.birth_date).days / 365.25
        assert 18 <= age < 86, profile
        assert profile.first_name and profile.city and profile.postcode
    assert Profile.objects.filter(traits__has_key="loyalty_tier").exists()
    assert Profile.objects.filter(traits__has_key="preferred_store").exists()


def test_every_identifier_is_stored_normalised(demo):
    for kind, value in Identifier.objects.values_list("kind", "value"):
        assert normalise_identifier(kind, value) == value
    french_phones = Identifier.objects.filter(kind=IdentifierKind.PHONE, profile__country="FR")
    assert french_phones.count() > 60
    for phone in french_phones.values_list("value", flat=True):
        assert phone.startswith(("+336", "+337"))
        assert normalise_phone(phone) == phone
        assert phonenumbers.number_type(phonenumbers.parse(phone)) == phonenumbers.PhoneNumberType.MOBILE
    assert all(
        email.endswith(".example") for email in Identifier.objects.filter(kind="email").values_list("value", flat=True)
    )


def test_shares_of_identifiers_are_realistic(demo):
    def share(kind: str) -> float:
        return Profile.objects.filter(identifiers__kind=kind).distinct().count() / 300

    assert 0.6 < share(IdentifierKind.EMAIL) < 0.95
    assert 0.3 < share(IdentifierKind.PHONE) < 0.7
    assert 0.2 < share(IdentifierKind.CRM_ID) < 0.7
    anonymous_only = Profile.objects.exclude(identifiers__kind__in=["email", "phone", "crm_id"])
    assert 0.05 < anonymous_only.count() / 300 < 0.25
    assert all(profile.first_name == "" for profile in anonymous_only)


def test_emails_are_made_from_the_name(demo):
    def plain(name: str) -> str:
        without_accents = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        return without_accents.lower().replace(" ", "").replace("'", "")

    emails = Identifier.objects.filter(kind="email").values_list("value", "profile__first_name", "profile__last_name")
    for email, first_name, last_name in emails:
        local = email.split("@")[0]
        assert plain(first_name) in local or plain(last_name) in local, email


def test_consents_are_given_for_an_address_of_the_profile_with_proof(demo):
    grants = ConsentRecord.objects.filter(status=ConsentStatus.GRANTED)
    assert grants.filter(channel=Channel.EMAIL).count() > 50
    assert grants.filter(channel=Channel.SMS).count() > 10
    assert grants.filter(channel=Channel.ADVERTISING).exists()
    assert ConsentRecord.objects.filter(status=ConsentStatus.WITHDRAWN, channel=Channel.EMAIL).exists()
    for record in ConsentRecord.objects.filter(channel__in=[Channel.EMAIL, Channel.SMS]).exclude(address=""):
        kind = CHANNEL_ADDRESS_KIND[record.channel]
        assert Identifier.objects.filter(profile_id=record.profile_id, kind=kind, value=record.address).exists()
    for record in grants:
        assert record.source == "demo"
        assert record.proof["form_url"].startswith("https://")
        assert record.proof["wording_version"]
        assert record.occurred_at <= NOW
        assert record.recorded_at >= record.occurred_at
    assert not grants.filter(channel__in=[Channel.EMAIL, Channel.SMS], address="").exists()


def test_the_consent_state_is_what_a_rebuild_from_the_log_gives(demo):
    def states(profile: Profile) -> set[tuple]:
        return set(
            profile.consents.values_list("channel", "address", "status", "legal_basis", "occurred_at", "record_id")
        )

    profiles = list(Profile.objects.filter(consent_records__isnull=False).distinct().order_by("id")[:120])
    assert len(profiles) > 60
    for profile in profiles:
        generated = states(profile)
        consent_state_rebuild(profile=profile)
        assert states(profile) == generated, profile.pk
    assert not ConsentState.objects.filter(profile__consent_records__isnull=True).exists()


def test_events_stay_in_the_window_and_only_purchases_carry_revenue(demo):
    window_start = NOW - datetime.timedelta(days=DAYS)
    assert not Event.objects.filter(occurred_at__lt=window_start).exists()
    assert not Event.objects.filter(occurred_at__gt=NOW).exists()
    assert set(Event.objects.values_list("type", flat=True)) == {
        "page_view",
        "product_view",
        "add_to_cart",
        "purchase",
        "email_open",
        "email_click",
    }
    assert not Event.objects.exclude(type=EventType.PURCHASE).filter(revenue__isnull=False).exists()
    purchases = Event.objects.filter(type=EventType.PURCHASE)
    assert purchases.count() > 5
    assert purchases.count() < Event.objects.filter(type=EventType.PRODUCT_VIEW).count() / 5
    for purchase in purchases:
        assert isinstance(purchase.revenue, Decimal) and purchase.revenue > 0
        assert purchase.currency == "EUR"
        assert purchase.properties["order_id"].startswith("CMD-")
    for properties in Event.objects.filter(type=EventType.PRODUCT_VIEW).values_list("properties", flat=True):
        assert properties["category"] in CATEGORIES
        assert properties["product_id"] and properties["price"] > 0
    assert not Event.objects.filter(profile__do_not_track=True).exists()
    for event in Event.objects.select_related("profile")[:500]:
        assert event.occurred_at >= event.profile.created_at
        assert event.received_at > event.occurred_at


def test_newsletters_are_opened_only_while_the_person_consents_to_email(demo):
    opens = Event.objects.filter(type=EventType.EMAIL_OPEN).select_related("profile")
    assert opens.count() > 20
    for event in opens[:200]:
        granted = event.profile.consent_records.filter(
            channel=Channel.EMAIL, status=ConsentStatus.GRANTED, occurred_at__lte=event.occurred_at
        )
        assert granted.exists(), event.profile_id


def test_activity_is_skewed_most_people_do_little(demo):
    tracked = Profile.objects.filter(do_not_track=False).annotate(event_count=Count("events"))
    counts = sorted(tracked.values_list("event_count", flat=True))
    median = counts[len(counts) // 2]
    assert median < sum(counts) / len(counts)  # a long tail pulls the mean above the median
    assert counts[-1] > 5 * max(median, 1)


def test_a_persona_factory_plants_behaviour(db):
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    evening_only = tuple(1.0 if hour == 20 else 0.0 for hour in range(24))

    def evening_people(rng, index) -> Persona:
        return dataclasses.replace(persona_default(rng, index), hour_weights=evening_only, planted={"hour": 20})

    demo_data_generate(profiles=60, seed=5, now=NOW, persona_factory=evening_people)

    visits = Event.objects.filter(type=EventType.PAGE_VIEW)
    assert visits.exists()
    # A visit starts at 20:xx local time and lasts a few minutes.
    assert {event.occurred_at.astimezone(paris).hour for event in visits} <= {20, 21}
    opens = Event.objects.filter(type=EventType.EMAIL_OPEN)
    assert {event.occurred_at.astimezone(paris).hour for event in opens} == {20}


def test_a_second_run_adds_people_without_clashing_identifiers(db):
    demo_data_generate(profiles=100, seed=42, now=NOW)
    demo_data_generate(profiles=100, seed=42, now=NOW)

    assert Profile.objects.count() == 200
    for kind, value in Identifier.objects.values_list("kind", "value"):
        assert normalise_identifier(kind, value) == value


def test_command_creates_the_profiles_and_prints_a_summary(db):
    out = io.StringIO()

    call_command("generate_demo_data", "--profiles", "40", "--seed", "3", "--days", "30", stdout=out)

    assert Profile.objects.count() == 40
    assert "Created 40 demo profiles (seed 3, last 30 days)" in out.getvalue()


def test_command_if_empty_does_nothing_when_profiles_exist(alice):
    out = io.StringIO()

    call_command("generate_demo_data", "--profiles", "40", "--if-empty", stdout=out)

    assert list(Profile.objects.all()) == [alice]
    assert "no demo data generated" in out.getvalue()


def test_command_if_empty_fills_an_empty_database(db):
    call_command("generate_demo_data", "--profiles", "25", "--if-empty", stdout=io.StringIO())

    assert Profile.objects.count() == 25


@on_postgresql
def test_copy_and_insert_write_the_same_data(db):
    copied = demo_data_generate(profiles=80, seed=9, now=NOW, use_copy=True)
    by_copy = people_snapshot()
    Profile.objects.all().delete()

    inserted = demo_data_generate(profiles=80, seed=9, now=NOW, use_copy=False)

    assert (copied.writer, inserted.writer) == ("copy", "insert")
    assert people_snapshot() == by_copy


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_background_connection_writes_each_batch():
    summary = demo_data_generate(profiles=450, seed=4, now=NOW, batch_size=100)

    assert summary.writer == "copy, background"
    assert Profile.objects.count() == 450
    assert Event.objects.count() == summary.events
    assert ConsentState.objects.count() == summary.consents
