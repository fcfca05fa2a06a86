"""The gate's geography check: municipality codes the profile's geography does not know.

Before a staged batch is validated, every row whose municipality code (a contract column
named `municipality_code` or `<something>_municipality_code`, or a code the contract's
interface mapping joins from parts, as DANE's EEVV gives the department and the municipality
within it) is not a code of the country profile's geography moves from the staged table to
the batch's quarantine, one entry per row and column, with the code in the reason
(`municipality code 99001 is not in the geography of profile colombia_fixture`). Nothing is
dropped silently: the ledger counts the rows as quarantined (rows read = loaded +
quarantined), the batch carries a warning naming the codes, and `ops.quarantine` keeps each
row for review.

Profiles whose geography is loaded through a contract do this by default
(`geography.unknown_codes: quarantine`); the demo's seed geography keeps resolving codes in
dbt instead (`resolve`: a name typed where a code belongs is looked up, and what does not
resolve is the unknown member 99999), as the simulated country's messy exports need.

Called by `observatorio.orchestration.gating.gate_batches`; runs as the loader, which reads
the geography from the raw table its contract loaded (or the demo's seed file).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import yaml
from psycopg import sql

from ingestion.contract import Contract, load_contract
from ingestion.staged import StagedBatch
from observatorio.core.profile import Profile, load_profile
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect

__all__ = [
    "GeographyNotLoaded",
    "geography_codes",
    "municipality_codes",
    "municipality_columns",
    "quarantine_unknown",
]

log = logging.getLogger(__name__)


class GeographyNotLoaded(RuntimeError):
    """The profile's geography has no rows yet: codes cannot be checked."""


def municipality_columns(contract: Contract) -> list[str]:
    """The contract's output columns holding a municipality code."""
    return [
        name
        for name, _ in contract.output_columns()
        if name == "municipality_code" or name.endswith("_municipality_code")
    ]


def municipality_codes(contract: Contract) -> list[tuple[str, sql.Composable]]:
    """Each municipality code of a staged row, as (the name the quarantine gives it, its SQL):
    the columns holding one, and a code the contract's `interface:` mapping joins from parts
    (`municipality_code: [department_code, municipality_code_in_department]`)."""
    codes: list[tuple[str, sql.Composable]] = [
        (name, sql.Identifier(name)) for name in municipality_columns(contract)
    ]
    data = yaml.safe_load(contract.path.read_text(encoding="utf-8")) if contract.path else {}
    for mapping in ((data or {}).get("interface") or {}).values():
        parts = ((mapping or {}).get("columns") or {}).get("municipality_code")
        if isinstance(parts, list) and parts:
            joined = sql.SQL(" || ").join(sql.Identifier(str(p)) for p in parts)
            codes.append(("+".join(map(str, parts)), sql.SQL("({})").format(joined)))
    return codes


def geography_codes(profile: Profile, settings: Settings) -> frozenset[str]:
    """Every municipality code of the profile's geography, in any edition."""
    table = profile.reference_table("geography")
    if table.seed is not None:
        path = settings.dbt_project_dir / "seeds" / f"{table.seed}.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            return frozenset(row["municipality_code"] for row in csv.DictReader(handle))
    assert table.contract is not None
    with connect(settings, role="loader") as conn:
        exists = conn.execute("select to_regclass(%s)", (f"raw.{table.contract}",)).fetchone()
        if not exists or exists[0] is None:
            raise GeographyNotLoaded(
                f"{profile.path}: geography: raw.{table.contract} is not loaded yet;"
                " load the profile's reference files first (observatorio run does)"
            )
        rows = conn.execute(
            sql.SQL("select distinct municipality_code from raw.{}").format(
                sql.Identifier(table.contract)
            )
        ).fetchall()
    return frozenset(str(r[0]) for r in rows)


def quarantine_unknown(
    staged: StagedBatch, settings: Settings | None = None, profile: Profile | None = None
) -> int:
    """Quarantine the staged rows whose municipality codes the geography lacks; return how
    many rows moved. Updates `staged` (rows staged, quarantined, warnings) in place."""
    settings = settings or get_settings()
    profile = profile or load_profile(settings=settings)
    if profile.unknown_municipality_codes != "quarantine" or staged.rows_staged == 0:
        return 0
    if staged.source in profile.reference_contracts():
        return 0  # the geography itself, and the tables loaded beside it
    columns = municipality_codes(load_contract(staged.source))
    if not columns:
        return 0
    known = sorted(geography_codes(profile, settings))
    staging = sql.Identifier(staged.staging_table)
    with connect(settings, role="loader") as conn:
        for name, code in columns:
            conn.execute(
                sql.SQL(
                    "insert into ingest.{q} (source_row, column_name, reason, offending_value)"
                    " select _source_row, %s, format('municipality code %%s is not in the"
                    " geography of profile %%s', {c}, %s::text), {c}"
                    " from ingest.{t} where {c} is not null and not ({c} = any(%s::text[]))"
                    " order by _source_row"
                ).format(q=sql.Identifier(staged.quarantine_table), t=staging, c=code),
                (name, profile.name, known),
            )
        condition = sql.SQL(" or ").join(
            sql.SQL("({c} is not null and not ({c} = any(%s::text[])))").format(c=code)
            for _, code in columns
        )
        codes = conn.execute(
            sql.SQL("select distinct unnest(array[{cols}]) from ingest.{t} where {cond}").format(
                cols=sql.SQL(", ").join(code for _, code in columns),
                t=staging,
                cond=condition,
            ),
            [known] * len(columns),
        ).fetchall()
        moved = conn.execute(
            sql.SQL("delete from ingest.{t} where {cond}").format(t=staging, cond=condition),
            [known] * len(columns),
        ).rowcount
    if moved:
        unknown = sorted(str(c[0]) for c in codes if c[0] is not None and c[0] not in known)
        staged.rows_staged -= moved
        staged.rows_quarantined += moved
        message = (
            f"{Path(staged.file).name}: {moved} rows quarantined: municipality codes not in"
            f" the geography of profile {profile.name}: {', '.join(unknown)}"
        )
        staged.warnings.append(message)
        log.warning(message)
    return moved
