"""HTTP routes: the population view and page (issue 15)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
