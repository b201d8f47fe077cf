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


def test_statements_are_drawn_as_mathematics(browser, reports, tmp_path) -> None:
    """Each claim's LaTeX is drawn (inline SVG glyphs that resolve, with ink on them),
    above the plain-text statement, which stays for search and screen readers."""
    import io

    import numpy as np
    from PIL import Image
    from selenium.webdriver.common.by import By

    browser.get((reports / "small" / "report.html").as_uri())
    blocks = browser.find_elements(By.CSS_SELECTOR, "section .math")
    assert len(blocks) == 4  # one per claim of the run, each with a statement in LaTeX
    for block in blocks:
        section = block.find_element(By.XPATH, "./ancestor::section")
        lines = block.find_elements(By.CSS_SELECTOR, ".math-line svg")
        assert lines, section.get_attribute("id")
        for svg in lines:
            width, height = browser.execute_script(
                "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", svg
            )
            assert width > 40 and 10 < height < 80
            # every glyph the formula uses is defined on the page (ids are per formula)
            missing = browser.execute_script(
                "return Array.from(arguments[0].querySelectorAll('use')).filter("
                "u => !document.getElementById("
                "(u.getAttribute('xlink:href') || u.getAttribute('href')).slice(1))).length;",
                svg,
            )
            assert missing == 0
        assert block.get_attribute("aria-label") in section.text  # the plain text follows
        browser.execute_script("arguments[0].scrollIntoView()", block)
        picture = Image.open(io.BytesIO(block.screenshot_as_png)).convert("L")
        dark = int((np.asarray(picture) < 100).sum())
        assert dark > 200, f"{section.get_attribute('id')}: the formula has no ink"
    blocks[1].screenshot(str(_screenshots(tmp_path) / "statement.png"))
    references = browser.find_elements(By.CSS_SELECTOR, "ul.references li")
    assert {r.get_attribute("id") for r in references} >= {"ref-liu2025deciphering"}
    link = browser.find_element(By.CSS_SELECTOR, "section a.ref")
    assert browser.find_element(By.ID, link.get_attribute("href").split("#", 1)[1])
    assert _severe(browser) == []
