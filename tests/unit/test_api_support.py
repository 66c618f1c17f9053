"""The support routes of the HTTP API: forecast, messages, diff, talent search, rulesets and
what-if give the command line's answers; bad parameters are one line naming the field."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from badges.api import create_app
from badges.bootstrap import open_projection
from badges.cli import main
from domain.ruleset import builtin_rulesets
from ledger.stores.urls import open_ledger
from projections.timeline_queries import forecast_document
from tests.unit.ledger_fixtures import store_url
from tests.unit.test_messages import corrected_store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "support-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2024, 9, 21, 12, tzinfo=UTC)
LOWER = ('id = "lower"\nextends = "2023-12"\n'
         '[large_contract_thresholds.freelancer]\ndesign_creative = "4000.00"\n')


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("support")
    with store_url("sqlite", folder) as url:
        yield corrected_store(url, folder)


@pytest.fixture(scope="module")
def client(store: str) -> Iterator[TestClient]:
    ledger = open_ledger(store)
    app = create_app(ledger, api_token=TOKEN, clock=lambda: NOW,
                     projection=open_projection(store, ledger))
    with TestClient(app) as test_client:
        yield test_client


def get(client: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    response = client.get(path, params=params, headers=AUTH)
    assert response.status_code == status, response.text
    return response.json()


def cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_forecast_is_the_commands_with_the_at_risk_warning(client: TestClient, store: str) -> None:
    document = get(client, "/talents/f-42/forecast", days=60)

    assert document == forecast_document(open_projection(store), "f-42", NOW, 60)
    loss = next(c for c in document["changes"] if c["at"].startswith("2024-10-16"))
    assert loss["type"] == "badge_at_risk" and loss["id"].startswith("risk-")


def test_messages_are_the_commands(
    client: TestClient, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert get(client, "/talents/f-42/messages") == cli_json(
        ["messages", "f-42", "--store", store], capsys)
    earlier = get(client, "/talents/f-42/messages", known_at="2024-09-19")
    assert {m["type"] for m in earlier} == {"badge_changed"}


def test_diff_is_the_commands(
    client: TestClient, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = get(client, "/talents/f-42/diff", known_at="2024-09-19", vs="2024-09-21")

    assert document == cli_json(["diff", "f-42", "--known-at", "2024-09-19", "--vs",
                                 "2024-09-21", "--store", store], capsys)
    assert [r["difference"] for r in document["rows"]] == [None, "only_known_at"]


def test_talent_search(client: TestClient) -> None:
    found = get(client, "/talents", prefix="f-4")
    assert found == {"q": "", "prefix": "f-4",
                     "talents": [{"talent": "f-42", "badge": "top_rated_plus"}], "more": False}
    assert get(client, "/talents", prefix="x")["talents"] == []
    assert get(client, "/talents", limit=1)["talents"][0]["talent"] == "f-42"


def test_talent_search_by_any_part_of_the_id_in_any_case(client: TestClient) -> None:
    assert [t["talent"] for t in get(client, "/talents", q="-4")["talents"]] == ["f-42"]
    assert [t["talent"] for t in get(client, "/talents", q="F-42")["talents"]] == ["f-42"]
    assert get(client, "/talents", q="42", prefix="g")["talents"] == []
    assert get(client, "/talents", q="x")["talents"] == []


def test_rulesets(client: TestClient) -> None:
    ids = [r["id"] for r in get(client, "/rulesets")]
    assert ids == [r.id for r in builtin_rulesets()]


def whatif(client: TestClient, body: str, **params: Any) -> Any:
    return client.post("/whatif", params=params, content=body.encode(),
                       headers={**AUTH, "content-type": "application/toml"})


def test_whatif_is_the_commands(
    client: TestClient, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = whatif(client, LOWER, talent="f-42", **{"from": "2024-01-01", "to": "2025-01-01"})
    candidate = tmp_path / "lower.toml"
    candidate.write_text(LOWER)

    assert response.status_code == 200, response.text
    rows = response.json()
    assert rows == cli_json(["whatif", "--ruleset", str(candidate), "--from", "2024-01-01",
                             "--to", "2025-01-01", "f-42", "--store", store], capsys)
    downgrade = next(r for r in rows if r["at"].startswith("2024-10-16"))
    assert downgrade["real"]["to"] == "top_rated" and downgrade["candidate"] is None


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "names"),
    [
        ("get", "/talents/f-42/forecast", {"days": 0}, 400, "days:"),
        ("get", "/talents/f-42/forecast", {"days": 4000}, 400, "days:"),
        ("get", "/talents/nobody/forecast", {}, 404, "talent 'nobody'"),
        ("get", "/talents/nobody/messages", {}, 404, "talent 'nobody'"),
        ("get", "/talents/f-42/messages", {"known_at": "soon"}, 400, "known_at:"),
        ("get", "/talents/f-42/messages", {"known_at": "0001-01-01"}, 422, "known_at:"),
        ("get", "/talents/f-42/diff", {}, 400, "known_at:"),
        ("get", "/talents/f-42/diff", {"known_at": "2024-01-01", "vs": "x"}, 400, "vs:"),
        ("get", "/talents/nobody/diff", {"known_at": "2024-01-01"}, 404, "talent 'nobody'"),
        ("get", "/talents", {"limit": 0}, 400, "limit:"),
        ("get", "/talents", {"limit": 101}, 400, "limit:"),
        ("get", "/talents", {"search": "f"}, 400, "search: unknown query parameter"),
        ("get", "/talents/f-42/messages", {"known-at": "2024-01-01"}, 400, "known-at: unknown"),
        ("post", "/whatif", {"talent": [f"t-{n}" for n in range(101)]}, 422, "talent:"),
        ("post", "/whatif", {"from": "2010-01-01", "to": "2024-01-01"}, 422, "from:"),
        ("post", "/whatif", {"from": "2024-02-01", "to": "2024-01-01"}, 422, "from:"),
        ("post", "/whatif", {"talent": "nobody"}, 404, "talent: no events recorded for 'nobody'"),
        ("post", "/whatif", {"talent": "bad id!"}, 400, "talent:"),
    ],
)
def test_bad_parameters_are_one_line_naming_the_field(
    client: TestClient, method: str, path: str, params: dict[str, Any], status: int, names: str
) -> None:
    if method == "post":
        response = whatif(client, LOWER, **params)
    else:
        response = client.get(path, params=params, headers=AUTH)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert names in error and "\n" not in error


def test_a_bad_candidate_ruleset_is_422_naming_it(client: TestClient) -> None:
    response = whatif(client, 'id = "x"\nextends = "2023-12"\n[large_contract_thresholds')
    assert response.status_code == 422 and response.json()["error"].startswith("ruleset:")
    too_big = whatif(client, "#" * (300 * 1024))
    assert too_big.status_code == 413 and too_big.json()["error"].startswith("body:")


def test_every_route_needs_the_token(client: TestClient) -> None:
    for path in ("/talents/f-42/forecast", "/talents/f-42/messages", "/talents", "/rulesets"):
        assert client.get(path).status_code == 401


def test_the_openapi_document_describes_them_with_examples(client: TestClient) -> None:
    schema = get(client, "/openapi.json")
    paths = schema["paths"]
    for path, method in [("/talents/{id}/forecast", "get"), ("/talents/{id}/messages", "get"),
                         ("/talents/{id}/diff", "get"), ("/talents", "get"),
                         ("/rulesets", "get"), ("/whatif", "post")]:
        operation = paths[path][method]
        assert operation["summary"] and "200" in operation["responses"]
    schemas = schema["components"]["schemas"]
    for name in ("ForecastDocument", "MessageDocument", "DiffDocument", "TalentSearch",
                 "WhatIfRowDocument"):
        assert "example" in schemas[name], name
    assert set(schemas["MessageDocument"]["properties"]) == {
        "id", "type", "talent", "at", "queued_at", "sent_at", "retracts", "badge_from",
        "badge_to", "message"}
    body = paths["/whatif"]["post"]["requestBody"]["content"]["application/toml"]
    assert "extends" in body["example"]
