"""Marie sends a weekly campaign with a 10 % control group to a webhook, follows the run, then reads the report.

The administrator set up the destination (a local HTTP receiver standing for the partner's API) beforehand;
what the receiver got is checked against what the run's page says.
"""

import csv
import io
import json
import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in

SEGMENT = "Shoe lovers reachable by email"
CAMPAIGN = "Chaussures : nouvelle collection"


def add_webhook_destination(page: Page, platform, url: str) -> None:
    log_in(page, platform.administrator)
    page.goto("/admin/activations/destination/add/")
    page.get_by_label("Nom :").fill("API du partenaire")
    page.get_by_label("Type :").select_option(label="Webhook / API HTTP")
    page.get_by_label("Réglages :").fill(json.dumps({"url": url, "batch_size": 20, "timeout": 5}))
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("API du partenaire")
    page.get_by_role("button", name="Déconnexion").click()


def test_weekly_campaign_with_control_group_sent_followed_and_reported(page: Page, platform, webhook_receiver) -> None:
    add_webhook_destination(page, platform, f"{webhook_receiver.url}/cdp")

    log_in(page, platform.marketer)
    page.locator("tr.model-campaign").get_by_role("link", name="Campagnes").click()
    page.get_by_role("link", name="Ajouter campagne").click()
    # The campaign's own fields (the A/B variants' empty form below has fields of the same names).
    page.locator("#id_name").fill(CAMPAIGN)
    page.locator("#id_slug").fill("chaussures-collection")
    page.locator("#id_segments_from").select_option(label=SEGMENT)
    page.locator("#id_segments_add").click()
    page.locator("#id_channel").select_option(label="E-mail")
    page.locator("#id_destination").select_option(label="API du partenaire")
    page.locator("#id_content_subject").fill("{{ first_name }}, nos nouvelles chaussures sont arrivées")
    page.locator("#id_content_text").fill(
        "Bonjour {{ first_name }}, découvrez la collection : https://shop.example/chaussures"
    )
    page.locator("#id_holdout_percent").fill("10")
    page.locator("#id_schedule").select_option(label="Régulièrement")
    page.locator("#id_recurrence").select_option(label="Toutes les semaines")
    page.locator("#id_send_weekday").select_option(label="Lundi")
    page.locator("#id_send_time").fill("09:30")
    page.get_by_role("button", name="Enregistrer et continuer les modifications").click()
    expect(page.locator(".messagelist")).to_contain_text(CAMPAIGN)

    # Before sending: who would get it, and who is held out as the control group. Then send it and follow it.
    page.get_by_role("link", name="Qui le recevrait maintenant ?").click()
    expect(page.locator("#content")).to_contain_text("Écarté (groupe témoin)")
    page.get_by_role("button", name="Envoyer maintenant").click()
    expect(page.locator(".messagelist")).to_contain_text("cette page suit son avancement")
    expect(page.locator(".field-status .readonly")).to_have_text("Terminée", timeout=60_000)
    page.goto("/admin/activations/campaignrun/")
    run = page.get_by_role("row", name=re.compile(CAMPAIGN)).first
    delivered = int(run.locator(".field-delivered").inner_text())
    held_out = int(run.locator(".field-held_out").inner_text())
    assert delivered >= 1 and held_out >= 1, (delivered, held_out)

    # The partner received each delivered person once, with the campaign's message; the control group nothing.
    batches = [request.json() for request in webhook_receiver.accepted()]
    recipients = [recipient for batch in batches for recipient in batch["recipients"]]
    assert len(recipients) == delivered
    assert len({recipient["idempotency_key"] for recipient in recipients}) == delivered
    assert batches[0]["content"]["subject"] == "{{ first_name }}, nos nouvelles chaussures sont arrivées"

    # The report: uplift against the control group and ROI, then the ROI table as a CSV file.
    page.goto("/admin/")
    page.locator("tr.model-dashboard").get_by_role("link").first.click()
    page.get_by_role("button", name=re.compile("Mettre à jour les chiffres")).click()
    roi = page.locator("#roi_campaigns")
    expect(roi).to_contain_text(CAMPAIGN, timeout=60_000)  # once the worker has updated the figures
    uplift = page.locator("#uplift")
    expect(uplift.get_by_role("heading", name="Gain face au groupe témoin")).to_be_visible()
    expect(uplift).to_contain_text(CAMPAIGN)
    with page.expect_download() as download:
        roi.get_by_role("link", name="Télécharger en CSV").click()
    content = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(content), delimiter=";"))
    assert any(CAMPAIGN in row for row in rows), rows[:3]
