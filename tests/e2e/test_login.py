"""A marketer logs in to the French admin and lands on the home page's figures."""

from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in


def test_log_in_in_french(page: Page, platform) -> None:
    page.goto("/admin/login/")
    expect(page.get_by_role("button", name="Connexion")).to_be_visible()
    log_in(page, platform.administrator)
    expect(page).to_have_title("Vos clients, segments et campagnes | Plateforme de données clients")
