"""The raw tables: `raw.<source>__<entity>`, one per contract, partitioned by batch.

`ensure_raw_table` creates a contract's table (partitioned by list of `_batch_id`, with a
default partition) and adds what the contract gained; `publish_rows` moves a staged batch
in, in the publishing transaction (`ingestion.loader.publish_batch`): a large batch's staged
table becomes the table's partition for that batch, a smaller one is copied into the default
partition.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.provenance import PROVENANCE_COLUMNS, RETIRED_PROVENANCE_COLUMNS
from ingestion.stage_copy import BATCH_CHECK, analyze_written
from ingestion.staged import StagedBatch

# A batch of at least this many staged rows becomes a partition of its raw table (its staging
# table, moved) instead of being copied into it: at 1M rows the copy and its index upkeep
# took 5-6 s of the publish, the attach about 2 s. Smaller batches go to the table's default
# partition, so hourly drops do not make a partition each.
ATTACH_FROM_ROWS = 100_000


def default_partition(contract: Contract) -> str:
    """The partition of `raw.<contract>` holding every batch too small to be its own."""
    return f"{contract.name}__default"


def ensure_raw_table(conn: psycopg.Connection, contract: Contract) -> None:
    """Create `raw.<source>__<entity>` from the contract, adding columns the contract gained.

    A new table is partitioned by batch (`_batch_id`, by list), with a default partition for
    small batches; a table made before that stays an ordinary one (its batches are inserted).
    """
    columns = [*contract.output_columns(), *PROVENANCE_COLUMNS]
    table = sql.Identifier(contract.name)
    conn.execute(
        sql.SQL("create table if not exists raw.{} ({}) partition by list (_batch_id)").format(
            table,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
            ),
        )
    )
    kind = raw_table_kind(conn, contract)
    if kind == "p" and not _raw_relation_exists(conn, default_partition(contract)):
        conn.execute(
            sql.SQL("create table if not exists raw.{} partition of raw.{} default").format(
                sql.Identifier(default_partition(contract)), table
            )
        )
    # ALTER TABLE waits for every reader of the table (and for autovacuum to give way, a
    # second): only for a column that is really missing or retired.
    present = set(table_columns(conn, "raw", contract.name))
    for name, sql_type in columns:
        if name not in present:
            conn.execute(
                sql.SQL("alter table raw.{} add column {} {}").format(
                    table, sql.Identifier(name), sql.SQL(sql_type.replace(" not null", ""))
                )
            )
    # Incremental builds and their tests find a batch's rows by it (macro changed_records_filter):
    # without the index, each lookup read every row of the table (7 s at 10M rows, a dozen
    # times per build). A batch in a partition of its own is found by partition pruning, so
    # the index is the default partition's alone (on the partitioned table, each attach would
    # build it again).
    _ensure_index(
        conn,
        f"{contract.name}__batch_id",
        sql.Identifier(default_partition(contract)) if kind == "p" else table,
        "_batch_id",
    )
    # Every version of a record, by its id (the first column of the contract's primary key):
    # what an incremental build of the person dimension reads for the records a batch changed
    # (dbt macro person_changes), a lookup instead of a read of every row.
    if (column := record_column(contract)) is not None:
        _ensure_index(conn, f"{contract.name}__record", table, column)
    for name in RETIRED_PROVENANCE_COLUMNS:
        # A warehouse from before privacy by default kept undeclared columns' raw text here.
        if name in present:
            conn.execute(
                sql.SQL("alter table raw.{} drop column {}").format(table, sql.Identifier(name))
            )


def record_column(contract: Contract) -> str | None:
    """The column the raw table is indexed by, every partition too: the record id (the first
    column of the contract's primary key), or None for a contract without one."""
    return contract.primary_key[0] if contract.primary_key else None


def _ensure_index(conn: psycopg.Connection, name: str, table: sql.Identifier, column: str) -> None:
    """`create index` on `raw.<table>` unless `raw.<name>` exists: CREATE INDEX IF NOT EXISTS
    locks the table first (and waits a second for autovacuum to give way)."""
    if not _raw_relation_exists(conn, name):
        conn.execute(
            sql.SQL("create index {} on raw.{} ({})").format(
                sql.Identifier(name), table, sql.Identifier(column)
            )
        )


def _raw_relation_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute(
        "select to_regclass(format('raw.%%I', %s::text)) is not null", (name,)
    ).fetchone()
    return bool(row and row[0])


def raw_table_kind(conn: psycopg.Connection, contract: Contract) -> str | None:
    """`p` for a raw table partitioned by batch, `r` for an ordinary one, None if missing."""
    row = conn.execute(
        "select c.relkind::text from pg_class as c"
        " where c.oid = to_regclass(format('raw.%%I', %s::text))",
        (contract.name,),
    ).fetchone()
    return str(row[0]) if row else None


def table_columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, tuple[str, bool]]:
    """Name -> (type, NOT NULL) of each column of `schema.table` (empty if there is none)."""
    rows = conn.execute(
        "select a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull"
        " from pg_attribute as a"
        " where a.attrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))"
        " and a.attnum > 0 and not a.attisdropped order by a.attnum",
        (schema, table),
    ).fetchall()
    return {str(name): (str(type_), bool(not_null)) for name, type_, not_null in rows}


def publish_rows(conn: psycopg.Connection, contract: Contract, staged: StagedBatch) -> int:
    """Move the staged batch into its raw table (attached or copied); the rows it holds."""
    if _attachable(conn, contract, staged):
        return _attach_batch(conn, contract, staged)
    return _insert_batch(conn, contract, staged)


def _insert_batch(conn: psycopg.Connection, contract: Contract, staged: StagedBatch) -> int:
    """Copy the staged rows into the raw table (its default partition when partitioned)."""
    columns = [n for n, _ in contract.output_columns()] + [n for n, _ in PROVENANCE_COLUMNS]
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    cursor = conn.execute(
        sql.SQL("insert into raw.{} ({}) select {} from ingest.{}").format(
            sql.Identifier(contract.name),
            column_list,
            column_list,
            sql.Identifier(staged.staging_table),
        )
    )
    _analyze_raw(conn, contract, cursor.rowcount)
    return cursor.rowcount


def _attachable(conn: psycopg.Connection, contract: Contract, staged: StagedBatch) -> bool:
    """A large batch, a raw table partitioned by batch, the same columns in both (a raw table
    keeps the columns a contract has since dropped: such a batch is inserted), and every
    column the raw table holds NOT NULL is NOT NULL in the staged table too."""
    if staged.rows_staged < ATTACH_FROM_ROWS or raw_table_kind(conn, contract) != "p":
        return False
    raw = table_columns(conn, "raw", contract.name)
    staged_columns = table_columns(conn, "ingest", staged.staging_table)
    return {n: t for n, (t, _) in raw.items()} == {
        n: t for n, (t, _) in staged_columns.items()
    } and all(staged_columns[n][1] for n, (_, not_null) in raw.items() if not_null)


# PostgreSQL's longest identifier (NAMEDATALEN - 1 bytes).
MAX_IDENTIFIER = 63


def index_before_attach(conn: psycopg.Connection, contract: Contract, staged: StagedBatch) -> bool:
    """Build, on a staged batch its publish will attach, the index every partition of the raw
    table has (by record id): the attach then takes it instead of building it (0.65 s of the
    publish at 1M rows). `ingest_file` calls this while its worker gates the batch; a batch
    the gate rejects is dropped with its index. False where the publish will not attach."""
    name = f"{staged.staging_table}__record"
    column = record_column(contract)
    if (
        column is None
        or len(name.encode()) > MAX_IDENTIFIER
        or not _attachable(conn, contract, staged)
    ):
        return False
    conn.execute(
        sql.SQL("create index if not exists {} on ingest.{} ({})").format(
            sql.Identifier(name), sql.Identifier(staged.staging_table), sql.Identifier(column)
        )
    )
    return True


def _attach_batch(conn: psycopg.Connection, contract: Contract, staged: StagedBatch) -> int:
    """Make the staging table the raw table's partition for this batch, in the caller's
    transaction: its batch constants no longer column defaults, autovacuum on again (staging
    turned it off), moved to `raw`, attached (PostgreSQL checks that every row belongs to
    the batch and that the default partition holds none of its rows, and builds the table's
    indexes; staging's CHECK constraint spares it reading the rows for the first). It was
    staged logged: a crash cannot empty it."""
    name = sql.Identifier(staged.staging_table)
    # A partition already named for this batch is what a removal of its rows left (the ledger
    # says the batch is not loaded): an empty table, dropped. Rows in it stop the publish.
    if _raw_relation_exists(conn, staged.staging_table):
        held = conn.execute(sql.SQL("select exists (select from raw.{})").format(name)).fetchone()
        if held and held[0]:
            raise BatchError(
                f"{Path(staged.file).name}: raw.{staged.staging_table} already holds rows of "
                f"batch {staged.batch_id}, which the ledger does not list as loaded"
            )
        conn.execute(sql.SQL("drop table raw.{}").format(name))
    persistence = conn.execute(
        "select relpersistence::text from pg_class"
        " where oid = to_regclass(format('ingest.%%I', %s::text))",
        (staged.staging_table,),
    ).fetchone()
    conn.execute(
        sql.SQL("alter table ingest.{} {}").format(
            name,
            sql.SQL(", ").join(
                # Staged unlogged by an earlier version: made logged (a rewrite of the table).
                ([sql.SQL("set logged")] if persistence == ("u",) else [])
                + [sql.SQL("reset (autovacuum_enabled)")]
                + [
                    sql.SQL("alter column {} drop default").format(sql.Identifier(n))
                    for n, _ in PROVENANCE_COLUMNS
                ]
            ),
        )
    )
    conn.execute(sql.SQL("alter table ingest.{} set schema raw").format(name))
    conn.execute(
        sql.SQL("alter table raw.{} attach partition raw.{} for values in ({})").format(
            sql.Identifier(contract.name), name, sql.Literal(staged.batch_id)
        )
    )
    # Staging's CHECK that every row is of the batch spared the attach a read of the rows;
    # the partition's bound says the same from now on.
    conn.execute(
        sql.SQL("alter table raw.{} drop constraint if exists {}").format(
            name, sql.Identifier(BATCH_CHECK)
        )
    )
    row = conn.execute(sql.SQL("select count(*) from raw.{}").format(name)).fetchone()
    rows = int(row[0]) if row else 0
    # The partition keeps the statistics staging gave it; the table as a whole needs its own.
    _analyze_raw(conn, contract, rows)
    return rows


def _analyze_raw(conn: psycopg.Connection, contract: Contract, rows: int) -> None:
    """ANALYZE the raw table after a large write (see `analyze_written`). A partitioned table
    is analysed as a whole only (`ANALYZE ONLY`, PostgreSQL 18) where the server can: before
    18, ANALYZE of a partitioned table analyses every partition too. Its statistics as a
    whole are renewed only when they are stale (`_whole_table_stale`): the sample is drawn
    from every partition, so with a decade of batches it reads pages all over the table (a
    1M-row batch's publish: 0.7 s beside no other partition, 4.8 s beside a 10M-row one)."""
    only = conn.info.server_version >= 180000 and raw_table_kind(conn, contract) == "p"
    if only and not _whole_table_stale(conn, contract, rows):
        return
    analyze_written(conn, "raw", contract.name, rows, only=only)


# A partitioned raw table's statistics as a whole are renewed once the rows published since
# they were taken reach this share of the rows counted then: autovacuum's default for a plain
# table (autovacuum_analyze_scale_factor), which autovacuum never applies to a partitioned one.
REANALYZE_SHARE = 0.1


def _whole_table_stale(conn: psycopg.Connection, contract: Contract, rows: int) -> bool:
    """True when `raw.<contract>` has no statistics as a whole (never analysed, or the
    server's statistics reset), or when the rows the ledger has published since its last
    ANALYZE, these `rows` included, are `REANALYZE_SHARE` of the rows it held then."""
    taken = conn.execute(
        "select c.reltuples, s.last_analyze from pg_class as c"
        " left join pg_stat_all_tables as s on s.relid = c.oid"
        " where c.oid = to_regclass(format('raw.%%I', %s::text))",
        (contract.name,),
    ).fetchone()
    if taken is None or taken[0] < 0 or taken[1] is None:
        return True
    reltuples, analysed_at = float(taken[0]), taken[1]
    since = conn.execute(
        "select coalesce(sum(rows_loaded), 0) from ops.batch_ledger"
        " where source = %s and status = 'loaded' and finished_at > %s",
        (contract.name, analysed_at),
    ).fetchone()
    return int(since[0] if since else 0) + rows >= REANALYZE_SHARE * reltuples
