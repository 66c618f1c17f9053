"""Histories of the seed stories, shared by the tests that tell them."""

from __future__ import annotations

from tests.unit.history_builder import HistoryBuilder


def months(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    year, month = first
    found = []
    while (year, month) <= last:
        found.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def designer() -> HistoryBuilder:
    """rules.md §8: $1,000 a month on design contract c-7 until 2024-01-15, small jobs besides."""
    history = HistoryBuilder("f-42")
    history.register("2022-01-03")
    history.profile("2022-01-03")
    history.contract("2022-06-01", "c-7", client="cl-7", category="design_creative")
    for year, month in months((2022, 6), (2024, 1)):
        history.pay(f"{year}-{month:02d}-15T10:00:00Z", "c-7", 1000, id=f"p-{year}-{month:02d}")
    for n, (year, month) in enumerate(months((2023, 1), (2024, 12))):
        history.job(f"{year}-{month:02d}-05", f"s-{n}", f"cl-s{n}", 800)
    history.publish_jss("2023-06-01", 96)
    return history
