"""Take the screenshots of the marketers' guides (docs/guide-marketing.en.md and .fr.md) again.

Run it against an instance of your own, after a change to the admin, so that the guides show the
screens as they are. From the root of the project, in one terminal:

    export DEBUG=true CDP_VAR_DIR=/tmp/docs-var
    .venv/bin/python manage.py migrate --no-input
    .venv/bin/python manage.py generate_demo_data --profiles 300 --if-empty
    .venv/bin/python manage.py create_demo_segments --if-empty
    .venv/bin/python manage.py create_demo_campaign --if-empty
    .venv/bin/python manage.py ensure_marketer           # the login "marie", in the Marketer group
    .venv/bin/python manage.py runserver 127.0.0.1:8030 --noreload &
    .venv/bin/celery -A cdp worker --pool=solo &         # segment refreshes and sends

then:

    .venv/bin/python docs/screenshots.py                 # both languages
    .venv/bin/python docs/screenshots.py fr              # French only

It writes docs/images/<lang>/<name>.png (viewport shots, 1400 x 900) with Debian's Chromium
(/usr/bin/chromium, through Playwright: no browser is downloaded). The admin follows the
browser's language, so each language is a browser context of its own. It logs in as the demo
marketer ("marie", password read from $CDP_VAR_DIR/marie-password.txt); set CDP_DOCS_URL,
CDP_DOCS_USER and CDP_DOCS_PASSWORD to use another instance or login.

What it changes on the instance: nothing it keeps. The CRM import is previewed and then cancelled,
the segment and the campaign forms are filled in but not saved. Stop the server and the worker
(kill their process ids) and remove $CDP_VAR_DIR when done.
"""

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, sync_playwright

ROOT = Path(__file__).resolve().parent
BASE_URL = os.environ.get("CDP_DOCS_URL", "http://127.0.0.1:8030").rstrip("/")
USER = os.environ.get("CDP_DOCS_USER", "marie")
VAR_DIR = Path(os.environ.get("CDP_VAR_DIR", ROOT.parent / "var"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1400, "height": 900}
LOCALES = {"en": "en-US", "fr": "fr-FR"}

# A CRM export as Excel writes it on a French Windows ("CSV (séparateur : point-virgule)", Windows-1252),
# with three mistakes for the preview to report: an email without its ending, 31 February, "peut-être".
CRM_FILES = {
    "fr": (
        "Prénom;Nom;E-mail;Téléphone;Date de naissance;Ville;Code postal;Opt-in email;Opt-in SMS;Niveau fidélité",
        [
            "Hélène;Bérard;helene.berard@example.fr;06 12 34 56 78;12/03/1985;Besançon;25000;oui;non;or",
            "François;Dupré;francois.dupre@exemple;;01/02/1990;Orléans;45000;non;;argent",
            "Agnès;Lefèvre;agnes.lefevre@example.fr;;31/02/1979;Nîmes;30000;oui;;bronze",
            "Joël;Mercier;joel.mercier@example.fr;07 98 76 54 32;23/11/1968;Amiens;80000;peut-être;oui;or",
            "Zoé;Navarro;zoe.navarro@example.fr;;05/06/1999;Ajaccio;20000;oui;;",
        ],
    ),
    "en": (
        "First name;Last name;Email;Phone;Birth date;City;Postcode;Email consent;SMS consent;Loyalty tier",
        [
            "Hélène;Bérard;helene.berard@example.fr;06 12 34 56 78;12/03/1985;Besançon;25000;yes;no;gold",
            "François;Dupré;francois.dupre@exemple;;01/02/1990;Orléans;45000;no;;silver",
            "Agnès;Lefèvre;agnes.lefevre@example.fr;;31/02/1979;Nîmes;30000;yes;;bronze",
            "Joël;Mercier;joel.mercier@example.fr;07 98 76 54 32;23/11/1968;Amiens;80000;maybe;yes;gold",
            "Zoé;Navarro;zoe.navarro@example.fr;;05/06/1999;Ajaccio;20000;yes;;",
        ],
    ),
}
CAMPAIGN_NAMES = {"fr": "Chaussures : nouvelle collection", "en": "Shoes: the new collection"}
SEGMENT_NAMES = {"fr": "Acheteurs réguliers (90 jours)", "en": "Repeat buyers (90 days)"}
MESSAGES = {
    "fr": (
        "{{ first_name }}, nos nouvelles chaussures sont arrivées",
        'Bonjour {{ first_name|default:"à vous" }},\n\nDécouvrez la nouvelle collection : '
        "https://shop.example/chaussures\n\nSe désinscrire : {{ unsubscribe_url }}",
    ),
    "en": (
        "{{ first_name }}, our new shoes are here",
        'Hello {{ first_name|default:"there" }},\n\nSee the new collection: https://shop.example/shoes\n\n'
        "Unsubscribe: {{ unsubscribe_url }}",
    ),
}


def password() -> str:
    if os.environ.get("CDP_DOCS_PASSWORD"):
        return os.environ["CDP_DOCS_PASSWORD"]
    return (VAR_DIR / f"{USER}-password.txt").read_text().strip()


def to_top(locator: Locator, offset: int = 10) -> None:
    """Scroll the page so that the element is at the top of the viewport."""
    locator.first.evaluate(
        "(el, offset) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - offset)", offset
    )


class Shooter:
    def __init__(self, page: Page, lang: str, only: set[str]) -> None:
        self.page = page
        self.lang = lang
        self.only = only
        self.folder = ROOT / "images" / lang
        self.folder.mkdir(parents=True, exist_ok=True)

    def go(self, path: str) -> None:
        self.page.goto(BASE_URL + path)
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> None:
        self.page.wait_for_timeout(300)
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=path)
        print(f"{path.relative_to(ROOT.parent)}: {path.stat().st_size // 1024} KB")

    def _wanted(self, *names: str) -> bool:
        return not self.only or bool(self.only & set(names))

    def take(self, names: tuple[str, ...], steps: Callable[[], None]) -> None:
        """Run the steps that take these screenshots, unless none of them was asked for."""
        if not self._wanted(*names):
            return
        try:
            steps()
        except Exception as error:  # one broken page should not stop the others
            print(f"{self.lang}/{'+'.join(names)}: FAILED: {error}", file=sys.stderr)

    # -- The pages --------------------------------------------------------------------------

    def login(self) -> None:
        self.go("/admin/login/")
        self.page.fill("#id_username", USER)
        self.shot("login")

    def log_in(self) -> None:
        self.go("/admin/login/")
        self.page.fill("#id_username", USER)
        self.page.fill("#id_password", password())
        self.page.click("input[type=submit]")
        self.page.wait_for_url("**/admin/")
        # Hide the side menu (the « button; the admin remembers it): the pages get the whole width.
        self.go("/admin/profiles/profile/")
        toggle = self.page.locator("#toggle-nav-sidebar")
        if toggle.is_visible() and self.page.locator("#nav-sidebar").is_visible():
            toggle.click()

    def home(self) -> None:
        self.go("/admin/")
        self.shot("home")

    def import_steps(self) -> None:
        header, rows = CRM_FILES[self.lang]
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / ("export-crm.csv" if self.lang == "fr" else "crm-export.csv")
            file.write_bytes("\r\n".join([header, *rows, ""]).encode("cp1252"))
            self.go("/admin/profiles/profile/import/")
            self.page.set_input_files("input[type=file]", file)
            self.page.click("input[type=submit].default")
            self.page.wait_for_load_state("networkidle")
            if self._wanted("import-mapping"):
                self.shot("import-mapping")
            self.page.click("input[type=submit].default")
            # The preview may be made by the worker behind a wait page that reloads itself: wait for its buttons.
            self.page.locator("button[name=cancel]").wait_for(timeout=120_000)
            self.page.wait_for_load_state("networkidle")
            if self._wanted("import-preview"):
                to_top(self.page.locator("#content-main h2"))
                self.shot("import-preview")
            # Import nothing: the instance stays as it was.
            self.page.click("button[name=cancel]")
            self.page.wait_for_load_state("networkidle")

    def segment_builder(self) -> None:
        self.go("/admin/segments/segment/add/")
        self.page.fill("#id_name", SEGMENT_NAMES[self.lang])
        self.page.locator(".rule-builder button").first.click()
        condition = self.page.locator(".rb-condition").first
        condition.locator("select.rb-field").select_option("event")
        condition.locator("select.rb-event-type").select_option("purchase")
        condition.locator("select.rb-operator").select_option("at_least")
        condition.locator("input[data-focus$=':count']").fill("2")
        condition.locator("select.rb-window").select_option("last_days")
        condition.locator("input[data-focus$=':days']").fill("90")
        condition.locator("input[data-focus$=':days']").blur()
        self.page.wait_for_timeout(1500)  # the live count
        to_top(self.page.locator("fieldset.cdp-rules-fieldset"))
        self.shot("segment-builder")

    def campaign_form(self) -> None:
        self.go("/admin/activations/campaign/add/")
        page = self.page
        page.fill("#id_name", CAMPAIGN_NAMES[self.lang])
        page.locator("#id_segments_from option").first.wait_for(state="attached")
        segment = page.locator("#id_segments_from option", has_text="Shoe lovers")
        page.select_option("#id_segments_from", label=segment.first.inner_text().strip())
        page.click("#id_segments_add")
        page.select_option("#id_channel", "email")
        page.select_option("#id_destination", index=1)
        subject, text = MESSAGES[self.lang]
        page.fill("#id_content_subject", subject)
        page.fill("#id_content_text", text)
        if self._wanted("campaign-form"):
            to_top(page.locator("fieldset").nth(1))
            self.shot("campaign-form")
        page.fill("#id_holdout_percent", "10")
        page.fill("#id_pressure_max_messages", "2")
        page.fill("#id_pressure_window_days", "7")
        page.select_option("#id_schedule", "recurring")
        page.select_option("#id_recurrence", "weekly")
        page.select_option("#id_send_weekday", index=1)
        page.fill("#id_send_time", "09:30")
        if self._wanted("campaign-schedule"):
            to_top(page.locator("#id_holdout_percent").locator("xpath=ancestor::fieldset"))
            self.shot("campaign-schedule")

    def campaign_preview(self) -> None:
        self.go("/admin/activations/campaign/")
        self.page.locator("#result_list tbody th a").first.click()
        self.page.wait_for_load_state("networkidle")
        self.page.locator(".object-tools a").first.click()
        self.page.wait_for_load_state("networkidle")
        self.shot("campaign-preview")

    def campaign_runs(self) -> None:
        self.go("/admin/activations/campaignrun/")
        self.shot("campaign-runs")

    def report(self) -> None:
        self.go("/admin/reporting/dashboard/")
        self.shot("report")

    def report_uplift(self) -> None:
        self.go("/admin/reporting/dashboard/")
        heading = self.page.locator("#content-main h2", has_text="groupe témoin" if self.lang == "fr" else "control")
        to_top(heading)
        self.shot("report-uplift")

    def profile_consents(self) -> None:
        # A person of the demo data (seed 42) who unsubscribed once and subscribed again; anyone with consents else.
        self.go("/admin/profiles/profile/?q=laurence.dias93%40hotmail.example")
        if not self.page.locator("#result_list tbody th a").count():
            self.go("/admin/profiles/profile/?consent=email")
        self.page.locator("#result_list tbody th a").first.click()
        self.page.wait_for_load_state("networkidle")
        to_top(self.page.locator("#current-consents"))
        self.shot("profile-consents")

    def run(self) -> None:
        self.take(("login",), self.login)
        self.log_in()
        for names, steps in [
            (("home",), self.home),
            (("import-mapping", "import-preview"), self.import_steps),
            (("segment-builder",), self.segment_builder),
            (("campaign-form", "campaign-schedule"), self.campaign_form),
            (("campaign-preview",), self.campaign_preview),
            (("campaign-runs",), self.campaign_runs),
            (("report",), self.report),
            (("report-uplift",), self.report_uplift),
            (("profile-consents",), self.profile_consents),
        ]:
            self.take(names, steps)


def main(argv: list[str]) -> None:
    langs = [arg for arg in argv if arg in LOCALES] or list(LOCALES)
    only = {arg for arg in argv if arg not in LOCALES}
    with sync_playwright() as playwright:
        for lang in langs:
            # --lang: the browser's own widgets (date pickers) follow it once Debian's chromium-l10n is installed.
            # The server's time zone: no "you are 1 hour behind server time" notes under the date fields.
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", f"--lang={LOCALES[lang]}"]
            )
            context = browser.new_context(locale=LOCALES[lang], timezone_id="Europe/Paris", viewport=VIEWPORT)
            Shooter(context.new_page(), lang, only).run()
            context.close()
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
