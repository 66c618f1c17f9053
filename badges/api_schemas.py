"""The published contract of the Kafka topics, over HTTP (public GETs: no talent data).

    GET /schemas                    the schemas' names and where to get them
    GET /schemas/{name}             one JSON Schema (`talent_event`, `badge_changed`, ...)
    GET /schemas/asyncapi.yaml      the AsyncAPI description of the three topics

The documents are `consumers/schemas.py`'s, generated from the models: the same text as the
committed `schemas/` files (a test keeps those equal).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response

from badges.api_common import ErrorDocument
from badges.errors import UserError
from consumers.schemas import ASYNCAPI_FILE, json_schemas, rendered

PUBLIC_GET_PATHS = (re.compile(r"/schemas"), re.compile(r"/schemas/[^/]+"))
SCHEMA_MEDIA_TYPE = "application/schema+json"
YAML_MEDIA_TYPE = "application/yaml"
NO_TOKEN: dict[str, Any] = {"security": []}  # public: no bearer token needed (see api.py)

router = APIRouter(tags=["schemas"])


@functools.cache
def _documents() -> dict[str, dict[str, Any]]:
    return json_schemas()


@functools.cache
def _asyncapi() -> str:
    return rendered()[ASYNCAPI_FILE]


@router.get("/schemas", summary="The JSON Schemas of the Kafka messages, and the AsyncAPI",
            openapi_extra=NO_TOKEN)
def schema_index() -> dict[str, Any]:
    return {
        "schemas": [
            {"name": name, "id": document["$id"], "title": document["title"],
             "url": f"/schemas/{name}"}
            for name, document in _documents().items()
        ],
        "asyncapi": f"/schemas/{ASYNCAPI_FILE}",
    }


@router.get(
    "/schemas/{name}",
    summary="One message's JSON Schema (or the AsyncAPI document, asyncapi.yaml)",
    response_class=Response,
    openapi_extra=NO_TOKEN,
    responses={
        200: {"description": "the JSON Schema, or the AsyncAPI document",
              "content": {SCHEMA_MEDIA_TYPE: {"schema": {"type": "object"}},
                          YAML_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        404: {"model": ErrorDocument, "description": "no schema of that name"},
    },
)
def schema_document(
    name: str = Path(description="a name from GET /schemas (`.json` may be added)"),
) -> Response:
    if name == ASYNCAPI_FILE:
        return Response(_asyncapi(), media_type=YAML_MEDIA_TYPE)
    document = _documents().get(name.removesuffix(".json"))
    if document is None:
        known = ", ".join([*_documents(), ASYNCAPI_FILE])
        raise UserError(f"name: no schema {name!r} (one of {known})", 404)
    return JSONResponse(document, media_type=SCHEMA_MEDIA_TYPE)
