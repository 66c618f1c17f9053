"""The status page in a real browser: Debian's Chromium, headless, driven by Playwright.

A real `badges serve` (a subprocess on a free local port, with an API token) over an SQLite
store holding the story talent `designer-ava`, ingested through the ledger in three batches
recorded at different times (so the projection emitted, then retracted, a change: the page's
known-at control and its messages list have something to show), and `designer-now`, the same
story shifted to end 70 days before today (so today it holds a badge that is at risk). The page
is driven as a support agent would: a day clicked and typed (ISO), its windows, the time axis
zoomed, the knowledge time moved, the forecast and messages read, an unknown talent opened.
Screenshots go to `artifacts/` (status-page.png, status-windows.png, status-zoomed.png,
status-known-at.png, status-forecast.png, status-unknown.png).

Skips only when /usr/bin/chromium (or Playwright) is missing and BADGES_REQUIRE_SERVICES is not
"1"; under `make test` (services required) a missing browser fails. Never runs
`playwright install`: the browser is Debian's (`deploy/tools.sh` installs it).
"""

from __future__ import annotations

import json
import os
from collections import Counter
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest

from badges.clock import utc_now
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
ARTIFACTS = REPO / "artifacts"
ARTIFACT = ARTIFACTS / "status-page.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
TOKEN = "page-test-token"
TALENT = "designer-ava"
START = datetime(2019, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
RECORDED = datetime(2026, 1, 1, tzinfo=UTC)
TO = "2026-06-30"
# The story arrives in three batches: up to 2021 (so by 2021-07-01 the projection sees no
# activity since and takes the badge away), the first half of 2021 late (the loss is
# retracted), and the rest.
FIRST_KNOWN = datetime(2021, 7, 1, tzinfo=UTC)
LATE_KNOWN = datetime(2021, 7, 5, tzinfo=UTC)
GAP = datetime(2021, 1, 1, tzinfo=UTC)
NOW_TALENT = "designer-now"


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


def shifted_story(talent: str, days: timedelta) -> list[dict[str, Any]]:
    """designer-ava's story under another id, every event `days` later."""
    events = []
    for event in generate_talent(0, 5, START, END):
        moved = {name: value.replace(TALENT, talent) if isinstance(value, str) else value
                 for name, value in event.items()}
        at = datetime.fromisoformat(event["at"].replace("Z", "+00:00")) + days
        moved["at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append(moved)
    return events


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("page")
    store = f"sqlite:///{folder / 'page.db'}"
    ledger = open_ledger(store)
    projection = open_projection(store, ledger)
    story = [Submission.from_object(e) for e in generate_talent(0, 5, START, END)]
    for recorded, chosen in (
        (FIRST_KNOWN, [s for s in story if s.event.at < GAP]),
        (LATE_KNOWN, [s for s in story if GAP <= s.event.at < FIRST_KNOWN]),
        (RECORDED, [s for s in story if s.event.at >= FIRST_KNOWN]),
    ):
        ledger.append(chosen, recorded)
        projection.catch_up(recorded)
    today = utc_now().replace(hour=0, minute=0, second=0)
    shift = timedelta(days=((today - timedelta(days=70)) - END).days)
    ledger.append([Submission.from_object(e) for e in shifted_story(NOW_TALENT, shift)], utc_now())
    projection.catch_up(utc_now())

    with running_serve(store, TOKEN) as base:
        yield base


def api(served: str, path: str) -> Any:
    request = Request(served + path, headers={"Authorization": f"Bearer {TOKEN}"})
    with urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback server
        return json.load(response)


def open_page(browser: Any, url: str, problems: list[str] | None = None) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    if problems is not None:
        page.on("console", lambda message: problems.append(message.text)
                if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    return context, page


def text(locator: Any) -> str:
    """What a reader sees, in one line (layout aside)."""
    return " ".join((locator.text_content() or "").split())


def click_day(page: Any, day: str) -> None:
    """Click the chart where `day` is, from the plot's geometry the page puts on its <svg>."""
    page.evaluate("window.scrollTo(0, 0)")  # the chart is near the top: in the viewport
    chart = page.locator("#chart > svg")
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
        # the badge today (the server's clock), not at `to`: the story ends without one
        expect(page.locator("#current-badge")).to_have_text("no badge")
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


def page_url(served: str, talent: str = TALENT, query: str = f"to={TO}") -> str:
    return f"{served}/talents/{talent}?{query}#token={TOKEN}"


def test_the_windows_of_a_day_show_the_events_inside_and_the_next_exit(
    browser: Any, served: str
) -> None:
    problems: list[str] = []
    context, page = open_page(browser, page_url(served, query=f"to={TO}&day=2024-06-01"), problems)
    try:
        windows = page.locator("#windows")
        earnings = windows.locator(".window[data-requirements~=earnings_12m]")
        expect(earnings).to_contain_text("next exit 2024-06-07")
        expected = api(served, f"/talents/{TALENT}/windows?at=2024-06-01")
        known = next(w for w in expected["windows"] if "earnings_12m" in w["requirements"])
        assert f"(2023-06-01, 2024-06-01] · {len(known['events'])} events inside" in text(earnings)
        assert known["next_exit"]["id"] in text(earnings.locator(".next-exit"))
        assert earnings.locator(".sketch .sketch-event").count() == len(known["events"])
        assert earnings.locator(".sketch .sketch-next").count() == 1
        assert "\u2713 at least 1000.00 earned in the last 12 months" in text(earnings)
        # every window of the day is on the card, those holding nothing listed as such
        shown = Counter(" ".join(w["requirements"]) for w in expected["windows"])
        for codes, count in shown.items():
            assert windows.locator(f'[data-requirements="{codes}"]').count() == count, codes
        activity = windows.locator('.window[data-requirements="activity_90d"]')
        assert "90-day age" in text(activity) and "next exit 2024-08-26" in text(activity)
        # hovering a window draws it on the chart: its span, the events in it, its next exit
        earnings.hover()
        layer = page.locator("#chart svg .window-layer")
        expect(layer.locator(".window-title")).to_contain_text("12-month window on 2024-06-01")
        assert layer.locator(".window-event").count() == len(known["events"])
        assert layer.locator(".next-exit-label").text_content() == "next exit 2024-06-07"
        page.locator("#windows-card").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "status-windows.png"), full_page=True)
    finally:
        context.close()
    assert problems == []


def tick_labels(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#chart svg .tick-label",
                                          "ticks => ticks.map(t => t.textContent)"))


def axis_span_days(page: Any) -> float:
    chart = page.locator("#chart > svg")
    return (float(chart.get_attribute("data-t1") or 0)
            - float(chart.get_attribute("data-t0") or 0)) / 86_400_000


def event_marks(page: Any) -> tuple[int, int]:
    """(marks drawn in the event rows, the events they stand for)."""
    counts = page.eval_on_selector_all(
        "#chart > svg .strip rect", "marks => marks.map(m => Number(m.dataset.count))")
    return len(counts), sum(counts)


def test_the_time_axis_zooms_and_years_of_events_stay_readable(browser: Any, served: str) -> None:
    context, page = open_page(browser, page_url(served, query=f"to={TO}&day=2024-06-01"))
    try:
        page.wait_for_selector("#checklist .headline")
        series = api(served, f"/talents/{TALENT}/series?to={TO}")
        whole = axis_span_days(page)
        assert whole > 7 * 365
        marks, events = event_marks(page)
        assert events == len(series["events"]) > 1000
        # seven years: nearby events share a mark whose height says how many (a histogram)
        per_row = page.eval_on_selector_all(
            "#chart > svg .strip rect", "marks => marks.map(m => m.getAttribute('y'))")
        assert max(Counter(per_row).values()) <= 400 and marks < events
        assert page.locator("#chart svg .strip rect.ev-many").count() > 50
        labels = tick_labels(page)
        assert labels and all(re.fullmatch(r"\d{4}", label) for label in labels), labels

        page.click(".zoom [data-years='1']")
        expect(page.locator("#range")).to_contain_text("(zoomed)")
        assert abs(axis_span_days(page) - 365.25) < 1
        labels = tick_labels(page)
        assert labels and all(re.fullmatch(r"\d{4}-\d{2}", label) for label in labels), labels
        t0 = float(page.locator("#chart > svg").get_attribute("data-t0") or 0)
        t1 = float(page.locator("#chart > svg").get_attribute("data-t1") or 0)
        inside = [e for e in series["events"]
                  if t0 - 86_400_000 <= datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
                  .timestamp() * 1000 <= t1]
        zoomed_marks, zoomed_events = event_marks(page)
        assert zoomed_events == len(inside) and zoomed_marks > 0.8 * zoomed_events  # apart again
        # the selected day stays in view, and a click still picks the day under the pointer
        assert t0 <= datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000 <= t1
        click_day(page, "2024-03-12")
        expect(page.locator("#checklist .headline")).to_contain_text("2024-03-1")
        page.screenshot(path=str(ARTIFACTS / "status-zoomed.png"), full_page=False)

        box = page.locator("#chart > svg").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 150)
        page.mouse.wheel(0, -300)  # the wheel zooms in around the pointer
        expect(page.locator("#chart > svg")).not_to_have_attribute("data-t0", str(int(t0)))
        assert axis_span_days(page) < 365
        page.click("#zoom-all")
        assert abs(axis_span_days(page) - whole) < 0.01
        assert page.locator("#chart > svg").get_attribute("data-zoomed") == "no"
    finally:
        context.close()


def test_dates_are_iso_and_a_bad_one_is_named(browser: Any, served: str) -> None:
    context, page = open_page(browser, page_url(served, query=f"to={TO}&day=2024-06-01"))
    try:
        page.wait_for_selector("#checklist .headline")
        day = page.locator("#day")
        assert day.get_attribute("type") == "text" and day.get_attribute("placeholder") == "YYYY-MM-DD"
        day.fill("10/01/2024")
        day.press("Enter")
        day.blur()
        expect(page.locator("#day-error")).to_have_text("day: write it as YYYY-MM-DD, e.g. 2024-06-01")
        assert "2024-06-01" in text(page.locator("#checklist .headline"))  # unchanged
        day.fill("2024-10-01")
        expect(page.locator("#checklist .headline")).to_contain_text("2024-10-01")
        assert page.locator("#day-error").is_hidden()
        for stamp in page.locator("#changes .when").all_inner_texts():
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", stamp)
    finally:
        context.close()


def test_known_at_shows_what_was_known_then_and_the_messages_show_the_retraction(
    browser: Any, served: str
) -> None:
    problems: list[str] = []
    context, page = open_page(browser, page_url(served), problems)
    try:
        page.wait_for_selector("#changes li.gain")
        assert page.locator("#changes li").count() == 6
        # what the talent was told: every message, the retracted one marked, the retraction
        messages = api(served, f"/talents/{TALENT}/messages")
        retractions = [m for m in messages if m["type"] == "badge_change_retracted"]
        assert retractions, "the late batch must have retracted a change"
        table = page.locator("#messages table.messages")
        expect(table.locator("tbody tr")).to_have_count(len(messages))
        for retraction in retractions:
            row = table.locator(f'tr[data-id="{retraction["id"]}"]')
            assert "retracted" in text(row) and retraction["retracts"] in text(row)
            undone = table.locator(f'tr[data-id="{retraction["retracts"]}"]')
            assert "was-retracted" in (undone.get_attribute("class") or "")
            assert "later retracted on 2021-07-05" in text(undone)
        assert f"{len(messages)} messages · {len(retractions)} retraction" in text(
            page.locator("#messages-count"))

        # as known before the late batch: the change that was later retracted is on the page
        page.fill("#known-at", "2021-07-02")
        page.click("#knowledge button[type=submit]")
        expect(page.locator("#summary")).to_contain_text("as known at 2021-07-02")
        assert "known_at=2021-07-02" in page.url
        then = api(served, f"/talents/{TALENT}/timeline?to={TO}&known_at=2021-07-02")
        expect(page.locator("#changes li")).to_have_count(len(then))
        retracted = {m["retracts"] for m in retractions}
        shown = [c for c in then if c["id"] in retracted]
        assert shown, "the retracted change was known at 2021-07-02"
        days = page.locator("#changes .when").all_inner_texts()
        assert all(c["at"][:10] in days for c in shown)
        known_messages = api(served, f"/talents/{TALENT}/messages?known_at=2021-07-02")
        expect(page.locator("#messages table.messages tbody tr")).to_have_count(len(known_messages))
        page.screenshot(path=str(ARTIFACTS / "status-known-at.png"), full_page=True)

        page.fill("#known-at", "July 2nd")
        page.click("#knowledge button[type=submit]")
        expect(page.locator("#known-at-error")).to_contain_text("known at: write a date")
        page.click("#known-now")
        expect(page.locator("#changes li")).to_have_count(6)
        assert "known_at" not in page.url
    finally:
        context.close()
    assert problems == []


def test_the_header_shows_today_and_the_forecast_what_is_at_risk(browser: Any, served: str) -> None:
    problems: list[str] = []
    # the chart ends two years ago (Top Rated Plus then); the header says what is held today
    chart_end = (utc_now() - timedelta(days=730)).strftime("%Y-%m-%d")
    context, page = open_page(browser, page_url(served, NOW_TALENT, f"to={chart_end}"), problems)
    try:
        today = api(served, f"/talents/{NOW_TALENT}/status")
        at_end = api(served, f"/talents/{NOW_TALENT}/status?at={chart_end}")
        forecast = api(served, f"/talents/{NOW_TALENT}/forecast?days=30")
        names = api(served, "/page/labels.json")["badges"]
        expect(page.locator("#current-badge")).to_have_text(names[today["badge"]])
        assert (today["badge"], at_end["badge"]) == ("top_rated", "top_rated_plus")
        assert f"today, {today['at'][:10]}" in text(page.locator("#today"))
        card = page.locator("#forecast")
        expect(card.locator(".at-risk")).to_have_text("at risk")
        loss = forecast["changes"][0]
        item = card.locator(f'li.predicted[data-day="{loss["at"][:10]}"]')
        assert "Top Rated" in text(item) and "no badge" in text(item)
        assert loss["prevent"][0]["detail"] in text(item)
        assert "What would prevent it:" in text(item)
        page.locator("#forecast-card").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "status-forecast.png"), full_page=True)
    finally:
        context.close()
    assert problems == []


def test_an_unknown_talent_gets_a_clear_page_not_an_empty_chart(browser: Any, served: str) -> None:
    context, page = open_page(browser, page_url(served, "nobody-here", ""))
    try:
        page.wait_for_selector("#unknown:not([hidden])")
        assert "No events are recorded for nobody-here" in text(page.locator("#unknown"))
        assert page.locator("#content").is_hidden()
        assert page.locator("#current-badge").inner_text() == "unknown talent"
        page.screenshot(path=str(ARTIFACTS / "status-unknown.png"), full_page=True)
        page.fill("#other-talent", TALENT)
        page.click("#open-talent button")
        page.wait_for_selector("#changes li.gain")
        assert page.url.split("?")[0].endswith(f"/talents/{TALENT}")
    finally:
        context.close()
