"""Pseudonym key rotation: every stored pseudonym re-keyed under a new key, in one transaction.

HMAC cannot be inverted, so a rotation cannot re-make pseudonyms from the persons' values.
It extends a key chain instead: a stored pseudonym `p` becomes `HMAC(k_new, p)` (under the
new key's purpose key, `ingestion.pseudonymise.rekey_step`), and from then on ingestion
applies every key of the chain in turn, `HMAC(k_new, ... HMAC(k_1, value))`. A person
ingested before the rotation and after it gets the same pseudonym, so linkage holds, and a
leaked retired key alone no longer matches anything stored. The retired keys stay needed
to ingest (`OBSERVATORIO_PSEUDONYM_RETIRED_KEYS`), so they stay secret too.

Which columns hold pseudonyms is found, never listed by hand: the contracts' `person:`
declarations name the raw columns and their purposes (`<col>_pseudonym`, `<col>_tokens`);
every other table of the warehouse (dbt's tables and snapshots, the victim register) holds
pseudonyms in columns named by the same convention (`*pseudonym`, `*tokens`), and each
such text column's purpose is the one whose raw columns share its values (a column that
shares none is an error: the rotation is refused rather than leave a pseudonym behind).
Views are rebuilt from tables and need nothing. Called by `observatorio keys rotate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from ingestion.contract import available_contracts, load_contract
from ingestion.pseudonymise import TOKEN_HEX_CHARS, encode_key_chain, key_chain, rekey_many
from observatorio.core.keychain import key_chain_fingerprint
from observatorio.core.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Schemas of the warehouse that hold no data of persons (or only masked quarantine text).
_SKIPPED_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "bi_access")


@dataclass(frozen=True)
class PseudonymColumn:
    schema: str
    table: str
    column: str
    purpose: str

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


@dataclass
class Rotation:
    """What a rotation did (names and counts only)."""

    old_fingerprint: str
    new_fingerprint: str
    columns: list[PseudonymColumn] = field(default_factory=list)
    rows_rekeyed: int = 0


def declared_columns() -> list[PseudonymColumn]:
    """The raw columns the contracts pseudonymise, with each one's purpose."""
    found: list[PseudonymColumn] = []
    for name in available_contracts():
        contract = load_contract(name)
        for column in contract.columns:
            rule = column.person
            if rule is None or rule.action != "pseudonymise":
                continue
            outputs = [n for n, _ in column.output_columns()]
            purpose = rule.kind if rule.kind in ("national_id", "name") else "value"
            found.append(PseudonymColumn("raw", contract.name, outputs[0], purpose))
            if rule.kind == "name":
                found.append(PseudonymColumn("raw", contract.name, outputs[1], "name_token"))
    return found


def _existing(conn: psycopg.Connection[Any]) -> dict[tuple[str, str, str], str]:
    """(schema, table, column) -> type of every column of a table (not of a partition:
    an update of its partitioned table rewrites it)."""
    rows = conn.execute(
        """
        select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and not c.relispartition
            and a.attnum > 0 and not a.attisdropped
            and n.nspname <> all(%s) and n.nspname not like 'pg_temp%%'
        """,
        (list(_SKIPPED_SCHEMAS),),
    ).fetchall()
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def _shares_values(conn: psycopg.Connection[Any], column: PseudonymColumn, other: str) -> bool:
    query = sql.SQL(
        "select exists (select 1 from {}.{} as a join {} as b on a.{} = b.value)"
    ).format(
        sql.Identifier(column.schema),
        sql.Identifier(column.table),
        sql.Identifier(other),
        sql.Identifier(column.column),
    )
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def _is_empty(conn: psycopg.Connection[Any], schema: str, table: str, column: str) -> bool:
    query = sql.SQL("select not exists (select 1 from {}.{} where {} is not null)").format(
        sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)
    )
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def find_pseudonym_columns(conn: psycopg.Connection[Any]) -> list[PseudonymColumn]:
    """Every table column holding pseudonyms, with its purpose (see the module's docstring)."""
    with conn.transaction():  # its scratch tables live until the outermost commit
        return _find_pseudonym_columns(conn)


def _find_pseudonym_columns(conn: psycopg.Connection[Any]) -> list[PseudonymColumn]:
    types = _existing(conn)
    declared = [c for c in declared_columns() if (c.schema, c.table, c.column) in types]
    known = {(c.schema, c.table, c.column) for c in declared}
    # The raw values of each text purpose, to recognise derived columns by what they hold.
    conn.execute("create temporary table _purpose_values (purpose text, value text) on commit drop")
    for c in declared:
        if c.purpose != "name_token":
            conn.execute(
                sql.SQL(
                    "insert into _purpose_values select {}, {} from {}.{} where {} is not null"
                ).format(
                    sql.Literal(c.purpose),
                    sql.Identifier(c.column),
                    sql.Identifier(c.schema),
                    sql.Identifier(c.table),
                    sql.Identifier(c.column),
                )
            )
    purposes = [r[0] for r in conn.execute("select distinct purpose from _purpose_values")]
    for purpose in purposes:
        conn.execute(
            sql.SQL(
                "create temporary table {} on commit drop as select distinct value"
                " from _purpose_values where purpose = {}"
            ).format(sql.Identifier(f"_values_{purpose}"), sql.Literal(purpose))
        )
    found = list(declared)
    for (schema, table, column), type_ in sorted(types.items()):
        if (schema, table, column) in known or not column.endswith(("pseudonym", "tokens")):
            continue
        if type_ == "text[]" and column.endswith("tokens"):
            found.append(PseudonymColumn(schema, table, column, "name_token"))
            continue
        if type_ != "text" or _is_empty(conn, schema, table, column):
            continue
        candidate = PseudonymColumn(schema, table, column, "")
        matches = [p for p in purposes if _shares_values(conn, candidate, f"_values_{p}")]
        if len(matches) != 1:
            raise SettingsError(
                f"key rotation refused: column {candidate.label} is named as a pseudonym but "
                f"its values match {'no' if not matches else 'more than one'} pseudonym "
                "purpose of the raw tables; nothing was changed"
            )
        found.append(PseudonymColumn(schema, table, column, matches[0]))
    return found


def _rekey_column(conn: psycopg.Connection[Any], column: PseudonymColumn, new_key: bytes) -> int:
    target = sql.SQL("{}.{}").format(sql.Identifier(column.schema), sql.Identifier(column.table))
    name = sql.Identifier(column.column)
    tokens = column.purpose == "name_token"
    distinct = (
        sql.SQL("select distinct t from {}, unnest({}) as t").format(target, name)
        if tokens
        else sql.SQL("select distinct {} from {} where {} is not null").format(name, target, name)
    )
    olds = [r[0] for r in conn.execute(distinct).fetchall() if r[0] is not None]
    if not olds:
        return 0
    width = TOKEN_HEX_CHARS if tokens else None
    news = rekey_many(new_key, column.purpose, olds, width)
    conn.execute(
        "create temporary table if not exists _rekey (old text primary key, new text)"
        " on commit drop"
    )
    conn.execute("truncate _rekey")
    with conn.cursor().copy("copy _rekey (old, new) from stdin") as copy:
        for old, new in zip(olds, news, strict=True):
            copy.write_row((old, new))
    if tokens:
        # Tokens stay a sorted set, as ingestion writes them.
        update = sql.SQL(
            "update {0} set {1} = (select array_agg(m.new order by m.new) from unnest({1}) as u(t)"
            " join _rekey as m on m.old = u.t) where cardinality({1}) > 0"
        ).format(target, name)
    else:
        update = sql.SQL(
            "update {0} set {1} = m.new from _rekey as m where {0}.{1} = m.old"
        ).format(target, name)
    return conn.execute(update).rowcount


def rotate_key(conn: psycopg.Connection[Any], settings: Settings, new_key: bytes) -> Rotation:
    """Re-key every pseudonym column and record the new chain's fingerprint, in one transaction.

    Refused (nothing changed) when the configured chain is not the warehouse's, when a batch
    is being loaded, or when the new key is already part of the chain.
    """
    chain = settings.pseudonym_key()
    old_fingerprint = key_chain_fingerprint(chain)
    if new_key in key_chain(chain):
        raise SettingsError("the new key is already in the key chain: choose a fresh one")
    new_chain = encode_key_chain([*key_chain(chain), new_key])
    rotation = Rotation(old_fingerprint, key_chain_fingerprint(new_chain))
    with conn.transaction():
        # Ingestion checks the fingerprint before each batch: holding this lock to the end
        # keeps a batch from starting under the old chain while the columns change.
        conn.execute("lock table ops.key_fingerprint in access exclusive mode")
        row = conn.execute("select fingerprint from ops.key_fingerprint where id = 1").fetchone()
        if row is not None and row[0] != old_fingerprint:
            raise SettingsError(
                f"key rotation refused: the configured key chain (fingerprint {old_fingerprint})"
                f" is not the warehouse's ({row[0]}); nothing was changed"
            )
        loading = conn.execute(
            "select count(*) from ops.batch_ledger where status = 'loading'"
        ).fetchone()
        if loading and loading[0]:
            raise SettingsError(
                f"key rotation refused: {loading[0]} batch(es) are being loaded; pause the "
                "ingest DAGs and try again"
            )
        rotation.columns = find_pseudonym_columns(conn)
        for column in rotation.columns:
            rotation.rows_rekeyed += _rekey_column(conn, column, new_key)
        conn.execute(
            "insert into ops.key_fingerprint (id, fingerprint) values (1, %s)"
            " on conflict (id) do update set fingerprint = excluded.fingerprint",
            (rotation.new_fingerprint,),
        )
        conn.execute(
            "insert into ops.key_rotations (old_fingerprint, new_fingerprint, columns_rekeyed,"
            " rows_rekeyed) values (%s, %s, %s, %s)",
            (
                old_fingerprint,
                rotation.new_fingerprint,
                [c.label for c in rotation.columns],
                rotation.rows_rekeyed,
            ),
        )
    log.info(
        "pseudonym key rotated: %d columns, %d rows re-keyed, fingerprint %s -> %s",
        len(rotation.columns),
        rotation.rows_rekeyed,
        old_fingerprint,
        rotation.new_fingerprint,
    )
    return rotation
