"""Gate for citizen consultations (`raw.consultations__consultations`).

Each record carries its ranked priorities as a JSON array (the contract keeps the nested
list whole); the priority checks run inside PostgreSQL on that array with `jsonb` queries.
The contract's checks (columns, key, patterns, dates never in the future) are generated.
"""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import CRITICAL, INFO, WARNING, expect_in_seed
from expectations.context import SuiteContext, seed_values

# What a priority may point at: the indicator definitions (`ref_indicators` seed) plus the
# numerators the observatory counts, and the crime types (no seed lists them yet).
INDICATOR_CODES = [
    "homicide_count_police",
    "femicide_count",
    "intrafamily_violence_reports",
    "sexual_violence_reports",
    "detentions_count",
    "police_complaints_count",
    "use_of_force_incidents",
    "homicide_count_health",
    "legal_intervention_deaths",
    "homicide_true",
]
CRIME_TYPES = [
    "homicide",
    "attempted_homicide",
    "assault",
    "sexual_violence",
    "intrafamily_violence",
    "robbery",
    "burglary",
    "theft",
    "vehicle_theft",
    "extortion",
    "kidnapping",
    "drugs",
    "corruption",
    "threats",
    "fraud",
    "property_damage",
    "weapons",
    "other",
]
EARLIEST = date(2000, 1, 1)

# `priorities` is the JSON text of what the platform sent: only text starting with `[` is an
# array (json.dumps of a list), so the cast runs on nothing else.
_ITEMS = (
    "select b.*, p.item from {batch} as b"
    " cross join lateral jsonb_array_elements("
    "case when left(b.priorities, 1) = '[' then cast(b.priorities as jsonb)"
    " else '[]'::jsonb end) as p(item)"
)
NOT_A_LIST = (
    "select * from {batch} where left(priorities, 1) <> '['"
    " or jsonb_array_length(case when left(priorities, 1) = '['"
    " then cast(priorities as jsonb) end) = 0"
)
BAD_ITEM = (
    f"select * from ({_ITEMS}) as i where jsonb_typeof(i.item) <> 'object'"
    " or i.item->>'tipo_codigo' is null"
    " or i.item->>'tipo_codigo' not in ('indicador', 'tipo_delito')"
    " or coalesce(i.item->>'codigo_tema', '') = ''"
    " or jsonb_typeof(i.item->'posicion') <> 'number'"
    " or jsonb_typeof(i.item->'votos') <> 'number'"
)
RANKS_NOT_1_TO_N = (
    f"select consultation_id from ({_ITEMS}) as i"
    " where jsonb_typeof(i.item->'posicion') = 'number'"
    " group by consultation_id"
    " having count(distinct i.item->>'posicion') <> count(*)"
    " or min((i.item->>'posicion')::numeric) <> 1"
    " or max((i.item->>'posicion')::numeric) <> count(*)"
)
VOTES_ABOVE_PARTICIPANTS = (
    f"select * from ({_ITEMS}) as i where jsonb_typeof(i.item->'votos') = 'number'"
    " and ((i.item->>'votos')::numeric < 0 or (i.item->>'votos')::numeric > i.participants)"
)


def _unknown_code(kind: str, codes: list[str]) -> str:
    listed = ", ".join(f"'{code}'" for code in codes)
    return (
        f"select * from ({_ITEMS}) as i where i.item->>'tipo_codigo' = '{kind}'"
        f" and i.item->>'codigo_tema' not in ({listed})"
    )


VOTES_NOT_BY_RANK = (
    f"select * from ({_ITEMS}) as i join lateral jsonb_array_elements("
    "cast(i.priorities as jsonb)) as q(other) on true"
    " where jsonb_typeof(i.item->'posicion') = 'number'"
    " and jsonb_typeof(q.other->'posicion') = 'number'"
    " and (q.other->>'posicion')::numeric > (i.item->>'posicion')::numeric"
    " and (q.other->>'votos')::numeric > (i.item->>'votos')::numeric"
)


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    # Dates: not before the platform could exist (the future is ruled out by the contract).
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="consultation_date", min_value=EARLIEST, severity=CRITICAL
        )
    )

    # Codes and plausible values.
    expect_in_seed(
        suite, "municipality_code", "ref_municipalities", "municipality_code", severity=CRITICAL
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(column="participants", min_value=1, severity=WARNING)
    )

    # The nested priorities: a non-empty list of ranked, coded, voted items.
    indicators = sorted(seed_values("ref_indicators", "indicator_code") | set(INDICATOR_CODES))
    checks = [
        (NOT_A_LIST, "`prioridades` is a non-empty JSON array.", CRITICAL),
        (
            BAD_ITEM,
            "Each priority has `posicion`, `votos`, `codigo_tema` and a known "
            "`tipo_codigo` (`indicador` or `tipo_delito`).",
            CRITICAL,
        ),
        (RANKS_NOT_1_TO_N, "Priorities are ranked 1..n without gaps or ties.", CRITICAL),
        (VOTES_ABOVE_PARTICIPANTS, "Votes are between 0 and the participants.", WARNING),
        (_unknown_code("indicador", indicators), "Indicator codes are known.", WARNING),
        (_unknown_code("tipo_delito", CRIME_TYPES), "Crime types are known.", WARNING),
        (VOTES_NOT_BY_RANK, "A lower-ranked priority has no more votes.", INFO),
    ]
    for query, description, severity in checks:
        suite.add_expectation(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=query, description=description, severity=severity
            )
        )
