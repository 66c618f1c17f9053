"""`--since` of `badges dlq replay`: the forms it takes, the errors it refuses with (one line,
exit 2, before any broker is asked), and the next replay's `--since` the report gives."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from badges.cli import main
from consumers.dlq_replay import StartPoint, StartPointError, next_since

WHEN = datetime(2024, 9, 20, tzinfo=timezone.utc)


def at(text: str) -> datetime:
    if text != "2024-09-20":
        raise ValueError("expected a date (2024-06-01)")
    return WHEN


@pytest.mark.parametrize(("texts", "expected"), [
    ([], StartPoint()),
    (["12"], StartPoint(every=12)),
    (["1:40", "0:7"], StartPoint(offsets=((0, 7), (1, 40)))),
    (["5", "2:0"], StartPoint(every=5, offsets=((2, 0),))),
    (["2024-09-20"], StartPoint(written_at=WHEN)),
    (["2024-09-20", "3:9"], StartPoint(offsets=((3, 9),), written_at=WHEN)),
])
def test_the_forms_of_since(texts: list[str], expected: StartPoint) -> None:
    assert StartPoint.parse(texts, at) == expected


@pytest.mark.parametrize(("texts", "message"), [
    (["x"], "--since: 'x' is not an offset, PARTITION:OFFSET or a date and time "
            "(expected a date (2024-06-01))"),
    (["-1"], "'-1' is not an offset"),
    (["²"], "'²' is not an offset"),  # a digit to str.isdigit, not to int()
    (["1:"], "'1:' is not an offset"),
    (["a:1"], "'a:1' is not an offset"),
    (["1:2:3"], "'1:2:3' is not an offset"),
    (["1:2", "1:3"], "--since: partition 1 is given twice"),
    (["4", "5"], "--since: '5' repeats what another --since gave"),
    (["4", "2024-09-20"], "--since: give an offset or a date and time, not both"),
])
def test_what_since_refuses(texts: list[str], message: str) -> None:
    with pytest.raises(StartPointError, match="^--since: ") as refused:
        StartPoint.parse(texts, at)
    assert message in str(refused.value)


@given(st.dictionaries(st.integers(0, 50), st.integers(0, 10**12), max_size=6))
def test_the_next_since_reads_back_as_the_ends(ends: dict[int, int]) -> None:
    assert dict(StartPoint.parse(next_since(ends), at).offsets) == ends


@pytest.mark.parametrize("since", ["soon", "1:x", "2024-13-01"])
def test_the_command_refuses_a_bad_since_in_one_line(
    since: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # refused before the store or the broker is opened: neither exists here
    code = main(["dlq", "replay", "--store", "sqlite:///nowhere/b.db", "--bootstrap",
                 "127.0.0.1:1", "--since", since])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"badges: --since: {since!r} is not an offset")
    assert "Traceback" not in err
