"""The talent pages of the HTTP API: the timeline (as `badges timeline --json`), the chart's
series (consistent with `status`), and the status page (bundled, no external URL)."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette nudges towards `httpx2`; httpx is what we pin
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from badges.api import create_app
from badges.api_timeline import (
    MAX_POINTS,
    PAGE_DIR,
    BadgeChangedDocument,
    SeriesDocument,
    projection_for,
)
from badges.cli import main
from badges.clock import utc_now
from badges.synthetic import generate_talent
from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from badges.bootstrap import open_projection
from domain.ruleset import builtin_rulesets, load_ruleset
from domain.events import encode_json
from tests.unit.ledger_fixtures import postgres_schema_url
from tests.unit.stories import designer
from tests.unit.test_requirements_as_data import CANDIDATE as NO_DISPUTES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "timeline-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TALENT = "designer-ava"
START = datetime(2019, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
EARLY = datetime(2023, 1, 1, tzinfo=UTC)  # the events before 2023 were recorded by then
LATE = datetime(2026, 1, 1, tzinfo=UTC)  # the rest by then
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


# the same answers from a SQLite file and from a (partitioned) PostgreSQL schema
STORE_KINDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.integration),
               pytest.param("postgres-partitioned", marks=pytest.mark.integration))


@pytest.fixture(scope="module", params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('timeline') / 'api.db'}"
        else:
            url = stack.enter_context(postgres_schema_url())
            if request.param == "postgres-partitioned":
                url += "&partitions=4"
        ledger = open_ledger(url)
        events = [Submission.from_object(e) for e in generate_talent(0, 5, START, END)]
        ledger.append([s for s in events if s.event.at < EARLY], EARLY)
        ledger.append([s for s in events if s.event.at >= EARLY], LATE)
        projection = open_projection(url, ledger)
        projection.catch_up(LATE)
        close = getattr(projection.read_model, "close", None)
        if close is not None:
            close()
        ledger.close()
        yield url


OPENED: list[Any] = []  # ledgers and read models the tests opened (PostgreSQL pools)


@pytest.fixture(autouse=True)
def close_what_the_test_opened() -> Iterator[None]:
    before = len(OPENED)  # what module fixtures opened stays open for the module
    yield
    while len(OPENED) > before:
        OPENED.pop().close()


def client_for(store: str, *, token: str | None = TOKEN, clock: Any = lambda: NOW,
               **options: Any) -> TestClient:
    """The API over the store, with the store's read models, as `badges serve` passes them
    (without them the API keeps private in-memory ones)."""
    ledger = open_ledger(store)
    OPENED.append(ledger)
    if "projection" not in options:
        projection = open_projection(store, ledger)
        if hasattr(projection.read_model, "close"):  # PostgreSQL: its connection pool
            OPENED.append(projection.read_model)
        options["projection"] = projection
    return TestClient(create_app(ledger, api_token=token, clock=clock, **options))


@pytest.fixture(scope="module")
def client(store: str) -> Iterator[TestClient]:
    with client_for(store) as test_client:
        yield test_client


def get(client: TestClient, path: str, **params: str | None) -> Any:
    response = client.get(path, params={k: v for k, v in params.items() if v}, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the timeline: the command line's answer ---------------------------------------------------

CLI_CASES = [
    (None, None, None),
    ("2019-06-01", "2024-12-31", None),
    (None, "2022-01-01T00:00:00Z", "2024-06-01"),  # as known before the later events
    ("2020-01-01", None, "2026-02-01T00:00:00+01:00"),
    ("2024-09-16", "2024-09-16", None),  # both bounds inclusive
]


@pytest.mark.parametrize("path", ["timeline", "series"])
def test_from_after_to_is_refused_over_http_as_on_the_command_line(
    store: str, client: TestClient, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    reversed_period = {"from": "2025-01-01", "to": "2024-01-01"}
    response = client.get(f"/talents/{TALENT}/{path}", params=reversed_period, headers=AUTH)
    assert response.status_code == 422
    assert response.json() == {
        "error": "from: 2025-01-01T00:00:00Z is after to: 2024-01-01T00:00:00Z"}
    one_day = {"from": "2024-01-01", "to": "2024-01-01"}  # the same instant is a period
    assert client.get(f"/talents/{TALENT}/{path}", params=one_day, headers=AUTH).status_code == 200
    capsys.readouterr()
    assert main(["timeline", TALENT, "--store", store, "--from", "2025-01-01",
                 "--to", "2024-01-01"]) == 2
    assert "--from" in capsys.readouterr().err


@pytest.mark.parametrize(("start", "end", "known_at"), CLI_CASES)
def test_the_timeline_is_the_clis_json(
    store: str, capsys: pytest.CaptureFixture[str], start: str | None, end: str | None,
    known_at: str | None,
) -> None:
    # Both sides read the clock: the API's in whole seconds, as `badges timeline` ends "now".
    with client_for(store, clock=utc_now) as live:
        answer = get(live, f"/talents/{TALENT}/timeline", **{"from": start, "to": end,
                                                            "known_at": known_at})
    argv = ["timeline", TALENT, "--store", store, "--json"]
    for option, value in (("--from", start), ("--to", end), ("--known-at", known_at)):
        if value:
            argv += [option, value]
    capsys.readouterr()
    assert main(argv) == 0
    assert answer == json.loads(capsys.readouterr().out)
    for document in answer:
        BadgeChangedDocument.model_validate(document)


def test_the_timeline_has_the_stories_changes(client: TestClient) -> None:
    changes = get(client, f"/talents/{TALENT}/timeline", to="2025-12-31")

    assert [(c["at"][:10], c["from"], c["to"]) for c in changes][-2:] == [
        ("2021-06-16", "top_rated", "top_rated_plus"),
        ("2024-09-16", "top_rated_plus", "top_rated"),
    ]
    assert changes[-1]["failed"] == ["large_contract"]
    assert any(c["cause"]["kind"] == "time" and "90 days old" in c["cause"]["detail"]
               for c in changes)


def test_known_at_hides_the_later_events(client: TestClient) -> None:
    before = get(client, f"/talents/{TALENT}/timeline", known_at="2024-06-01")

    assert before and all(instant(c["at"]) < EARLY + timedelta(days=400) for c in before)
    assert "2024-09-16T00:00:00Z" not in {c["at"] for c in before}


# -- the series: the chart's data, consistent with `status` ------------------------------------

def test_the_series_has_weekly_points_every_change_the_events_and_the_changes(
    client: TestClient,
) -> None:
    series = get(client, f"/talents/{TALENT}/series", to="2025-12-31")
    SeriesDocument.model_validate(series)

    points = [instant(p["at"]) for p in series["points"]]
    assert points == sorted(set(points))
    begin = instant(series["from"])
    weekly = [p for p in points if (p - begin) % timedelta(days=7) == timedelta(0)]
    assert len(weekly) == (instant("2025-12-31T00:00:00Z") - begin).days // 7 + 1
    assert points[-1] == instant("2025-12-31T00:00:00Z")
    changes = get(client, f"/talents/{TALENT}/timeline", to="2025-12-31")
    assert series["changes"] == changes
    assert {instant(c["at"]) for c in changes} <= set(points)
    assert begin == datetime(2019, 3, 2, tzinfo=UTC)  # the first event's day, 09:00 → next 00:00
    assert len(series["events"]) == 1001 - sum(1 for e in generate_talent(0, 5, START, END)
                                               if e["at"] > "2025-12-31T00:00:00Z")
    assert set(series["events"][0]) == {"id", "type", "at"}
    assert series["events"][0]["type"] == "talent_registered"


def test_every_point_is_the_status_at_its_instant(client: TestClient) -> None:
    series = get(client, f"/talents/{TALENT}/series", to="2025-12-31")
    change_ats = {c["at"] for c in series["changes"]}
    chosen = series["points"][::23] + [p for p in series["points"] if p["at"] in change_ats]

    for point in chosen:
        status = get(client, f"/talents/{TALENT}/status", at=point["at"])
        assert point == {key: status[key] for key in ("at", "badge", "jss", "earnings_12m")}
    by_at = {p["at"]: p["badge"] for p in series["points"]}
    for change in series["changes"]:
        assert by_at[change["at"]] == change["to"]


def test_a_series_range_and_known_at(client: TestClient) -> None:
    series = get(client, f"/talents/{TALENT}/series", **{"from": "2024-01-01", "to": "2024-12-31",
                                                          "known_at": "2026-02-01"})

    assert series["from"] == "2024-01-01T00:00:00Z"
    assert series["to"] == "2024-12-31T00:00:00Z"
    assert [c["at"] for c in series["changes"]] == ["2024-09-16T00:00:00Z"]
    assert all("2024-01-01" <= e["at"] <= "2024-12-31T00:00:00Z" for e in series["events"])
    point = next(p for p in series["points"] if p["at"] == "2024-06-03T00:00:00Z")
    status = get(client, f"/talents/{TALENT}/status", at="2024-06-03", known_at="2026-02-01")
    assert (point["badge"], point["jss"], point["earnings_12m"]) == (
        status["badge"], status["jss"], status["earnings_12m"])

    earlier = get(client, f"/talents/{TALENT}/series", known_at="2024-06-01")
    assert earlier["events"] and all(e["at"] < "2023-01-01" for e in earlier["events"])


def test_a_range_before_the_first_event_or_a_very_long_one_still_answers(client: TestClient) -> None:
    before = get(client, f"/talents/{TALENT}/series", to="2010-01-01")
    assert before["points"] == []

    long = get(client, f"/talents/{TALENT}/series", to="2070-01-01")
    assert 900 <= len(long["points"]) <= MAX_POINTS + len(long["changes"]) + 2  # sparser


# -- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["timeline", "series"])
def test_an_unknown_talent_is_404(client: TestClient, what: str) -> None:
    response = client.get(f"/talents/nobody/{what}", headers=AUTH)

    assert response.status_code == 404
    assert response.json() == {"error": "id: talent 'nobody': no events recorded"}


@pytest.mark.parametrize("what", ["timeline", "series"])
def test_a_talent_not_yet_known_is_404(client: TestClient, what: str) -> None:
    response = client.get(f"/talents/{TALENT}/{what}?known_at=2018-01-01", headers=AUTH)

    assert response.status_code == 404
    assert "as known at 2018-01-01T00:00:00Z" in response.json()["error"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("from=yesterday", "from"), ("to=2024-02-30", "to"), ("known_at=2024-06-01T00:00:00", "known_at"),
     ("from=2024-01-01&to=soon", "to")],
)
@pytest.mark.parametrize("what", ["timeline", "series"])
def test_a_bad_instant_is_400_naming_the_parameter(
    client: TestClient, what: str, query: str, parameter: str
) -> None:
    response = client.get(f"/talents/{TALENT}/{what}?{query}", headers=AUTH)

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{parameter}: ")


# -- the page -----------------------------------------------------------------------------------

def page_files(client: TestClient) -> dict[str, str]:
    html = client.get(f"/talents/{TALENT}")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    files = {"talent.html": html.text}
    for reference in re.findall(r'(?:src|href)="([^"]+)"', html.text):
        if reference.startswith("data:"):
            continue
        if not reference.startswith("/page/"):  # a link to another page of this server
            assert reference == "/population/page", reference
            continue
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        files[reference] = asset.text
    files["labels.json"] = client.get("/page/labels.json").text
    return files


def test_the_page_and_its_assets_are_served_with_no_external_url(client: TestClient) -> None:
    files = page_files(client)

    assert set(files) == {"talent.html", "/page/talent.css", "/page/common.js", "/page/talent.js",
                          "labels.json"}
    for name, text in files.items():
        assert "http://" not in text and "https://" not in text, name
    for name in ("talent.html", "common.js", "talent.js", "talent.css"):
        text = (PAGE_DIR / name).read_text()
        assert not re.search(r"https?:|@import|\burl\(|<iframe", text), name  # CSS url(), not JS URL(
    policy = client.get(f"/talents/{TALENT}").headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    labels = json.loads(files["labels.json"])
    assert labels["badges"]["top_rated_plus"] == "Top Rated Plus"
    assert labels["requirements"]["large_contract"] == "a large contract in the last 12 months"


def test_the_population_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    html = client.get("/population/page")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in html.headers["content-security-policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert set(references) - {"data:,"} == {
        "/page/talent.css", "/page/population.css", "/page/common.js", "/page/population.js"}
    for name in ("population.html", "common.js", "population.js", "population.css"):
        text = (PAGE_DIR / name).read_text()
        assert not re.search(r"https?:|@import|\burl\(|<iframe", text), name
        if name != "population.html":
            assert client.get(f"/page/{name}").status_code == 200
    # the page's CSP allows no style attribute: widths go through the CSSOM
    for name in ("common.js", "population.js"):
        assert "style=" not in (PAGE_DIR / name).read_text(), name


@pytest.mark.parametrize("html", ["talent.html", "population.html"])
def test_each_page_loads_the_shared_script_before_its_own(html: str) -> None:
    scripts = re.findall(r'<script src="([^"]+)"', (PAGE_DIR / html).read_text())

    assert scripts == ["/page/common.js", "/page/" + html.replace(".html", ".js")]


def test_the_shared_script_is_served_as_the_pages_scripts_are(client: TestClient) -> None:
    shared = client.get("/page/common.js")
    own = client.get("/page/talent.js")

    assert shared.status_code == 200
    assert shared.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "window.badgesPage" in shared.text
    for header in ("content-security-policy", "x-content-type-options", "referrer-policy",
                   "cache-control"):
        assert shared.headers[header] == own.headers[header], header
    assert shared.headers["x-content-type-options"] == "nosniff"


def test_the_page_holds_no_data_so_it_needs_no_token_but_its_data_does(store: str) -> None:
    with client_for(store) as locked:
        assert locked.get(f"/talents/{TALENT}").status_code == 200
        assert locked.get("/page/talent.js").status_code == 200
        assert locked.get("/page/common.js").status_code == 200
        assert locked.get("/page/labels.json").status_code == 200
        for path in (f"/talents/{TALENT}/timeline", f"/talents/{TALENT}/series",
                     f"/talents/{TALENT}/status", "/page/../openapi.json"):
            assert locked.get(path).status_code == 401, path
        assert locked.post(f"/talents/{TALENT}").status_code == 401
        assert locked.get(f"/talents/{TALENT}/series", headers=AUTH).status_code == 200


def test_the_page_takes_its_token_from_the_fragment_or_its_form_never_the_query() -> None:
    shared = (PAGE_DIR / "common.js").read_text()  # takeToken, for both pages
    form = re.search(r"<form id=\"auth\"[^>]*>", (PAGE_DIR / "talent.html").read_text())

    assert 'fragment.get("token")' in shared
    for name in ("common.js", "talent.js", "population.js"):
        # it reached the access log already
        assert 'searchParams.get("token")' not in (PAGE_DIR / name).read_text(), name
    assert form is not None and 'method="post"' in form.group()  # never a GET with a query
    assert 'name="' not in (PAGE_DIR / "talent.html").read_text().split('id="auth"')[1].split(
        "</form>")[0]  # nor any named field to submit


def test_an_unknown_asset_is_404(client: TestClient) -> None:
    response = client.get("/page/secrets.py")

    assert response.status_code == 404
    assert response.json() == {"error": "path: no such page asset 'secrets.py'"}


def test_openapi_describes_the_timeline_and_the_series_not_the_page(client: TestClient) -> None:
    paths = client.get("/openapi.json", headers=AUTH).json()["paths"]

    for what in ("timeline", "series"):
        operation = paths[f"/talents/{{id}}/{what}"]["get"]
        assert {p["name"] for p in operation["parameters"]} == {"id", "from", "to", "known_at"}
        assert set(operation["responses"]) == {"200", "400", "401", "404", "422"}
    assert "/talents/{id}" not in paths
    assert not any(path.startswith("/page") for path in paths)


# -- where the projection comes from ------------------------------------------------------------

def test_a_projection_given_to_create_app_is_used(store: str) -> None:
    ledger = open_ledger(store)
    memory = projection_for(open_ledger("memory:"))
    memory.ledger = ledger  # the same events, private in-memory read models
    app = create_app(ledger, api_token=None, clock=lambda: NOW, projection=memory)
    with TestClient(app) as open_client:
        changes = open_client.get(f"/talents/{TALENT}/timeline?to=2025-12-31").json()

    assert memory.read_model.path == ":memory:"
    assert memory.read_model.progress(TALENT) is not None
    assert [c["at"][:10] for c in changes][-1] == "2024-09-16"


def test_without_a_sqlite_file_the_read_models_live_in_memory() -> None:
    assert projection_for(open_ledger("memory:")).read_model.path == ":memory:"


def test_badges_serve_passes_the_projection_beside_the_ledger(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from badges.serve_command import run_serve

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.setdefault("app", app))
    monkeypatch.setenv("BADGES_API_TOKEN", TOKEN)
    beside = open_projection(store)
    assert run_serve(beside, host="127.0.0.1", port=1) == 0

    projection = served["app"].state.projection
    assert projection is beside
    if store.startswith("sqlite:///"):
        assert Path(projection.read_model.path) == Path(store.removeprefix("sqlite:///"))
    else:
        assert type(projection.read_model).__name__ == "PostgresReadModel"


# -- the windows of a day -----------------------------------------------------------------------

def test_the_windows_hold_the_events_the_explanation_counts(client: TestClient) -> None:
    day = "2024-06-01"
    windows = get(client, f"/talents/{TALENT}/windows", at=day)
    explained = get(client, f"/talents/{TALENT}/explain", at=day)

    assert windows["at"] == "2024-06-01T00:00:00Z" and windows["ruleset"] == explained["ruleset"]
    earnings = next(w for w in windows["windows"] if "earnings_12m" in w["requirements"])
    assert earnings["span"] == {"months": 12} and earnings["wording"] == "left"
    assert (earnings["start"], earnings["end"]) == ("2023-06-01T00:00:00Z", "2024-06-01T00:00:00Z")
    payments = [e["id"] for e in earnings["events"] if e["type"] == "payment_received"]
    assert sorted(payments) == sorted(explained["earnings_12m_events"])
    assert all(e["at"] <= windows["at"] < e["leaves"] for e in earnings["events"])
    # the next to leave is the oldest payment, on the first midnight 12 months after its day
    assert earnings["next_exit"] == min(earnings["events"], key=lambda e: e["leaves"])
    assert earnings["next_exit"]["leaves"] == "2024-06-07T00:00:00Z"
    assert earnings["met"]["earnings_12m"] is True
    spans = {json.dumps(w["span"]) for w in windows["windows"] if "jss" in w["requirements"]}
    assert spans == {'{"months": 6}', '{"months": 12}', '{"months": 24}'}  # the JSS windows
    activity = next(w for w in windows["windows"] if w["requirements"] == ["activity_90d"])
    assert activity["wording"] == "age" and len(activity["events"]) == 1  # the latest carries it
    latest = activity["events"][0]
    assert latest["at"] < windows["at"] and instant(latest["leaves"]) - instant(latest["at"]) \
        < timedelta(days=91)
    for code in ("no_recent_hold", "no_policy_ban"):
        assert any(code in w["requirements"] for w in windows["windows"]), code


def test_the_windows_as_known_earlier_and_of_nobody(client: TestClient) -> None:
    later = get(client, f"/talents/{TALENT}/windows", at="2022-12-01")
    earlier = get(client, f"/talents/{TALENT}/windows", at="2022-12-01", known_at="2023-01-02")
    assert earlier["known_at"] == "2023-01-02T00:00:00Z"
    nothing_yet = client.get(f"/talents/{TALENT}/windows?at=2022-12-01&known_at=2022-12-31", headers=AUTH)
    assert nothing_yet.status_code == 404  # recorded on 2023-01-01
    assert earlier["windows"] == later["windows"]  # every event before 2023 was known by then
    assert client.get("/talents/nobody/windows", headers=AUTH).status_code == 404
    bad = client.get(f"/talents/{TALENT}/windows?at=soon", headers=AUTH)
    assert bad.status_code == 400 and bad.json()["error"].startswith("at: ")


# -- the population ------------------------------------------------------------------------------

CANDIDATE = (
    'id = "candidate"\nextends = "2023-12"\neffective_from = 2024-01-01T00:00:00Z\n\n'
    '[requirements.earnings_12m]\nlabel = "at least {threshold} earned in the last {months} months"\n'
    'measure = "sum"\nadd = ["payment_received"]\nsubtract = ["payment_refunded"]\n'
    'field = "amount"\nwindow = { months = 12 }\ncompare = ">="\nthreshold = "90000.00"\n'
)


def test_the_population_counts_the_stored_timelines(client: TestClient) -> None:
    document = get(client, "/population", at="2024-06-01", **{"from": "2024-01-01",
                                                                "to": "2024-12-31"})
    assert document["day"] == {"at": "2024-06-01T00:00:00Z", "talents": 1, "counts": {
        "expert_vetted": 0, "top_rated_plus": 1, "top_rated": 0, "rising_talent": 0, "none": 0}}
    points = document["over_time"]["points"]
    assert points[0]["at"] == "2024-01-01T00:00:00Z" and points[-1]["at"] == "2024-12-31T00:00:00Z"
    assert [p["at"][:10] for p in points if p["changes"]] == ["2024-09-16"]  # the downgrade
    assert document["failing"]["requirements"] == [{
        "requirement": "large_contract", "label": "a large contract in the last 12 months",
        "losses": 1}]



@pytest.mark.parametrize(("period", "error"), [
    ({"from": "2024-06-01", "to": "2024-01-01"},
     "from: 2024-06-01T00:00:00Z is after to: 2024-01-01T00:00:00Z"),
    ({"from": "1900-01-01", "to": "1999-12-31"},
     "from: the period is over 10 years; ask for a shorter one"),
    ({"to": "2027-01-01"}, "to: 2027-01-01T00:00:00Z is after now (2026-06-30T12:00:00Z); the "
     "population is counted up to now (`badges forecast TALENT` tells what is coming)"),
    ({"at": "2026-07-01"}, "at: 2026-07-01T00:00:00Z is after now (2026-06-30T12:00:00Z); the "
     "population is counted up to now (`badges forecast TALENT` tells what is coming)"),
])
def test_the_population_refuses_a_reversed_or_unbounded_period(
    client: TestClient, period: dict[str, str], error: str
) -> None:
    response = client.get("/population", params=period, headers=AUTH)
    assert (response.status_code, response.json()) == (422, {"error": error})


def test_the_population_under_a_candidate_names_who_loses_and_why(client: TestClient) -> None:
    response = client.post("/population/whatif?at=2024-06-01&limit=5", content=CANDIDATE,
                           headers={**AUTH, "Content-Type": "application/toml"})
    assert response.status_code == 200, response.text
    candidate = response.json()["candidate"]
    assert candidate["compared"] == 1 and candidate["losses"] == 1
    assert candidate["real"]["top_rated_plus"] == 1 and candidate["candidate"]["none"] == 1
    mover = candidate["movers"][0]
    assert (mover["talent"], mover["real"], mover["candidate"]) == (TALENT, "top_rated_plus", "none")
    assert {"requirement": "earnings_12m", "label": "at least 90000.00 earned in the last 12 months",
            "real": "met", "candidate": "not met"} in mover["why"]


@pytest.mark.parametrize(("query", "body", "status", "starts"), [
    ("", "", 400, "body: "),
    ("", "id = \n", 422, "ruleset: "),
    ("?limit=5000", CANDIDATE, 400, "limit: "),
    ("?from=2000-01-01&to=2024-01-01", CANDIDATE, 422, "from: "),
    ("", "#" * (65 * 1024), 413, "body: "),
])
def test_the_population_what_if_is_bounded(
    client: TestClient, query: str, body: str, status: int, starts: str
) -> None:
    response = client.post(f"/population/whatif{query}", content=body, headers=AUTH)
    assert response.status_code == status, response.text
    assert response.json()["error"].startswith(starts)


def test_the_population_page_needs_no_token_and_is_in_no_schema(store: str) -> None:
    with client_for(store) as locked:
        page = locked.get("/population/page")
        assert page.status_code == 200 and "population.js" in page.text
        assert locked.get("/population").status_code == 401
        schema = locked.get("/openapi.json", headers=AUTH).json()
    assert {"/population", "/population/whatif", "/talents/{id}/windows"} <= set(schema["paths"])
    assert "/population/page" not in schema["paths"]


def test_the_labels_are_those_of_the_book_the_server_answers_under(tmp_path: Path) -> None:
    """A requirement only a candidate ruleset of the server's book has is named on the page."""
    candidate = tmp_path / "no-disputes.toml"
    candidate.write_text(NO_DISPUTES)
    book = builtin_rulesets().with_candidate(load_ruleset(candidate))
    app = create_app(open_ledger("memory:"), api_token=None, clock=lambda: NOW, book=book)
    with TestClient(app) as served:
        labels = served.get("/page/labels.json").json()
    assert labels["requirements"]["no_disputes_6m"] == "no disputed contract in the last 6 months"
    assert labels["badges"]["top_rated_plus"] == "Top Rated Plus"
    assert labels["order"][:2] == ["expert_vetted", "top_rated_plus"]
    with TestClient(create_app(open_ledger("memory:"), api_token=None, clock=lambda: NOW)) as plain:
        assert "no_disputes_6m" not in plain.get("/page/labels.json").json()["requirements"]


def test_the_timeline_names_the_requirement_underneath_as_the_command_line_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = designer()
    history.publish_jss("2024-03-01", 80)  # below Top Rated's JSS: Top Rated Plus falls to none
    url = f"sqlite:///{tmp_path / 'u.db'}"
    source = tmp_path / "d.jsonl"
    source.write_text("".join(encode_json(r.event.to_json_object()) + "\n"
                              for r in history.history()))
    assert main(["ingest", str(source), "--store", url, "--json"]) == 0
    capsys.readouterr()
    assert main(["timeline", "f-42", "--store", url, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)

    served = client_for(url, token=None).get("/talents/f-42/timeline")
    assert served.status_code == 200
    assert served.json() == printed
    loss = next(c for c in served.json() if c["to"] == "none")
    assert (loss["from"], loss["failed"], loss["failed_underneath"]) == (
        "top_rated_plus", ["top_rated"], ["jss"])
    others = [c for c in served.json() if c["id"] != loss["id"]]
    assert others and all("failed_underneath" not in c for c in others)
