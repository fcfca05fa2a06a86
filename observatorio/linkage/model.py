"""Counting every homicide victim once: record linkage across police, prosecution and health.

Police reports, prosecution cases, forensic deaths and hospital admissions that ended in death
each record some homicide victims. This module links those records into one register of
victims with Splink (Fellegi-Sunter, trained without labels by EM, on in-process DuckDB),
explains every difference between the systems, and keeps the register in the warehouse so new
records are linked to it incrementally instead of recomputing everything.

Callers: `update_register()` is the Airflow task after `build_warehouse` (it reads
`intermediate.int_homicide_victim_records`); `bench/linkage.py` and the tests call
`link_records()` on inputs built from the simulator; `review_list()` reads the review list
of the inter-institutional table (the dbt mart `mart_victim_review_list`, delivered by the
extract spec `extracts/mesa_interinstitucional.yaml`).

Input schema (one pandas row per victim record; every person value is already a keyed HMAC):

| column             | type            | meaning                                                  |
|--------------------|-----------------|----------------------------------------------------------|
| `unique_id`        | str, unique     | `<source>:<record key>`, e.g. `police:DEN-2024-0000001-1` |
| `source_dataset`   | str             | `police`, `prosecution`, `forensic` or `hospital`        |
| `id_pseudonym`     | str or null     | HMAC of the national ID (null when missing or invalid)   |
| `name_pseudonym`   | str or null     | HMAC of the whole normalised name                        |
| `name_tokens`      | list[str]       | sorted HMACs of the name's tokens (empty when no name)   |
| `sex`              | `M`/`F` or null | `I` (unknown) is read as null                            |
| `birth_year`       | int or null     | year of birth                                            |
| `age`              | int or null     | age in years at `event_date`                             |
| `event_date`       | date            | incident date (police, prosecution) or death date        |
| `municipality_code`| str             | five-digit municipality code                             |
| `classification`   | str or null     | what the system called it: a national offence code       |
|                    |                 | (`CP-121`), an ICD-10 code (`X95.4`) or a manner of death |
| `is_unidentified`  | bool            | an NN body: no ID and no name                            |
| `report_id`        | str or null     | optional: the police report number the record cites      |
|                    |                 | (police rows and prosecution cases); documentary evidence |

Thresholds (see `LinkageConfig`): a pair scored by the model is a link when its match
probability is at least 0.9 (`match_threshold`). A victim holds at most one record per
system: links are accepted greedily from the most probable down, and a link that would put two
records of one system into one victim is refused, which is also why two unidentified bodies
can never become one victim. A link touching an unidentified (NN) record must moreover show
strong agreement: same municipality, dates at most one day apart, same known sex and ages at
most one year apart. Two NN records from different systems are linked only with evidence:
the same police report number (a prosecution case citing the report), or, under the
default `unidentified_policy="evidence"`, a police or hospital NN and a forensic NN being
each other's only NN candidate on the same day, municipality and compatible sex.
`unidentified_policy="strict"` never links NN to NN.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import SQL_DIR

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

SOURCES = ("police", "prosecution", "forensic", "hospital")
INPUT_COLUMNS = (
    "unique_id",
    "source_dataset",
    "id_pseudonym",
    "name_pseudonym",
    "name_tokens",
    "sex",
    "birth_year",
    "age",
    "event_date",
    "municipality_code",
    "classification",
    "is_unidentified",
)
OPTIONAL_COLUMNS = ("report_id",)

# Names that mean "nobody knows": their pseudonyms are dropped before linking.
UNIDENTIFIED_NAMES = ("NN", "N N", "NO IDENTIFICADO", "DESCONOCIDO", "SIN NOMBRE")

Intent = Literal["homicide", "undetermined", "legal_intervention", "other"]
Status = Literal[
    "confirmed_homicide",
    "homicide_single_source",
    "undetermined_intent",
    "legal_intervention",
    "not_homicide",
]

HOMICIDE_OFFENCE_CODES = frozenset({"CP-121", "CP-122", "CP-123", "CP-124"})
_ICD = re.compile(r"^([A-Z])(\d{2})(\d?)")
_MANNERS: dict[str, Intent] = {
    "homicidio": "homicide",
    "indeterminada": "undetermined",
    "intervencion legal": "legal_intervention",
    "intervención legal": "legal_intervention",
}


# NN records whose dates name the same moment (a police incident and a death on the spot, or
# two death records) may be linked by the same-day rule. A prosecution NN carries nothing
# personal and a hospital death follows the incident by days, so they link only by report.
SAME_DAY_SYSTEM_PAIRS = frozenset({("forensic", "police"), ("forensic", "hospital")})


class LinkageError(ValueError):
    """The linkage input breaks the documented schema."""


class TooLittleToTrain(LinkageError):
    """EM cannot estimate match weights from these records yet; wait for more data."""


@dataclass(frozen=True)
class LinkageConfig:
    """Thresholds and training knobs; the defaults are the documented, measured ones."""

    match_threshold: float = 0.9
    unidentified_policy: Literal["evidence", "strict"] = "evidence"
    # Strong agreement an NN record needs with its partner.
    nn_max_day_gap: int = 1
    nn_max_birth_year_gap: int = 1
    # Prior recall of the deterministic rule used to estimate lambda.
    id_rule_recall: float = 0.9
    u_max_pairs: float = 2e6
    seed: int = 42


@dataclass
class LinkageResult:
    """Records with their victim, the accepted links, and one row per victim."""

    records: pd.DataFrame  # input columns + victim_id
    links: pd.DataFrame  # unique_id_l, unique_id_r, match_probability, rule
    victims: pd.DataFrame  # see VICTIM_COLUMNS
    model: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- classification


def classify_intent(classification: str | None) -> Intent:
    """Map what a system called a death or offence to an intent.

    National offence codes (`CP-121`…`CP-124` are intentional homicide), ICD-10 codes in any
    of the formats health systems send (`X95.4`, `x954`, `X95`: X85-Y09 and Y87.1 homicide,
    Y10-Y34 undetermined intent, Y35 legal intervention) or a forensic manner of death.
    """
    if classification is None or (isinstance(classification, float) and np.isnan(classification)):
        return "other"
    text = str(classification).strip()
    if text.upper().startswith("CP-"):
        return "homicide" if text.upper() in HOMICIDE_OFFENCE_CODES else "other"
    manner = _MANNERS.get(text.lower())
    if manner:
        return manner
    match = _ICD.match(text.upper().replace(".", ""))
    if not match:
        return "other"
    letter, number, fourth = match.group(1), int(match.group(2)), match.group(3)
    if (letter == "X" and number >= 85) or (letter == "Y" and number <= 9):
        return "homicide"
    if letter == "Y" and number == 87 and fourth == "1":
        return "homicide"
    if letter == "Y" and 10 <= number <= 34:
        return "undetermined"
    if letter == "Y" and number == 35:
        return "legal_intervention"
    return "other"


def final_status(intents: dict[str, Intent]) -> Status:
    """The victim's status from each system's intent.

    Confirmed homicide: two or more systems call it homicide. Legal intervention: a system
    says so and fewer than two call it homicide (ICCS keeps it out of homicide). Homicide per
    one source only: exactly one system. Undetermined intent: none says homicide, one says
    undetermined.
    """
    values = list(intents.values())
    homicides = values.count("homicide")
    if homicides >= 2:
        return "confirmed_homicide"
    if "legal_intervention" in values:
        return "legal_intervention"
    if homicides == 1:
        return "homicide_single_source"
    if "undetermined" in values:
        return "undetermined_intent"
    return "not_homicide"


# --------------------------------------------------------------------------- input


def unidentified_name_pseudonyms(key: bytes) -> frozenset[str]:
    """Pseudonyms of the placeholder names used for unidentified bodies (`NN`, ...)."""
    from ingestion.pseudonymise import pseudonymise_name

    return frozenset(p for p in (pseudonymise_name(key, n)[0] for n in UNIDENTIFIED_NAMES) if p)


def validate_records(df: pd.DataFrame) -> None:
    """Raise LinkageError naming the column and the first offending row."""
    missing = [c for c in INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise LinkageError(f"linkage input lacks columns {missing}; expected {INPUT_COLUMNS}")
    duplicated = df["unique_id"][df["unique_id"].duplicated()]
    if len(duplicated):
        raise LinkageError(f"column unique_id: {duplicated.iloc[0]!r} appears more than once")
    unknown = df.loc[~df["source_dataset"].isin(SOURCES), "source_dataset"]
    if len(unknown):
        row = unknown.index[0]
        raise LinkageError(
            f"row {row} (unique_id {df.at[row, 'unique_id']!r}), column source_dataset: "
            f"{unknown.iloc[0]!r} is not one of {SOURCES}"
        )
    for column in ("event_date", "municipality_code"):
        nulls = df[df[column].isna()]
        if len(nulls):
            raise LinkageError(
                f"row {nulls.index[0]} (unique_id {nulls['unique_id'].iloc[0]!r}), "
                f"column {column}: required, got null"
            )


def _nullable(series: pd.Series) -> pd.Series:
    return series.where(series.notna() & (series.astype(str) != ""), None)


def prepare_records(df: pd.DataFrame, unidentified_names: Iterable[str] = ()) -> pd.DataFrame:
    """Validate the input and derive the comparison columns the model uses.

    Placeholder names (their pseudonyms in `unidentified_names`) are dropped, so an `NN`
    is no name at all; a record without ID and name is unidentified whatever it says.
    """
    validate_records(df)
    out = df.copy()
    for column in OPTIONAL_COLUMNS:
        if column not in out.columns:
            out[column] = None
    placeholders = frozenset(unidentified_names)
    out["id_pseudonym"] = _nullable(out["id_pseudonym"])
    out["name_pseudonym"] = _nullable(out["name_pseudonym"])
    is_placeholder = out["name_pseudonym"].isin(placeholders)
    out.loc[is_placeholder, "name_pseudonym"] = None
    out["name_tokens"] = [
        sorted(t) if (isinstance(t, list | tuple | np.ndarray) and len(t) and not p) else None
        for t, p in zip(out["name_tokens"], is_placeholder, strict=True)
    ]
    out["sex"] = out["sex"].where(out["sex"].isin(["M", "F"]), None)
    out["report_id"] = _nullable(out["report_id"])
    out["municipality_code"] = out["municipality_code"].astype(str)
    event = pd.to_datetime(out["event_date"])
    out["event_date"] = event.dt.date
    out["event_day"] = (event - pd.Timestamp("1970-01-01")).dt.days.astype("int64")
    out["event_month"] = (event.dt.year * 100 + event.dt.month).astype("int64")
    out["department_code"] = out["municipality_code"].str[:2]
    age = pd.to_numeric(out["age"], errors="coerce")
    birth_year = pd.to_numeric(out["birth_year"], errors="coerce")
    # Forensic and hospital records give an age, others a birth year: compare one estimate.
    out["birth_year_est"] = birth_year.fillna(event.dt.year - age).astype("Int64")
    # An NN body has no ID and no name: a system's NN flag counts only when no name is left
    # (the police flag rows without ID and age, which a named victim can be).
    no_name = out["name_pseudonym"].isna()
    flagged = out["is_unidentified"].fillna(False).astype(bool)
    out["is_unidentified"] = (flagged & no_name) | (out["id_pseudonym"].isna() & no_name)
    # Few distinct classifications: classify each once (a null one is "other").
    codes, distinct = pd.factorize(out["classification"])
    intents = np.array([*(classify_intent(c) for c in distinct), "other"], dtype=object)
    out["intent"] = intents[codes]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- model

MODEL_COLUMNS = (
    "unique_id",
    "source_dataset",
    "id_pseudonym",
    "name_pseudonym",
    "name_tokens",
    "sex",
    "birth_year_est",
    "event_day",
    "event_month",
    "municipality_code",
    "department_code",
    "report_id",
)


# Names repeat from year to year (namesakes), IDs and report numbers do not: the name rules
# only pair records at most this many days apart, so their candidate pairs grow with the
# records per day, not with the square of the years in the register. A victim's records are
# weeks apart at most: a death up to 45 days after the attack (the simulator's
# LATE_DEATH_MAX_DAYS; no true pair of the medium simulation is further apart), the police,
# prosecution and forensic dates otherwise the same day or a few days apart. Sixty days keeps
# every true pair of the medium simulation and cuts the name candidates of a million records
# six-fold against a year.
NAME_BLOCK_MAX_DAYS = 60


def blocking_rules() -> list[Any]:
    """Blocking rules for predictions: each keeps candidate pairs near-linear in the input.

    ID pseudonym; police report number; whole-name pseudonym; municipality + exact day when
    one side has no ID (what an NN body or a record without ID shares with its partner: two
    records that both carry an ID meet through the ID rule, or are different people); a name
    token + birth year + municipality (a typo and a missing ID together). Both name rules also
    require the events to be at most `NAME_BLOCK_MAX_DAYS` apart.
    """
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    window = f"abs(l.event_day - r.event_day) <= {NAME_BLOCK_MAX_DAYS}"
    return [
        block_on("id_pseudonym"),
        block_on("report_id"),
        CustomRule(f"l.name_pseudonym = r.name_pseudonym and {window}"),
        CustomRule(
            "l.municipality_code = r.municipality_code and l.event_day = r.event_day"
            " and (l.id_pseudonym is null or r.id_pseudonym is null)"
        ),
        CustomRule(
            "l.name_tokens = r.name_tokens and l.birth_year_est = r.birth_year_est"
            f" and l.municipality_code = r.municipality_code and {window}",
            arrays_to_explode=["name_tokens"],
        ),
    ]


# DuckDB takes 80 % of the machine's memory by default and a million records' candidate
# pairs would use it all: cap it and let DuckDB spill to disk instead (the linkage shares
# the machine with the warehouse, Airflow and CI). With 2 GB, the bench's million records
# (bench/results/linkage_1m.json) peak at 5.2 GB for the whole process, pandas frames
# included, and link in about 3 minutes on 2 cores.
DUCKDB_MEMORY_LIMIT = "2GB"
DUCKDB_THREADS = 2


def _duckdb() -> Any:
    """A Splink DuckDB API on an in-memory database with capped memory and threads."""
    import tempfile

    import duckdb
    from splink import DuckDBAPI

    spill = Path(tempfile.gettempdir()) / "observatorio-duckdb-spill"
    connection = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": DUCKDB_MEMORY_LIMIT,
            "threads": DUCKDB_THREADS,
            "temp_directory": str(spill),
            "preserve_insertion_order": False,
        },
    )
    return DuckDBAPI(connection)


def _settings_creator() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    def gap(column: str, limit: int, label: str) -> Any:
        return cll.CustomLevel(f"abs({column}_l - {column}_r) <= {limit}", label_for_charts=label)

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_tokens"),
            cll.ExactMatchLevel("name_pseudonym"),
            cll.ArrayIntersectLevel("name_tokens", min_intersection=2),
            cll.ArrayIntersectLevel("name_tokens", min_intersection=1),
            cll.ElseLevel(),
        ],
    )
    birth_year = cl.CustomComparison(
        output_column_name="birth_year",
        comparison_levels=[
            cll.NullLevel("birth_year_est"),
            cll.ExactMatchLevel("birth_year_est"),
            gap("birth_year_est", 1, "one year apart"),
            gap("birth_year_est", 3, "up to three years apart"),
            cll.ElseLevel(),
        ],
    )
    event_date = cl.CustomComparison(
        output_column_name="event_date",
        comparison_levels=[
            cll.NullLevel("event_day"),
            cll.ExactMatchLevel("event_day"),
            gap("event_day", 2, "up to 2 days apart"),
            gap("event_day", 21, "up to 3 weeks apart"),
            gap("event_day", 60, "up to 60 days apart"),
            cll.ElseLevel(),
        ],
    )
    place = cl.CustomComparison(
        output_column_name="place",
        comparison_levels=[
            cll.NullLevel("municipality_code"),
            cll.ExactMatchLevel("municipality_code"),
            cll.ExactMatchLevel("department_code"),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.ExactMatch("id_pseudonym"),
            name,
            birth_year,
            cl.ExactMatch("sex"),
            event_date,
            place,
            cl.ExactMatch("report_id"),
        ],
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _register(db: Any, records: pd.DataFrame, role: str) -> list[Any]:
    frames = []
    model_input = records.loc[:, list(MODEL_COLUMNS)]
    for source in SOURCES:
        part = model_input[model_input["source_dataset"] == source]
        if len(part):
            frames.append(db.register(part.reset_index(drop=True), table_name=f"{role}_{source}"))
    return frames


def train_model(records: pd.DataFrame, config: LinkageConfig | None = None) -> dict[str, Any]:
    """Train the Fellegi-Sunter model by EM, without labels; returns Splink's model dict."""
    from splink import Linker, block_on

    config = config or LinkageConfig()
    db = _duckdb()
    frames = _register(db, records, "train")
    if len(frames) < 2:
        raise LinkageError("linkage needs records from at least two systems")
    linker = Linker(frames, _settings_creator(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_pseudonym")], recall=config.id_rule_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed)
    # Each session fixes the comparisons in its blocking rule and trains all the others.
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("id_pseudonym"), estimate_without_term_frequencies=True
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("municipality_code", "event_day"), estimate_without_term_frequencies=True
        )
    except ValueError as exc:
        # On sparse data (a first month) EM can drive an m probability to exactly 0 for a
        # level no match shows, and Splink refuses the value: there is too little to learn.
        if "below the minimum allowed value" not in str(exc):
            raise
        raise TooLittleToTrain(
            f"EM could not estimate match weights from {len(records)} records"
        ) from exc
    model: dict[str, Any] = linker.misc.save_model_to_json()
    return model


def _predictions_frame(sdf: Any) -> pd.DataFrame:
    frame: pd.DataFrame = sdf.as_pandas_dataframe()
    return frame.loc[:, ["unique_id_l", "unique_id_r", "match_probability"]]


def score_pairs(
    model: dict[str, Any],
    records: pd.DataFrame,
    existing: pd.DataFrame | None = None,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Candidate pairs scored by the model, at or above `threshold`.

    With `existing`, scores the new `records` against the existing ones and among
    themselves, never existing against existing: the incremental path.
    """
    from splink import Linker

    db = _duckdb()
    new_frames = _register(db, records, "new")
    existing_frames = _register(db, existing, "old") if existing is not None else []
    anchor = new_frames + existing_frames
    if not anchor:
        return pd.DataFrame(columns=["unique_id_l", "unique_id_r", "match_probability"])
    # A Linker needs input tables to exist; scoring itself goes through predict_within and
    # predict_between so the same trained model serves full and incremental runs.
    if len(anchor) == 1:
        anchor = [anchor[0], db.register(records.loc[[], list(MODEL_COLUMNS)], table_name="x")]
    # Blocking is the code's choice, not something learned: a model trained before the rules
    # changed scores with the current ones.
    settings = {
        **model,
        "blocking_rules_to_generate_predictions": [
            rule.create_blocking_rule_dict("duckdb") for rule in blocking_rules()
        ],
    }
    linker = Linker(anchor, settings, log_level=logging.WARNING)
    parts = []
    if len(new_frames) > 1:
        parts.append(
            _predictions_frame(
                linker.inference.predict_within(
                    new_frames, threshold_match_probability=threshold, warning_mode="never"
                )
            )
        )
    if existing_frames and new_frames:
        parts.append(
            _predictions_frame(
                linker.inference.predict_between(
                    existing_frames,
                    new_frames,
                    threshold_match_probability=threshold,
                    warning_mode="never",
                )
            )
        )
    if not parts:
        return pd.DataFrame(columns=["unique_id_l", "unique_id_r", "match_probability"])
    return pd.concat(parts, ignore_index=True).drop_duplicates(["unique_id_l", "unique_id_r"])


# --------------------------------------------------------------------------- acceptance


def _strong_agreement(pairs: pd.DataFrame, config: LinkageConfig) -> pd.Series:
    return (
        (pairs["municipality_code_l"] == pairs["municipality_code_r"])
        & ((pairs["event_day_l"] - pairs["event_day_r"]).abs() <= config.nn_max_day_gap)
        & pairs["sex_l"].notna()
        & (pairs["sex_l"] == pairs["sex_r"])
        & (
            (pairs["birth_year_est_l"] - pairs["birth_year_est_r"]).abs()
            <= config.nn_max_birth_year_gap
        ).fillna(False)
    )


def _with_sides(pairs: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    cols = [
        "unique_id",
        "source_dataset",
        "municipality_code",
        "event_day",
        "sex",
        "birth_year_est",
        "report_id",
        "is_unidentified",
    ]
    side = records.loc[:, cols]
    merged = pairs.merge(side.add_suffix("_l"), on="unique_id_l", how="left")
    return merged.merge(side.add_suffix("_r"), on="unique_id_r", how="left")


def unidentified_pairs(records: pd.DataFrame, config: LinkageConfig) -> pd.DataFrame:
    """NN-to-NN links between systems, only with evidence (see the module docstring)."""
    nn = records.loc[records["is_unidentified"]]
    columns = ["unique_id_l", "unique_id_r", "match_probability", "rule"]
    if nn.empty:
        return pd.DataFrame(columns=columns)
    keys = ["unique_id", "source_dataset", "municipality_code", "event_day", "sex", "report_id"]
    left = nn.loc[:, keys].add_suffix("_l")
    right = nn.loc[:, keys].add_suffix("_r")
    found = []
    # Records without a report number have nothing to share (pandas would join null to null:
    # every forensic NN of a national register to every hospital NN).
    by_report = left.dropna(subset=["report_id_l"]).merge(
        right.dropna(subset=["report_id_r"]), left_on="report_id_l", right_on="report_id_r"
    )
    by_report = by_report[by_report["source_dataset_l"] < by_report["source_dataset_r"]]
    # A report with several NN victims is ambiguous: no documentary link then.
    for side in ("l", "r"):
        counts = by_report.groupby(f"unique_id_{side}")[f"unique_id_{side}"].transform("size")
        by_report = by_report[counts == 1]
    found.append(by_report.assign(rule="report_number"))
    if config.unidentified_policy == "strict":
        return pd.DataFrame(columns=columns)
    # Joined on place and day at once: joined on place alone, a national register's NN
    # records would pair up by the hundred million.
    same_place = left.merge(
        right,
        left_on=["municipality_code_l", "event_day_l"],
        right_on=["municipality_code_r", "event_day_r"],
    )
    same_place = same_place[
        (same_place["source_dataset_l"] + "|" + same_place["source_dataset_r"]).isin(
            {f"{a}|{b}" for a, b in SAME_DAY_SYSTEM_PAIRS}
        )
        & (
            same_place["sex_l"].isna()
            | same_place["sex_r"].isna()
            | (same_place["sex_l"] == same_place["sex_r"])
        )
    ]
    # Unique on both sides, per pair of systems: the only NN body that day and place.
    for side, other in (("l", "r"), ("r", "l")):
        counts = same_place.groupby([f"unique_id_{side}", f"source_dataset_{other}"])[
            f"unique_id_{other}"
        ].transform("size")
        same_place = same_place[counts == 1]
    found.append(same_place.assign(rule="unique_nn_day_place"))
    pairs = pd.concat(found, ignore_index=True).drop_duplicates(["unique_id_l", "unique_id_r"])
    return pairs.assign(match_probability=np.nan).loc[:, columns]


def accept_links(
    scored: pd.DataFrame, records: pd.DataFrame, config: LinkageConfig
) -> pd.DataFrame:
    """Model links above the threshold that satisfy the unidentified-body rule, plus NN links."""
    columns = ["unique_id_l", "unique_id_r", "match_probability", "rule"]
    above = scored[scored["match_probability"] >= config.match_threshold]
    sided = _with_sides(above, records)
    nn_l = sided["is_unidentified_l"].astype(bool)
    nn_r = sided["is_unidentified_r"].astype(bool)
    both_identified = ~nn_l & ~nn_r
    one_nn = (nn_l ^ nn_r) & _strong_agreement(sided, config)
    model_links = sided[both_identified | one_nn].assign(rule="model").loc[:, columns]
    nn_links = unidentified_pairs(records, config)
    return pd.concat([model_links, nn_links], ignore_index=True)


# --------------------------------------------------------------------------- clustering


class _Clusters:
    """Union-find over records where a cluster holds at most one record per system."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.parent: dict[str, str] = {}
        self.sources: dict[str, set[str]] = {}
        self.record_source = sources

    def find(self, node: str) -> str:
        root = self.parent.setdefault(node, node)
        if root not in self.sources:
            self.sources[root] = {self.record_source[node]}
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: str, b: str) -> bool:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return True
        if self.sources[root_a] & self.sources[root_b]:
            return False
        if root_b < root_a:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.sources[root_a] |= self.sources.pop(root_b)
        return True


def cluster_records(
    records: pd.DataFrame,
    links: pd.DataFrame,
    seed_clusters: dict[str, str] | None = None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Assign each record a cluster root; returns (root per record, links actually used).

    The root is the smallest unique_id of the cluster, as a Series aligned with `records`.
    Links are applied most-evidence-first (documentary and NN rules, then by probability);
    a link that would put two records of one system together is refused. `seed_clusters`
    (unique_id -> victim_id of the register) are applied first, so existing victims stay.

    Only connected components in which some system appears twice can refuse a link, so the
    greedy pass runs on those alone; every other component takes all its links at once
    (scipy's connected components), which keeps a million records to seconds.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    uids = records["unique_id"].to_numpy(dtype=object)
    position = pd.Series(np.arange(len(uids)), index=uids)
    ordered = links.assign(
        _order=pd.to_numeric(links["match_probability"], errors="coerce").fillna(2.0),
    ).sort_values(["_order", "unique_id_l", "unique_id_r"], ascending=[False, True, True])
    left = position.reindex(ordered["unique_id_l"].to_numpy()).to_numpy()
    right = position.reindex(ordered["unique_id_r"].to_numpy()).to_numpy()
    if np.isnan(left).any() or np.isnan(right).any():
        raise LinkageError("a link names a unique_id that is not among the records")
    left, right = left.astype(np.int64), right.astype(np.int64)
    # Seed edges: each register victim's records chained to its first record.
    seed_pairs: list[tuple[str, str]] = []
    if seed_clusters:
        first: dict[str, str] = {}
        for uid, victim in sorted(seed_clusters.items()):
            if uid not in position.index:
                continue
            anchor = first.setdefault(victim, uid)
            if anchor != uid:
                seed_pairs.append((anchor, uid))
    seed_left = position.reindex([a for a, _ in seed_pairs]).to_numpy(dtype=np.int64)
    seed_right = position.reindex([b for _, b in seed_pairs]).to_numpy(dtype=np.int64)
    rows = np.concatenate([left, seed_left])
    cols = np.concatenate([right, seed_right])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(uids),) * 2)
    _, component = connected_components(graph, directed=False)
    system = records["source_dataset"].to_numpy(dtype=object)
    per_system = pd.DataFrame({"component": component, "system": system})
    repeated = per_system.duplicated(["component", "system"]).to_numpy()
    conflicted = np.zeros(component.max() + 1 if len(component) else 0, dtype=bool)
    conflicted[component[repeated]] = True

    used = np.ones(len(ordered), dtype=bool)
    label = component.astype(np.int64)
    in_conflict = conflicted[component[left]] if len(left) else np.zeros(0, dtype=bool)
    if conflicted.any():
        members = np.flatnonzero(conflicted[component])
        clusters = _Clusters(dict(zip(uids[members], system[members], strict=True)))
        for a, b in seed_pairs:
            if conflicted[component[position[a]]]:
                clusters.union(a, b)
        for index in np.flatnonzero(in_conflict):
            used[index] = clusters.union(uids[left[index]], uids[right[index]])
        # Sub-clusters of a conflicted component get labels past the component numbers.
        roots = pd.Series([clusters.find(u) for u in uids[members]])
        label[members] = len(conflicted) + pd.factorize(roots)[0]
    root = pd.Series(uids, dtype=object).groupby(label).transform("min")
    root.index = records.index
    return root, ordered.loc[used].drop(columns="_order")


def _victim_id(members: Sequence[str]) -> str:
    digest = hashlib.sha256(min(members).encode()).hexdigest()[:16]
    return f"VIC-{digest}"


# --------------------------------------------------------------------------- victims

VICTIM_COLUMNS = (
    "victim_id",
    "record_count",
    "systems",
    "has_police_record",
    "has_prosecution_record",
    "has_forensic_record",
    "has_hospital_record",
    "police_record_id",
    "prosecution_record_id",
    "forensic_record_id",
    "hospital_record_id",
    "police_classification",
    "prosecution_classification",
    "forensic_classification",
    "hospital_classification",
    "homicide_sources",
    "match_probability",
    "linked_by_rule",
    "final_status",
    "is_unidentified",
    "event_date",
    "municipality_code",
    "is_police_without_autopsy",
    "is_autopsy_without_police",
    "is_reclassified",
    "id_pseudonym",
    "name_pseudonym",
)

# The reference place and date of a victim come from the first system that has them.
_REFERENCE_ORDER = ("police", "forensic", "prosecution", "hospital")


def summarise_victims(records: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """One row per victim: which systems, each one's classification, probability, status.

    Array-wise (numpy over factorised victim ids, no per-victim Python): a national register
    of a million records summarises in seconds.
    """
    if records.empty:
        return pd.DataFrame(columns=list(VICTIM_COLUMNS))
    codes, victims = pd.factorize(records["victim_id"].to_numpy(dtype=object), sort=True)
    n = len(victims)
    system = records["source_dataset"].map({s: i for i, s in enumerate(SOURCES)}).to_numpy()
    rank = records["source_dataset"].map({s: i for i, s in enumerate(_REFERENCE_ORDER)})
    is_nn = records["is_unidentified"].to_numpy(dtype=bool)

    def first_per_victim(mask: np.ndarray) -> np.ndarray:
        """Row index of each victim's first record (in _REFERENCE_ORDER) within `mask`, or -1."""
        order = np.lexsort((rank.to_numpy(), codes))
        order = order[mask[order]]
        found, where = np.unique(codes[order], return_index=True)
        first = np.full(n, -1)
        first[found] = order[where]
        return first

    def pick(column: str, rows: np.ndarray) -> np.ndarray:
        values = records[column].to_numpy(dtype=object)
        picked = np.full(n, None, dtype=object)
        picked[rows >= 0] = values[rows[rows >= 0]]
        return np.array([None if pd.isna(v) else v for v in picked], dtype=object)

    def per_system(column: str) -> np.ndarray:
        """(victim, system) matrix of `column`; None where the system has no record."""
        matrix = np.full((n, len(SOURCES)), None, dtype=object)
        matrix[codes, system] = records[column].to_numpy(dtype=object)
        return matrix

    first = first_per_victim(np.ones(len(records), dtype=bool))
    out: dict[str, Any] = {
        "victim_id": victims,
        "record_count": np.bincount(codes, minlength=n).astype("int64"),
        # The reference place and date: the first system in _REFERENCE_ORDER that has them.
        "event_date": records["event_date"].to_numpy(dtype=object)[first],
        "municipality_code": records["municipality_code"].to_numpy(dtype=object)[first],
        "is_unidentified": np.bincount(codes, weights=~is_nn, minlength=n) == 0,
    }
    for column in ("id_pseudonym", "name_pseudonym"):
        out[column] = pick(column, first_per_victim(~is_nn & records[column].notna().to_numpy()))
    record_ids = per_system("unique_id")
    classifications = per_system("classification")
    intents = per_system("intent")
    present = record_ids != None  # noqa: E711 (element-wise on an object array)
    for i, source in enumerate(SOURCES):
        out[f"has_{source}_record"] = present[:, i]
        out[f"{source}_record_id"] = record_ids[:, i]
        out[f"{source}_classification"] = np.array(
            [None if pd.isna(v) else v for v in classifications[:, i]], dtype=object
        )
    out["systems"] = [[s for s, h in zip(SOURCES, row, strict=True) if h] for row in present]
    homicides = (intents == "homicide").sum(axis=1)
    out["homicide_sources"] = homicides.astype("int64")
    # final_status(), array-wise.
    out["final_status"] = np.select(
        [
            homicides >= 2,
            (intents == "legal_intervention").any(axis=1),
            homicides == 1,
            (intents == "undetermined").any(axis=1),
        ],
        [
            "confirmed_homicide",
            "legal_intervention",
            "homicide_single_source",
            "undetermined_intent",
        ],
        default="not_homicide",
    )
    reclassified = np.zeros(n, dtype=bool)
    for a in range(len(SOURCES)):
        for b in range(a + 1, len(SOURCES)):
            both = present[:, a] & present[:, b]
            reclassified |= both & (intents[:, a] != intents[:, b])
    out["is_reclassified"] = reclassified
    police, forensic = present[:, SOURCES.index("police")], present[:, SOURCES.index("forensic")]
    out["is_police_without_autopsy"] = police & ~forensic
    out["is_autopsy_without_police"] = forensic & ~police

    # The lowest model probability among the victim's links; rule links flag the victim.
    victim_code = pd.Series(codes, index=records["unique_id"].to_numpy())
    owner = victim_code.reindex(links["unique_id_l"].to_numpy()).to_numpy(dtype=float)
    known = ~np.isnan(owner)
    is_model = (links["rule"] == "model").to_numpy(dtype=bool)
    probability = pd.to_numeric(links["match_probability"], errors="coerce").to_numpy(float)
    lowest = np.full(n, np.inf)
    keep = known & is_model & ~np.isnan(probability)
    np.minimum.at(lowest, owner[keep].astype(int), probability[keep])
    out["match_probability"] = np.where(np.isinf(lowest), np.nan, lowest)
    by_rule = np.zeros(n, dtype=bool)
    by_rule[owner[known & ~is_model].astype(int)] = True
    out["linked_by_rule"] = by_rule
    return pd.DataFrame(out).loc[:, list(VICTIM_COLUMNS)]


def _assign_victims(
    records: pd.DataFrame, roots: pd.Series, known: dict[str, str] | None = None
) -> pd.Series:
    """Victim id per record: the register's id for a cluster it knows, else a new one."""
    # A new victim's id hashes its smallest record id, which is the cluster's root.
    unique_roots = pd.unique(roots.to_numpy(dtype=object))
    new_ids = pd.Series([_victim_id([r]) for r in unique_roots], index=unique_roots)
    victim = roots.map(new_ids)
    if known:
        existing = records["unique_id"].map(known)
        # A cluster keeps the register's victim id (the smallest when two victims merged).
        kept = existing.groupby(roots.to_numpy(dtype=object)).transform("min")
        victim = kept.where(kept.notna(), victim)
    return victim.astype(object)


def link_records(
    df: pd.DataFrame,
    config: LinkageConfig | None = None,
    *,
    model: dict[str, Any] | None = None,
    unidentified_names: Iterable[str] = (),
) -> LinkageResult:
    """Link all records from scratch (training the model unless one is given)."""
    config = config or LinkageConfig()
    records = prepare_records(df, unidentified_names)
    model = model or train_model(records, config)
    scored = score_pairs(model, records, threshold=min(0.5, config.match_threshold))
    links = accept_links(scored, records, config)
    roots, used = cluster_records(records, links)
    records["victim_id"] = _assign_victims(records, roots)
    return LinkageResult(records, used, summarise_victims(records, used), model)


def link_new_records(
    register_records: pd.DataFrame,
    register_links: pd.DataFrame,
    new: pd.DataFrame,
    model: dict[str, Any],
    config: LinkageConfig | None = None,
    *,
    unidentified_names: Iterable[str] = (),
) -> LinkageResult:
    """Link new records to an existing register with the stored model.

    `register_records` are earlier records (input columns) with their `victim_id`, and
    `register_links` the links that made those victims. Only new-to-existing and new-to-new
    pairs are scored, so the cost follows the size of the new batch. Existing victims keep
    their ids; a new record joins a victim or starts one, and a new record that bridges two
    victims merges them under the smaller id. Records already in the register are ignored.
    Returns the whole updated register.
    """
    config = config or LinkageConfig()
    known = dict(zip(register_records["unique_id"], register_records["victim_id"], strict=True))
    fresh = new[~new["unique_id"].isin(known)]
    old = prepare_records(register_records.drop(columns=["victim_id"]), unidentified_names)
    if fresh.empty:
        old["victim_id"] = old["unique_id"].map(known)
        return LinkageResult(old, register_links, summarise_victims(old, register_links), model)
    added = prepare_records(fresh, unidentified_names)
    records = pd.concat([old, added], ignore_index=True)
    scored = score_pairs(model, added, existing=old, threshold=min(0.5, config.match_threshold))
    links = accept_links(scored, records, config)
    # NN rules look at the whole neighbourhood (uniqueness) but only links to new records count.
    new_ids = set(added["unique_id"])
    links = links[links["unique_id_l"].isin(new_ids) | links["unique_id_r"].isin(new_ids)]
    roots, used = cluster_records(records, links, seed_clusters=known)
    records["victim_id"] = _assign_victims(records, roots, known)
    all_links = pd.concat([register_links.loc[:, list(used.columns)], used], ignore_index=True)
    return LinkageResult(records, all_links, summarise_victims(records, all_links), model)


# --------------------------------------------------------------------------- warehouse

# The register's tables: one SQL file, applied by the warehouse bootstrap too.
REGISTER_DDL = (SQL_DIR / "victim_register.sql").read_text(encoding="utf-8")

REGISTER_SOURCE_TABLE = "intermediate.int_homicide_victim_records"
# Below this many records a first training has too little to learn from (see update_register).
MIN_TRAINING_RECORDS = 50
_RECORD_COLUMNS = (*INPUT_COLUMNS, *OPTIONAL_COLUMNS)


def ensure_register_tables(conn: psycopg.Connection) -> None:
    """Create the register tables (idempotent)."""
    conn.execute(REGISTER_DDL.encode())


def _frame(conn: psycopg.Connection, query: str) -> pd.DataFrame:
    cursor = conn.execute(query.encode())
    names = [c.name for c in cursor.description or ()]
    return pd.DataFrame(cursor.fetchall(), columns=names)


def read_source_records(
    conn: psycopg.Connection, table: str = REGISTER_SOURCE_TABLE
) -> pd.DataFrame:
    """The linkage input as the warehouse publishes it (int_homicide_victim_records)."""
    frame = _frame(conn, f"select {', '.join(_RECORD_COLUMNS)} from {table}")
    frame["name_tokens"] = frame["name_tokens"].map(lambda t: list(t) if t else [])
    return frame


def read_register(
    conn: psycopg.Connection,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any] | None]:
    """(records with victim_id, links, latest model) of the stored register."""
    records = _frame(
        conn, f"select {', '.join(_RECORD_COLUMNS)}, victim_id from ops.victim_register_records"
    )
    records["name_tokens"] = records["name_tokens"].map(lambda t: list(t) if t else [])
    links = _frame(
        conn,
        "select unique_id_l, unique_id_r, match_probability, rule from ops.victim_register_links",
    )
    links["match_probability"] = links["match_probability"].astype(float)
    row = conn.execute(
        "select model from ops.victim_linkage_models order by model_id desc limit 1"
    ).fetchone()
    model: dict[str, Any] | None = row[0] if row else None
    return records, links, model


def _copy(
    conn: psycopg.Connection, table: str, frame: pd.DataFrame, columns: Sequence[str]
) -> None:
    with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin".encode()) as copy:
        for values in frame.loc[:, list(columns)].itertuples(index=False, name=None):
            copy.write_row([_plain(v) for v in values])


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def write_register(conn: psycopg.Connection, result: LinkageResult, *, new_model: bool) -> None:
    """Replace the stored register with `result`, in one transaction."""
    ensure_register_tables(conn)
    records = result.records.copy()
    records["birth_year"] = pd.to_numeric(records["birth_year"], errors="coerce").astype("Int64")
    records["age"] = pd.to_numeric(records["age"], errors="coerce").astype("Int64")
    with conn.transaction():
        conn.execute(
            "truncate ops.victim_register_records, ops.victim_register_links, ops.victim_register"
        )
        _copy(conn, "ops.victim_register_records", records, (*_RECORD_COLUMNS, "victim_id"))
        _copy(
            conn,
            "ops.victim_register_links",
            result.links,
            ("unique_id_l", "unique_id_r", "match_probability", "rule"),
        )
        _copy(conn, "ops.victim_register", result.victims, VICTIM_COLUMNS)
        if new_model:
            conn.execute(
                "insert into ops.victim_linkage_models (records, model) values (%s, %s)",
                (len(records), json.dumps(result.model)),
            )


def _unchanged(source: pd.DataFrame, stored: pd.DataFrame) -> dict[str, Any]:
    """The task-log summary of a run that left the register as it was."""
    return {
        "mode": "skipped",
        "records": len(source),
        "new_records": 0,
        "victims": len(stored),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def update_register(
    settings: Settings | None = None,
    *,
    source_table: str = REGISTER_SOURCE_TABLE,
    retrain: bool = False,
    config: LinkageConfig | None = None,
) -> dict[str, Any]:
    """The Airflow task after build_warehouse: link new victim records into the register.

    The first run (or `retrain=True`) trains the model and links everything; later runs
    link only records the register has not seen, with the stored model. Records already in
    the register get their latest values (a reclassification changes the status); records
    gone from the source leave it. Returns counts for the task log (no person data).
    """
    from observatorio.core.warehouse import connect

    settings = settings or get_settings()
    names = unidentified_name_pseudonyms(settings.pseudonym_key())
    with connect(settings) as conn:
        ensure_register_tables(conn)
        source = read_source_records(conn, source_table)
        stored, links, model = read_register(conn)
        full = retrain or model is None or stored.empty
        if full and len(source) < MIN_TRAINING_RECORDS:
            # EM cannot estimate match weights from a handful of records: wait for more
            # rather than store a meaningless model. The register stays as it was.
            log.warning(
                "victim register: %d records, fewer than %d to train on; unchanged",
                len(source),
                MIN_TRAINING_RECORDS,
            )
            return _unchanged(source, stored)
        if full:
            try:
                result = link_records(source, config, unidentified_names=names)
            except TooLittleToTrain as exc:
                # As with too few records: keep the register as it is and wait for more data.
                log.warning("victim register unchanged: %s", exc)
                return _unchanged(source, stored)
        else:
            assert model is not None
            current = stored[stored["unique_id"].isin(source["unique_id"])]
            refreshed = source.merge(current[["unique_id", "victim_id"]], on="unique_id")
            kept = links[
                links["unique_id_l"].isin(refreshed["unique_id"])
                & links["unique_id_r"].isin(refreshed["unique_id"])
            ]
            result = link_new_records(
                refreshed, kept, source, model, config, unidentified_names=names
            )
        write_register(conn, result, new_model=full)
        conn.commit()
    summary = {
        "mode": "full" if full else "incremental",
        "records": len(result.records),
        "new_records": len(result.records) - (0 if full else len(stored)),
        "victims": len(result.victims),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    log.info("victim register updated: %s", summary)
    return summary


REVIEW_COLUMNS = (
    "review_id",
    "missing_institution",
    "victim_id",
    "month",
    "municipality_code",
    "final_status",
    "systems",
    "record_count",
    "is_unidentified",
    "is_late_death",
    "police_record_key",
    "prosecution_record_key",
    "forensic_record_key",
    "hospital_record_key",
)
REVIEW_LIST_TABLE = "marts.mart_victim_review_list"


def review_list(institution: str, conn: psycopg.Connection | None = None) -> pd.DataFrame:
    """The victims `institution` is missing, for the inter-institutional review table.

    Reads the dbt mart `mart_victim_review_list` (rebuilt after each linkage; the extract
    spec `extracts/mesa_interinstitucional.yaml` delivers it): victims another system
    records as a homicide or a death of undetermined intent and that `institution`
    (`police`, `prosecution`, `forensic` or `hospital`) has no record of. Only the victim's
    register id and each system's own record key: each institution re-identifies its own
    records, nobody else's.
    """
    if institution not in SOURCES:
        raise LinkageError(f"institution {institution!r} is not one of {SOURCES}")
    query = (
        f"select {', '.join(REVIEW_COLUMNS)} from {REVIEW_LIST_TABLE}"
        " where missing_institution = %s order by month, municipality_code, victim_id"
    )

    def read(connection: psycopg.Connection) -> pd.DataFrame:
        cursor = connection.execute(query.encode(), (institution,))
        names = [c.name for c in cursor.description or ()]
        return pd.DataFrame(cursor.fetchall(), columns=names)

    if conn is not None:
        return read(conn)
    from observatorio.core.warehouse import connect

    with connect() as own:
        return read(own)
