"""Marie builds a segment on behaviour and watches the live count follow her conditions."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in

COUNT = re.compile(r"(\d[\d\s\u202f]*) profils? correspond")


def live_count(page: Page) -> int:
    counted = page.locator(".rb-preview-count")
    expect(counted).to_have_text(COUNT)
    return int(re.sub(r"\D", "", COUNT.search(counted.inner_text()).group(1)))


def test_build_a_behavioural_segment_with_a_live_count(page: Page, platform) -> None:
    log_in(page, platform.marketer)
    page.locator("tr.model-segment").get_by_role("link", name="Segments").click()
    page.get_by_role("link", name="Ajouter segment").click()
    page.get_by_label("Nom :").fill("Acheteurs des 90 derniers jours")

    page.get_by_role("button", name="Ajouter une condition").first.click()
    condition = page.locator(".rb-condition").first
    condition.locator("select.rb-field").select_option(label="A fait une action (événement)")
    condition.locator("select.rb-event-type").select_option(label="Achat")
    condition.locator("select.rb-window").select_option(label="dans les … derniers jours")
    condition.get_by_label("nombre de jours").fill("90")
    condition.get_by_label("nombre de jours").blur()
    buyers = live_count(page)
    assert buyers > 0, "the demo data has purchases in the last 90 days"

    # At least twice: fewer people, and the count says so before anything is saved.
    condition.locator("select.rb-operator").select_option(label="a fait au moins … fois")
    condition.get_by_label("nombre de fois").fill("2")
    condition.get_by_label("nombre de fois").blur()
    expect(page.locator(".rb-preview-count")).not_to_have_text(f"{buyers} profils correspondent")
    repeat_buyers = live_count(page)
    assert repeat_buyers < buyers

    page.get_by_role("button", name="Enregistrer et continuer les modifications").click()
    expect(page.locator(".messagelist")).to_contain_text("Acheteurs des 90 derniers jours")
    # The worker refreshes the new segment: its page ends up showing the members the live count promised.
    expect(page.locator('[data-figure="members"]')).to_have_text(str(repeat_buyers), timeout=30_000)
