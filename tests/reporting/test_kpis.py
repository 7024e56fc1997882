"""The marketers' KPIs on small planted data sets, the expected figures worked out by hand."""

import datetime
from decimal import Decimal

import pytest

from profiles.services import consent_record
from reporting import kpis
from reporting.selectors import ReportFilters, delivery_quality, kpi
from reporting.services import reporting_refresh
from segments.models import Segment, SegmentMembership, SegmentMembershipChange
from tests.conftest import ALICE_EMAIL, BOB_PHONE
from tests.reporting.planted import at, campaign, delivery, people, purchase, run_of

pytestmark = pytest.mark.django_db


def test_retention_repeat_purchases_returns_and_average_order_value():
    first, second, third, fourth = people(4, "p")
    purchase(first, at(5), "15.00")  # before the period: a customer at its start…
    purchase(first, at(15), "40.00")  # …who buys again in it: retained
    purchase(second, at(6), "25.00")  # a customer at the start who does not come back
    purchase(third, at(12), "10.00")  # new, and buys twice
    purchase(third, at(14), "30.00")
    purchase(fourth, at(13), "20.00")  # new
    purchase(third, at(16), "10.00", type="return")

    figures = kpis.customers(start=at(11, 0), end=at(21, 0))

    # 10-day period: customers at the start bought 1–10 Nov (first, second); at the end, in the period
    # (first, third, fourth); new: third and fourth. Retention = (3 − 2) / 2 = 0.5.
    assert (figures["customers_at_start"], figures["customers_at_end"], figures["new_customers"]) == (2, 3, 2)
    assert figures["retention"] == 0.5
    assert figures["repeat_purchase_ratio"] == pytest.approx(1 / 3)  # only third bought twice
    assert figures["orders"] == 4 and figures["revenue"] == Decimal("100.00")
    assert figures["average_order_value"] == Decimal("25.00")  # 100 / 4
    assert figures["return_rate"] == 0.25 and figures["returned_revenue"] == Decimal("10.00")


def test_opt_in_typology(alice, bob, charlie):
    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="form")
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="form")
    consent_record(profile=charlie, channel="push", status="granted", source="app")

    figures = kpis.opt_in_typology()

    # Charlie is only a cookie: anonymous, so not counted as addressable by push either.
    assert (figures["total"], figures["identified"], figures["anonymous"]) == (3, 2, 1)
    assert figures["addressable"] == {"email": 1, "sms": 1, "push": 0, "postal": 0, "advertising": 0}


def test_pressure_counts_messages_per_person_and_week(alice, bob):
    run = run_of(campaign("Daily deals", "email"))
    for day in (2, 3, 4, 5):  # the week of Monday 2 November
        delivery(run_of(run.campaign), alice, sent=at(day))
    delivery(run, bob, sent=at(3))

    figures = kpis.pressure(now=at(25))

    [week] = figures["weeks"]
    assert week["week"] == "2026-11-02" and week["distribution"] == {"4": 1, "1": 1}
    assert week["over_solicited"] == 1  # Alice: 4 messages > 3


def test_consent_opt_ins_and_opt_outs_per_week(alice, bob):
    consent_record(profile=alice, channel="email", status="granted", address=ALICE_EMAIL, source="f", occurred_at=at(3))
    consent_record(profile=bob, channel="sms", status="granted", address=BOB_PHONE, source="f", occurred_at=at(4))
    consent_record(
        profile=alice, channel="email", status="withdrawn", address=ALICE_EMAIL, source="f", occurred_at=at(10)
    )

    rows = kpis.consent_per_week(now=at(25))

    assert rows == [
        {"week": "2026-11-02", "channel": "email", "opt_ins": 1, "opt_outs": 0},
        {"week": "2026-11-02", "channel": "sms", "opt_ins": 1, "opt_outs": 0},
        {"week": "2026-11-09", "channel": "email", "opt_ins": 0, "opt_outs": 1},
    ]


def test_segment_volumes_and_lifetime_value(alice, bob, charlie):
    segment = Segment.objects.create(name="Lyon", refresh_every="never")
    for person in (alice, bob):
        SegmentMembership.objects.create(segment=segment, profile=person, entered_at=at(20))
        SegmentMembershipChange.objects.create(segment=segment, profile=person, change="entered", changed_at=at(20))
    SegmentMembershipChange.objects.create(segment=segment, profile=charlie, change="entered", changed_at=at(19))
    SegmentMembershipChange.objects.create(segment=segment, profile=charlie, change="left", changed_at=at(21))
    purchase(alice, at(5), "100.00")
    purchase(alice, at(6), "50.00")
    purchase(bob, at(7), "30.00")
    purchase(charlie, at(7), "500.00")  # not a member any more

    volumes = kpis.segment_volumes(now=at(25))[str(segment.pk)]
    [value] = kpis.lifetime_value_per_segment()

    assert volumes["members"] == 2
    assert volumes["days"] == [
        {"day": "2026-11-19", "entered": 1, "left": 0, "members": 1},
        {"day": "2026-11-20", "entered": 2, "left": 0, "members": 3},
        {"day": "2026-11-21", "entered": 0, "left": 1, "members": 2},
    ]
    assert (value["members"], value["buyers"], value["revenue"]) == (2, 2, Decimal("180.00"))
    assert value["lifetime_value"] == Decimal("90.00")  # 180 / 2


def test_delivery_quality_per_channel_and_destination(story):
    email, sms = story

    rows = delivery_quality(ReportFilters(period="month"))

    november = datetime.date(2026, 11, 1)
    assert [(row.period, row.channel, row.destination, row.sent, row.failed) for row in rows] == [
        (november, "email", "email provider", 2, 1),
        (november, "sms", "sms provider", 1, 0),
    ]
    assert rows[0].failure_rate == Decimal("0.3333")


def test_the_refresh_stores_the_kpis(story):
    reporting_refresh(now=at(25))

    assert kpi("opt_in_typology")["total"] == 3
    assert kpi("pressure")["weeks"]
