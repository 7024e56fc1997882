"""The reporting dashboard in the admin: it opens with its tables and charts, filters, exports CSV, speaks French."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from reporting.services import reporting_refresh

pytestmark = pytest.mark.django_db
URL = "/admin/reporting/dashboard/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.fr", "pw")
    client.force_login(user)
    return client


def test_the_dashboard_shows_every_table_with_charts(staff, story):
    response = staff.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    for section in ("roi_campaigns", "roi_channels", "roi_periods", "uplift", "delivery_quality", "opt_in",
                    "segment_volumes", "pressure", "consent", "customers", "lifetime_value"):  # fmt: skip
        assert f'id="{section}"' in html and f"export={section}" in html
    assert html.count("<svg") >= 4 and "<script" not in html.split('id="content-main"')[1]
    assert "Spring email" in html and "€100.20" in html  # English money


def test_filters_narrow_the_tables(staff, story):
    response = staff.get(URL, {"channel": "sms", "model": "first_touch", "period": "month"})

    tables = {table.name: table for table in response.context["tables"]}
    assert [row["campaign"] for row in tables["roi_campaigns"].rows] == ["Weekend SMS"]
    assert tables["roi_campaigns"].rows[0]["revenue"] == 0  # first touch: Alice's sale goes to the email


def test_csv_export_in_french_uses_semicolons_and_decimal_commas(staff, story):
    staff.cookies["django_language"] = "fr"

    response = staff.get(URL, {"export": "roi_campaigns", "model": "last_touch"}, HTTP_ACCEPT_LANGUAGE="fr")

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Campagne", "Coût", "Envois"]
    spring = next(row for row in rows if row[0] == "Spring email")
    assert spring[1] == "100,20" and spring[2] == "2"


def test_the_french_dashboard_writes_numbers_money_and_dates_the_french_way(staff, story):
    staff.cookies["django_language"] = "fr"

    html = staff.get(URL, {"period": "day"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()

    assert "Tableau de bord" in html and "ROI par campagne" in html
    assert "100,20\u00a0€" in html  # money
    assert "50,0\u00a0%" in html  # the email's click rate
    assert "01/11/2026" in html  # a day of the period
    assert "not significant" not in html and "Download as CSV" not in html


def test_the_dashboard_needs_a_staff_login(client, story):
    assert client.get(URL).status_code == 302


def test_the_dashboard_reads_aggregates_in_a_bounded_number_of_queries(staff, story, django_assert_max_num_queries):
    reporting_refresh()
    with django_assert_max_num_queries(40):
        staff.get(URL)


def test_numbers_are_rounded_not_cut_off():
    from django.utils import translation

    from reporting.formatting import money, percent

    with translation.override("fr"):
        assert percent(2 / 3) == "66,7\u00a0%" and money(Decimal("1234.5")) == "1\u00a0234,50\u00a0€"
    with translation.override("en"):
        assert percent(2 / 3) == "66.7%" and money(Decimal("-1234.5")) == "-€1,234.50"


def test_the_segment_filter_keeps_the_campaigns_sent_to_it(staff, story):
    from segments.models import Segment

    email, _sms = story
    segment = Segment.objects.create(name="Newsletter readers", refresh_every="never")
    email.segments.add(segment)

    tables = {table.name: table for table in staff.get(URL, {"segment": segment.pk}).context["tables"]}

    assert [row["campaign"] for row in tables["roi_campaigns"].rows] == ["Spring email"]
    assert [row["channel"] for row in tables["roi_channels"].rows] == ["Email"]


def test_each_comparison_of_a_test_is_a_card_that_says_the_result_in_words(staff, black_friday):
    html = staff.get(URL).content.decode()

    uplift = html.split('id="uplift"')[1].split('class="reporting-section')[0]
    assert uplift.count('class="reporting-card ') == 4  # everyone, A and B against the control group, A against B
    # Everyone sent to: 15 % against 8 %, p = 0.0857.
    assert "Everyone sent to against Control group" in uplift
    assert "No significant difference (p = 0.086)" in uplift and "+7.0 points (95% interval: -0.3 to +14.3)" in uplift
    # A: 20 % against 8 %, z = 2.445.
    assert '<div class="reporting-card positive">' in uplift
    assert "+12.0 conversion points, significant (p = 0.014)" in uplift
    assert "Campaign&#x27;s own message against B: short subject" in uplift  # the variants between them
    assert uplift.count("<details") == 4 and "p-value (Welch)" in uplift
    assert "<table>" in uplift and '<th scope="col">Relative lift' not in uplift  # no 21-column table


def test_roi_tables_show_the_main_columns_and_keep_the_others_in_details(staff, story):
    html = staff.get(URL).content.decode()

    section = html.split('id="roi_campaigns"')[1].split("<details")[0]
    shown = [cell.split(">", 1)[1].split("<")[0] for cell in section.split('<th scope="col"')[1:]]
    assert shown == [
        "Campaign", "Cost", "Sends", "Conversions", "Attributed revenue", "Incremental revenue", "ROI",
    ]  # fmt: skip
    assert "All figures (12 columns)" in html.split('id="roi_campaigns"')[1].split('id="roi_channels"')[0]


def test_the_csv_keeps_every_column_of_the_uplift_and_roi_tables(staff, black_friday):
    uplift = list(csv.reader(io.StringIO(staff.get(URL, {"export": "uplift"}).content.decode("utf-8-sig"))))
    roi = list(csv.reader(io.StringIO(staff.get(URL, {"export": "roi_campaigns"}).content.decode("utf-8-sig"))))

    assert len(uplift[0]) == 21 and len(uplift) == 1 + 4
    assert len(roi[0]) == 12 and roi[0][-1] == "Cost per acquisition"


def test_before_any_campaign_the_dashboard_says_what_to_do(staff, alice):
    html = staff.get(URL).content.decode()

    assert 'id="empty-state"' in html and "No campaign has been sent yet" in html and "(10% is usual)" in html
    assert 'href="/admin/activations/campaign/add/"' in html and 'href="/admin/activations/campaign/"' in html
    for section in ("roi_campaigns", "roi_channels", "roi_periods", "uplift", "delivery_quality", "pressure"):
        assert f'id="{section}"' not in html
    assert 'id="opt_in"' in html and "reporting-chart" not in html  # the customer figures stay, no empty chart


def test_an_empty_table_draws_no_chart(staff, story):
    html = staff.get(URL, {"channel": "push"}).content.decode()

    roi = html.split('id="roi_campaigns"')[1].split('id="roi_channels"')[0]
    assert "Nothing in this period." in roi and "reporting-chart" not in roi and 'id="empty-state"' not in html
