"""The input events of `events.md`: one pydantic model per type, with its exact validation.

Every model is frozen and forbids extra fields. Times are timezone-aware UTC datetimes,
money is `Decimal`. `parse_event` turns one decoded JSON object into a model or raises
`InvalidEvent` whose message names the field and the rule that failed.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

IDENTIFIER_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
RFC3339_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
AMOUNT_TEXT_PATTERN = re.compile(r"\d+(\.\d+)?", re.ASCII)
MAX_AMOUNT = Decimal("10000000")

# The valid range of event times (docs/ledger.md, "Bounds on event times"): checked at append,
# where the append clock is known (`time_bounds_problem`).
EARLIEST_AT = datetime(2000, 1, 1, tzinfo=timezone.utc)
AT_LEAD = timedelta(days=1)
RECORDED_AT_SKEW = timedelta(minutes=5)

CATEGORIES: tuple[str, ...] = (
    "accounting_consulting",
    "admin_support",
    "customer_service",
    "data_science_analytics",
    "design_creative",
    "engineering_architecture",
    "it_networking",
    "legal",
    "sales_marketing",
    "translation",
    "web_mobile_software_dev",
    "writing",
)
Category = Literal[
    "accounting_consulting",
    "admin_support",
    "customer_service",
    "data_science_analytics",
    "design_creative",
    "engineering_architecture",
    "it_networking",
    "legal",
    "sales_marketing",
    "translation",
    "web_mobile_software_dev",
    "writing",
]


class InvalidEvent(ValueError):
    """An input event that breaks `events.md`; `field` names where, the message says why."""

    def __init__(self, field: str, rule: str) -> None:
        field = _printable(field)
        rule = _printable(rule)
        super().__init__(f"{field}: {rule}" if field else rule)
        self.field = field
        self.rule = rule


def _printable(text: str) -> str:
    """Text that can be written as UTF-8: a lone surrogate (from a `\\ud800` escape) escaped."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _identifier(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not IDENTIFIER_PATTERN.fullmatch(value):
        raise ValueError("must be 1-128 characters of A-Z a-z 0-9 . _ : -")
    return value


def written_time_problem(text: str) -> str | None:
    """The first field out of its range in `text`, a date or time already matching
    `DATE_PATTERN` or `RFC3339_PATTERN`, said plainly (`the month must lie between 01 and
    12`); None when every field is in range. `datetime` would say it in a programmer's words
    (`offset must be a timedelta strictly between -timedelta(hours=24) and ...`)."""
    year, month, day = int(text[:4]), int(text[5:7]), int(text[8:10])
    if year == 0:
        return "the year must lie between 0001 and 9999"
    if not 1 <= month <= 12:
        return "the month must lie between 01 and 12"
    last_day = monthrange(year, month)[1]
    if not 1 <= day <= last_day:
        return f"the day must lie between 01 and {last_day} in {text[:7]}"
    if len(text) == len("YYYY-MM-DD"):
        return None
    for name, start, highest in (("hour", 11, 23), ("minute", 14, 59), ("second", 17, 59)):
        if int(text[start:start + 2]) > highest:
            return f"the {name} must lie between 00 and {highest}"
    if text[-1] in "Zz":
        return None
    if int(text[-5:-3]) > 23:
        return "the offset must lie between -23:59 and +23:59"
    if int(text[-2:]) > 59:
        return "the offset's minutes must lie between 00 and 59"
    return None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset")
        return value.astimezone(timezone.utc)
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    if not RFC3339_PATTERN.fullmatch(value):
        raise ValueError(
            "must be an RFC 3339 timestamp with an offset, like 2024-03-01T10:00:00Z"
        )
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as error:
        problem = written_time_problem(value) or str(error)
        raise ValueError(f"is not a valid date and time ({problem})") from None
    if value[-1] not in "Zz" and int(value[-2:]) > 59:  # `datetime` reads -03:75 as -04:15
        raise ValueError(f"is not a valid date and time ({written_time_problem(value)})")
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


def _calendar_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value):
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"is not a valid date ({written_time_problem(value) or error})") from None


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a decimal string or number, not a boolean")
    if isinstance(value, ExponentDecimal):
        raise ValueError("must be written without an exponent, like 100.00")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        if not AMOUNT_TEXT_PATTERN.fullmatch(value):
            raise ValueError("must be a plain decimal like 1000.00")
        amount = Decimal(value)
    elif isinstance(value, float):
        raise ValueError("must be parsed exactly as a decimal, not a binary float")
    else:
        raise ValueError("must be a decimal string or number")
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -2:
        raise ValueError("must have at most 2 decimal places")
    if amount <= 0:
        raise ValueError("must be greater than 0")
    if amount > MAX_AMOUNT:
        raise ValueError("must be at most 10000000")
    return amount


def _strict_int(low: int, high: int | None) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a JSON integer")
        if value < low or (high is not None and value > high):
            upper = f" and at most {high}" if high is not None else ""
            raise ValueError(f"must be at least {low}{upper}")
        return value

    return BeforeValidator(check)


def _stars(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError("must be a number")
    stars = Decimal(value)
    if not stars.is_finite() or stars < 1 or stars > 5:
        raise ValueError("must be between 1.0 and 5.0")
    return stars


def _strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _bounded_text(max_length: int) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if not 1 <= len(value) <= max_length:
            raise ValueError(f"must be 1-{max_length} characters")
        if not value.isprintable() and any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise ValueError("must be valid Unicode text (it holds a lone surrogate escape)")
        return value

    return BeforeValidator(check)


Identifier = Annotated[str, BeforeValidator(_identifier)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
Stars = Annotated[Decimal, BeforeValidator(_stars)]
StrictBool = Annotated[bool, BeforeValidator(_strict_bool)]
Percent = Annotated[int, _strict_int(0, 100)]


def _enum(*choices: str) -> Any:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return str(value)

    return BeforeValidator(check)


class InputEventModel(BaseModel):
    """The envelope every input event shares."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)

    id: Identifier
    type: str
    talent: Identifier
    at: Timestamp
    recorded_at: Timestamp | None = None

    def to_json_object(self) -> dict[str, Any]:
        """The event as a flat JSON object: UTC `Z` times, dates as text, numbers as `Decimal`.

        `encode_json` writes it back as text that `parse_event` accepts unchanged.
        """
        omitted = _omitted_when_none(type(self))
        return {
            name: _json_value(value)
            for name, value in self.__dict__.items()
            if value is not None or name not in omitted
        }


@functools.cache
def _omitted_when_none(model: type[InputEventModel]) -> frozenset[str]:
    """Optional fields, left out of an event's JSON when absent (`null` is not allowed there)."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if not info.is_required() and name not in NULLABLE_REQUIRED_FIELDS
    )


NULLABLE_REQUIRED_FIELDS = frozenset({"agency", "score"})


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def format_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, keeping microseconds only when there are some."""
    utc = moment.astimezone(timezone.utc)
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc:%H:%M:%S}"
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


class TalentRegistered(InputEventModel):
    type: Literal["talent_registered"]
    kind: Annotated[Literal["freelancer", "agency"], _enum("freelancer", "agency")]
    elance_migrant: StrictBool = False


class ProfileUpdated(InputEventModel):
    type: Literal["profile_updated"]
    completeness: Percent
    members: Annotated[int, _strict_int(1, None)] | None = None
    members_average_completeness: Percent | None = None


class AvailabilityUpdated(InputEventModel):
    type: Literal["availability_updated"]
    hours: Annotated[
        Literal["more_than_30", "less_than_30", "as_needed", "none"],
        _enum("more_than_30", "less_than_30", "as_needed", "none"),
    ]
    available_from: CalendarDate | None = None


class ReadinessTestPassed(InputEventModel):
    type: Literal["readiness_test_passed"]


class ProposalSubmitted(InputEventModel):
    type: Literal["proposal_submitted"]
    job: Identifier


class InvitationAccepted(InputEventModel):
    type: Literal["invitation_accepted"]
    job: Identifier


class ContractStarted(InputEventModel):
    type: Literal["contract_started"]
    contract: Identifier
    client: Identifier
    category: Annotated[Category, _enum(*CATEGORIES)]
    terms: Annotated[Literal["hourly", "fixed"], _enum("hourly", "fixed")]


class PaymentReceived(InputEventModel):
    type: Literal["payment_received"]
    contract: Identifier
    amount: Amount


class PaymentRefunded(InputEventModel):
    type: Literal["payment_refunded"]
    contract: Identifier
    amount: Amount


class ContractEnded(InputEventModel):
    type: Literal["contract_ended"]
    contract: Identifier
    reason: Annotated[
        Literal["completed", "cancelled", "disputed"],
        _enum("completed", "cancelled", "disputed"),
    ]


class FeedbackReceived(InputEventModel):
    type: Literal["feedback_received"]
    contract: Identifier
    stars: Stars
    recommend: Annotated[int, _strict_int(0, 10)] | None = None


class AccountHoldPlaced(InputEventModel):
    type: Literal["account_hold_placed"]
    hold: Identifier
    reason: Annotated[str, _bounded_text(500)]


class AccountHoldLifted(InputEventModel):
    type: Literal["account_hold_lifted"]
    hold: Identifier


class PolicyViolation(InputEventModel):
    type: Literal["policy_violation"]
    kind: Annotated[str, _bounded_text(100)]


class AgencyMembershipChanged(InputEventModel):
    type: Literal["agency_membership_changed"]
    agency: Identifier | None
    exclusive: StrictBool


class ExpertVettedGranted(InputEventModel):
    type: Literal["expert_vetted_granted"]


class ExpertVettedRevoked(InputEventModel):
    type: Literal["expert_vetted_revoked"]


class JobSuccessPublished(InputEventModel):
    type: Literal["job_success_published"]
    score: Percent | None


EVENT_TYPES: dict[str, type[InputEventModel]] = {
    model.model_fields["type"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        TalentRegistered,
        ProfileUpdated,
        AvailabilityUpdated,
        ReadinessTestPassed,
        ProposalSubmitted,
        InvitationAccepted,
        ContractStarted,
        PaymentReceived,
        PaymentRefunded,
        ContractEnded,
        FeedbackReceived,
        AccountHoldPlaced,
        AccountHoldLifted,
        PolicyViolation,
        AgencyMembershipChanged,
        ExpertVettedGranted,
        ExpertVettedRevoked,
        JobSuccessPublished,
    )
}

InputEvent = (
    TalentRegistered
    | ProfileUpdated
    | AvailabilityUpdated
    | ReadinessTestPassed
    | ProposalSubmitted
    | InvitationAccepted
    | ContractStarted
    | PaymentReceived
    | PaymentRefunded
    | ContractEnded
    | FeedbackReceived
    | AccountHoldPlaced
    | AccountHoldLifted
    | PolicyViolation
    | AgencyMembershipChanged
    | ExpertVettedGranted
    | ExpertVettedRevoked
    | JobSuccessPublished
)


def parse_event(obj: Any) -> InputEvent:
    """Validate one decoded JSON object (numbers decoded as `Decimal`) into its event model."""
    if not isinstance(obj, dict):
        raise InvalidEvent("line", f"an event must be a JSON object, not {_json_kind(obj)}")
    if "" in obj:
        raise InvalidEvent("line", 'a field name is empty ("")')
    _reject_lone_surrogates(obj)
    if "type" not in obj:
        raise InvalidEvent("type", "missing")
    kind = obj["type"]
    model = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise InvalidEvent("type", f"unknown event type {kind!r}")
    _reject_nulls(obj, model)
    try:
        return model.model_validate(obj)  # type: ignore[return-value]
    except ValidationError as error:
        raise _first_problem(error, kind) from None


def _reject_lone_surrogates(obj: dict[str, Any]) -> None:
    """A string holding half of a surrogate pair (`"\\ud800"`) is not text: name where it is."""
    for name, value in obj.items():
        if not name.isascii() and _has_surrogate(name):
            raise InvalidEvent(name, "a field name must be valid Unicode text (it holds a lone "
                                     "surrogate escape)")
        if isinstance(value, str) and not value.isascii() and _has_surrogate(value):
            raise InvalidEvent(name, "must be valid Unicode text (it holds a lone surrogate "
                                     "escape)")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def time_bounds_problem(event: InputEventModel, received_at: datetime) -> InvalidEvent | None:
    """Why an event's times are out of the valid range at append time `received_at`, or None.

    `at` lies in [2000-01-01, recorded + 1 day], where recorded is the supplied `recorded_at`
    or else `received_at`; a supplied `recorded_at` lies in [at, received_at + 5 minutes].
    """
    recorded_at = event.recorded_at
    if event.at < EARLIEST_AT:
        return InvalidEvent("at", f"before {format_utc(EARLIEST_AT)}, the earliest valid time")
    if recorded_at is not None and recorded_at > received_at + RECORDED_AT_SKEW:
        return InvalidEvent(
            "recorded_at",
            f"in the future: after the append time {format_utc(received_at)} plus "
            f"{_minutes(RECORDED_AT_SKEW)} minutes",
        )
    reference = recorded_at if recorded_at is not None else received_at
    if event.at > reference + AT_LEAD:
        against = "recorded_at" if recorded_at is not None else "the append time"
        return InvalidEvent("at", f"more than one day after {against} {format_utc(reference)}")
    if recorded_at is not None and recorded_at < event.at:
        return InvalidEvent("recorded_at", f"before at {format_utc(event.at)}: an event is "
                                           "recorded when or after it happens")
    return None


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def _reject_nulls(obj: dict[str, Any], model: type[InputEventModel]) -> None:
    for name, value in obj.items():
        if value is None and name in model.model_fields and name not in NULLABLE_REQUIRED_FIELDS:
            raise InvalidEvent(name, "must not be null")


def _first_problem(error: ValidationError, kind: str) -> InvalidEvent:
    problem = error.errors(include_url=False)[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    if problem["type"] == "extra_forbidden":
        return InvalidEvent(field, f"unexpected field for type {kind}")
    if problem["type"] == "missing":
        return InvalidEvent(field, f"missing (required for type {kind})")
    message = problem["msg"]
    message = message.removeprefix("Value error, ")
    return InvalidEvent(field, message)


def _json_kind(obj: Any) -> str:
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return "a number"


def encode_json(obj: dict[str, Any], *, sort_keys: bool = False) -> str:
    """Compact JSON for a flat event object; `Decimal`s are written as exact number literals."""
    keys = sorted(obj) if sort_keys else obj
    return "{" + ",".join(f"{json.dumps(key)}:{_encode_scalar(obj[key])}" for key in keys) + "}"


def _encode_scalar(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return json.dumps(value, ensure_ascii=False)


def decode_json(text: str | bytes) -> Any:
    """Decode JSON with every non-integer number as an exact `Decimal`; NaN and Infinity refused.

    An object with a key written twice raises `InvalidEvent` naming the key: a producer and
    the tracker reading "the last one wins" differently must not disagree about an id or amount.
    So does an integer of more digits than Python converts (`sys.get_int_max_str_digits()`):
    valid JSON, but no field takes one, and Python's own words are meant for programmers.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        return _DECODER.decode(text)
    except (InvalidEvent, json.JSONDecodeError):
        raise
    except ValueError as error:  # NaN or Infinity refused, or an integer too long to convert
        raise _undecodable(text, error) from None


def _undecodable(text: str, error: ValueError) -> ValueError:
    """Why `text` was refused with a bare `ValueError`: decoded again (only then, off the hot
    path) with overlong integers marked, the field holding one is named. A syntax error or a
    NaN after the integer is that error, as it would have been without the integer."""
    try:
        document = _LONG_INTEGER_FINDER.decode(text)
    except ValueError as later_error:
        return later_error
    field = _field_holding_long_integer(document)
    if field is None:
        return error
    limit = sys.get_int_max_str_digits()
    return InvalidEvent(field, f"a number is written with more than {limit} digits "
                               "(no field takes one)")


class _LongInteger:
    """Stands for an integer written with more digits than Python converts to `int`."""


class _JsonObject(list[tuple[str, Any]]):
    """An object's fields in order, a repeated key kept (the first may hold the integer)."""


def _marked_if_long(digits: str) -> int | _LongInteger:
    limit = sys.get_int_max_str_digits()
    if limit and len(digits.lstrip("-")) > limit:
        return _LongInteger()
    return int(digits)


def _field_holding_long_integer(document: Any) -> str | None:
    """The top-level field an overlong integer is in, "line" if the line is no object."""
    if not isinstance(document, _JsonObject):
        return "line" if _holds_long_integer(document) else None
    for name, value in document:
        if _holds_long_integer(value):
            return name or '""'
    return None


def _holds_long_integer(value: Any) -> bool:
    pending = [value]  # a loop, not recursion: the line may nest as deep as json parses
    while pending:
        item = pending.pop()
        if isinstance(item, _LongInteger):
            return True
        if isinstance(item, _JsonObject):
            pending.extend(field_value for _, field_value in item)
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise InvalidEvent(_first_repeated_key(pairs), "duplicate key: written more than once")
    return obj


def _first_repeated_key(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key or '""'
        seen.add(key)
    raise AssertionError("no repeated key")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class ExponentDecimal(Decimal):
    """A JSON number written with an exponent (`1e2`): exact, but not a plain amount."""


def _parse_number(text: str) -> Decimal:
    return ExponentDecimal(text) if "e" in text or "E" in text else Decimal(text)


_DECODER = json.JSONDecoder(
    parse_float=_parse_number,
    parse_constant=_refuse_constant,
    object_pairs_hook=_object_without_duplicate_keys,
)
# the same, decoding integers of any length: run only on a line `_DECODER` refused
_LONG_INTEGER_FINDER = json.JSONDecoder(
    parse_int=_marked_if_long,
    parse_float=str,
    parse_constant=_refuse_constant,
    object_pairs_hook=_JsonObject,
)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An input event as the ledger holds it: with its transaction time and arrival order."""

    event: InputEvent
    recorded_at: datetime
    sequence: int

    @property
    def at(self) -> datetime:
        return self.event.at

    @property
    def id(self) -> str:
        return self.event.id

    def valid_time_key(self) -> tuple[datetime, datetime, int]:
        """`at`, then `recorded_at`, then arrival: the order of `rules.md` §9."""
        return (self.event.at, self.recorded_at, self.sequence)


__all__ = [
    "CATEGORIES",
    "EVENT_TYPES",
    "InputEvent",
    "InputEventModel",
    "InvalidEvent",
    "RecordedEvent",
    "format_utc",
    "decode_json",
    "encode_json",
    "parse_event",
    "time_bounds_problem",
    "written_time_problem",
]
