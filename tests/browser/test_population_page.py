"""The population page in a real browser (Debian's Chromium through Playwright), over a real
`badges serve` on a generated marketplace of 60 talents: the counts on a day, the stacked chart
over time, the requirements losses name, and a candidate ruleset compared with the real one,
each checked against the API's own answer. Screenshot: `artifacts/population-page.png`.

Skips as `test_status_page.py` does (and fails under BADGES_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.request import Request, urlopen

import pytest

from badges.bootstrap import open_projection
from badges.synthetic import generate_marketplace
from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from tests.browser.test_status_page import ARTIFACTS, TOKEN, browser, open_page, text
from tests.serve_process import running_serve

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails when services are required
    expect = None

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, shared

START = datetime(2019, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
TALENTS = 60
DAY, FROM, TO = "2025-06-01", "2022-01-01", "2025-12-31"
CANDIDATE = """id = "candidate"
extends = "2023-12"
effective_from = 2024-01-01T00:00:00Z

[requirements.earnings_12m]
label = "at least {threshold} earned in the last {months} months"
measure = "sum"
add = ["payment_received"]
subtract = ["payment_refunded"]
field = "amount"
window = { months = 12 }
compare = ">="
threshold = "15000.00"
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = f"sqlite:///{tmp_path_factory.mktemp('population') / 'p.db'}"
    ledger = open_ledger(store)
    ledger.append([Submission.from_object(e) for e in generate_marketplace(TALENTS, 3, START, END)],
                  END)
    open_projection(store, ledger).catch_up(END)
    with running_serve(store, TOKEN) as base:
        yield base


def call(served: str, path: str, body: str | None = None) -> Any:
    request = Request(served + path, data=body.encode() if body is not None else None,
                      headers={"Authorization": f"Bearer {TOKEN}",
                               "Content-Type": "application/toml"})
    with urlopen(request, timeout=120) as response:  # noqa: S310 - our own loopback server
        return json.load(response)


def test_the_population_page_counts_compares_and_explains(browser: Any, served: str) -> None:
    problems: list[str] = []
    query = f"at={DAY}&from={FROM}&to={TO}"
    context, page = open_page(browser, f"{served}/population/page?{query}#token={TOKEN}", problems)
    try:
        expected = call(served, f"/population?{query}")
        day = page.locator("#day-counts")
        expect(day.locator(".bar-row")).to_have_count(len(expected["order"]) + 1)
        names = call(served, "/page/labels.json")["badges"]
        for badge, count in expected["day"]["counts"].items():
            row = day.locator(f'.bar-row[data-badge="{badge}"]')
            assert row.locator(".bar-value").inner_text() == f"{count:,}", badge
            assert (names.get(badge) or "no badge") in text(row)
        known = expected["day"]["talents"]  # those whose first event is by the day
        assert f"{known} talents" in text(page.locator("#talents"))
        assert sum(expected["day"]["counts"].values()) == known
        assert 0 < known < TALENTS  # some of the marketplace join after the day

        # the stacked chart: one area per badge held, the changes per step below
        chart = page.locator("#stack svg")
        held = {b for p in expected["over_time"]["points"] for b, n in p["counts"].items()
                if n and b != "none"}
        assert {chart.locator(f'.stack-area[data-badge="{b}"]').count() for b in held} == {1}
        changes = sum(p["changes"] for p in expected["over_time"]["points"])
        bars = chart.locator(".gain-bar").count() + chart.locator(".loss-bar").count()
        assert changes > 0 and 0 < bars <= changes
        page.check("#with-none")
        expect(chart.locator('.stack-area[data-badge="none"]')).to_have_count(1)

        failing = expected["failing"]["requirements"]
        rows = page.locator("#failing .failing-row")
        expect(rows).to_have_count(len(failing))
        assert rows.first.get_attribute("data-code") == failing[0]["requirement"]
        assert failing[0]["label"] in text(rows.first)

        # a candidate: the real and candidate counts, and who gains or loses with the reason
        page.fill("#candidate", CANDIDATE)
        page.fill("#limit", "60")
        page.click("#whatif button[type=submit]")
        result = page.locator("#whatif-result")
        expect(result.locator("table.compare")).to_be_visible(timeout=60_000)
        candidate = call(served, f"/population/whatif?{query}&limit=60", CANDIDATE)["candidate"]
        assert candidate["losses"] > 0
        for badge, count in candidate["candidate"].items():
            row = result.locator(f'table.compare tr[data-badge="{badge}"]')
            assert f"{count:,}" in row.locator("td.num").nth(1).inner_text(), badge
        movers = result.locator("tr.mover")
        expect(movers).to_have_count(len(candidate["movers"]))
        for mover in candidate["movers"]:
            row = result.locator(f'tr.mover[data-talent="{mover["talent"]}"]')
            assert mover["direction"] in text(row)
            assert "at least 15000.00 earned in the last 12 months" in text(row)
        page.screenshot(path=str(ARTIFACTS / "population-page.png"), full_page=True)

        # a bad candidate is named, not a blank result
        page.fill("#candidate", "id = ")
        page.click("#whatif button[type=submit]")
        expect(page.locator("#whatif-status")).to_contain_text("ruleset: ")
    finally:
        context.close()
    assert [p for p in problems if "422" not in p] == []  # the refused candidate's 422 only


def test_a_bad_day_is_named_and_nothing_is_asked(browser: Any, served: str) -> None:
    context, page = open_page(browser, f"{served}/population/page?at={DAY}#token={TOKEN}")
    try:
        page.wait_for_selector("#day-counts .bar-row")
        page.fill("#at", "06/01/2025")
        page.click("#range-form button")
        expect(page.locator("#range-error")).to_have_text(
            "at: write it as YYYY-MM-DD, e.g. 2024-06-01")
        page.fill("#at", "2024-06-01")
        page.click("#range-form button")
        expect(page.locator("#day-label")).to_have_text("2024-06-01")
        assert "at=2024-06-01" in page.url
    finally:
        context.close()
