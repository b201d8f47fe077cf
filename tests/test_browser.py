"""The HTML report in a real browser: headless Chromium loads a report made by a small
verify run, with no console error, the filters work, and a screenshot is taken.

Needs the Debian packages chromium and chromium-driver (``.ci/run`` installs them) and
selenium (the ``test`` extra); skips with the reason where any is missing. The
screenshots go to $TRAJCHECK_SCREENSHOTS when it is set, else to pytest's tmp folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from trajcheck.cli import main

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("browser test skipped: Chromium and chromedriver are not installed "
                    "(apt-get install chromium chromium-driver; .ci/run does)")  # fmt: skip
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1300,2000"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver: Selenium Manager would otherwise try to download one
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run (one claim per kind of figure) inside a reports folder with an index."""
    folder = tmp_path_factory.mktemp("reports")
    (folder / "index.html").write_text("")  # an index here is kept up to date by verify
    claims = ["smoothing.any_step", "descent.lemma", "decomposition.cheaper", "meta.initialization"]
    run = folder / "small"
    assert main(["verify", *claims, "--profile", "ci", "--seed", "1", "--out", str(run)]) == 0
    return folder


def _screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TRAJCHECK_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _severe(browser) -> list[dict]:  # type: ignore[no-untyped-def]
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_report_loads_without_console_errors_and_filters(browser, reports, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get((reports / "small" / "report.html").as_uri())
    assert browser.title == "trajcheck report"
    assert _severe(browser) == []
    sections = browser.find_elements(By.CSS_SELECTOR, "section[data-family]")
    assert len(sections) == 4
    assert browser.find_elements(By.CSS_SELECTOR, "section svg")  # figures are inline
    browser.save_screenshot(str(_screenshots(tmp_path) / "report.png"))

    Select(browser.find_element(By.ID, "family-filter")).select_by_value("decomposition")
    visible = [s.get_attribute("id") for s in sections if s.is_displayed()]
    assert visible == ["decomposition.cheaper"]
    assert browser.find_element(By.ID, "shown").text == "1 shown"
    Select(browser.find_element(By.ID, "family-filter")).select_by_value("all")
    Select(browser.find_element(By.ID, "verdict-filter")).select_by_value("holds")
    visible = [s.get_attribute("id") for s in sections if s.is_displayed()]
    assert visible == ["descent.lemma"]
    assert _severe(browser) == []


def test_runs_index_lists_the_run(browser, reports, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    browser.get((reports / "index.html").as_uri())
    assert browser.title == "trajcheck runs"
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "td a")]
    assert links == ["small"]
    assert _severe(browser) == []
    browser.save_screenshot(str(_screenshots(tmp_path) / "index.png"))
