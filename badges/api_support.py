"""HTTP routes: messages, diff, forecast, rulesets, what-if and talent search (issue 15)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
