"""Extracts for ministries: one YAML spec per recipient under `extracts/`, delivered as a folder.

This module puts a delivery together; each step lives in its own module: the spec (`specs`),
the rows under disclosure control (`datasets`, `disclosure`), the files (`writers`), the data
dictionary (`dictionary`), lineage and manifest (`manifest`), the channel (`channels`) and the
audit (`audit`). Every delivery holds the data, a data dictionary in the recipient's language
(from the column glossary `extracts/_columns.yaml` and the indicator definitions), a manifest
with row counts and SHA-256 checksums, and the lineage: the batches behind the delivered
period's cells with their files' checksums, the as-of date and the OpenLineage run that built
each mart (also in `lineage.json`). Disclosure control for the recipient's level (`public`,
`external`: small counts suppressed; `owner`: exact) is applied before anything is written;
an empty extract fails (exit 1 from the CLI) unless its spec says `allow_empty: true`; and
every delivery, failed or not, is audited in `ops.deliveries` with the level it used.
The `deliver_extracts` DAG calls `deliver_for_run` with its run's period (see
`observatorio.delivery.schedule`); `observatorio extract NAME [--period YYYY-MM]` calls
`deliver`. A delivery is one folder per spec and period, `outbox/<recipient>/<spec>_<period>/`:
delivering the period again replaces it whole and is audited as a re-delivery.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect
from observatorio.delivery.audit import already_delivered, audit
from observatorio.delivery.channels import send_email, send_sftp, zip_folder
from observatorio.delivery.datasets import protected_rows, rendered_rows
from observatorio.delivery.dictionary import (
    DICTIONARY_FILE,
    DICTIONARY_HEADERS,
    dictionary_rows,
)
from observatorio.delivery.disclosure import publication_rules
from observatorio.delivery.errors import EmptyExtractError, ExtractError
from observatorio.delivery.labels import load_labels, source_names
from observatorio.delivery.manifest import (
    Delivery,
    dbt_manifest,
    dbt_node,
    lineage_summary,
    openlineage_reference,
    reflected_batch_ids,
    upstream_sources,
    write_lineage,
    write_manifest,
)
from observatorio.delivery.schedule import ScheduledRun, is_due
from observatorio.delivery.specs import PERIOD, Dataset, ExtractSpec, load_spec
from observatorio.delivery.writers import (
    Sheet,
    file_entry,
    number_format,
    staging_folder,
    swap_in,
    write_csv,
    write_parquet,
    write_xlsx,
)

EMPTY_SHEET = {
    "es": "Sin filas para {period}: {why}.",
    "en": "No rows for {period}: {why}.",
}
EMPTY_WHY = {
    "es": "la fuente no registra ningún caso que cumpla los criterios de esta hoja en el período",
    "en": "the source records no case meeting this sheet's criteria in the period",
}
ALL_PERIODS = {"es": "ningún período", "en": "any period"}


def as_sheet(
    spec: ExtractSpec,
    dataset: Dataset,
    header: list[str],
    rows: list[list[Any]],
    period: str | None,
) -> Sheet:
    """A dataset as a worksheet: number formats by unit (decimals from the publication rules)
    and the line an empty sheet shows."""
    decimals = publication_rules(c.indicator for c in dataset.columns if c.indicator).decimals
    formats = [
        number_format(decimals[c.unit]) if c.unit and c.unit in decimals else None
        for c in dataset.columns
    ]
    formats += [None] * (len(header) - len(formats))
    note = EMPTY_SHEET[spec.language].format(
        period=period or ALL_PERIODS[spec.language], why=EMPTY_WHY[spec.language]
    )
    return Sheet(dataset.name, header, rows, formats, note)


def _write_data(
    spec: ExtractSpec,
    folder: Path,
    period: str | None,
    rendered: list[tuple[Dataset, list[str], list[list[Any]]]],
) -> list[dict[str, Any]]:
    label = period or "all"
    if spec.format == "xlsx":
        path = folder / f"{spec.recipient}_{label}.xlsx"
        written = write_xlsx(path, [as_sheet(spec, d, h, r, period) for d, h, r in rendered])
        return [file_entry(path, sum(written.values())) | {"sheets": written}]
    entries = []
    for dataset, header, rows in rendered:
        stem = f"{spec.recipient}_{dataset.name}_{label}"
        if spec.format == "csv":
            path = folder / f"{stem}.csv"
            write_csv(path, header, rows, spec.csv)
        else:
            path = folder / f"{stem}.parquet"
            write_parquet(path, header, rows)
        entries.append(file_entry(path, len(rows)))
    return entries


def code_lists_of(spec: ExtractSpec) -> set[str]:
    """The code lists whose names the delivery shows."""
    found: set[str | None] = set()
    for dataset in spec.datasets:
        for column in dataset.columns:
            found.add(column.named_by)
            if column.names_of is not None:
                found.add(dataset.column(column.names_of).codes)
    return {c for c in found if c}


def build_delivery(
    spec: ExtractSpec, period: str | None, settings: Settings, conn: psycopg.Connection
) -> Delivery:
    """Write the delivery folder (data, dictionary, lineage, manifest) in the outbox."""
    if period is not None and not PERIOD.match(period):
        raise ExtractError(f"period {period!r} is not a month YYYY-MM")
    manifest = dbt_manifest(settings)
    nodes = {mart: dbt_node(manifest, mart) for mart in spec.marts}
    sources = sorted(
        {s for mart in spec.marts for s in upstream_sources(manifest, nodes[mart]["unique_id"])}
    )
    generated_at = datetime.now(UTC)
    label = period or "all"
    # One folder per spec and period: a re-delivery replaces it whole (see writers.swap_in).
    final = settings.outbox_dir / spec.recipient / f"{spec.name}_{label}"
    folder = staging_folder(final)
    try:
        rendered = []
        dictionary: list[list[str]] = []
        datasets_summary: list[dict[str, Any]] = []
        suppressed = 0
        labels = load_labels(conn, spec.glossary, code_lists_of(spec), spec.language)
        warnings: list[str] = []
        names_of_sources = source_names(conn, spec.language)
        if names_of_sources is None:
            warnings.append(
                "marts.dim_source_system is not built: the dictionary names its sources by "
                "their raw tables; build it (`observatorio transform`) to name them"
            )
        reflected: set[str] = set()
        read_from: list[str] = []
        for dataset in spec.datasets:
            protected = protected_rows(conn, dataset, period, spec.level)
            header, rows = rendered_rows(spec, dataset, protected, labels)
            rendered.append((dataset, header, rows))
            headers = {c.name: c.header(spec.language) for c in dataset.columns}
            dataset_sources = upstream_sources(manifest, nodes[dataset.mart]["unique_id"])
            names = [c.name for c in dataset.columns]
            codes = (
                {str(r[names.index("indicator_code")]) for r in rows}
                if "indicator_code" in names
                else set()
            )
            dictionary += dictionary_rows(
                spec,
                dataset,
                nodes[dataset.mart],
                dataset_sources,
                headers,
                names_of_sources or {},
                codes,
            )
            batch_ids, where = reflected_batch_ids(conn, manifest, dataset, period)
            reflected |= batch_ids
            read_from.append(where)
            suppressed += protected.count()
            datasets_summary.append(
                {
                    "name": dataset.name,
                    "mart": f"marts.{dataset.mart}",
                    "rows": len(rows),
                    "filters": dataset.filters,
                    "grain": list(dataset.grain),
                    "suppressed_cells": protected.count(),
                }
            )
        total = sum(len(rows) for _, _, rows in rendered)
        if total == 0:
            where = ", ".join(sorted({f"marts.{d.mart}" for d in spec.datasets}))
            message = (
                f"{spec.name} {label}: the extract is empty (no rows in {where} for the "
                "period and the spec's filters)"
            )
            if not spec.allow_empty:
                raise EmptyExtractError(
                    f"{message}; nothing delivered. If an empty delivery is expected, set "
                    f"`allow_empty: true` in {spec.path.name}"
                )
            warnings.append(f"{message}; delivered empty, as {spec.path.name} allows")
        files = _write_data(spec, folder, period, rendered)
        dictionary_path = folder / DICTIONARY_FILE[spec.language]
        write_csv(dictionary_path, DICTIONARY_HEADERS[spec.language], dictionary, spec.csv)
        files.append(file_entry(dictionary_path, len(dictionary)))
        # No fact table keeps batch ids: every loaded batch of the sources, as before.
        known = reflected if any(read_from) else None
        lineage = lineage_summary(conn, sources, generated_at, known)
        lineage["marts"] = [f"marts.{m}" for m in spec.marts]
        lineage["batches_from"] = sorted({w for w in read_from if w})
        lineage["openlineage"] = openlineage_reference(spec.marts, settings)
        files.append(write_lineage(folder, lineage))
        write_manifest(folder, spec, period, generated_at, datasets_summary, files, lineage)
        swap_in(folder, final)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Delivery(
        spec=spec,
        period=period,
        folder=final,
        files=files,
        rows=sum(int(str(d["rows"])) for d in datasets_summary),
        suppressed_cells=suppressed,
        as_of=lineage["as_of"],
        warnings=warnings,
    )


def deliver(
    name: str,
    period: str | None = None,
    settings: Settings | None = None,
    *,
    specs_dir: Path | None = None,
    triggered_by: str = "manual",
    run: ScheduledRun | None = None,
) -> Delivery:
    """Build one delivery for the spec `name`, send it on its channel, audit the attempt."""
    settings = settings or get_settings()
    spec = load_spec(name, specs_dir)
    with connect(settings, role="delivery") as conn:
        # One delivery of a spec and period at a time (a cleared run may meet the CLI); the
        # lock goes with the connection.
        conn.execute(
            "select pg_advisory_lock(hashtext(%s))", (f"delivery:{spec.name}:{period or 'all'}",)
        )
        redelivery = already_delivered(conn, spec.name, period)
        common: dict[str, Any] = {
            "recipient": spec.recipient,
            "spec_name": spec.name,
            "spec_file": spec.path.name,
            "period": period,
            "channel": spec.channel.type,
            "fmt": spec.format,
            "triggered_by": triggered_by,
            "is_redelivery": redelivery,
            "run": run,
            "disclosure_level": spec.level,
        }
        try:
            delivery = build_delivery(spec, period, settings, conn)
            if spec.channel.type != "outbox":
                delivery.archive = zip_folder(delivery.folder)
                if spec.channel.type == "sftp":
                    delivery.remote_location = send_sftp(delivery.archive, spec.channel)
                else:
                    delivery.remote_location = send_email(delivery.archive, spec, delivery)
        except Exception as exc:
            conn.rollback()
            audit(conn, success=False, error=f"{type(exc).__name__}: {exc}", **common)
            conn.commit()
            raise
        audit(conn, success=True, delivery=delivery, **common)
        conn.commit()
    return delivery


def deliver_for_run(
    name: str,
    run: ScheduledRun,
    settings: Settings | None = None,
    *,
    specs_dir: Path | None = None,
) -> str:
    """The DAG's task: deliver the spec for the run's period (`observatorio.delivery.schedule`)
    unless another run already did in the same window of the spec's schedule."""
    settings = settings or get_settings()
    spec = load_spec(name, specs_dir)
    with connect(settings, role="delivery") as conn:
        due = is_due(conn, spec.name, spec.schedule, run)
    if not due:
        return f"{name} {run.period}: not due ({spec.schedule}, delivered by another run)"
    delivery = deliver(
        name, run.period, settings, specs_dir=specs_dir, triggered_by="schedule", run=run
    )
    return str(delivery.folder)
