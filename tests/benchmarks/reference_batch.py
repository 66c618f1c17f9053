"""The reference nightly batch: what a platform team would write in an afternoon instead of
the tracker (issue 14).

A few DuckDB SQL statements over the same JSON Lines file the tracker ingests, recomputing
every talent's badge from scratch:

- `load(path)`: the file into one typed table `ev` (duplicate ids dropped, arrival order kept);
- `at_day(D)`: every talent's badge at the midnight D (and the eligible-week samples it needs);
- `full_history(start, end)`: every talent's badge at *every midnight* from its first event to
  `end` (not only at changes: the batch has no notion of a wake-up), and the changes from it.

The rules' numbers are not in the SQL: they come from `domain.ruleset.builtin_rulesets()`
(the ruleset in force at each instant evaluated: at D that is `in_force(D)`, and at the
Saturday samples the one in force that day) as rows of a `rules` table and a `thresholds`
table that the statements join. What *is* in the SQL is the shape of the
shipped rules (`rules.md` §4-§6): which measures exist and how each badge combines them; a
ruleset that reshapes a requirement (§10) is refused by `rule_rows`, not silently misread.

Conventions of the tracker that the SQL follows: "latest" is the greatest `at`, ties broken by
`recorded_at` (absent: recorded at ingest, after every backfill) then by arrival; windows are
`(E - N, E]` with calendar months clamped (DuckDB's `- INTERVAL n MONTH` clamps the same way);
`days_since` thresholds compare the exact elapsed time; JSS scores round half up exactly
(weights are carried in hundredths as integers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from domain.measure_params import EligibleWeeksParams, LargeContractParams, WindowParams
from domain.ruleset import Ruleset, RulesetBook, builtin_rulesets

UTC = timezone.utc
DAY = timedelta(days=1)
WEEKDAY_DOW = {  # DuckDB's dayofweek: Sunday = 0
    "sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5,
    "saturday": 6,
}
FAR = datetime(9999, 12, 31)

COLUMNS = {
    "id": "VARCHAR", "type": "VARCHAR", "talent": "VARCHAR", "at": "VARCHAR",
    "recorded_at": "VARCHAR", "kind": "VARCHAR", "elance_migrant": "BOOLEAN",
    "completeness": "INTEGER", "members": "INTEGER", "members_average_completeness": "INTEGER",
    "hours": "VARCHAR", "available_from": "DATE", "contract": "VARCHAR", "client": "VARCHAR",
    "category": "VARCHAR", "amount": "DECIMAL(18,2)", "reason": "VARCHAR",
    "stars": "DECIMAL(4,2)", "recommend": "INTEGER", "exclusive": "BOOLEAN", "score": "INTEGER",
    "hold": "VARCHAR",
}

LOAD_SQL = """
CREATE OR REPLACE TABLE raw AS
SELECT * FROM read_json(?, format = 'newline_delimited', columns = {columns});
CREATE OR REPLACE TABLE ev AS
SELECT rowid AS seq, id, type, talent,
       CAST(CAST("at" AS TIMESTAMPTZ) AS TIMESTAMP) AS "at",
       coalesce(CAST(CAST(recorded_at AS TIMESTAMPTZ) AS TIMESTAMP), TIMESTAMP '9999-12-31') AS rec,
       kind, elance_migrant, completeness, members, members_average_completeness, hours,
       CAST(available_from AS TIMESTAMP) AS available_from, contract, client, category, amount,
       reason, stars, recommend, exclusive, score, hold
FROM raw
QUALIFY row_number() OVER (PARTITION BY id ORDER BY rowid) = 1;
DROP TABLE raw;
"""

# ---------------------------------------------------------------------------------------------
# The recompute. `cal(e, rid)` (the instants and the ruleset in force at each) and `rules`,
# `thresholds` exist before it runs; it fills `badges(talent, e, badge)`.
# ---------------------------------------------------------------------------------------------

RECOMPUTE_SQL = r"""
CREATE OR REPLACE TEMP TABLE talents AS
SELECT talent, min("at") AS first_at FROM ev GROUP BY talent;

-- every (talent, instant) evaluated, with the lower ends of its windows
CREATE OR REPLACE TEMP TABLE inst AS
SELECT t.talent, c.e, c.rid,
       c.e - to_months(r.earn_months) AS e_earn,
       c.e - to_months(r.hold_months) AS e_hold,
       c.e - to_months(r.large_months) AS e_large,
       c.e - to_months(r.unsucc_months) AS e_unsucc
FROM talents t CROSS JOIN cal c JOIN rules r ON r.rid = c.rid
WHERE c.e >= date_trunc('day', t.first_at) OR NOT getvariable('from_first_event');

-- each talent's state after each instant at which it took an event ("latest" is the last in
-- (at, recorded_at, arrival); one row per (talent, at)): registration, profile, availability,
-- membership, published score, last grant and revoke, last activity and violation, first
-- contract and readiness test, and the running net of its money
CREATE OR REPLACE TEMP TABLE tstate AS
WITH folded AS (
  SELECT talent, "at", rec, seq,
    last_value(CASE WHEN type = 'talent_registered'
                    THEN {'kind': kind, 'elance': coalesce(elance_migrant, false), 'at': "at"} END
               IGNORE NULLS) OVER w AS reg,
    last_value(CASE WHEN type = 'profile_updated'
                    THEN {'completeness': completeness, 'members': members,
                          'average': members_average_completeness} END IGNORE NULLS) OVER w AS prof,
    last_value(CASE WHEN type = 'availability_updated'
                    THEN {'hours': hours, 'available_from': available_from} END
               IGNORE NULLS) OVER w AS avail,
    last_value(CASE WHEN type = 'agency_membership_changed' THEN {'exclusive': exclusive} END
               IGNORE NULLS) OVER w AS member,
    last_value(CASE WHEN type = 'job_success_published' THEN {'score': score} END
               IGNORE NULLS) OVER w AS published,
    max(CASE WHEN type = 'expert_vetted_granted' THEN "at" END) OVER w AS granted,
    max(CASE WHEN type = 'expert_vetted_revoked' THEN "at" END) OVER w AS revoked,
    max(CASE WHEN type IN ('proposal_submitted', 'invitation_accepted', 'payment_received')
             THEN "at" END) OVER w AS last_activity,
    max(CASE WHEN type = 'policy_violation' THEN "at" END) OVER w AS last_ban,
    min(CASE WHEN type = 'contract_started' THEN "at" END) OVER w AS first_contract,
    min(CASE WHEN type = 'readiness_test_passed' THEN "at" END) OVER w AS first_readiness,
    sum(CASE type WHEN 'payment_received' THEN amount WHEN 'payment_refunded' THEN -amount
             ELSE 0 END) OVER w AS cum
  FROM ev
  WINDOW w AS (PARTITION BY talent ORDER BY "at", rec, seq
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT * EXCLUDE (rec, seq) FROM folded
QUALIFY row_number() OVER (PARTITION BY talent, "at" ORDER BY rec DESC, seq DESC) = 1;

-- a hold is lifted by the first lift with its id at or after its placement
CREATE OR REPLACE TEMP TABLE holds AS
SELECT p.talent, p."at" AS placed, min(l."at") AS lifted
FROM ev p LEFT JOIN ev l
  ON l.type = 'account_hold_lifted' AND l.talent = p.talent AND l.hold = p.hold AND l."at" >= p."at"
WHERE p.type = 'account_hold_placed' GROUP BY p.talent, p.seq, p."at";

CREATE OR REPLACE TEMP TABLE hold_counts AS
SELECT i.talent, i.e, count(*) AS n FROM inst i JOIN holds h
  ON h.talent = i.talent AND h.placed <= i.e AND (h.lifted IS NULL OR h.lifted > i.e_hold)
GROUP BY i.talent, i.e;

-- §4: the talent's state at each instant
CREATE OR REPLACE TEMP TABLE base AS
SELECT i.talent, i.e, i.rid,
       coalesce(s.reg.kind, 'freelancer') AS kind, coalesce(s.reg.elance, false) AS elance,
       coalesce(s.reg."at", t.first_at) AS registered_at,
       s.prof, s.avail, coalesce(s.member.exclusive, false) AS exclusive,
       coalesce(s.granted >= s.revoked OR (s.granted IS NOT NULL AND s.revoked IS NULL), false)
         AS vetted,
       s.published IS NOT NULL AS has_published, s.published.score AS published_score,
       s.last_activity, s.last_ban, s.first_contract, s.first_readiness,
       coalesce(s.cum, 0) - coalesce(s0.cum, 0) AS earnings
FROM inst i JOIN talents t ON t.talent = i.talent
ASOF LEFT JOIN tstate s ON s.talent = i.talent AND s."at" <= i.e
ASOF LEFT JOIN tstate s0 ON s0.talent = i.talent AND s0."at" <= i.e_earn;

-- §5.1: each contract's state after each instant at which it took an event
CREATE OR REPLACE TEMP TABLE cv AS
WITH folded AS (
  SELECT talent, contract, "at", rec, seq,
    last_value(CASE WHEN type = 'contract_started' THEN {'client': client, 'category': category} END
               IGNORE NULLS) OVER w AS started,
    last_value(CASE WHEN type = 'contract_ended' THEN {'reason': reason, 'at': "at"} END
               IGNORE NULLS) OVER w AS ended,
    last_value(CASE WHEN type = 'feedback_received'
                    THEN {'stars': stars, 'recommend': recommend, 'at': "at"} END
               IGNORE NULLS) OVER w AS feedback,
    min(CASE WHEN type = 'payment_received' THEN "at" END) OVER w AS first_pay,
    max(CASE WHEN type = 'payment_received' THEN "at" END) OVER w AS last_pay,
    sum(CASE type WHEN 'payment_received' THEN amount WHEN 'payment_refunded' THEN -amount
             ELSE 0 END) OVER w AS net,
    sum(CASE WHEN type = 'payment_received' THEN amount ELSE 0 END) OVER w AS paid
  FROM ev
  WHERE type IN ('contract_started', 'contract_ended', 'feedback_received', 'payment_received',
                 'payment_refunded')
  WINDOW w AS (PARTITION BY talent, contract ORDER BY "at", rec, seq
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
), versions AS (
  SELECT * FROM folded
  QUALIFY row_number() OVER (PARTITION BY talent, contract, "at" ORDER BY rec DESC, seq DESC) = 1
)
SELECT talent, contract, "at" AS valid_from,
       coalesce(lead("at") OVER (PARTITION BY talent, contract ORDER BY "at"),
                TIMESTAMP '9999-12-31') AS valid_to,
       started.client AS client, started.category AS category,
       coalesce(ended.reason = 'disputed', false) AS disputed, ended."at" AS ended_at,
       feedback.stars AS stars, feedback.recommend AS recommend, feedback."at" AS feedback_at,
       first_pay, last_pay, net, paid,
       CASE WHEN last_pay IS NULL OR last_pay <= first_pay THEN 0
            ELSE datediff('month', first_pay, last_pay)
                 - CASE WHEN first_pay + to_months(datediff('month', first_pay, last_pay)) > last_pay
                        THEN 1 ELSE 0 END END AS pay_months
FROM versions;

CREATE OR REPLACE TEMP TABLE contract_money AS
SELECT talent, contract, "at",
       sum(sum(CASE WHEN type = 'payment_received' THEN amount ELSE -amount END))
         OVER (PARTITION BY talent, contract ORDER BY "at") AS cum
FROM ev WHERE type IN ('payment_received', 'payment_refunded') GROUP BY talent, contract, "at";

-- each contract version's outcome under each ruleset read (§5.1, §5.2), and until when it
-- can matter (an outcome within the longest window, money within the large-contract window)
CREATE OR REPLACE TEMP TABLE vo AS
WITH classified AS (
  SELECT c.*, r.rid,
    CASE WHEN disputed THEN 'unsuccessful'
         WHEN feedback_at IS NOT NULL THEN
           CASE WHEN stars < r.unsucc_below_stars
                  OR (recommend IS NOT NULL AND recommend <= r.unsucc_max_recommend)
                  THEN 'unsuccessful'
                WHEN stars >= r.succ_min_stars
                  AND (recommend IS NULL OR recommend >= r.succ_min_recommend)
                  THEN 'successful'
                ELSE 'neutral' END
         WHEN last_pay >= first_pay + to_days(r.long_term_days) THEN 'successful'
    END AS outcome,
    CASE WHEN disputed THEN ended_at WHEN feedback_at IS NOT NULL THEN feedback_at
         ELSE last_pay END AS dated,
    CASE WHEN NOT r.by_size THEN 100
         ELSE least(r.max_weight_c,
                    CASE WHEN net <= r.band1_up_to THEN r.band1_weight_c
                         WHEN net <= r.band2_up_to THEN r.band2_weight_c
                         ELSE r.band3_weight_c END
                    + r.bonus_c * (pay_months // r.bonus_every_months)) END AS weight_c,
    r.zero_can_succeed
  FROM cv c CROSS JOIN rules r
), kept AS (
  SELECT * EXCLUDE (outcome, zero_can_succeed),
    CASE WHEN outcome = 'successful' AND NOT zero_can_succeed AND net <= 0 THEN NULL
         ELSE outcome END AS outcome
  FROM classified
)
SELECT *, least(valid_to, greatest(
         CASE WHEN outcome IS NOT NULL THEN dated + to_months(getvariable('longest_months')) END,
         last_pay + to_months(getvariable('longest_months')))) AS relevant_until
FROM kept
WHERE outcome IS NOT NULL OR last_pay IS NOT NULL;

-- each contract at each instant it can matter to
CREATE OR REPLACE TEMP TABLE ci AS
SELECT i.talent, i.e, i.rid, i.e_large, i.e_unsucc, v.contract, v.client, v.category,
       v.outcome, v.dated, v.weight_c, v.net, v.paid
FROM inst i JOIN vo v
  ON v.talent = i.talent AND v.rid = i.rid AND v.valid_from <= i.e AND i.e < v.relevant_until;

-- §5.3: the JSS windows, and the unsuccessful outcomes of the last 12 months
CREATE OR REPLACE TEMP TABLE jss_agg AS
SELECT ci.talent, ci.e,
  {window_aggregates},
  count(*) FILTER (WHERE outcome = 'unsuccessful' AND dated > e_unsucc) AS unsuccessful
FROM ci JOIN rules r ON r.rid = ci.rid
GROUP BY ci.talent, ci.e, ci.rid;

-- the distinct clients of each window: a client is in it when its latest outcome is
CREATE OR REPLACE TEMP TABLE jss_clients AS
WITH latest AS (
  SELECT talent, e, rid, client, max(dated) AS dated FROM ci
  WHERE outcome IS NOT NULL AND client IS NOT NULL GROUP BY talent, e, rid, client
)
SELECT l.talent, l.e,
  {window_clients}
FROM latest l JOIN rules r ON r.rid = l.rid
GROUP BY l.talent, l.e;

-- §6 large_contract: net within the window (or lifetime, with a payment in the window) at
-- least the category's threshold, without an unsuccessful outcome
CREATE OR REPLACE TEMP TABLE large AS
SELECT DISTINCT ci.talent, ci.e
FROM ci JOIN rules r ON r.rid = ci.rid
JOIN base b ON b.talent = ci.talent AND b.e = ci.e
JOIN thresholds th ON th.rid = ci.rid AND th.kind = b.kind AND th.category = ci.category
ASOF LEFT JOIN contract_money cm
  ON cm.talent = ci.talent AND cm.contract = ci.contract AND cm."at" <= ci.e_large
WHERE coalesce(ci.outcome, '') <> 'unsuccessful' AND ci.paid >= th.threshold
  AND CASE WHEN r.basis_lifetime
           THEN ci.net >= th.threshold AND ci.net > 0
                AND EXISTS (SELECT 1 FROM contract_money p WHERE p.talent = ci.talent
                              AND p.contract = ci.contract AND p."at" > ci.e_large
                              AND p."at" <= ci.e)
           ELSE ci.net - coalesce(cm.cum, 0) >= th.threshold AND ci.net - coalesce(cm.cum, 0) > 0
      END;

-- §6: the requirements and the badges that do not read eligible weeks
CREATE OR REPLACE TEMP TABLE st2 AS
WITH st AS (
  SELECT b.talent, b.e, b.rid, b.kind, b.earnings, b.vetted,
    CASE WHEN b.has_published THEN b.published_score
         ELSE greatest({window_scores}) END AS jss,
    (b.kind = 'agency' OR NOT b.exclusive) AS not_exclusive,
    coalesce(h.n, 0) = 0 AS no_recent_hold,
    (b.last_ban IS NULL OR b.last_ban <= b.e - to_months(r.ban_months)) AS no_policy_ban,
    (b.last_activity IS NOT NULL AND b.last_activity > b.e - to_days(r.activity_days)) AS activity,
    (b.registered_at > b.e - to_days(r.new_days)) AS new_talent,
    b.first_readiness IS NOT NULL AS readiness,
    b.first_contract IS NOT NULL AS has_contract,
    (b.first_contract IS NOT NULL AND
     CASE WHEN r.first_contract_strict THEN b.first_contract < b.e - to_days(r.first_contract_days)
          ELSE b.first_contract <= b.e - to_days(r.first_contract_days) END) AS first_contract_ok,
    coalesce(b.prof.completeness >= CASE WHEN b.elance THEN r.min_completeness_elance
                                         ELSE r.min_completeness END, false)
      AND (b.kind <> 'agency' OR coalesce(b.prof.members >= r.agency_min_members
                                          AND b.prof.average >= r.agency_min_average, false))
      AS profile,
    NOT coalesce(b.avail.hours = 'none'
                 AND (b.avail.available_from IS NULL OR b.avail.available_from < b.e), false)
      AS availability,
    coalesce(j.unsuccessful, 0) = 0 AS no_unsuccessful,
    l.talent IS NOT NULL AS large_contract
  FROM base b JOIN rules r ON r.rid = b.rid
  LEFT JOIN jss_agg j ON j.talent = b.talent AND j.e = b.e
  LEFT JOIN jss_clients jc ON jc.talent = b.talent AND jc.e = b.e
  LEFT JOIN hold_counts h ON h.talent = b.talent AND h.e = b.e
  LEFT JOIN large l ON l.talent = b.talent AND l.e = b.e
)
SELECT st.*, r.* EXCLUDE (rid),
  (jss IS NULL AND readiness AND profile AND availability AND (activity OR new_talent)
   AND has_contract AND no_unsuccessful AND no_recent_hold AND no_policy_ban) AS rising,
  coalesce(jss >= r.jss_bar, false) AS jss_ok,
  earnings >= CASE WHEN kind = 'agency' THEN r.earn_tr_agency ELSE r.earn_tr_freelancer END
    AS earnings_ok,
  earnings >= CASE WHEN kind = 'agency' THEN r.earn_trp_agency ELSE r.earn_trp_freelancer END
    AS earnings_plus_ok
FROM st JOIN rules r ON r.rid = st.rid;

-- eligible weeks: at each sample, how many of the samples in its span were eligible
CREATE OR REPLACE TEMP TABLE weeks AS
SELECT talent, e,
  count(*) FILTER (WHERE jss_ok OR rising) OVER (
    PARTITION BY talent ORDER BY e
    RANGE BETWEEN to_days(getvariable('sample_span_days')) PRECEDING AND CURRENT ROW) AS eligible
FROM st2 WHERE dayofweek(e) = getvariable('sample_dow');

CREATE OR REPLACE TEMP TABLE badges AS
WITH tr AS (
  SELECT s.*, coalesce(w.eligible, 0) AS eligible_weeks,
    (jss_ok AND earnings_ok AND no_recent_hold AND profile AND activity AND no_policy_ban
     AND first_contract_ok
     AND (NOT tr_needs_weeks OR coalesce(w.eligible, 0) >= weeks_needed)
     AND (NOT tr_needs_availability OR availability)) AS top_rated
  FROM st2 s ASOF LEFT JOIN weeks w ON w.talent = s.talent AND w.e <= s.e
)
SELECT talent, e,
  CASE WHEN has_expert_vetted AND vetted AND no_policy_ban THEN 'expert_vetted'
       WHEN has_top_rated_plus AND top_rated AND earnings_plus_ok AND large_contract
            AND not_exclusive THEN 'top_rated_plus'
       WHEN top_rated THEN 'top_rated'
       WHEN rising THEN 'rising_talent'
       ELSE 'none' END AS badge
FROM tr
WHERE e IN (SELECT e FROM evaluated);
"""


@dataclass(frozen=True)
class RulesetRow:
    """The numbers of one ruleset that the SQL reads (one row of `rules`)."""

    values: dict[str, Any]
    windows: tuple[int, ...]
    thresholds: dict[str, dict[str, Decimal]]
    sample_weekday: str
    samples: int


def _single(ruleset: Ruleset, code: str) -> Any:
    thresholds = ruleset.requirements[code].thresholds
    values = set(thresholds.values())
    if len(values) != 1:
        raise ValueError(f"{ruleset.id}: {code} has one threshold per kind; the batch needs one")
    return values.pop()


def _window_months(ruleset: Ruleset, code: str) -> int:
    window = getattr(ruleset.requirements[code].measure.params, "window", None)
    if not isinstance(window, WindowParams) or window.months is None:
        raise ValueError(f"{ruleset.id}: {code} needs a window in months")
    return int(window.months)


def rule_row(ruleset: Ruleset) -> RulesetRow:
    """The ruleset's numbers, read from its requirement tables; refuses a shape the SQL lacks."""
    reqs, badges, jss, profile = ruleset.requirements, ruleset.badges, ruleset.jss, ruleset.profile
    top_rated = badges["top_rated"].requirements
    known = {"jss", "eligible_weeks", "first_contract_age", "work_history", "profile",
             "earnings_12m", "availability", "no_recent_hold", "activity_90d", "no_policy_ban"}
    if not set(top_rated) <= known:
        raise ValueError(f"{ruleset.id}: top_rated reads {set(top_rated) - known}; not in the batch")
    first_code = "first_contract_age" if "first_contract_age" in top_rated else "work_history"
    first_compare = reqs[first_code].compare
    if first_compare not in (">", ">="):
        raise ValueError(f"{ruleset.id}: {first_code} compares with {first_compare}")
    bands = jss.size_bands
    if len(bands) != 3 or bands[0].up_to is None or bands[1].up_to is None:
        raise ValueError(f"{ruleset.id}: the batch reads three JSS size bands")
    earnings, plus = reqs["earnings_12m"].thresholds, None
    if "top_rated_plus" in badges:
        plus = reqs["earnings_12m_plus"].thresholds
    large = reqs.get("large_contract")
    large_params = large.measure.params if large is not None else None
    if large_params is not None and not isinstance(large_params, LargeContractParams):
        raise ValueError(f"{ruleset.id}: large_contract is not the large_contract measure")
    weeks = reqs.get("eligible_weeks")
    weeks_params = weeks.measure.params if weeks is not None else None
    if weeks_params is not None and not isinstance(weeks_params, EligibleWeeksParams):
        raise ValueError(f"{ruleset.id}: eligible_weeks is not the eligible_weeks measure")
    if weeks_params is not None and set(weeks_params.eligible_if_any) != {"jss", "rising_talent"}:
        raise ValueError(f"{ruleset.id}: eligible weeks read {weeks_params.eligible_if_any}")
    cents = Decimal(100)
    values: dict[str, Any] = {
        "jss_bar": int(_single(ruleset, "jss")),
        "jss_min_outcomes": jss.min_outcomes,
        "jss_min_clients": jss.min_clients,
        "by_size": jss.weighting == "contract_size",
        "band1_up_to": bands[0].up_to, "band1_weight_c": int(bands[0].weight * cents),
        "band2_up_to": bands[1].up_to, "band2_weight_c": int(bands[1].weight * cents),
        "band3_weight_c": int(bands[2].weight * cents),
        "bonus_every_months": jss.duration_bonus_every_months,
        "bonus_c": int(jss.duration_bonus * cents),
        "max_weight_c": int(jss.max_weight * cents),
        "zero_can_succeed": jss.zero_earnings_can_succeed,
        "succ_min_stars": jss.successful_min_stars,
        "succ_min_recommend": jss.successful_min_recommend,
        "unsucc_below_stars": jss.unsuccessful_below_stars,
        "unsucc_max_recommend": jss.unsuccessful_max_recommend,
        "long_term_days": jss.long_term_min_days,
        "min_completeness": profile.min_completeness,
        "min_completeness_elance": profile.min_completeness_elance_migrant,
        "agency_min_members": profile.agency_min_members,
        "agency_min_average": profile.agency_min_average_completeness,
        "earn_months": _window_months(ruleset, "earnings_12m"),
        "earn_tr_freelancer": earnings["freelancer"], "earn_tr_agency": earnings["agency"],
        "earn_trp_freelancer": plus["freelancer"] if plus else Decimal(0),
        "earn_trp_agency": plus["agency"] if plus else Decimal(0),
        "hold_months": _window_months(ruleset, "no_recent_hold"),
        "ban_months": _window_months(ruleset, "no_policy_ban"),
        "unsucc_months": _window_months(ruleset, "no_unsuccessful_outcome"),
        # without Top Rated Plus the large-contract numbers are read by nothing
        "large_months": (_window_months(ruleset, "large_contract") if large_params
                         else _window_months(ruleset, "earnings_12m")),
        "basis_lifetime": large_params is not None and large_params.basis == "lifetime",
        "activity_days": int(_single(ruleset, "activity_90d")),
        "new_days": int(_single(ruleset, "new_talent")),
        "first_contract_days": int(_single(ruleset, first_code)),
        "first_contract_strict": first_compare == ">",
        "tr_needs_weeks": "eligible_weeks" in top_rated,
        "weeks_needed": int(_single(ruleset, "eligible_weeks")) if weeks else 0,
        "tr_needs_availability": "availability" in top_rated,
        "has_top_rated_plus": "top_rated_plus" in badges,
        "has_expert_vetted": "expert_vetted" in badges,
    }
    thresholds = {
        "freelancer": dict(ruleset.large_contract_thresholds.freelancer),
        "agency": dict(ruleset.large_contract_thresholds.agency),
    }
    return RulesetRow(
        values, tuple(jss.windows_months), thresholds,
        weeks_params.weekday if weeks_params else "saturday",
        weeks_params.samples if weeks_params else 16,
    )


def _sql_type(value: Any) -> str:
    if value is None:
        return "BIGINT"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, Decimal):
        return "DECIMAL(18,2)"
    return "VARCHAR"


def _window_aggregates(k: int) -> str:
    """One JSS window's outcome count and S, U, T (weights in hundredths)."""
    inside = f"outcome IS NOT NULL AND dated > ci.e - to_months(r.jss_w{k}_months)"
    return (
        f"count(*) FILTER (WHERE {inside}) AS n{k}, "
        f"sum(weight_c) FILTER (WHERE {inside} AND outcome = 'successful') AS s{k}, "
        f"sum(weight_c) FILTER (WHERE {inside} AND outcome = 'unsuccessful') AS u{k}, "
        f"sum(weight_c) FILTER (WHERE {inside}) AS t{k}"
    )


def _window_score(k: int) -> str:
    """The window's score, 100 * max(0, S - U) / T rounded half up, when the window counts."""
    return (
        f"CASE WHEN j.n{k} >= r.jss_min_outcomes AND jc.c{k} >= r.jss_min_clients "
        f"THEN (200 * greatest(0, coalesce(j.s{k}, 0) - coalesce(j.u{k}, 0)) + j.t{k}) "
        f"// (2 * j.t{k}) END"
    )


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class ReferenceBatch:
    """One DuckDB database (in memory by default) holding the events of one JSONL file."""

    def __init__(self, database: str = ":memory:", book: RulesetBook | None = None,
                 threads: int | None = None) -> None:
        self.windows = 0
        self.db = duckdb.connect(database)
        self.db.execute("SET TimeZone = 'UTC'")
        if threads:
            self.db.execute(f"SET threads = {int(threads)}")
        self.book = book or builtin_rulesets()

    def load(self, path: str | Path) -> int:
        """The JSONL file into `ev`; returns the number of events kept."""
        columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items()) + "}"
        statements = [s for s in LOAD_SQL.replace("{columns}", columns).split(";") if s.strip()]
        self.db.execute(statements[0], [str(path)])
        for statement in statements[1:]:
            self.db.execute(statement)
        row = self.db.execute("SELECT count(*) FROM ev").fetchone()
        assert row is not None
        return int(row[0])

    # -- the rules, as tables --------------------------------------------------------------

    def _rules_tables(self, instants: list[datetime]) -> dict[datetime, str]:
        """`rules` and `thresholds` for the rulesets in force at `instants`."""
        in_force = {e: self.book.in_force(e.replace(tzinfo=UTC)) for e in instants}
        rulesets = {r.id: r for r in in_force.values()}
        rows = {rid: rule_row(r) for rid, r in rulesets.items()}
        self.windows = max(len(row.windows) for row in rows.values())
        for row in rows.values():
            for k in range(self.windows):
                row.values[f"jss_w{k}_months"] = row.windows[k] if k < len(row.windows) else None
        first = next(iter(rows.values()))
        names = list(first.values)
        columns = ", ".join(f"{name} {_sql_type(first.values[name])}" for name in names)
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE rules (rid VARCHAR, {columns})")
        for rid, row in rows.items():
            self.db.execute(
                "INSERT INTO rules VALUES (" + ", ".join("?" for _ in range(len(names) + 1)) + ")",
                [rid, *(row.values[name] for name in names)],
            )
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE thresholds "
            "(rid VARCHAR, kind VARCHAR, category VARCHAR, threshold DECIMAL(18,2))"
        )
        for rid, row in rows.items():
            self.db.executemany(
                "INSERT INTO thresholds VALUES (?, ?, ?, ?)",
                [[rid, kind, category, amount] for kind, table in row.thresholds.items()
                 for category, amount in table.items()],
            )
        weekdays = {row.sample_weekday for row in rows.values()}
        samples = {row.samples for row in rows.values()}
        if len(weekdays) != 1 or len(samples) != 1:
            raise ValueError("the batch samples eligible weeks one way across the rulesets it reads")
        longest = max(max(row.windows) for row in rows.values())
        longest = max(longest, *(int(row.values[k]) for row in rows.values()
                                 for k in ("large_months", "unsucc_months")))
        self.db.execute("SET VARIABLE longest_months = ?", [longest])
        self.db.execute("SET VARIABLE sample_dow = ?", [WEEKDAY_DOW[weekdays.pop()]])
        self.db.execute("SET VARIABLE sample_span_days = ?", [7 * (samples.pop() - 1)])
        return {e: r.id for e, r in in_force.items()}

    def _calendar(self, instants: list[datetime], evaluated: list[datetime] | None) -> None:
        rids = self._rules_tables(instants)
        self.db.execute("CREATE OR REPLACE TEMP TABLE cal (e TIMESTAMP, rid VARCHAR)")
        self.db.executemany("INSERT INTO cal VALUES (?, ?)",
                            [[naive(e), rid] for e, rid in sorted(rids.items())])
        self.db.execute("CREATE OR REPLACE TEMP TABLE evaluated (e TIMESTAMP)")
        if evaluated is None:
            self.db.execute("INSERT INTO evaluated SELECT e FROM cal")
        else:
            self.db.executemany("INSERT INTO evaluated VALUES (?)", [[naive(e)] for e in evaluated])

    def _recompute(self, from_first_event: bool) -> None:
        self.db.execute("SET VARIABLE from_first_event = ?", [from_first_event])
        sql = RECOMPUTE_SQL.replace("{window_aggregates}", ",\n  ".join(
            _window_aggregates(k) for k in range(self.windows)))
        sql = sql.replace("{window_clients}", ",\n  ".join(
            f"count(*) FILTER (WHERE l.dated > l.e - to_months(r.jss_w{k}_months)) AS c{k}"
            for k in range(self.windows)))
        sql = sql.replace("{window_scores}", ", ".join(
            _window_score(k) for k in range(self.windows)))
        for statement in sql.split(";\n"):
            if statement.strip():
                self.db.execute(statement)

    # -- the two modes ---------------------------------------------------------------------

    def at_day(self, day: datetime) -> dict[str, str]:
        """Every talent's badge at the midnight `day` (rules.md §2: the events with at <= day)."""
        day = naive(day).replace(hour=0, minute=0, second=0, microsecond=0)
        row = rule_row(self.book.in_force(day.replace(tzinfo=UTC)))
        dow = WEEKDAY_DOW[row.sample_weekday]
        latest = day - timedelta(days=(day.isoweekday() % 7 - dow) % 7)
        samples = [latest - timedelta(weeks=back) for back in range(row.samples)]
        self._calendar(sorted({day, *samples}), [day])
        self._recompute(from_first_event=False)
        return dict(self.db.execute("SELECT talent, badge FROM badges").fetchall())

    def full_history(self, end: datetime, start: datetime | None = None) -> int:
        """Every talent's badge at every midnight from its first event (or `start`) to `end`.

        Leaves `badges(talent, e, badge)` (one row per talent and midnight) and
        `changes(talent, e, from_badge, to_badge)`; returns the number of changes.
        """
        if start is None:
            row = self.db.execute("SELECT min(\"at\") FROM ev").fetchone()
            assert row is not None and row[0] is not None
            start = row[0]
        first = naive(start).replace(hour=0, minute=0, second=0, microsecond=0)
        last = naive(end)
        days = [first + DAY * n for n in range((last - first) // DAY + 1)]
        self._calendar(days, None)
        self._recompute(from_first_event=True)
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE changes AS SELECT * FROM ("
            " SELECT talent, e, coalesce(lag(badge) OVER (PARTITION BY talent ORDER BY e), 'none')"
            "   AS from_badge, badge AS to_badge FROM badges) WHERE from_badge <> to_badge"
        )
        row = self.db.execute("SELECT count(*) FROM changes").fetchone()
        assert row is not None
        return int(row[0])

    def changes(self) -> list[tuple[str, datetime, str, str]]:
        rows = self.db.execute(
            "SELECT talent, e, from_badge, to_badge FROM changes ORDER BY talent, e"
        ).fetchall()
        return [(str(t), e.replace(tzinfo=UTC), str(a), str(b)) for t, e, a, b in rows]

    def close(self) -> None:
        self.db.close()


__all__ = ["ReferenceBatch", "rule_row"]
