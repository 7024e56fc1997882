"""The real peers of the connectors' tests (SMTP server, HTTP receiver), and the planted story of the reports.

The story (November 2026, noon UTC):
- Alice is emailed the "Spring email" on the 1st, clicks it on the 2nd, gets the "Weekend SMS" on the 4th
  and buys for 100.00 € on the 5th: three touchpoints, 4, 3 and 1 days before the purchase.
- Bob is emailed on the 1st and buys for 50.00 € on the 3rd (one touchpoint), then for 80.00 € on the 10th,
  9 days after: outside the default 7-day window.
- Charlie's email failed: his purchase on the 2nd is nobody's.
The email costs 100 € plus 0.10 € per send, the SMS 0.05 € per send.
"""

import pytest

from reporting.services import reporting_refresh
from tests.activations.conftest import receiver  # noqa: F401
from tests.activations.smtp_server import smtp_server  # noqa: F401
from tests.reporting.planted import at, campaign, click, delivery, purchase, run_of


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
