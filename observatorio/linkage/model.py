"""The Splink model: blocking, comparisons, training by EM, scoring, and which links count.

`train_model()` trains a Fellegi-Sunter model without labels on in-process DuckDB (one
capped database per run, `linkage_database()`, holding the records `tables.load_records()`
copies in); `score_pairs()` scores candidate pairs with it (all at once, or new records
against the register); `accept_links()` keeps the links the thresholds below allow and adds the
documentary links between unidentified (NN) bodies. Called by `clusters.link_records()` and
`clusters.link_new_records()`.

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

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from observatorio.core.settings import get_settings
from observatorio.linkage.records import (
    POSITION_COLUMNS,
    POSITION_LINK_COLUMNS,
    LinkageConfig,
    TooLittleToTrain,
    links_by_id,
)
from observatorio.linkage.tables import load_records, release_memory

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


DUCKDB_THREADS = 2


def _connect(memory_limit: str | None = None, spill: Path | None = None) -> Any:
    import duckdb

    config: dict[str, Any] = {
        "memory_limit": memory_limit or get_settings().linkage_memory_limit,
        "threads": DUCKDB_THREADS,
        "preserve_insertion_order": False,
    }
    if spill is not None:
        config["temp_directory"] = str(spill)
    return duckdb.connect(":memory:", config=config)


@contextmanager
def linkage_database(memory_limit: str | None = None) -> Iterator[Any]:
    """One DuckDB database for a linking run: records, training, scoring and acceptance.

    Every large table of a run lives here, not in Python: the records the model compares,
    Splink's candidate pairs and predictions, and the accepted links until they leave as
    one four-column frame. DuckDB holds them under `memory_limit` (default: the setting
    `OBSERVATORIO_LINKAGE_MEMORY_LIMIT`) and spills the rest to a temporary directory;
    the database and its spill files are gone when the run ends.
    """
    with tempfile.TemporaryDirectory(prefix="observatorio-linkage-") as scratch:
        connection = _connect(memory_limit, Path(scratch) / "spill")
        try:
            yield connection
        finally:
            connection.close()


def _duckdb(connection: Any | None = None) -> Any:
    """A Splink DuckDB API on `connection` (a fresh capped in-memory database by default)."""
    from splink import DuckDBAPI

    return DuckDBAPI(connection if connection is not None else _connect())


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
    """Splink inputs on `db`: the records of each system as a DuckDB table."""
    return [db.register(table) for table in load_records(db.duckdb_con, records, role)]


def train_model(connection: Any, tables: Sequence[str], config: LinkageConfig) -> dict[str, Any]:
    """Train the Fellegi-Sunter model by EM, without labels; returns Splink's model dict.

    `tables`: the records of each system, as `load_records()` made them on `connection`.
    """
    from splink import Linker, block_on

    if len(tables) < 2:
        # One system alone (the first source of a deployment to publish): nothing to link
        # yet, so the build goes on with the register as it was, as for a sparse month.
        raise TooLittleToTrain("linkage needs records from at least two systems")
    db = _duckdb(connection)
    linker = Linker(
        [db.register(t) for t in tables], _settings_creator(), log_level=logging.WARNING
    )
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
        records = sum(connection.sql(f"select count(*) from {t}").fetchall()[0][0] for t in tables)
        raise TooLittleToTrain(
            f"EM could not estimate match weights from {records} records"
        ) from exc
    model: dict[str, Any] = linker.misc.save_model_to_json()
    db.delete_tables_created_by_splink_from_db()
    return model


SCORED_TABLE = "scored_pairs"


def score_pairs(
    connection: Any,
    model: dict[str, Any],
    new: Sequence[str],
    existing: Sequence[str] = (),
    threshold: float = 0.5,
) -> str:
    """Score candidate pairs with the model into a DuckDB table; its name.

    `new` and `existing` name record tables (`load_records(..., positions=True)`). With
    `existing`, scores the new records against the existing ones and among themselves, never
    existing against existing: the incremental path. The table holds `unique_id_l,
    unique_id_r, match_probability` of the pairs at or above `threshold`, records by their
    position; it never leaves DuckDB whole. Positions, not the unique_ids themselves, keep
    the millions of candidate pairs Splink blocks and scores small enough for DuckDB's
    memory limit; training keeps the unique_ids, from which Splink draws its sample.
    """
    from splink import Linker

    db = _duckdb(connection)
    new_frames = [db.register(t, table_name=f"scoring_{t}") for t in new]
    existing_frames = [db.register(t, table_name=f"scoring_{t}") for t in existing]
    anchor = new_frames + existing_frames
    columns = "unique_id_l, unique_id_r, match_probability"
    connection.sql(
        f"create or replace table {SCORED_TABLE} (unique_id_l bigint, unique_id_r bigint,"
        " match_probability double)"
    )
    if not anchor:
        return SCORED_TABLE
    # A Linker needs input tables to exist; scoring itself goes through predict_within and
    # predict_between so the same trained model serves full and incremental runs.
    if len(anchor) == 1:
        connection.sql(f"create or replace table no_records as from {(new or existing)[0]} limit 0")
        anchor = [anchor[0], db.register("no_records")]
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
            linker.inference.predict_within(
                new_frames, threshold_match_probability=threshold, warning_mode="never"
            )
        )
    if existing_frames and new_frames:
        parts.append(
            linker.inference.predict_between(
                existing_frames,
                new_frames,
                threshold_match_probability=threshold,
                warning_mode="never",
            )
        )
    for part in parts:
        # A pair scored twice is kept once (the anti-join), as pandas' drop_duplicates did.
        connection.sql(
            f"insert into {SCORED_TABLE} select {columns} from {part.physical_name} p"
            f" where not exists (select 1 from {SCORED_TABLE} s"
            " where s.unique_id_l = p.unique_id_l and s.unique_id_r = p.unique_id_r)"
        )
    db.delete_tables_created_by_splink_from_db()
    return SCORED_TABLE


# --------------------------------------------------------------------------- acceptance


# NN records whose dates name the same moment (a police incident and a death on the spot, or
# two death records) may be linked by the same-day rule. A prosecution NN carries nothing
# personal and a hospital death follows the incident by days, so they link only by report.
SAME_DAY_SYSTEM_PAIRS = frozenset({("forensic", "police"), ("forensic", "hospital")})

# What made a link (`records.LINK_COLUMNS`): the model or an NN rule.
RULE_DTYPE = pd.CategoricalDtype(["model", "report_number", "unique_nn_day_place"])


def _position_links(left: Any, right: Any, probability: Any, rule: str | Any) -> pd.DataFrame:
    """Links by position, in the dtypes every step expects (`rule`: one rule or one per link)."""
    left = np.asarray(left, dtype=np.int64)
    rules = [rule] * len(left) if isinstance(rule, str) else rule
    return pd.DataFrame(
        dict(
            zip(
                POSITION_LINK_COLUMNS,
                (
                    left,
                    np.asarray(right, dtype=np.int64),
                    np.asarray(probability, dtype=np.float64),
                    pd.Categorical(rules, dtype=RULE_DTYPE),
                ),
                strict=True,
            )
        )
    )


def _model_links(
    connection: Any, scored: str, records: pd.DataFrame, config: LinkageConfig
) -> pd.DataFrame:
    """Scored pairs above the threshold that satisfy the unidentified-body rule, in DuckDB.

    `scored` names records by position in `records` (`score_pairs`), and so do the links
    (`POSITION_LINK_COLUMNS`). A pair of identified records passes; a pair with one NN
    record passes only with strong agreement (same municipality, dates at most
    `nn_max_day_gap` apart, the same known sex, estimated birth years at most
    `nn_max_birth_year_gap` apart); two NN records never do.
    """
    import pyarrow as pa

    sides = ("municipality_code", "event_day", "sex", "birth_year_est", "is_unidentified")
    # Arrow over the frame's own columns: nothing is copied for DuckDB to read them.
    table = pa.table(
        {
            "unique_id": pa.array(np.arange(len(records), dtype=np.int64)),
            **{column: pa.array(records[column]) for column in sides},
        }
    )
    connection.register("_record_sides", table)
    try:
        relation = connection.sql(
            f"""
            with sided as (
                select
                    p.unique_id_l,
                    p.unique_id_r,
                    p.match_probability,
                    coalesce(l.is_unidentified, true) as is_nn_l,
                    coalesce(r.is_unidentified, true) as is_nn_r,
                    coalesce(
                        l.municipality_code = r.municipality_code
                        and abs(l.event_day - r.event_day) <= $day_gap
                        and l.sex is not null
                        and l.sex = r.sex
                        and abs(l.birth_year_est - r.birth_year_est) <= $birth_year_gap,
                        false
                    ) as is_strong_agreement
                from {scored} as p
                left join _record_sides as l on p.unique_id_l = l.unique_id
                left join _record_sides as r on p.unique_id_r = r.unique_id
                where p.match_probability >= $threshold
            )
            select unique_id_l, unique_id_r, match_probability
            from sided
            where (not is_nn_l and not is_nn_r) or (is_nn_l != is_nn_r and is_strong_agreement)
            """,
            params={
                "threshold": config.match_threshold,
                "day_gap": config.nn_max_day_gap,
                "birth_year_gap": config.nn_max_birth_year_gap,
            },
        )
        accepted = relation.to_arrow_table()
        frame = _position_links(
            accepted["unique_id_l"].to_numpy(),
            accepted["unique_id_r"].to_numpy(),
            accepted["match_probability"].to_numpy(),
            rule="model",
        )
        del accepted, table
        release_memory()
        return frame
    finally:
        connection.unregister("_record_sides")


def _unidentified_positions(records: pd.DataFrame, config: LinkageConfig) -> pd.DataFrame:
    """NN-to-NN links between systems, only with evidence (see the module docstring), by
    position in `records` (`POSITION_LINK_COLUMNS`)."""
    positions = np.flatnonzero(records["is_unidentified"].to_numpy(dtype=bool))
    if not len(positions):
        return _position_links([], [], [], rule=[])
    keys = ["source_dataset", "municipality_code", "event_day", "sex", "report_id"]
    nn = records.iloc[positions].loc[:, keys].assign(position=positions)
    left = nn.add_suffix("_l")
    right = nn.add_suffix("_r")
    found = []
    # Records without a report number have nothing to share (pandas would join null to null:
    # every forensic NN of a national register to every hospital NN).
    by_report = left.dropna(subset=["report_id_l"]).merge(
        right.dropna(subset=["report_id_r"]), left_on="report_id_l", right_on="report_id_r"
    )
    by_report = by_report[by_report["source_dataset_l"] < by_report["source_dataset_r"]]
    # A report with several NN victims is ambiguous: no documentary link then.
    for side in ("l", "r"):
        counts = by_report.groupby(f"position_{side}")[f"position_{side}"].transform("size")
        by_report = by_report[counts == 1]
    found.append(by_report.assign(rule="report_number"))
    if config.unidentified_policy == "strict":
        return _position_links([], [], [], rule=[])
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
        counts = same_place.groupby([f"position_{side}", f"source_dataset_{other}"])[
            f"position_{other}"
        ].transform("size")
        same_place = same_place[counts == 1]
    found.append(same_place.assign(rule="unique_nn_day_place"))
    pairs = pd.concat(found, ignore_index=True).drop_duplicates(list(POSITION_COLUMNS))
    return _position_links(
        pairs["position_l"], pairs["position_r"], np.full(len(pairs), np.nan), pairs["rule"]
    )


def unidentified_pairs(records: pd.DataFrame, config: LinkageConfig) -> pd.DataFrame:
    """NN-to-NN links between systems, only with evidence (see the module docstring)."""
    return links_by_id(records, _unidentified_positions(records, config))


def accept_links(
    connection: Any, scored: str, records: pd.DataFrame, config: LinkageConfig
) -> pd.DataFrame:
    """Model links from the `scored` table (see `_model_links`), plus the NN-to-NN links;
    records by position in `records` (`POSITION_LINK_COLUMNS`, `links_by_id` names them)."""
    model_links = _model_links(connection, scored, records, config)
    nn_links = _unidentified_positions(records, config)
    return pd.concat([model_links, nn_links], ignore_index=True)
