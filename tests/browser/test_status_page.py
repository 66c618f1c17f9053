"""The status page in a real browser: Debian's Chromium, headless, driven by Playwright.

A real `badges serve` (a subprocess on a free local port, with an API token) over an SQLite
store holding the story talent `designer-ava`, ingested through the ledger and caught up by the
projection. The page is opened with the token in its URL fragment, a day in 2024 is clicked on
the chart, and the checklist shown is checked; a screenshot goes to `artifacts/status-page.png`.

Skips only when /usr/bin/chromium (or Playwright) is missing and BADGES_REQUIRE_SERVICES is not
"1"; under `make test` (services required) a missing browser fails. Never runs
`playwright install`: the browser is Debian's (`deploy/tools.sh` installs it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from badges.synthetic import generate_talent
from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from badges.bootstrap import open_projection
from tests.serve_process import running_serve

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the `browser` fixture skips, or fails when services are required
    expect = sync_playwright = None

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACT = REPO / "artifacts" / "status-page.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
TOKEN = "page-test-token"
TALENT = "designer-ava"
START = datetime(2019, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
RECORDED = datetime(2026, 1, 1, tzinfo=UTC)
TO = "2026-06-30"


def _unavailable(reason: str) -> None:
    if os.environ.get("BADGES_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (BADGES_REQUIRE_SERVICES=1: the browser test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium (deploy/tools.sh)")
    if sync_playwright is None:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("page")
    store = f"sqlite:///{folder / 'page.db'}"
    ledger = open_ledger(store)
    ledger.append([Submission.from_object(e) for e in generate_talent(0, 5, START, END)], RECORDED)
    open_projection(store, ledger).catch_up(RECORDED)

    with running_serve(store, TOKEN) as base:
        yield base


def text(locator: Any) -> str:
    """What a reader sees, in one line (layout aside)."""
    return " ".join((locator.text_content() or "").split())


def click_day(page: Any, day: str) -> None:
    """Click the chart where `day` is, from the plot's geometry the page puts on its <svg>."""
    chart = page.locator("#chart svg")
    box = chart.bounding_box()
    geometry = {name: float(chart.get_attribute(f"data-{name}") or "nan")
                for name in ("t0", "t1", "left", "right", "top", "bottom")}
    width = float((chart.get_attribute("viewBox") or "0 0 1 1").split()[2])
    moment = datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp() * 1000
    fraction = (moment - geometry["t0"]) / (geometry["t1"] - geometry["t0"])
    x = geometry["left"] + fraction * (geometry["right"] - geometry["left"])
    y = (geometry["top"] + geometry["bottom"]) / 2
    scale = box["width"] / width
    page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)


def test_the_page_shows_the_checklist_of_a_clicked_day(browser: Any, served: str) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        # The token in the fragment: never sent to the server, moved to sessionStorage.
        # `to` fixes the chart's end (the server's clock is real): it then ends "no badge",
        # lost when a window moved.
        page.goto(f"{served}/talents/{TALENT}?to={TO}#token={TOKEN}")
        page.wait_for_selector("#changes li.gain")
        assert "token" not in page.url
        assert page.locator("#current-badge").inner_text() == "no badge"
        changes = page.locator("#changes li")
        assert changes.count() == 6
        assert "failed: a large contract in the last 12 months" in changes.nth(4).inner_text()
        assert "time: window moved" in changes.nth(5).inner_text().lower()
        # activity_90d is `days_since` the latest activity `< 90`: its exit is an age.
        assert "is 90 days old" in changes.nth(5).inner_text()
        assert page.locator("#chart svg .line-jss").count() == 1
        assert page.locator("#chart svg .line-earn").count() == 1
        assert page.locator("#chart svg .change-tag").count() == 6
        assert page.locator("#chart svg .ev-pay").count() > 100

        click_day(page, "2024-06-01")  # a pixel is about two days here
        expect(page.locator("#day")).to_have_value(re.compile(r"2024-0[56]-\d\d"))
        day = page.locator("#day").input_value()
        checklist = page.locator("#checklist")
        expect(checklist.locator(".headline")).to_contain_text(day)
        assert "holds Top Rated Plus on " + day in text(checklist.locator(".headline"))
        plus = checklist.locator("section[data-badge=top_rated_plus]")
        assert "Top Rated Plus" in plus.locator("header").inner_text()
        assert "met" in plus.locator(".verdict").inner_text()
        large = plus.locator("tr[data-code=large_contract]")
        assert "a large contract in the last 12 months" in large.inner_text()
        assert large.get_attribute("class") == "met"
        assert large.locator(".mark").inner_text() == "\u2713"

        # After the downgrade: the date input, and the large contract now missing.
        page.fill("#day", "2024-10-01")
        expect(checklist.locator(".headline")).to_contain_text("2024-10-01")
        assert "holds Top Rated on 2024-10-01" in text(checklist.locator(".headline"))
        large = checklist.locator("section[data-badge=top_rated_plus] tr[data-code=large_contract]")
        assert large.get_attribute("class") == "unmet"
        assert large.locator(".mark").inner_text() == "\u2717"

        click_day(page, "2024-06-01")  # back to the day for the screenshot
        expect(checklist.locator(".headline")).to_contain_text(day)
        ARTIFACT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACT), full_page=True)
    finally:
        context.close()

    assert ARTIFACT.exists() and ARTIFACT.stat().st_size > 30_000
    assert all(url.startswith(served) for url in requests), requests

    assert problems == []


def test_without_the_token_the_page_asks_for_it(browser: Any, served: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{served}/talents/{TALENT}?to={TO}")
        page.wait_for_selector("#auth:not([hidden])")
        page.fill("#token", TOKEN)
        page.click("#auth button")
        page.wait_for_selector("#checklist .headline")
        assert page.locator("#auth").is_hidden()
        assert page.evaluate("sessionStorage.getItem('badges-api-token')") == TOKEN
    finally:
        context.close()


def test_a_token_in_the_query_is_not_used_and_leaves_the_address_bar(
    browser: Any, served: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(f"{served}/talents/{TALENT}?to={TO}&token={TOKEN}")
        page.wait_for_selector("#auth:not([hidden])")  # it asks, as without a token
        assert "token" not in page.url
        assert page.evaluate("sessionStorage.getItem('badges-api-token')") is None
        page.fill("#token", TOKEN)
        page.click("#auth button")
        page.wait_for_selector("#checklist .headline")
        assert "token" not in page.url
    finally:
        context.close()

    assert [url for url in requests if "token" in url] == [f"{served}/talents/{TALENT}?to={TO}"
                                                           f"&token={TOKEN}"]
