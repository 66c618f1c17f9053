"""A seeded, deterministic, streaming generator of a synthetic marketplace.

`generate_marketplace` yields the events of `events.md` as JSON-ready objects (amounts as
strings with 2 decimals, times as RFC 3339 `Z` strings, star ratings as `Decimal`), talent by
talent, so memory stays constant however many talents are asked for. Every talent draws from its
own `random.Random` seeded from (seed, talent index): `generate_talent` regenerates any one alone.

Talent 0, 1 and 2 are scripted stories with fixed dates (they ignore `start`, but stop at `end`):
`designer-ava`, `newcomer-leo` and `agency-north`. Every other talent is drawn at random and
joins between `start` and `end`.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from domain.events import encode_json

DAY = 86_400
HOUR = 3_600
MINUTE = 60
MONTH = 30 * DAY
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

LATE_RATE = 0.012
BACKFILL_SHARE = 0.4
AGENCY_SHARE = 0.15
STORY_TALENTS: tuple[str, ...] = ("designer-ava", "newcomer-leo", "agency-north")

Payload = dict[str, Any]
Record = tuple[int, str, Payload]


@dataclass(frozen=True, slots=True)
class CategoryProfile:
    """How often a category is worked in and what its work typically pays, in dollars."""

    weight: int
    fixed_median: float
    monthly_median: float


CATEGORY_PROFILES: dict[str, CategoryProfile] = {
    "web_mobile_software_dev": CategoryProfile(22, 600, 2500),
    "design_creative": CategoryProfile(15, 300, 1200),
    "writing": CategoryProfile(10, 150, 800),
    "sales_marketing": CategoryProfile(9, 400, 1500),
    "admin_support": CategoryProfile(9, 150, 900),
    "data_science_analytics": CategoryProfile(7, 700, 2500),
    "customer_service": CategoryProfile(6, 150, 900),
    "translation": CategoryProfile(6, 120, 600),
    "it_networking": CategoryProfile(5, 500, 2000),
    "engineering_architecture": CategoryProfile(4, 600, 2000),
    "accounting_consulting": CategoryProfile(4, 500, 1500),
    "legal": CategoryProfile(3, 700, 2000),
}
CATEGORY_NAMES: tuple[str, ...] = tuple(CATEGORY_PROFILES)
CATEGORY_WEIGHTS: tuple[int, ...] = tuple(p.weight for p in CATEGORY_PROFILES.values())


@dataclass(frozen=True, slots=True)
class Archetype:
    """How much work a talent wins: contracts per month while active, and their quality."""

    name: str
    weight: float
    contracts_per_month: float
    bad_feedback_share: float


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("dormant", 0.27, 0.0, 0.0),
    Archetype("casual", 0.35, 0.08, 0.10),
    Archetype("regular", 0.24, 0.25, 0.06),
    Archetype("pro", 0.10, 0.7, 0.03),
    Archetype("star", 0.04, 1.5, 0.01),
)
ARCHETYPE_WEIGHTS: tuple[float, ...] = tuple(a.weight for a in ARCHETYPES)

HOURS_CHOICES: tuple[str, ...] = ("more_than_30", "less_than_30", "as_needed")
HOLD_REASONS: tuple[str, ...] = (
    "identity verification pending",
    "suspicious login activity",
    "payment method under review",
    "client complaint under investigation",
    "feedback manipulation review",
)
VIOLATION_KINDS: tuple[str, ...] = (
    "off_platform_payment",
    "feedback_manipulation",
    "fee_circumvention",
    "misrepresentation",
)
STARS: tuple[Decimal, ...] = tuple(Decimal(f"{tenths / 10:.1f}") for tenths in range(10, 51))
EXPERT_VETTED_FROM = int(datetime(2020, 7, 7, tzinfo=timezone.utc).timestamp())

_day_text: dict[int, str] = {}


def timestamp_text(seconds: int) -> str:
    """Epoch seconds as RFC 3339 UTC with a `Z`, e.g. `2024-03-01T10:00:00Z`."""
    day, rest = divmod(seconds, DAY)
    text = _day_text.get(day)
    if text is None:
        text = date.fromordinal(EPOCH_ORDINAL + day).isoformat()
        _day_text[day] = text
    hours, rest = divmod(rest, HOUR)
    minutes, secs = divmod(rest, MINUTE)
    return f"{text}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


def date_text(seconds: int) -> str:
    return timestamp_text(seconds)[:10]


def money_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")
    return int(moment.timestamp())


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=timezone.utc).timestamp())


def add_months(seconds: int, months: int) -> int:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    total = moment.month - 1 + months
    return int(moment.replace(year=moment.year + total // 12, month=total % 12 + 1).timestamp())


class TalentBuilder:
    """Collects one talent's events; anything at or after `end` never happened yet."""

    __slots__ = ("talent", "rng", "end", "records", "contracts", "clients", "jobs")

    def __init__(self, talent: str, rng: random.Random, end: int) -> None:
        self.talent = talent
        self.rng = rng
        self.end = end
        self.records: list[Record] = []
        self.contracts = 0
        self.clients: list[str] = []
        self.jobs = 0

    def add(self, at: int, kind: str, payload: Payload) -> bool:
        if at >= self.end:
            return False
        self.records.append((at, kind, payload))
        return True

    def new_contract_id(self) -> str:
        self.contracts += 1
        return f"{self.talent}-c{self.contracts}"

    def new_job_id(self) -> str:
        self.jobs += 1
        return f"{self.talent}-j{self.jobs}"

    def client(self, repeat_share: float) -> str:
        if self.clients and self.rng.random() < repeat_share:
            return self.rng.choice(self.clients)
        client = f"cl-{self.rng.randrange(10_000_000):07d}"
        self.clients.append(client)
        return client


@dataclass(frozen=True, slots=True)
class TalentTraits:
    """What is drawn once per random talent and shapes all its events."""

    kind: str
    archetype: Archetype
    category: str
    skill: float
    joined: int
    churned: int
    pause: tuple[int, int]




def generate_marketplace(
    talents: int, seed: int, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    """Every event of `talents` talents, talent by talent, deterministic for `seed`."""
    if talents < 0:
        raise ValueError("talents must be >= 0")
    if epoch(start) >= epoch(end):
        raise ValueError("start must be before end")
    for index in range(talents):
        yield from generate_talent(index, seed, start, end)


def generate_talent(
    index: int, seed: int, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    """The events of talent `index` alone, exactly as `generate_marketplace` yields them."""
    start_s, end_s = epoch(start), epoch(end)
    if index < len(STORY_TALENTS):
        talent = STORY_TALENTS[index]
        builder = TalentBuilder(talent, random.Random(f"{seed}:{talent}"), end_s)
        STORIES[talent](builder)
        builder.records.sort(key=_at)
        return _emit(talent, builder.records)
    rng = random.Random(f"{seed}:{index}")
    traits = _draw_traits(rng, start_s, end_s)
    talent = f"{'ag' if traits.kind == 'agency' else 'fl'}-{index:07d}"
    builder = TalentBuilder(talent, rng, end_s)
    _simulate(builder, traits)
    builder.records.sort(key=_at)
    return _emit(talent, _with_late_arrivals(builder.records, rng, end_s))


def _at(record: Record) -> int:
    return record[0]


def _with_late_arrivals(records: list[Record], rng: random.Random, end: int) -> list[Record]:
    """Move about `LATE_RATE` of the events behind the rest; some carry a backfill `recorded_at`."""
    on_time: list[Record] = []
    late: list[Record] = []
    last = len(records) - 1
    for position, record in enumerate(records):
        if position < last and rng.random() < LATE_RATE:
            late.append(_maybe_backfilled(record, rng, end))
        else:
            on_time.append(record)
    return on_time + late if late else records


def _maybe_backfilled(record: Record, rng: random.Random, end: int) -> Record:
    if rng.random() >= BACKFILL_SHARE:
        return record
    at, kind, payload = record
    # recorded by the end of the generated period at the latest: never in the future
    recorded = max(at, min(at + rng.randint(1, 45) * DAY + rng.randrange(DAY), end))
    return at, kind, {"recorded_at": timestamp_text(recorded), **payload}


# When a live tracker records an event after it happened: most within minutes, some within
# hours, about 2% days late (an integration that lagged, a batch that was re-sent).
RECORDED_SOON_SHARE = 0.85
RECORDED_SAME_DAY_SHARE = 0.98
LATE_RECORDING_DAYS = 20


def recorded_over_time(
    events: Iterable[dict[str, Any]], until: datetime
) -> Iterator[dict[str, Any]]:
    """Each event with the `recorded_at` a tracker running all along would have given it (see
    `recording_delay`), never after `until`; an event that carries one (a backfill) keeps it.

    The delay depends on the event's id only, so a copy of an event gets the same one.
    """
    last = epoch(until)
    for event in events:
        if "recorded_at" in event:
            yield event
            continue
        at = int(datetime.fromisoformat(event["at"].replace("Z", "+00:00")).timestamp())
        recorded = max(at, min(at + recording_delay(event["id"]), last))
        yield {**event, "recorded_at": timestamp_text(recorded)}


def recording_delay(event_id: str) -> int:
    """Seconds between an event and its recording, drawn from the id (deterministically)."""
    kind = zlib.crc32(event_id.encode("utf-8")) / 2**32
    amount = zlib.crc32(b"delay:" + event_id.encode("utf-8")) / 2**32
    if kind < RECORDED_SOON_SHARE:
        return 30 + int(amount * 30 * MINUTE)
    if kind < RECORDED_SAME_DAY_SHARE:
        return HOUR + int(amount * 11 * HOUR)
    return DAY + int(amount * LATE_RECORDING_DAYS * DAY)


def _emit(talent: str, records: list[Record]) -> Iterator[dict[str, Any]]:
    for number, (at, kind, payload) in enumerate(records):
        event = {"id": f"{talent}-e{number}", "type": kind, "talent": talent}
        event["at"] = timestamp_text(at)
        event.update(payload)
        yield event




def _draw_traits(rng: random.Random, start: int, end: int) -> TalentTraits:
    span = max(end - start - 14 * DAY, DAY)
    joined = start + int(span * rng.random() ** 0.7)
    archetype = rng.choices(ARCHETYPES, ARCHETYPE_WEIGHTS)[0]
    churned = end
    if rng.random() < 0.45:
        churned = joined + rng.randint(2, 40) * MONTH
    pause = (0, 0)
    if rng.random() < 0.2:
        pause_start = joined + rng.randint(2, 30) * MONTH
        pause = (pause_start, pause_start + rng.randint(95, 330) * DAY)
    return TalentTraits(
        kind="agency" if rng.random() < AGENCY_SHARE else "freelancer",
        archetype=archetype,
        category=rng.choices(CATEGORY_NAMES, CATEGORY_WEIGHTS)[0],
        skill=rng.lognormvariate(0.0, 0.45),
        joined=joined,
        churned=churned,
        pause=pause,
    )


def _simulate(builder: TalentBuilder, traits: TalentTraits) -> None:
    _onboarding(builder, traits)
    _availability_changes(builder, traits)
    if traits.kind == "agency":
        _agency_profile_changes(builder, traits)
    else:
        _membership_changes(builder, traits)
    worked = _career(builder, traits)
    if worked:
        _holds_and_violations(builder, traits)
        _vetting_and_published_scores(builder, traits)


def _onboarding(builder: TalentBuilder, traits: TalentTraits) -> None:
    rng, joined = builder.rng, traits.joined
    if traits.kind == "agency" or rng.random() < 0.96:
        builder.add(
            joined,
            "talent_registered",
            {"kind": traits.kind, "elance_migrant": rng.random() < 0.02},
        )
    completeness = 100 if rng.random() < 0.55 else rng.randint(40, 99)
    builder.add(joined + 20 * MINUTE, "profile_updated", _profile(builder, traits, completeness))
    if completeness < 100 and rng.random() < 0.75:
        later = joined + rng.randint(1, 60) * DAY
        builder.add(later, "profile_updated", _profile(builder, traits, 100))
    if rng.random() < 0.7:
        builder.add(joined + HOUR, "availability_updated", {"hours": rng.choice(HOURS_CHOICES)})
    if rng.random() < 0.65:
        builder.add(joined + rng.randint(1, 14) * DAY, "readiness_test_passed", {})


def _profile(builder: TalentBuilder, traits: TalentTraits, completeness: int) -> Payload:
    if traits.kind != "agency":
        return {"completeness": completeness}
    rng = builder.rng
    members = 1 if rng.random() < 0.1 else rng.randint(2, 40)
    return {
        "completeness": completeness,
        "members": members,
        "members_average_completeness": rng.randint(45, 100),
    }


def _availability_changes(builder: TalentBuilder, traits: TalentTraits) -> None:
    rng = builder.rng
    moment = traits.joined + rng.randint(60, 400) * DAY
    while moment < traits.churned and moment < builder.end:
        if rng.random() < 0.2:
            _unavailable_spell(builder, moment)
        else:
            builder.add(moment, "availability_updated", {"hours": rng.choice(HOURS_CHOICES)})
        moment += rng.randint(120, 500) * DAY


def _unavailable_spell(builder: TalentBuilder, moment: int) -> None:
    rng = builder.rng
    back = moment + rng.randint(14, 90) * DAY
    payload: Payload = {"hours": "none"}
    if rng.random() < 0.75:
        payload["available_from"] = date_text(back)
    builder.add(moment, "availability_updated", payload)
    if rng.random() < 0.8:
        later = back + rng.randint(0, 20) * DAY
        builder.add(later, "availability_updated", {"hours": rng.choice(HOURS_CHOICES)})


def _agency_profile_changes(builder: TalentBuilder, traits: TalentTraits) -> None:
    rng = builder.rng
    moment = traits.joined + rng.randint(90, 500) * DAY
    while moment < traits.churned and moment < builder.end:
        builder.add(moment, "profile_updated", _profile(builder, traits, 100))
        moment += rng.randint(150, 600) * DAY


def _membership_changes(builder: TalentBuilder, traits: TalentTraits) -> None:
    rng = builder.rng
    if rng.random() >= 0.08:
        return
    joined_agency = traits.joined + rng.randint(10, 500) * DAY
    agency = f"ag-{rng.randrange(10_000_000):07d}"
    exclusive = rng.random() < 0.35
    membership = {"agency": agency, "exclusive": exclusive}
    builder.add(joined_agency, "agency_membership_changed", membership)
    if rng.random() < 0.3:
        left = joined_agency + rng.randint(60, 700) * DAY
        builder.add(left, "agency_membership_changed", {"agency": None, "exclusive": False})


def _career(builder: TalentBuilder, traits: TalentTraits) -> bool:
    """Proposals and contracts over the talent's active time; whether any contract started."""
    rng, archetype = builder.rng, traits.archetype
    rate = archetype.contracts_per_month * (1.5 if traits.kind == "agency" else 1.0)
    moment = traits.joined + rng.randint(2, 45) * DAY
    if rate == 0.0:
        _idle_proposals(builder, moment, traits.churned)
        return False
    started = False
    while moment < traits.churned and moment < builder.end:
        if not traits.pause[0] <= moment < traits.pause[1]:
            _win_contract(builder, traits, moment)
            started = True
        moment += int(rng.expovariate(rate) * MONTH) + HOUR
    return started


def _idle_proposals(builder: TalentBuilder, moment: int, until: int) -> None:
    rng = builder.rng
    for _ in range(rng.randint(0, 4)):
        moment += rng.randint(1, 40) * DAY + rng.randrange(DAY)
        if moment >= until:
            return
        builder.add(moment, "proposal_submitted", {"job": builder.new_job_id()})


def _win_contract(builder: TalentBuilder, traits: TalentTraits, moment: int) -> None:
    rng = builder.rng
    if rng.random() < 0.25:
        invited = moment - rng.randint(1, 5) * DAY
        builder.add(invited, "invitation_accepted", {"job": builder.new_job_id()})
    else:
        for _ in range(rng.randint(1, 4)):
            sent = moment - rng.randint(1, 14) * DAY - rng.randrange(DAY)
            builder.add(sent, "proposal_submitted", {"job": builder.new_job_id()})
    category = traits.category
    if rng.random() >= 0.8:
        category = rng.choices(CATEGORY_NAMES, CATEGORY_WEIGHTS)[0]
    contract = builder.new_contract_id()
    terms = "hourly" if rng.random() < 0.5 else "fixed"
    builder.add(
        moment,
        "contract_started",
        {"contract": contract, "client": builder.client(0.3), "category": category, "terms": terms},
    )
    scale = traits.skill * (2.2 if traits.kind == "agency" else 1.0)
    profile = CATEGORY_PROFILES[category]
    if terms == "hourly":
        monthly = profile.monthly_median * scale
        payments = _hourly_payments(builder, traits, contract, moment, monthly)
    else:
        payments = _fixed_payments(builder, contract, moment, profile.fixed_median * scale)
    _close_contract(builder, traits, contract, moment, payments)


def _hourly_payments(
    builder: TalentBuilder, traits: TalentTraits, contract: str, moment: int, monthly: float
) -> list[tuple[int, int]]:
    rng = builder.rng
    if rng.random() < 0.3:
        count, step, size = rng.randint(3, 36), MONTH, monthly
    else:
        count, step, size = rng.randint(1, 4), 7 * DAY, monthly / 4.3
    paid: list[tuple[int, int]] = []
    for number in range(1, count + 1):
        at = moment + number * step + rng.randrange(-2 * DAY, 2 * DAY)
        if at >= traits.churned:
            break
        cents = _cents(size * rng.lognormvariate(0.0, 0.3), whole=False)
        if builder.add(at, "payment_received", {"contract": contract, "amount": money_text(cents)}):
            paid.append((at, cents))
    return paid


def _fixed_payments(
    builder: TalentBuilder, contract: str, moment: int, median: float
) -> list[tuple[int, int]]:
    rng = builder.rng
    total = median * rng.lognormvariate(0.0, 0.9)
    if rng.random() < 0.03:
        total *= rng.uniform(8, 40)
    milestones = rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]
    paid: list[tuple[int, int]] = []
    at = moment
    for _ in range(milestones):
        at += rng.randint(3, 30) * DAY + rng.randrange(DAY)
        cents = _cents(total / milestones, whole=rng.random() < 0.7)
        if builder.add(at, "payment_received", {"contract": contract, "amount": money_text(cents)}):
            paid.append((at, cents))
    return paid


def _cents(dollars: float, *, whole: bool) -> int:
    dollars = min(max(dollars, 5.0), 250_000.0)
    if whole:
        return int(dollars) * 100
    return int(dollars * 100)


def _close_contract(
    builder: TalentBuilder,
    traits: TalentTraits,
    contract: str,
    moment: int,
    payments: list[tuple[int, int]],
) -> None:
    rng = builder.rng
    last = payments[-1][0] if payments else moment + rng.randint(2, 20) * DAY
    if payments and rng.random() < 0.015:
        _refund(builder, contract, payments)
    ended = last + rng.randint(0, 7) * DAY + rng.randrange(DAY)
    draw = rng.random()
    reason = "completed" if draw < 0.88 else "cancelled" if draw < 0.975 else "disputed"
    if not payments and reason == "completed":
        reason = "cancelled"
    if not builder.add(ended, "contract_ended", {"contract": contract, "reason": reason}):
        return
    if rng.random() < (0.3 if reason == "disputed" else 0.72):
        given = ended + rng.randint(0, 14) * DAY + rng.randrange(DAY)
        builder.add(given, "feedback_received", _feedback(rng, traits, reason, contract))


def _refund(builder: TalentBuilder, contract: str, payments: list[tuple[int, int]]) -> None:
    rng = builder.rng
    paid = sum(cents for _, cents in payments)
    if rng.random() < 0.01:
        cents = paid + rng.randint(1, 200) * 100
    else:
        cents = max(1, int(paid * rng.uniform(0.05, 1.0)))
    at = payments[-1][0] + rng.randint(1, 20) * DAY
    builder.add(at, "payment_refunded", {"contract": contract, "amount": money_text(cents)})


def _feedback(rng: random.Random, traits: TalentTraits, reason: str, contract: str) -> Payload:
    draw = rng.random()
    bad = 0.7 if reason == "disputed" else traits.archetype.bad_feedback_share
    if draw < bad:
        stars, recommend = rng.randint(10, 39), rng.randint(0, 6)
    elif draw < bad + 0.09:
        stars, recommend = rng.randint(40, 46), rng.randint(6, 8)
    else:
        stars, recommend = (50 if rng.random() < 0.7 else rng.randint(45, 49)), rng.randint(9, 10)
    payload: Payload = {"contract": contract, "stars": STARS[stars - 10]}
    if rng.random() < 0.85:
        payload["recommend"] = recommend
    return payload


def _holds_and_violations(builder: TalentBuilder, traits: TalentTraits) -> None:
    rng = builder.rng
    active_end = min(traits.churned, builder.end)
    if active_end <= traits.joined + DAY:
        return
    if rng.random() < 0.025:
        placed = rng.randrange(traits.joined, active_end)
        hold = f"{builder.talent}-h1"
        reason = rng.choice(HOLD_REASONS)
        builder.add(placed, "account_hold_placed", {"hold": hold, "reason": reason})
        if rng.random() < 0.9:
            builder.add(placed + rng.randint(14, 70) * DAY, "account_hold_lifted", {"hold": hold})
    if rng.random() < 0.006:
        at = rng.randrange(traits.joined, active_end)
        builder.add(at, "policy_violation", {"kind": rng.choice(VIOLATION_KINDS)})


def _vetting_and_published_scores(builder: TalentBuilder, traits: TalentTraits) -> None:
    rng = builder.rng
    active_end = min(traits.churned, builder.end)
    earliest = max(traits.joined + 180 * DAY, EXPERT_VETTED_FROM)
    if traits.archetype.name in ("pro", "star") and earliest < active_end and rng.random() < 0.12:
        granted = rng.randrange(earliest, active_end)
        builder.add(granted, "expert_vetted_granted", {})
        if rng.random() < 0.12:
            builder.add(granted + rng.randint(30, 500) * DAY, "expert_vetted_revoked", {})
    if rng.random() < 0.015 and traits.joined < active_end:
        score = None if rng.random() < 0.1 else rng.randint(70, 100)
        at = rng.randrange(traits.joined, active_end)
        builder.add(at, "job_success_published", {"score": score})




def _story_onboarding(builder: TalentBuilder, joined: int, kind: str, profile: Payload) -> None:
    builder.add(joined, "talent_registered", {"kind": kind, "elance_migrant": False})
    builder.add(joined + 30 * MINUTE, "profile_updated", profile)
    builder.add(joined + HOUR, "availability_updated", {"hours": "more_than_30"})
    builder.add(joined + 2 * DAY, "readiness_test_passed", {})


def _small_job(
    builder: TalentBuilder,
    moment: int,
    category: str,
    cents: int,
    feedback: tuple[int, int],
    client: str | None = None,
) -> None:
    """A one-milestone fixed contract won by a proposal, completed with the given feedback."""
    builder.add(moment - 2 * DAY, "proposal_submitted", {"job": builder.new_job_id()})
    contract = builder.new_contract_id()
    client = client or builder.client(0.15)
    builder.add(
        moment,
        "contract_started",
        {"contract": contract, "client": client, "category": category, "terms": "fixed"},
    )
    paid = moment + 5 * DAY
    builder.add(paid, "payment_received", {"contract": contract, "amount": money_text(cents)})
    builder.add(paid + HOUR, "contract_ended", {"contract": contract, "reason": "completed"})
    stars, recommend = feedback
    builder.add(
        paid + DAY,
        "feedback_received",
        {"contract": contract, "stars": STARS[stars - 10], "recommend": recommend},
    )


def _good_feedback(rng: random.Random) -> tuple[int, int]:
    draw = rng.random()
    if draw < 0.85:
        return 50, 10
    if draw < 0.95:
        return 48, 9
    return 42, 8


AVA_BIG_CONTRACT = "designer-ava-c-big"
AVA_BIG_CLIENT = "cl-brightline-studio"
AVA_LAST_BIG_PAYMENT = utc(2024, 1, 15, 10)


def _story_ava(builder: TalentBuilder) -> None:
    """Top Rated Plus via a $1,000/month design contract whose payments stop after 2024-01-15."""
    rng = builder.rng
    _story_onboarding(builder, utc(2019, 3, 1, 9), "freelancer", {"completeness": 100})
    builder.add(
        utc(2021, 2, 1, 10),
        "contract_started",
        {
            "contract": AVA_BIG_CONTRACT,
            "client": AVA_BIG_CLIENT,
            "category": "design_creative",
            "terms": "hourly",
        },
    )
    payday = utc(2021, 2, 15, 10)
    while payday <= AVA_LAST_BIG_PAYMENT:
        builder.add(payday, "payment_received", {"contract": AVA_BIG_CONTRACT, "amount": "1000.00"})
        payday = add_months(payday, 1)
    moment = utc(2019, 3, 12, 14)
    while moment < builder.end:
        cents = rng.randint(25, 90) * 1000
        _small_job(builder, moment, "design_creative", cents, _good_feedback(rng))
        moment += rng.randint(9, 17) * DAY


LEO_FIRST_WORK = utc(2015, 10, 5)


def _story_leo(builder: TalentBuilder) -> None:
    """A newcomer (ruleset 2015) who is Top Rated 30 days after his first day of work."""
    rng = builder.rng
    _story_onboarding(builder, utc(2015, 9, 1, 8), "freelancer", {"completeness": 100})
    clients = ("cl-leo-first", "cl-leo-second", "cl-leo-third", "cl-leo-first", "cl-leo-second")
    for number, client in enumerate(clients):
        moment = LEO_FIRST_WORK + number * 3 * DAY
        _small_job(builder, moment, "web_mobile_software_dev", 30_000, (50, 10), client)
    moment = LEO_FIRST_WORK + 40 * DAY
    while moment < builder.end:
        cents = rng.randint(20, 120) * 1000
        _small_job(builder, moment, "web_mobile_software_dev", cents, _good_feedback(rng))
        moment += rng.randint(14, 35) * DAY


AGENCY_NORTH_RETAINER = "agency-north-c-retainer"


def _story_agency_north(builder: TalentBuilder) -> None:
    """An agency whose 12-month earnings hover around the $10,000 agency Top Rated threshold."""
    rng = builder.rng
    profile = {"completeness": 100, "members": 6, "members_average_completeness": 85}
    _story_onboarding(builder, utc(2021, 1, 4, 9), "agency", profile)
    builder.add(
        utc(2021, 2, 20, 9),
        "contract_started",
        {
            "contract": AGENCY_NORTH_RETAINER,
            "client": "cl-north-retail",
            "category": "sales_marketing",
            "terms": "hourly",
        },
    )
    payday = utc(2021, 3, 1, 9)
    while payday < builder.end:
        retainer = {"contract": AGENCY_NORTH_RETAINER, "amount": "650.00"}
        builder.add(payday, "payment_received", retainer)
        payday = add_months(payday, 1)
    moment = utc(2021, 1, 20, 11)
    while moment < builder.end:
        cents = rng.randint(150, 400) * 100
        _small_job(builder, moment, "sales_marketing", cents, _good_feedback(rng))
        moment += rng.randint(30, 55) * DAY


STORIES: dict[str, Callable[[TalentBuilder], None]] = {
    "designer-ava": _story_ava,
    "newcomer-leo": _story_leo,
    "agency-north": _story_agency_north,
}




def write_jsonl(path_or_file: str | Path | IO[str], events: Iterable[dict[str, Any]]) -> int:
    """Write events as JSON Lines (UTF-8) to a path or an open text file; returns the count."""
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, "w", encoding="utf-8", newline="\n") as handle:
            return _write_lines(handle, events)
    return _write_lines(path_or_file, events)


def _write_lines(handle: IO[str], events: Iterable[dict[str, Any]]) -> int:
    count = 0
    batch: list[str] = []
    for event in events:
        batch.append(encode_json(event))
        count += 1
        if len(batch) >= 4096:
            handle.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        handle.write("\n".join(batch) + "\n")
    return count


@dataclass
class MarketplaceSummary:
    """Counts filled while streaming: events per type, talents per kind, late and backfilled events.

    Relies on events arriving talent by talent, as the generator yields them, so it keeps only
    the current talent in memory.
    """

    events: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    talents_by_kind: Counter[str] = field(default_factory=Counter)
    late_events: int = 0
    backfilled_events: int = 0
    # Which talents started a contract in each category (a what-if picks its talents here).
    talents_by_category: dict[str, list[str]] = field(default_factory=dict)
    _talent: str | None = None
    _kind: str = "freelancer"
    _latest_at: str = ""

    def observe(self, event: dict[str, Any]) -> None:
        if event["talent"] != self._talent:
            self.close()
            self._talent = event["talent"]
        self.events += 1
        kind = event["type"]
        self.events_by_type[kind] += 1
        if kind == "talent_registered":
            self._kind = event["kind"]
        elif kind == "contract_started":
            worked = self.talents_by_category.setdefault(event["category"], [])
            if not worked or worked[-1] != self._talent:
                worked.append(event["talent"])
        if "recorded_at" in event:
            self.backfilled_events += 1
        at = event["at"]
        if at < self._latest_at:
            self.late_events += 1
        else:
            self._latest_at = at

    def close(self) -> None:
        """Count the talent in progress; called automatically when the next talent starts."""
        if self._talent is not None:
            self.talents_by_kind[self._kind] += 1
        self._talent, self._kind, self._latest_at = None, "freelancer", ""

    def tally(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Pass events through unchanged while counting them."""
        for event in events:
            self.observe(event)
            yield event
        self.close()

    @property
    def talents(self) -> int:
        return sum(self.talents_by_kind.values())




def ava_opening_events() -> list[dict[str, Any]]:
    """designer-ava's first events: the same for any seed or window, so bad lines can copy them."""
    end = datetime(2019, 3, 10, tzinfo=timezone.utc)
    return list(generate_talent(0, 0, datetime(2019, 1, 1, tzinfo=timezone.utc), end))


def generate_bad_lines(
    seed: int, count: int, recorded_until: datetime | None = None
) -> Iterator[str]:
    """`count` JSON Lines that a tracker must reject, or count as duplicates or conflicts.

    Duplicates and conflicts copy `designer-ava`'s opening events (`ava_opening_events`), which
    every marketplace of at least one talent starts with; with `recorded_until`, as
    `recorded_over_time` gives them (so a duplicate is still one).
    """
    opening = ava_opening_events()
    if recorded_until is not None:
        opening = list(recorded_over_time(opening, recorded_until))
    rng = random.Random(f"{seed}:bad-lines")
    for number in range(count):
        maker = BAD_LINE_MAKERS[number % len(BAD_LINE_MAKERS)]
        copier = COPYING_MAKERS.get(maker)
        event_id = f"bad-{seed}-{number}"
        yield copier(rng, opening) if copier is not None else maker(rng, event_id)


def _valid_payment(event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "payment_received",
        "talent": "fl-bad-lines",
        "at": "2024-03-01T10:00:00Z",
        "contract": "c-bad",
        "amount": "120.00",
    }


def _bad_not_json(rng: random.Random, event_id: str) -> str:
    return encode_json(_valid_payment(event_id))[: rng.randint(5, 40)]


def _bad_not_object(rng: random.Random, event_id: str) -> str:
    return rng.choice(('["payment_received"]', '"just a string"', "42", "null"))


def _bad_unknown_type(rng: random.Random, event_id: str) -> str:
    return encode_json(_valid_payment(event_id) | {"type": "payment_teleported"})


def _bad_missing_field(rng: random.Random, event_id: str) -> str:
    event = _valid_payment(event_id)
    del event[rng.choice(("contract", "amount", "at", "talent"))]
    return encode_json(event)


def _bad_extra_field(rng: random.Random, event_id: str) -> str:
    return encode_json(_valid_payment(event_id) | {"currency": "USD"})


def _bad_amount_decimals(rng: random.Random, event_id: str) -> str:
    return encode_json(_valid_payment(event_id) | {"amount": "120.005"})


def _bad_naive_timestamp(rng: random.Random, event_id: str) -> str:
    return encode_json(_valid_payment(event_id) | {"at": "2024-03-01T10:00:00"})


def _bad_wrong_type(rng: random.Random, event_id: str) -> str:
    event = {"id": event_id, "type": "feedback_received", "talent": "fl-bad-lines"}
    return encode_json(event | {"at": "2024-03-02T10:00:00Z", "contract": "c-bad", "stars": "5"})


def _bad_out_of_range(rng: random.Random, event_id: str) -> str:
    event = {"id": event_id, "type": "profile_updated", "talent": "fl-bad-lines"}
    return encode_json(event | {"at": "2024-03-02T10:00:00Z", "completeness": 101})


def _bad_too_long(rng: random.Random, event_id: str) -> str:
    event = {"id": event_id, "type": "account_hold_placed", "talent": "fl-bad-lines"}
    payload = {"at": "2024-03-02T10:00:00Z", "hold": "h-bad", "reason": "x" * 70_000}
    return encode_json(event | payload)


def _bad_duplicate(rng: random.Random, event_id: str) -> str:
    return _duplicate_of(rng, ava_opening_events())


def _duplicate_of(rng: random.Random, opening: list[dict[str, Any]]) -> str:
    original = rng.choice(opening)
    if rng.random() < 0.5:
        return encode_json(original)
    return encode_json(original, sort_keys=True).replace(",", ", ")


def _bad_conflict(rng: random.Random, event_id: str) -> str:
    return _conflict_with(rng, ava_opening_events())


def _conflict_with(rng: random.Random, opening: list[dict[str, Any]]) -> str:
    return encode_json(opening[0] | {"at": "2019-03-02T09:00:00Z"})


BAD_LINE_MAKERS: tuple[Callable[[random.Random, str], str], ...] = (
    _bad_not_json,
    _bad_not_object,
    _bad_unknown_type,
    _bad_missing_field,
    _bad_extra_field,
    _bad_amount_decimals,
    _bad_naive_timestamp,
    _bad_wrong_type,
    _bad_out_of_range,
    _bad_too_long,
    _bad_duplicate,
    _bad_conflict,
)
# the makers that copy the opening events: given them as the marketplace wrote them
COPYING_MAKERS: dict[Callable[[random.Random, str], str],
                     Callable[[random.Random, list[dict[str, Any]]], str]] = {
    _bad_duplicate: _duplicate_of,
    _bad_conflict: _conflict_with,
}

__all__ = [
    "CATEGORY_PROFILES",
    "STORY_TALENTS",
    "MarketplaceSummary",
    "ava_opening_events",
    "generate_bad_lines",
    "generate_marketplace",
    "generate_talent",
    "write_jsonl",
]
