"""Marie imports a CRM export from Excel: she reads the rejected rows, fixes the file and imports it."""

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in

HEADER = "Prénom;Nom;E-mail;Téléphone;Date de naissance;Ville;Opt-in email"
WORKER_TIMEOUT = 30_000  # ms: the preview and the import run in the Celery worker
GOOD_ROW = "Hélène;Bérard;helene.berard@example.fr;06 12 34 56 78;12/03/1985;Besançon;oui"


def excel_export(path: Path, *rows: str) -> Path:
    """What Excel writes for “CSV (séparateur : point-virgule)” on a French Windows: cp1252, CRLF."""
    path.write_bytes("\r\n".join([HEADER, *rows, ""]).encode("cp1252"))
    return path


def upload_and_preview(page: Page, file: Path) -> None:
    page.get_by_label("Fichier CRM (CSV)").set_input_files(file)
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_text("Windows-1252")).to_be_visible()
    expect(page.get_by_text("point-virgule (;)")).to_be_visible()
    page.get_by_role("button", name="Afficher l’aperçu de l’import").click()
    # The preview runs in the worker: a wait page with a progress bar, then the preview.
    page.wait_for_url("**/import/preview/*/", timeout=WORKER_TIMEOUT)


def test_import_a_file_with_errors_then_the_fixed_file(page: Page, platform, tmp_path: Path) -> None:
    log_in(page, platform.marketer)
    page.locator("tr.model-profile").get_by_role("link", name="Profils").click()
    page.get_by_role("link", name="Importer un fichier CRM").click()

    # The export has two mistakes: an email without its domain's ending, and 31 February.
    upload_and_preview(
        page,
        excel_export(
            tmp_path / "export-crm.csv",
            GOOD_ROW,
            "François;Dupré;francois.dupre@exemple;;01/02/1990;Orléans;non",
            "Agnès;Lefèvre;agnes.lefevre@example.fr;;31/02/1979;Nîmes;oui",
        ),
    )
    rejected = page.locator("table", has=page.get_by_role("columnheader", name="Motif"))
    expect(rejected.get_by_role("row")).to_have_count(3)  # the header and two rejected rows
    expect(rejected.get_by_role("row").nth(1)).to_contain_text("3")
    expect(rejected.get_by_role("row").nth(1)).to_contain_text("E-mail")
    expect(rejected.get_by_role("row").nth(1)).to_contain_text("n’est pas une adresse e-mail valide")
    expect(rejected.get_by_role("row").nth(2)).to_contain_text("Date de naissance")
    expect(rejected.get_by_role("row").nth(2)).to_contain_text("« 31/02/1979 » n’est pas une date existante.")

    # She imports nothing, fixes the two cells in the file and imports it again.
    page.get_by_role("button", name="Annuler").click()
    page.get_by_role("link", name="Importer un fichier CRM").click()
    upload_and_preview(
        page,
        excel_export(
            tmp_path / "export-crm-corrige.csv",
            GOOD_ROW,
            "François;Dupré;francois.dupre@exemple.fr;;01/02/1990;Orléans;non",
            "Agnès;Lefèvre;agnes.lefevre@example.fr;;28/02/1979;Nîmes;oui",
        ),
    )
    expect(page.get_by_role("columnheader", name="Motif")).to_have_count(0)
    page.get_by_role("button", name="Importer les 3 lignes").click()
    expect(page.locator(".messagelist")).to_contain_text("3", timeout=WORKER_TIMEOUT)  # after the wait page

    # The people are there, accents intact, with the consent the file gave.
    page.goto("/admin/profiles/profile/?q=helene.berard%40example.fr")
    page.get_by_role("link", name="Hélène Bérard").click()
    expect(page.get_by_label("Ville :")).to_have_value("Besançon")
    expect(page.locator("#content-main")).to_contain_text("+33612345678")
