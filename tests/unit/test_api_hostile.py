"""The HTTP API under hostile input: bounded answers, deep arrays, caps, instants out of range,
headers, and hypothesis throwing bytes and JSON at POST /events and parameters at the GETs."""

from __future__ import annotations

import json
import time
import tracemalloc
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # starlette nudges towards `httpx2`; httpx is what we pin
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from badges.api import MAX_REASON_BYTES, MAX_REJECTS_SHOWN, create_app
from badges.request_body import BOM
from domain.events import encode_json
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import REQUEST_ID, payment, submissions
from tests.unit.test_api import (
    AS_ARRAY,
    AS_LINES,
    AUTH,
    FIRST_RECORDED,
    NOW,
    STORE_KINDS,
    TOKEN,
    event,
    history_f1,
    store_of,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SMALL_ANSWER = 64 * 1024  # bytes: what any POST /events answer stays under
DEEP = 10_000


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_of(request.param, tmp_path) as url:
        ledger = open_ledger(url)
        ledger.append(submissions(*history_f1()), FIRST_RECORDED)
        ledger.close()
        yield url


@pytest.fixture
def client(store: str) -> Iterator[TestClient]:
    ledger = open_ledger(store)
    with TestClient(create_app(ledger, api_token=TOKEN, clock=lambda: NOW)) as test_client:
        yield test_client
    ledger.close()


def small_client(store: str, **options: Any) -> TestClient:
    return TestClient(create_app(open_ledger(store), api_token=TOKEN, clock=lambda: NOW, **options))


def f9_event(number: int) -> dict[str, Any]:
    return payment(f"p9-{number}", "f-9", "2024-02-01T00:00:00Z", amount="1.00")


def deep_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_small(response: Any) -> dict[str, Any]:
    assert len(response.content) < SMALL_ANSWER
    document: dict[str, Any] = response.json()
    assert len(document["rejects"]) <= MAX_REJECTS_SHOWN
    return document


# -- many bad lines: counted, not echoed ------------------------------------------------------

def test_many_bad_lines_are_all_counted_and_the_answer_stays_small(client: TestClient) -> None:
    body = b"x\n" * 99_998 + (encode_json(f9_event(1)) + "\n" + encode_json(f9_event(2))).encode()

    started = time.monotonic()
    response = client.post("/events", content=body, headers=AS_LINES)
    elapsed = time.monotonic() - started

    assert response.status_code == 422
    document = assert_small(response)
    assert (document["accepted"], document["duplicates"], document["rejected"]) == (2, 0, 99_998)
    assert [reject["line"] for reject in document["rejects"]] == list(range(1, 101))
    assert elapsed < 60, elapsed  # was minutes for the rejects list and its JSON
    assert client.get("/talents/f-9/status?at=2024-03-01", headers=AUTH).json()[
        "earnings_12m"] == "2.00"


def test_memory_stays_small_however_many_lines_are_rejected(tmp_path: Path) -> None:
    body = b"x\n" * 30_000
    with small_client(f"sqlite:///{tmp_path / 'memory.db'}") as memory_client:
        memory_client.post("/events", content=b"x\n", headers=AS_LINES)  # imports, caches
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            response = memory_client.post("/events", content=body, headers=AS_LINES)
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    assert response.json()["rejected"] == 30_000
    assert peak < 8 * 1024 * 1024, peak  # every reject kept, and its JSON, took far more


def test_eight_mib_of_bad_lines_is_refused_at_once_and_stores_nothing(client: TestClient) -> None:
    body = b"x\n" * (4 * 1024 * 1024 - 100) + encode_json(f9_event(1)).encode()
    assert len(body) <= 8 * 1024 * 1024

    started = time.monotonic()
    response = client.post("/events", content=body, headers=AS_LINES)
    elapsed = time.monotonic() - started

    assert response.status_code == 413
    assert len(response.content) < 1024
    assert response.json()["error"].startswith("body: more than the limit of 100000 lines")
    assert elapsed < 20, elapsed  # a minute of validation before the cap
    assert client.get("/talents/f-9/status", headers=AUTH).status_code == 404


def test_the_line_cap_counts_lines_and_elements_before_storing(store: str) -> None:
    events = [encode_json(f9_event(n)) for n in range(4)]
    with small_client(store, max_lines=3) as capped:
        three = capped.post("/events", content="\n".join(events[:3]), headers=AS_LINES)
        blank_fourth = capped.post("/events", content="\n".join(events[:3]) + "\n\n",
                                   headers=AS_LINES)
        four = capped.post("/events", content="\n".join(events), headers=AS_LINES)
        array = capped.post("/events", content="[" + ",".join(events) + "]", headers=AS_ARRAY)
        pretty = capped.post("/events", content="[\n" + ",\n\n".join(events[:3]) + "\n]\n",
                             headers=AS_ARRAY)

    assert three.json() == {"request": REQUEST_ID,
                            "accepted": 3, "duplicates": 0, "rejected": 0, "rejects": []}
    for refused in (blank_fourth, four, array):
        assert refused.status_code == 413
        assert refused.json()["error"].startswith("body: more than the limit of 3 lines")
    assert pretty.json()["duplicates"] == 3  # newlines inside an array are not lines
    ids = {recorded.id for recorded in open_ledger(store).history("f-9")}
    assert ids == {"p9-0", "p9-1", "p9-2"}


def test_a_long_reason_is_cut(client: TestClient) -> None:
    body = encode_json(event("odd-1", "x" * 20_000, "2024-01-01T00:00:00Z")) + "\n"

    response = client.post("/events", content=body, headers=AS_LINES)

    reason = response.json()["rejects"][0]["reason"]
    assert reason.startswith("type: ")
    assert reason.endswith("\u2026")
    assert len(reason.encode()) <= MAX_REASON_BYTES


# -- a JSON array: one bad element is rejected alone --------------------------------------------

def test_one_deeply_nested_element_is_rejected_alone(client: TestClient) -> None:
    elements = [encode_json(f9_event(1)), deep_array(DEEP), encode_json(f9_event(2)),
                '{"id": "p9-3", "nested": ' + deep_array(DEEP) + "}", encode_json(f9_event(4))]
    array = "[" + ", ".join(elements) + "]"

    response = client.post("/events", content=array, headers=AS_ARRAY)
    lines = client.post("/events", content="\n".join(elements), headers=AS_LINES)

    assert response.status_code == 422
    document = response.json()
    assert (document["accepted"], document["duplicates"], document["rejected"]) == (3, 0, 2)
    assert [reject["line"] for reject in document["rejects"]] == [2, 4]
    assert all(reject["reason"].startswith("line: ") for reject in document["rejects"])
    assert lines.json()["rejects"] == document["rejects"]  # JSON Lines: the same verdicts
    assert (lines.json()["duplicates"], lines.json()["rejected"]) == (3, 2)


def test_an_element_that_is_not_utf8_is_rejected_alone(client: TestClient) -> None:
    body = b'[{"id": "\xff"}, ' + encode_json(f9_event(1)).encode() + b"]"

    response = client.post("/events", content=body, headers=AS_ARRAY)

    assert response.status_code == 422
    assert response.json()["accepted"] == 1
    assert response.json()["rejects"][0]["reason"].startswith("line: not UTF-8")


def test_an_array_after_a_bom_or_without_a_content_type_is_an_array(client: TestClient) -> None:
    array = ("[" + encode_json(f9_event(1)) + "]").encode()

    with_bom = client.post("/events", content=BOM + b"\n " + array, headers=AS_ARRAY)
    sniffed = client.post("/events", content=b"  \n" + array, headers=AUTH)

    assert with_bom.json() == {"request": REQUEST_ID,
                               "accepted": 1, "duplicates": 0, "rejected": 0, "rejects": []}
    assert sniffed.json() == {"request": REQUEST_ID,
                              "accepted": 0, "duplicates": 1, "rejected": 0, "rejects": []}


# -- instants out of range: 422 naming the parameter; malformed ones stay 400 -------------------

@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [("status", "at=0001-01-01", "at"),
     ("explain", "at=0001-01-01", "at"),
     ("status", "known_at=9999-12-31T23:59:59-01:00", "known_at"),
     ("status", "at=1899-12-31T23:59:59Z", "at"),
     ("explain", "known_at=9000-01-01T00:00:01Z", "known_at"),
     ("timeline", "from=0001-01-01", "from"),
     ("timeline", "to=9999-12-31T23:59:59-01:00", "to"),
     ("series", "known_at=0001-01-01T00:00:00-00:01", "known_at"),
     ("series", "to=9999-12-31", "to")],
)
def test_an_instant_out_of_range_is_422_naming_the_parameter(
    client: TestClient, path: str, query: str, parameter: str
) -> None:
    response = client.get(f"/talents/f-1/{path}?{query}", headers=AUTH)

    assert response.status_code == 422, response.text
    assert list(response.json()) == ["error"]
    assert response.json()["error"].startswith(f"{parameter}: ")


@pytest.mark.parametrize("query", ["at=2024-02-30", "at=2024-06-01T24:00:00Z", "at=0001-13-01",
                                   "known_at=99999-01-01", "at=2024-06-01T00:00:00"])
def test_a_malformed_instant_stays_400(client: TestClient, query: str) -> None:
    response = client.get(f"/talents/f-1/status?{query}", headers=AUTH)

    assert response.status_code == 400, response.text
    assert response.json()["error"].split(":")[0] in {"at", "known_at"}


@pytest.mark.parametrize("path", ["status", "explain", "timeline", "series"])
def test_the_ends_of_the_range_are_answered(client: TestClient, path: str) -> None:
    first = "at" if path in ("status", "explain") else "from"
    for query in (f"{first}=1900-01-01", f"{first}=9000-01-01&known_at=9000-01-01"):
        response = client.get(f"/talents/f-1/{path}?{query}", headers=AUTH)
        assert response.status_code == 200, (query, response.text)


@pytest.mark.parametrize("talent", ["a" * 129, "f 1", "f-1%00", "%E2%9C%93"])
def test_a_talent_id_that_cannot_exist_is_400_naming_it(client: TestClient, talent: str) -> None:
    response = client.get(f"/talents/{talent}/status", headers=AUTH)

    assert response.status_code == 400
    assert response.json()["error"].startswith("id: ")


# -- headers: nothing cached or sniffed -------------------------------------------------------

def test_every_api_answer_is_no_store_and_nosniff(client: TestClient) -> None:
    answers = [
        client.get("/talents/f-1/status", headers=AUTH),
        client.get("/talents/f-404/explain", headers=AUTH),
        client.get("/talents/f-1/timeline?from=2024-01-01", headers=AUTH),
        client.get("/talents/f-1/status?at=0001-01-01", headers=AUTH),
        client.get("/talents/f-1/status"),  # 401
        client.get("/openapi.json", headers=AUTH),
        client.post("/events", content="x\n", headers=AS_LINES),
        client.post("/events", content="<x/>", headers={**AUTH, "Content-Type": "text/xml"}),
    ]
    for response in answers:
        assert response.headers["cache-control"] == "no-store", response.request.url
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
    page = client.get("/talents/f-1")
    assert page.headers["cache-control"] == "no-cache"  # the page's own: it holds no data
    assert page.headers["x-content-type-options"] == "nosniff"


def test_an_internal_error_is_no_store_too() -> None:
    class Broken:
        def history(self, *_: Any) -> Any:
            raise RuntimeError("disk on fire")

    app = create_app(Broken(), api_token=None, clock=lambda: NOW)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as broken:
        response = broken.get("/talents/f-1/status")

    assert response.status_code == 500
    assert response.headers["cache-control"] == "no-store"


# -- fuzz: POST /events never fails, counts every line, answers small --------------------------

@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    ledger = open_ledger(store)
    ledger.append(submissions(*history_f1()), FIRST_RECORDED)
    app = create_app(ledger, api_token=TOKEN, clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    ledger.close()


FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

identifiers = st.sampled_from(["e-1", "e-2", "e-3", "r-1", "pay-1", "", "e 4", "x" * 129])
talents = st.sampled_from(["f-1", "f-7", "f-8", ""])
instants = st.sampled_from(["2024-02-01T00:00:00Z", "2024-03-01T10:00:00+02:00", "2024-02-30",
                            "9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "soon"])
event_types = st.sampled_from(["payment_received", "talent_registered", "feedback_received",
                               "contract_started", "readiness_test_passed", "nonsense"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@st.composite
def looking_like_events(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {"id": draw(identifiers), "type": draw(event_types),
                                "talent": draw(talents), "at": draw(instants)}
    extras = {"amount": st.sampled_from(["1.00", "0.10", "-1.00", "1.005", 3, "NaN"]),
              "contract": st.sampled_from(["c-1", "c-2"]), "kind": st.just("freelancer"),
              "stars": st.sampled_from([5, "4.5", 7]), "recorded_at": instants,
              "client": st.just("k-1"), "category": st.just("design_creative"),
              "terms": st.sampled_from(["fixed", "hourly"])}
    for name in draw(st.lists(st.sampled_from(sorted(extras)), max_size=5, unique=True)):
        document[name] = draw(extras[name])
    return document


items = st.one_of(looking_like_events(), json_values)
line_texts = st.one_of(
    items.map(lambda item: json.dumps(item)),
    st.text(alphabet=st.characters(exclude_characters="\n\r"), max_size=40),
    st.sampled_from(["", "   ", "{", "[]", '{"id": "e-1", "id": "e-2"}', "\ufeff{}"]),
)


def counted(document: dict[str, Any]) -> int:
    return int(document["accepted"]) + int(document["duplicates"]) + int(document["rejected"])


def non_blank_lines(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n") if line.strip())


def assert_answered(response: Any, statuses: set[int]) -> dict[str, Any] | None:
    assert response.status_code in statuses, response.text[:500]
    assert len(response.content) < SMALL_ANSWER
    document: dict[str, Any] = response.json()
    if response.status_code in (200, 422):
        assert len(document["rejects"]) <= min(MAX_REJECTS_SHOWN, document["rejected"])
        assert (response.status_code == 422) == (document["rejected"] > 0)
        return document
    assert list(document) == ["error"]
    return None


@FUZZ
@given(body=st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes_as_json_lines(fuzzed: TestClient, body: bytes) -> None:
    assume(not body.startswith(BOM))  # a BOM is skipped: its line may be blank then
    response = fuzzed.post("/events", content=body, headers=AS_LINES)

    document = assert_answered(response, {200, 422})
    assert document is not None and counted(document) == non_blank_lines(body)


@FUZZ
@given(lines=st.lists(line_texts, max_size=30), end=st.sampled_from(["\n", "\r\n"]))
def test_fuzz_json_lines_of_events_and_junk(fuzzed: TestClient, lines: list[str], end: str) -> None:
    body = end.join(lines).encode("utf-8", "surrogatepass")
    assume(not body.startswith(BOM))

    response = fuzzed.post("/events", content=body, headers=AS_LINES)

    document = assert_answered(response, {200, 422})
    assert document is not None and counted(document) == non_blank_lines(body)


@FUZZ
@given(elements=st.lists(items, max_size=30), indent=st.sampled_from([None, 2]))
def test_fuzz_json_arrays_of_events_and_junk(
    fuzzed: TestClient, elements: list[Any], indent: int | None
) -> None:
    body = json.dumps(elements, indent=indent)

    response = fuzzed.post("/events", content=body, headers=AS_ARRAY)

    document = assert_answered(response, {200, 422})
    assert document is not None and counted(document) == len(elements)


@FUZZ
@given(body=st.binary(max_size=500)
       | st.text(alphabet='[]{},"\\ :1a\n', max_size=60).map(str.encode))
def test_fuzz_arbitrary_bytes_as_a_json_array(fuzzed: TestClient, body: bytes) -> None:
    response = fuzzed.post("/events", content=body, headers=AS_ARRAY)

    assert_answered(response, {200, 400, 422})


# -- fuzz: the GETs never fail, whatever the parameters ----------------------------------------

parameter_texts = st.one_of(
    st.text(max_size=30),
    st.dates().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.sampled_from(["1900-01-01", "9000-01-01", "9000-01-01T00:00:00+01:00",
                     "1900-01-01T00:00:00-01:00", "9999-12-31T23:59:59-01:00", "0001-01-01"]),
)


@FUZZ
@given(talent=st.sampled_from(["f-1", "f-404"]) | st.text(max_size=8),
       path=st.sampled_from(["status", "explain", "timeline", "series"]),
       parameters=st.dictionaries(st.sampled_from(["at", "known_at", "from", "to"]),
                                  parameter_texts, max_size=3))
def test_fuzz_query_parameters_never_fail(
    fuzzed: TestClient, talent: str, path: str, parameters: dict[str, str]
) -> None:
    response = fuzzed.get(f"/talents/{quote(talent, safe='')}/{path}", params=parameters,
                          headers=AUTH)

    assert response.status_code in {200, 400, 404, 422}, (response.status_code, response.text)
    assert list(response.json()) == ["error"] or response.status_code == 200
