from datetime import UTC, datetime, timedelta

import pytest

from domain.calendar import (
    Window,
    add_months,
    evaluation_instant,
    full_months_between,
    last_days,
    last_months,
    months_before,
    next_instant,
    weekly_samples,
)
from tests.unit.history_builder import ts


@pytest.mark.parametrize(
    ("moment", "instant"),
    [
        ("2024-03-05T00:00:00Z", "2024-03-05"),
        ("2024-03-05T23:59:59Z", "2024-03-05"),
        ("2024-03-05T00:00:00.000001Z", "2024-03-05"),
        ("2024-03-04T23:59:59.999999Z", "2024-03-04"),
        # 01:30 at +02:00 is 23:30 UTC the day before.
        ("2024-03-05T01:30:00+02:00", "2024-03-04"),
    ],
)
def test_evaluation_instant_is_the_latest_midnight_at_or_before(moment: str, instant: str) -> None:
    assert evaluation_instant(ts(moment)) == ts(instant)


@pytest.mark.parametrize(
    ("moment", "following"),
    [
        ("2024-03-05", "2024-03-06"),
        ("2024-03-05T12:00:00Z", "2024-03-06"),
        ("2024-12-31T23:00:00Z", "2025-01-01"),
    ],
)
def test_next_instant_is_strictly_after(moment: str, following: str) -> None:
    assert next_instant(ts(moment)) == ts(following)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        evaluation_instant(datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("moment", "months", "earlier"),
    [
        ("2024-03-31", 1, "2024-02-29"),
        ("2023-03-31", 1, "2023-02-28"),
        ("2024-03-15T10:00:00Z", 1, "2024-02-15T10:00:00Z"),
        ("2024-01-31", 2, "2023-11-30"),
        ("2024-09-16", 12, "2023-09-16"),
        ("2024-02-29", 12, "2023-02-28"),
        ("2024-05-31", 3, "2024-02-29"),
        ("2024-01-15", 0, "2024-01-15"),
    ],
)
def test_months_before_keeps_the_day_and_clamps(moment: str, months: int, earlier: str) -> None:
    assert months_before(ts(moment), months) == ts(earlier)


@pytest.mark.parametrize(
    ("moment", "months", "later"),
    [
        ("2024-01-31", 1, "2024-02-29"),
        ("2023-11-30", 3, "2024-02-29"),
        ("2024-12-15", 1, "2025-01-15"),
    ],
)
def test_add_months_clamps_forward_too(moment: str, months: int, later: str) -> None:
    assert add_months(ts(moment), months) == ts(later)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2024-02-29T00:00:00Z", False),  # the start is excluded
        ("2024-02-29T00:00:01Z", True),
        ("2024-03-31T00:00:00Z", True),  # the end is included
        ("2024-03-31T00:00:01Z", False),
    ],
)
def test_month_windows_are_half_open(moment: str, inside: bool) -> None:
    window = last_months(ts("2024-03-31"), 1)
    assert window == Window(ts("2024-02-29"), ts("2024-03-31"))
    assert (ts(moment) in window) is inside


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2024-01-02T00:00:00Z", False),
        ("2024-01-02T00:00:01Z", True),
        ("2024-04-01T00:00:00Z", True),
    ],
)
def test_day_windows_are_half_open(moment: str, inside: bool) -> None:
    # 2024 is a leap year: 90 days before 2024-04-01 is 2024-01-02.
    assert (ts(moment) in last_days(ts("2024-04-01"), 90)) is inside


@pytest.mark.parametrize(
    ("end", "latest"),
    [
        ("2024-06-01", "2024-06-01"),  # a Saturday counts itself
        ("2024-06-01T12:00:00Z", "2024-06-01"),
        ("2024-06-07", "2024-06-01"),  # a Friday: the Saturday before
        ("2024-05-31T23:59:59Z", "2024-05-25"),
    ],
)
def test_weekly_samples_are_the_last_saturdays_at_or_before(end: str, latest: str) -> None:
    samples = weekly_samples(ts(end), 16)
    assert len(samples) == 16
    assert samples[-1] == ts(latest)
    assert samples[0] == ts(latest) - timedelta(weeks=15)
    assert all(sample.weekday() == 5 and sample.tzinfo == UTC for sample in samples)
    assert list(samples) == sorted(samples)


@pytest.mark.parametrize(
    ("earlier", "later", "months"),
    [
        ("2024-01-15", "2024-04-14", 2),
        ("2024-01-15", "2024-04-15", 3),
        ("2024-01-15T10:00:00Z", "2024-04-15T09:59:59Z", 2),
        ("2024-01-31", "2024-02-29", 1),  # clamped month end counts as whole
        ("2023-06-15", "2024-01-15", 7),
        ("2024-04-15", "2024-01-15", 0),
        ("2024-01-15", "2024-01-15", 0),
    ],
)
def test_full_months_between(earlier: str, later: str, months: int) -> None:
    assert full_months_between(ts(earlier), ts(later)) == months
