"""The victim register in the warehouse, kept up to date after each build.

`update_register()` is the Airflow task after `build_warehouse`: it reads
`intermediate.int_homicide_victim_records`, links new records into the stored register
(`ops.victim_register*`) and stores the model it trained. It connects as the transformer
role (`LINKAGE_ROLE`), which may read and rewrite those tables but create nothing: their DDL
(`core/sql/victim_register.sql`) is a migration the owner applies at bootstrap.
`review_list()` reads the review list of the inter-institutional table (the dbt mart
`mart_victim_review_list`, delivered by the extract spec
`extracts/mesa_interinstitucional.yaml`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from observatorio.core.roles import Role
from observatorio.core.settings import Settings, get_settings
from observatorio.linkage.clusters import VICTIM_COLUMNS, link_new_records, link_records
from observatorio.linkage.records import (
    INPUT_COLUMNS,
    LINK_COLUMNS,
    OPTIONAL_COLUMNS,
    SOURCES,
    LinkageConfig,
    LinkageError,
    LinkageResult,
    TooLittleToTrain,
    unidentified_name_pseudonyms,
)
from observatorio.linkage.tables import CATEGORY_COLUMNS

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


# Linkage runs with dbt's rights (it sits between two dbt builds), never the owner's: the
# grants in core/sql/grants.sql let it rewrite the register, not change its tables.
LINKAGE_ROLE = Role.TRANSFORMER

REGISTER_SOURCE_TABLE = "intermediate.int_homicide_victim_records"
# Below this many records a first training has too little to learn from (see update_register).
MIN_TRAINING_RECORDS = 50
_RECORD_COLUMNS = (*INPUT_COLUMNS, *OPTIONAL_COLUMNS)


# Rows fetched from PostgreSQL at a time: only this many are Python tuples at once.
READ_BATCH_ROWS = 50_000


def _frame(
    conn: psycopg.Connection,
    query: str,
    categorical: Sequence[str] = CATEGORY_COLUMNS,
    tokens: Sequence[str] = ("name_tokens",),
) -> pd.DataFrame:
    """The query's rows as a frame, read in batches through a server-side cursor into Arrow.

    Fetching a million register rows at once would hold them all as Python tuples beside
    the frame built from them; batch by batch only the columnar copy accumulates. The
    `categorical` columns it has (by default the name pseudonyms, `CATEGORY_COLUMNS`) come as
    categories: a pseudonym shared by a victim's records is held once, and
    `prepare_records` blanks placeholder names by their code alone. The `tokens`
    columns (text arrays) stay Arrow lists of dictionary codes, each batch encoded as it
    arrives: a million records' name tokens as Python lists of strings took some 400 MB.
    """
    batches = []
    with conn.cursor(name="linkage_read") as cursor:
        cursor.execute(query.encode())
        names = [c.name for c in cursor.description or ()]
        while rows := cursor.fetchmany(READ_BATCH_ROWS):
            columns = list(zip(*rows, strict=True))
            del rows
            batches.append(
                pa.table(
                    [
                        _coded_lists(pa.array(c)) if n in tokens else pa.array(c)
                        for n, c in zip(names, columns, strict=True)
                    ],
                    names=names,
                )
            )
            del columns
    if not batches:
        return pd.DataFrame(columns=names)
    # A batch where a column is all null types it as null: unify with the others.
    table = pa.concat_tables(batches, promote_options="default")
    del batches
    for name in categorical:
        if name in table.column_names:
            index = table.column_names.index(name)
            column = table[name].combine_chunks().dictionary_encode()
            table = table.set_column(index, name, column)
    frame: pd.DataFrame = table.to_pandas(
        types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None
    )
    return frame


def _coded_lists(lists: pa.Array) -> pa.Array:
    """A text-array column as lists of dictionary codes (`records.TOKEN_TYPE`)."""
    if not pa.types.is_list(lists.type):  # all null in this batch
        return lists
    values = pc.dictionary_encode(lists.values)
    coded: pa.Array = pa.ListArray.from_arrays(lists.offsets, values, mask=lists.is_null())
    return coded


def read_source_records(
    conn: psycopg.Connection, table: str = REGISTER_SOURCE_TABLE
) -> pd.DataFrame:
    """The linkage input as the warehouse publishes it (int_homicide_victim_records)."""
    return _frame(conn, f"select {', '.join(_RECORD_COLUMNS)} from {table}")


def read_model(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The latest stored model, if any."""
    row = conn.execute(
        "select model from ops.victim_linkage_models order by model_id desc limit 1"
    ).fetchone()
    model: dict[str, Any] | None = row[0] if row else None
    return model


def read_register(conn: psycopg.Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records with victim_id, links) of the stored register."""
    records = _frame(
        conn, f"select {', '.join(_RECORD_COLUMNS)}, victim_id from ops.victim_register_records"
    )
    links = _frame(
        conn,
        f"select {', '.join(LINK_COLUMNS)} from ops.victim_register_links",
    )
    links["match_probability"] = links["match_probability"].astype(float)
    return records, links


# Links given their unique_ids and sent to PostgreSQL at a time (LinkageResult.link_batches).
WRITE_BATCH_ROWS = 100_000


def _copy(
    conn: psycopg.Connection,
    table: str,
    frames: Iterable[pd.DataFrame],
    columns: Sequence[str],
) -> None:
    with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin".encode()) as copy:
        for frame in frames:
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
    records = result.records.copy(deep=False)  # two columns change; share the rest
    records["birth_year"] = pd.to_numeric(records["birth_year"], errors="coerce").astype("Int64")
    records["age"] = pd.to_numeric(records["age"], errors="coerce").astype("Int64")
    with conn.transaction():
        conn.execute(
            "truncate ops.victim_register_records, ops.victim_register_links, ops.victim_register"
        )
        _copy(conn, "ops.victim_register_records", [records], (*_RECORD_COLUMNS, "victim_id"))
        _copy(
            conn, "ops.victim_register_links", result.link_batches(WRITE_BATCH_ROWS), LINK_COLUMNS
        )
        _copy(conn, "ops.victim_register", [result.victims], VICTIM_COLUMNS)
        if new_model:
            conn.execute(
                "insert into ops.victim_linkage_models (records, model) values (%s, %s)",
                (len(records), json.dumps(result.model)),
            )


def _unchanged(records: int, victims: int) -> dict[str, Any]:
    """The task-log summary of a run that left the register as it was."""
    return {
        "mode": "skipped",
        "records": records,
        "new_records": 0,
        "victims": victims,
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

    The stored register is read only when new records are linked into it: a full run
    replaces it, so a retrain never holds the old register beside the new one.
    """
    from observatorio.core.warehouse import connect

    settings = settings or get_settings()
    names = unidentified_name_pseudonyms(settings.pseudonym_key())
    with connect(settings, role=LINKAGE_ROLE) as conn:
        model = read_model(conn)
        stored_records, stored_victims = conn.execute(
            "select (select count(*) from ops.victim_register_records),"
            " (select count(*) from ops.victim_register)"
        ).fetchone() or (0, 0)
        full = retrain or model is None or stored_records == 0
        source = read_source_records(conn, source_table)
        if full and len(source) < MIN_TRAINING_RECORDS:
            # EM cannot estimate match weights from a handful of records: wait for more
            # rather than store a meaningless model. The register stays as it was.
            log.warning(
                "victim register: %d records, fewer than %d to train on; unchanged",
                len(source),
                MIN_TRAINING_RECORDS,
            )
            return _unchanged(len(source), stored_victims)
        if full:
            try:
                result = link_records(
                    source, config, unidentified_names=names, key=settings.pseudonym_key()
                )
            except TooLittleToTrain as exc:
                # As with too few records: keep the register as it is and wait for more data.
                log.warning("victim register unchanged: %s", exc)
                return _unchanged(len(source), stored_victims)
        else:
            assert model is not None
            stored, links = read_register(conn)
            current = stored[stored["unique_id"].isin(source["unique_id"])]
            refreshed = source.merge(current[["unique_id", "victim_id"]], on="unique_id")
            kept = links[
                links["unique_id_l"].isin(refreshed["unique_id"])
                & links["unique_id_r"].isin(refreshed["unique_id"])
            ]
            del links
            result = link_new_records(
                refreshed,
                kept,
                source,
                model,
                config,
                unidentified_names=names,
                key=settings.pseudonym_key(),
            )
        write_register(conn, result, new_model=full)
        conn.commit()
    summary = {
        "mode": "full" if full else "incremental",
        "records": len(result.records),
        "new_records": len(result.records) - (0 if full else stored_records),
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

    with connect(role=Role.DELIVERY) as own:  # what extracts read with: marts, no more
        return read(own)
