"""The real peers of the connectors' tests (SMTP server, HTTP receiver), and the planted story of the reports.

The story (November 2026, noon UTC):
- Alice is emailed the "Spring email" on the 1st, clicks it on the 2nd, gets the "Weekend SMS" on the 4th
  and buys for 100.00 € on the 5th: three touchpoints, 4, 3 and 1 days before the purchase.
- Bob is emailed on the 1st and buys for 50.00 € on the 3rd (one touchpoint), then for 80.00 € on the 10th,
  9 days after: outside the default 7-day window.
- Charlie's email failed: his purchase on the 2nd is nobody's.
The email costs 100 € plus 0.10 € per send, the SMS 0.05 € per send.
"""

from decimal import Decimal

import pytest

from activations.models import CampaignArm
from reporting.services import reporting_refresh
from tests.activations.conftest import receiver  # noqa: F401
from tests.activations.smtp_server import smtp_server  # noqa: F401
from tests.reporting.planted import at, campaign, click, delivery, people, purchase, run_of


@pytest.fixture
def story(alice, bob, charlie):
    email = campaign("Spring email", "email", fixed_cost="100", cost_per_send="0.10")
    sms = campaign("Weekend SMS", "sms", cost_per_send="0.05")
    email_run, sms_run = run_of(email), run_of(sms)
    alice_email = delivery(email_run, alice, sent=at(1))
    click(alice_email, at(2))
    delivery(sms_run, alice, sent=at(4))
    delivery(email_run, bob, sent=at(1))
    delivery(email_run, charlie, status="failed")
    purchase(alice, at(5), "100.00")
    purchase(bob, at(3), "50.00")
    purchase(bob, at(10), "80.00")
    purchase(charlie, at(2), "30.00")
    reporting_refresh()
    return email, sms


@pytest.fixture
def black_friday():
    """An A/B test with a control group: see tests/reporting/test_uplift.py for its figures."""
    tested = campaign("Black Friday", "email", cost_per_send="0.50")
    arm_b = CampaignArm.objects.create(campaign=tested, name="B: short subject", share_percent=Decimal("50"))
    run = run_of(tested)
    planned = at(1, 9)
    for index, person in enumerate(people(100, "a")):
        delivery(run, person, sent=at(1), planned=planned)
        if index < 20:
            purchase(person, at(3), "50.00")
    for index, person in enumerate(people(100, "b")):
        delivery(run, person, sent=at(1), planned=planned, arm=arm_b)
        if index < 10:
            purchase(person, at(3), "20.00")
    for index, person in enumerate(people(100, "c")):
        delivery(run, person, status="held_out", planned=planned)
        if index < 8:
            purchase(person, at(3), "30.00")
    # A purchase before the campaign is outside its window.
    purchase(people(1, "late")[0], at(1, 8), "999.00")
    reporting_refresh()
    return tested
