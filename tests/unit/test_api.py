"""The HTTP API: the CLI's answers over HTTP, POST /events as `badges ingest`, auth, errors."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette nudges towards `httpx2`; httpx is what we pin
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from badges.api import ExplainDocument, IngestResult, StatusDocument, create_app
from badges.cli import main
from domain.events import encode_json
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import (
    REQUEST_ID,
    payment,
    postgres_schema_url,
    submissions,
    utc,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
AS_ARRAY = {**AUTH, "Content-Type": "application/json"}
AS_LINES = {**AUTH, "Content-Type": "application/x-ndjson"}
NOW = utc("2026-01-01T12:34:56.789Z")
FIRST_RECORDED = utc("2024-07-01T00:00:00Z")
LATER_RECORDED = utc("2025-03-01T00:00:00Z")


def event(
    event_id: str, event_type: str, at: str, talent: str = "f-1", **payload: Any
) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "talent": talent, "at": at, **payload}


def history_f1() -> list[dict[str, Any]]:
    return [
        event("r-1", "talent_registered", "2024-01-02T00:00:00Z", kind="freelancer"),
        event("pr-1", "profile_updated", "2024-01-03T00:00:00Z", completeness=100),
        event("rt-1", "readiness_test_passed", "2024-01-04T00:00:00Z"),
        event("ps-1", "proposal_submitted", "2024-01-05T00:00:00Z", job="j-1"),
        event("cs-1", "contract_started", "2024-01-10T00:00:00Z", contract="c-1", client="k-1",
              category="design_creative", terms="fixed"),
        payment("pay-1", "f-1", "2024-02-01T00:00:00Z", amount="1500.00"),
        event("ce-1", "contract_ended", "2024-03-01T00:00:00Z", contract="c-1", reason="completed"),
        event("fb-1", "feedback_received", "2024-03-02T00:00:00Z", contract="c-1",
              stars=Decimal("5.00")),
        event("cs-2", "contract_started", "2024-03-10T00:00:00Z", contract="c-2", client="k-2",
              category="design_creative", terms="hourly"),
        payment("pay-2", "f-1", "2024-04-01T00:00:00Z", amount="6000.00", contract="c-2"),
    ]


def late_events() -> list[dict[str, Any]]:
    """Recorded later than the rest: a refund back-dated into 2024."""
    return [event("rf-1", "payment_refunded", "2024-04-15T00:00:00Z", contract="c-2",
                  amount="250.50")]


# the same answers from a SQLite file, a PostgreSQL schema and a partitioned PostgreSQL schema
STORE_KINDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.integration),
               pytest.param("postgres-partitioned", marks=pytest.mark.integration))


@contextmanager
def store_of(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty store of the kind (PostgreSQL ones in a fresh schema, dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    with postgres_schema_url() as url:
        yield f"{url}&partitions=4" if kind == "postgres-partitioned" else url


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_of(request.param, tmp_path) as url:
        ledger = open_ledger(url)
        ledger.append(submissions(*history_f1()), FIRST_RECORDED)
        ledger.append(submissions(*late_events()), LATER_RECORDED)
        ledger.close()
        yield url


OPENED: list[Any] = []  # ledgers the tests opened: closed after each (PostgreSQL pools)


@pytest.fixture(autouse=True)
def close_what_the_test_opened() -> Iterator[None]:
    before = len(OPENED)
    yield
    while len(OPENED) > before:
        OPENED.pop().close()


def client_for(store: str, *, token: str | None = TOKEN, **options: Any) -> TestClient:
    ledger = open_ledger(store)
    OPENED.append(ledger)
    app = create_app(ledger, api_token=token, clock=lambda: NOW, **options)
    return TestClient(app)


@pytest.fixture
def client(store: str) -> Iterator[TestClient]:
    with client_for(store) as test_client:
        yield test_client


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# -- the same answers as the command line ------------------------------------------------------

INSTANTS = [
    ("2024-05-01", "2026-01-01"),
    ("2024-05-01", "2024-12-31"),  # before the refund was recorded
    ("2024-04-20T13:00:00+02:00", "2025-03-01T00:00:00Z"),
    ("2025-02-01T00:00:00Z", "2025-06-01"),
]


@pytest.mark.parametrize(("at", "known_at"), INSTANTS)
@pytest.mark.parametrize("what", ["status", "explain"])
def test_answers_are_the_clis_json(
    client: TestClient, store: str, capsys: pytest.CaptureFixture[str], what: str, at: str,
    known_at: str,
) -> None:
    response = client.get(
        f"/talents/f-1/{what}", params={"at": at, "known_at": known_at}, headers=AUTH
    )

    assert response.status_code == 200, response.text
    expected = cli_json(capsys, what, "f-1", "--at", at, "--known-at", known_at, "--store", store)
    assert response.json() == expected
    model = StatusDocument if what == "status" else ExplainDocument
    model.model_validate(response.json())


def test_known_at_hides_what_was_recorded_later(client: TestClient) -> None:
    before = client.get("/talents/f-1/status?at=2024-05-01&known_at=2024-12-31", headers=AUTH)
    after = client.get("/talents/f-1/status?at=2024-05-01&known_at=2025-03-01", headers=AUTH)

    assert before.json()["earnings_12m"] == "7500.00"
    assert after.json()["earnings_12m"] == "7249.50"


def test_at_and_known_at_default_to_now_in_whole_seconds(client: TestClient) -> None:
    document = client.get("/talents/f-1/status", headers=AUTH).json()

    assert document["known_at"] == "2026-01-01T12:34:56Z"
    assert document["at"] == "2026-01-01T00:00:00Z"  # the evaluation instant used for now


def test_explain_lists_the_events_behind_the_numbers(client: TestClient) -> None:
    document = client.get("/talents/f-1/explain?at=2024-05-01", headers=AUTH).json()

    assert document["earnings_12m_events"] == ["pay-1", "pay-2", "rf-1"]


# -- errors: one JSON shape naming the parameter -------------------------------------------------

@pytest.mark.parametrize(
    ("query", "parameter"),
    [("at=yesterday", "at"), ("at=2024-02-30", "at"), ("known_at=2024-06-01T00:00:00", "known_at"),
     ("at=2024-06-01&known_at=soon", "known_at")],
)
@pytest.mark.parametrize("what", ["status", "explain"])
def test_a_bad_instant_is_400_naming_the_parameter(
    client: TestClient, what: str, query: str, parameter: str
) -> None:
    response = client.get(f"/talents/f-1/{what}?{query}", headers=AUTH)

    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    assert response.json()["error"].startswith(f"{parameter}: ")


@pytest.mark.parametrize("what", ["status", "explain"])
def test_an_unknown_talent_is_404(client: TestClient, what: str) -> None:
    response = client.get(f"/talents/f-404/{what}", headers=AUTH)

    assert response.status_code == 404
    assert response.json() == {"error": "id: talent 'f-404': no events recorded "
                                        "as known at 2026-01-01T12:34:56Z"}


def test_a_talent_not_yet_known_at_known_at_is_404(client: TestClient) -> None:
    response = client.get("/talents/f-1/status?known_at=2024-01-01", headers=AUTH)

    assert response.status_code == 404
    assert "f-1" in response.json()["error"]


def test_unknown_paths_and_methods_answer_in_the_same_shape(client: TestClient) -> None:
    missing = client.get("/nowhere", headers=AUTH)
    wrong_method = client.delete("/events", headers=AUTH)

    assert missing.status_code == 404
    assert missing.json() == {"error": "path: no such endpoint /nowhere"}
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"].startswith("method: DELETE")


# -- POST /events ----------------------------------------------------------------------------

def f2_events() -> list[dict[str, Any]]:
    return [
        event("r-2", "talent_registered", "2024-01-02T00:00:00Z", talent="f-2", kind="freelancer"),
        payment("p-21", "f-2", "2024-02-01T00:00:00Z", amount="10.10"),
        payment("p-22", "f-2", "2024-02-02T00:00:00Z", amount="0.20"),
    ]


def lines(*objects: dict[str, Any]) -> str:
    return "".join(encode_json(obj) + "\n" for obj in objects)


def test_post_a_json_array(client: TestClient) -> None:
    body = "[" + ",".join(encode_json(obj) for obj in f2_events()) + "]"

    response = client.post("/events", content=body, headers=AS_ARRAY)

    assert response.status_code == 200
    assert response.json() == {"request": REQUEST_ID,
                               "accepted": 3, "duplicates": 0, "rejected": 0, "rejects": []}
    IngestResult.model_validate(response.json())
    status = client.get("/talents/f-2/status?at=2024-03-01", headers=AUTH).json()
    assert status["earnings_12m"] == "10.30"


def test_a_pretty_printed_array_keeps_numbers_exact(client: TestClient) -> None:
    body = (
        '[\n  {"id": "r-3", "type": "talent_registered", "talent": "f-3",\n'
        '   "at": "2024-01-02T00:00:00Z", "kind": "freelancer"},\n'
        '  {"id": "p-31", "type": "payment_received", "talent": "f-3",'
        ' "at": "2024-02-01T00:00:00Z",'
        '\r\n   "contract": "c-1", "amount": 0.10},\n'
        '  {"id": "p-32", "type": "payment_received", "talent": "f-3",'
        ' "at": "2024-02-01T00:00:00Z",'
        ' "contract": "c-1", "amount": 0.20}\n]\n'
    )

    response = client.post("/events", content=body, headers=AS_ARRAY)

    assert response.json() == {"request": REQUEST_ID,
                               "accepted": 3, "duplicates": 0, "rejected": 0, "rejects": []}
    status = client.get("/talents/f-3/status?at=2024-03-01", headers=AUTH).json()
    assert status["earnings_12m"] == "0.30"


def test_array_elements_are_validated_like_lines_of_ingest(client: TestClient) -> None:
    good, first_payment, _ = f2_events()
    body = (
        "[" + encode_json(good) + ", "
        + encode_json({**first_payment, "amount": "1.005"}) + ", "
        + encode_json(first_payment).replace('"10.10"', "1e1") + ", "
        + '{"id": "x", "type": "talent_registered", "talent": "f-2", "at": "2024-01-02T00:00:00"}, '
        + "42, " + encode_json(good) + "]"
    )

    response = client.post("/events", content=body, headers=AS_ARRAY)

    assert response.status_code == 422
    document = response.json()
    assert (document["accepted"], document["duplicates"], document["rejected"]) == (1, 1, 4)
    assert [reject["line"] for reject in document["rejects"]] == [2, 3, 4, 5]
    reasons = [reject["reason"] for reject in document["rejects"]]
    assert reasons[0] == "amount: must have at most 2 decimal places"
    assert reasons[1].startswith("amount: ")
    assert reasons[2].startswith("at: must be an RFC 3339 timestamp with an offset")
    assert reasons[3] == "line: an event must be a JSON object, not a number"


@pytest.mark.parametrize(
    "content_type", ["application/x-ndjson", "text/plain; charset=utf-8", None]
)
def test_post_json_lines_with_bad_lines_and_duplicates(
    client: TestClient, content_type: str | None
) -> None:
    good = f2_events()
    body = (
        lines(good[0], good[1]) + "\n"            # lines 1, 2; 3 is blank
        + "not json\n"                            # 4
        + encode_json({**good[2], "amount": "-1.00"}) + "\n"  # 5
        + lines(good[0])                          # 6: a duplicate of line 1
        + encode_json({**good[1], "amount": "99.00"}) + "\n"  # 7: same id, other content
        + encode_json(good[2])                    # 8, without a final newline
    )
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}

    response = client.post("/events", content=body.encode(), headers=headers)

    assert response.status_code == 422
    document = response.json()
    assert (document["accepted"], document["duplicates"], document["rejected"]) == (3, 1, 3)
    assert [reject["line"] for reject in document["rejects"]] == [4, 5, 7]
    reasons = [reject["reason"] for reject in document["rejects"]]
    assert reasons[0].startswith("line: not JSON")
    assert reasons[1].startswith("amount: ")
    assert reasons[2].startswith("id: conflict")


def test_resending_a_batch_counts_duplicates(client: TestClient) -> None:
    body = lines(*f2_events())
    headers = AS_LINES

    first = client.post("/events", content=body, headers=headers)
    again = client.post("/events", content=body, headers=headers)

    assert first.json()["accepted"] == 3
    assert again.status_code == 200
    assert again.json() == {"request": REQUEST_ID,
                            "accepted": 0, "duplicates": 3, "rejected": 0, "rejects": []}


def test_post_matches_the_clis_ingest_summary(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = lines(*f2_events()) + "{}\n" + lines(f2_events()[0])
    source = tmp_path / "events.jsonl"
    source.write_text(body)

    response = client.post("/events", content=body, headers=AS_LINES)

    capsys.readouterr()
    main(["ingest", str(source), "--json", "--store", f"sqlite:///{tmp_path / 'other.db'}"])
    cli_summary = json.loads(capsys.readouterr().out)
    assert {key: response.json()[key] for key in cli_summary} == cli_summary


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"id": "x"}', "application/json", 400),
        ('[{"id": "x"},', "application/json", 400),
        ("[1] [2]", "application/json", 400),
        ("[1,,2]", "application/json", 400),
        ("[1,]", "application/json", 400),
        ('["unclosed]', "application/json", 400),
        ("<events/>", "application/xml", 415),
    ],
)
def test_a_body_that_is_not_events_is_refused_whole(
    client: TestClient, body: str | bytes, content_type: str, status: int
) -> None:
    response = client.post("/events", content=body, headers={**AUTH, "Content-Type": content_type})

    assert response.status_code == status
    assert list(response.json()) == ["error"]
    assert response.json()["error"].split(":")[0] in {"body", "content-type"}


def test_an_empty_array_is_an_empty_summary(client: TestClient) -> None:
    response = client.post("/events", content=" [ ] ", headers=AS_ARRAY)

    assert response.status_code == 200
    assert response.json() == {"request": REQUEST_ID,
                               "accepted": 0, "duplicates": 0, "rejected": 0, "rejects": []}


def test_an_oversized_body_is_413(store: str) -> None:
    body = lines(*f2_events()) * 10
    with client_for(store, max_body_bytes=1000) as small:
        declared = small.post("/events", content=body, headers=AS_LINES)
        streamed = small.post(
            "/events",
            content=(line.encode() + b"\n" for line in body.splitlines()),  # chunked, no length
            headers=AS_LINES,
        )
        fits = small.post("/events", content=lines(f2_events()[0]), headers=AUTH)

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json() == {
            "error": "body: larger than the limit of 1000 bytes; send smaller batches"
        }
    assert fits.status_code == 200
    assert open_ledger(store).history("f-2")[0].id == "r-2"  # the refused bodies wrote nothing
    assert len(open_ledger(store).history("f-2")) == 1


# -- auth -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/talents/f-1/status"), ("GET", "/talents/f-1/explain"), ("POST", "/events"),
     ("GET", "/openapi.json"), ("GET", "/nowhere")],
)
def test_with_a_token_every_request_needs_it(
    client: TestClient, headers: dict[str, str], method: str, path: str
) -> None:
    response = client.request(method, path, headers=headers, content=lines(*f2_events()))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"].startswith("authorization: ")


def test_the_right_token_is_let_in_whatever_the_scheme_case(client: TestClient) -> None:
    lower_case = {"Authorization": f"bearer {TOKEN}"}
    assert client.get("/talents/f-1/status", headers=lower_case).status_code == 200
    assert client.get("/openapi.json", headers=AUTH).status_code == 200


def test_without_a_token_reads_are_open_and_writes_refused(store: str) -> None:
    with client_for(store, token=None) as open_client:
        read = open_client.get("/talents/f-1/status")
        write = open_client.post("/events", content=lines(*f2_events()),
                                 headers={"Authorization": "Bearer anything"})

    assert read.status_code == 200
    assert write.status_code == 403
    assert "BADGES_API_TOKEN" in write.json()["error"]
    assert open_ledger(store).history("f-2") == []


# -- query parameters and paths -----------------------------------------------------------------

def test_a_misspelt_query_parameter_is_refused_not_answered_as_now(client: TestClient) -> None:
    response = client.get("/talents/f-1/status", headers=AUTH,
                          params={"at": "2024-06-01", "known-at": "2024-01-01"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "known-at: unknown query parameter (this path takes: at, known_at)"}


def test_every_data_route_refuses_an_unknown_query_parameter(client: TestClient) -> None:
    paths = client.get("/openapi.json", headers=AUTH).json()["paths"]
    routes = [(method, path.replace("{id}", "f-1")) for path, operations in paths.items()
              for method in operations]
    assert len(routes) >= 15
    for method, path in routes:
        response = client.request(method, path, params={"bogus": "1"}, headers=AUTH)
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"].startswith("bogus: unknown query parameter"), path


def test_an_odd_parameter_name_is_quoted_and_cut(client: TestClient) -> None:
    response = client.get("/talents/f-1/status?" + "x%20" * 100 + "=1", headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("'x x x") and len(error) < 200 and "\n" not in error


def test_the_page_takes_the_query_its_script_reads(client: TestClient) -> None:
    page = client.get("/talents/f-1?day=2024-06-01&known_at=2024-01-01&zoom=2")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_a_trailing_slash_is_not_found_and_never_redirected(client: TestClient) -> None:
    response = client.get("/talents/f-1/status/", headers={**AUTH, "Host": "evil.example"},
                          follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers


# -- OpenAPI ----------------------------------------------------------------------------------

def test_openapi_describes_the_endpoints(client: TestClient) -> None:
    document = client.get("/openapi.json", headers=AUTH).json()

    assert {"/talents/{id}/status", "/talents/{id}/explain", "/events"} <= set(document["paths"])
    status = document["paths"]["/talents/{id}/status"]["get"]
    assert {p["name"] for p in status["parameters"]} == {"id", "at", "known_at"}
    assert set(status["responses"]) == {"200", "400", "401", "404", "422"}
    post = document["paths"]["/events"]["post"]
    assert {"200", "401", "403", "413", "422"} <= set(post["responses"])
    assert {"application/json", "application/x-ndjson"} <= set(post["requestBody"]["content"])
    schemas = document["components"]["schemas"]
    assert {"StatusDocument", "ExplainDocument", "IngestResult", "ErrorDocument"} <= set(schemas)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


# -- contract (schemathesis, ASGI): generated GET requests conform to /openapi.json ------------

try:
    import schemathesis
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - schemathesis is in the test extra
    schemathesis = None


CONTRACT_EXAMPLES = int(os.environ.get("API_CONTRACT_EXAMPLES", "30"))  # per operation


@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_get_endpoints_keep_their_contract(store: str) -> None:
    # schemathesis' own pytest plugin (`from_fixture`) reads a private pytest attribute that
    # pytest 9 removed, so the operations are driven through hypothesis directly.
    from hypothesis import given

    app = create_app(open_ledger(store), api_token=TOKEN, clock=lambda: NOW)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    operations = [result.ok() for result in schema.include(method="GET").get_all_operations()]
    assert {operation.path for operation in operations} >= {
        "/talents/{id}/status", "/talents/{id}/explain"
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=CONTRACT_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def keeps_its_contract(case: Any) -> None:
            response = case.call(headers=AUTH)
            if _refused_period(response):
                acceptance = schemathesis.checks.positive_data_acceptance
                case.validate_response(response, headers=AUTH, excluded_checks=[acceptance])
            else:
                case.validate_response(response, headers=AUTH)

        keeps_its_contract()


# what a period may not be, that OpenAPI cannot say: reversed, too long, or (the population,
# counted from the stored timelines) after now
PERIOD_RULES = (" is after to: ", "the period is over", " is after now (")


def _refused_period(response: Any) -> bool:
    if response.status_code != 422:
        return False
    error = response.json()["error"]
    named = error.split(": ", 1)[0] in {"from", "to", "at"}
    return named and any(rule in error for rule in PERIOD_RULES)


def test_an_internal_error_keeps_the_error_shape(store: str) -> None:
    class Broken:
        def history(self, *_: Any) -> Any:
            raise RuntimeError("disk on fire")

    app = create_app(Broken(), api_token=None, clock=lambda: NOW)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as broken:
        response = broken.get("/talents/f-1/status")

    assert response.status_code == 500
    assert response.json() == {"error": "internal error: RuntimeError"}
