"""Extracts for ministries: one YAML spec per recipient under `extracts/`, delivered as a folder.

A delivery holds the data (CSV in UTF-8 with a BOM, so Excel opens it), a data dictionary
whose descriptions come from the dbt docs, a manifest with row counts and SHA-256 checksums,
and a lineage summary naming the batches the numbers reflect. Every delivery is audited in
`ops.deliveries`. The `deliver_extracts` DAG and `observatorio extract` call `deliver`.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from observatorio.settings import PROJECT_DIR, Settings, get_settings
from observatorio.warehouse import connect

SPECS_DIR = PROJECT_DIR / "extracts"


class ExtractError(RuntimeError):
    """An extract spec is invalid or its delivery failed."""


@dataclass(frozen=True)
class ExtractColumn:
    name: str
    labels: dict[str, str]

    def header(self, language: str) -> str:
        return self.labels.get(language, self.name)


@dataclass(frozen=True)
class ExtractSpec:
    recipient: str
    description: str
    mart: str
    columns: tuple[ExtractColumn, ...]
    path: Path
    period_column: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    order_by: tuple[str, ...] = ()
    format: str = "csv"
    language: str = "es"
    schedule: str = "@monthly"
    channel: str = "outbox"


def load_spec(name: str) -> ExtractSpec:
    path = SPECS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted(SPECS_DIR.glob("*.yaml")))
        raise ExtractError(f"no extract spec {name!r} in {SPECS_DIR} (known: {known})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        columns = tuple(
            ExtractColumn(name=c["name"], labels={k: v for k, v in c.items() if k != "name"})
            for c in raw["columns"]
        )
        return ExtractSpec(
            recipient=raw["recipient"],
            description=raw.get("description", ""),
            mart=raw["mart"],
            columns=columns,
            path=path,
            period_column=raw.get("period_column"),
            filters={k: [str(v) for v in vs] for k, vs in (raw.get("filters") or {}).items()},
            order_by=tuple(raw.get("order_by", ())),
            format=raw.get("format", "csv"),
            language=raw.get("language", "es"),
            schedule=raw.get("schedule", "@monthly"),
            channel=raw.get("channel", "outbox"),
        )
    except KeyError as exc:
        raise ExtractError(f"{path}: missing key {exc}") from exc


def available_specs() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.yaml"))


def _query(spec: ExtractSpec, period: str | None) -> tuple[sql.Composed, list[Any]]:
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    for column, values in sorted(spec.filters.items()):
        conditions.append(sql.SQL("{} = any(%s)").format(sql.Identifier(column)))
        params.append(values)
    if period is not None:
        if spec.period_column is None:
            raise ExtractError(f"{spec.recipient}: the spec has no period_column")
        conditions.append(sql.SQL("{} = %s").format(sql.Identifier(spec.period_column)))
        params.append(period)
    where = sql.SQL(" where ") + sql.SQL(" and ").join(conditions) if conditions else sql.SQL("")
    order = (
        sql.SQL(" order by ") + sql.SQL(", ").join(map(sql.Identifier, spec.order_by))
        if spec.order_by
        else sql.SQL("")
    )
    query = sql.SQL("select {} from marts.{}{}{}").format(
        sql.SQL(", ").join(sql.Identifier(c.name) for c in spec.columns),
        sql.Identifier(spec.mart),
        where,
        order,
    )
    return query, params


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dbt_node(settings: Settings, mart: str) -> tuple[dict[str, Any], dict[str, Any]]:
    manifest_path = settings.dbt_target_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ExtractError(f"{manifest_path} is missing: run `dbt build` (build_warehouse) first")
    manifest = json.loads(manifest_path.read_text())
    key = f"model.observatorio.{mart}"
    if key not in manifest["nodes"]:
        raise ExtractError(f"mart {mart!r} is not a model of the dbt project")
    return manifest["nodes"][key], manifest


def _upstream_sources(manifest: dict[str, Any], node_id: str) -> list[str]:
    """The raw tables (`<source>__<entity>`) a model is built from, walking the DAG up."""
    seen: set[str] = set()
    stack = [node_id]
    sources: set[str] = set()
    while stack:
        current = stack.pop()
        for parent in manifest["parent_map"].get(current, []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                sources.add(manifest["sources"][parent]["name"])
            else:
                stack.append(parent)
    return sorted(sources)


def _write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def _dictionary(spec: ExtractSpec, node: dict[str, Any]) -> list[tuple[str, ...]]:
    documented = node.get("columns", {})
    rows: list[tuple[str, ...]] = []
    for column in spec.columns:
        doc = documented.get(column.name, {})
        rows.append(
            (
                column.header(spec.language),
                column.name,
                str(doc.get("data_type") or ""),
                " ".join(str(doc.get("description") or "").split()),
                f"marts.{spec.mart}",
            )
        )
    return rows


def _lineage(conn: psycopg.Connection, sources: list[str], as_of: datetime) -> dict[str, Any]:
    batches = conn.execute(
        "select batch_id, source, source_file, file_sha256, rows_loaded, finished_at"
        " from ops.batch_ledger where status = 'loaded' and source = any(%s)"
        " order by finished_at",
        (sources,),
    ).fetchall()
    return {
        "as_of": as_of.isoformat(),
        "sources": sources,
        "batches": [
            {
                "batch_id": b[0],
                "source": b[1],
                "source_file": b[2],
                "file_sha256": b[3],
                "rows_loaded": b[4],
                "loaded_at": b[5].isoformat(),
            }
            for b in batches
        ],
    }


def deliver(name: str, period: str | None = None, settings: Settings | None = None) -> Path:
    """Build one delivery folder for the spec `name` in the outbox, audit it, return its path."""
    settings = settings or get_settings()
    spec = load_spec(name)
    if spec.channel != "outbox":
        raise ExtractError(f"{spec.path.name}: channel {spec.channel!r} is not available yet")
    node, manifest = _dbt_node(settings, spec.mart)
    as_of = datetime.now(UTC)
    stamp = as_of.strftime("%Y%m%dT%H%M%SZ")
    folder = settings.outbox_dir / spec.recipient / f"{period or 'all'}_{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    with connect(settings) as conn:
        try:
            query, params = _query(spec, period)
            rows = conn.execute(query, params).fetchall()
            data_file = folder / f"{spec.recipient}_{spec.mart}_{period or 'all'}.csv"
            _write_csv(data_file, [c.header(spec.language) for c in spec.columns], rows)
            dictionary_file = folder / "diccionario_de_datos.csv"
            _write_csv(
                dictionary_file,
                ["columna", "columna_origen", "tipo", "descripcion", "fuente"],
                _dictionary(spec, node),
            )
            lineage = _lineage(conn, _upstream_sources(manifest, node["unique_id"]), as_of)
            lineage_file = folder / "lineage.json"
            lineage_file.write_text(json.dumps(lineage, indent=2, ensure_ascii=False))
            files = [
                {"file": p.name, "rows": n, "sha256": _sha256(p)}
                for p, n in (
                    (data_file, len(rows)),
                    (dictionary_file, len(spec.columns)),
                    (lineage_file, len(lineage["batches"])),
                )
            ]
            (folder / "manifest.json").write_text(
                json.dumps(
                    {
                        "recipient": spec.recipient,
                        "spec": spec.path.name,
                        "mart": spec.mart,
                        "period": period,
                        "as_of": as_of.isoformat(),
                        "files": files,
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
        except Exception as exc:
            conn.rollback()
            _audit(conn, spec, period, None, [], 0, False, str(exc))
            conn.commit()
            raise
        _audit(conn, spec, period, folder, files, len(rows), True, None)
    return folder


def _audit(
    conn: psycopg.Connection,
    spec: ExtractSpec,
    period: str | None,
    folder: Path | None,
    files: list[dict[str, Any]],
    rows: int,
    success: bool,
    error: str | None,
) -> None:
    conn.execute(
        "insert into ops.deliveries (recipient, spec_file, period, channel, location, files,"
        " rows_delivered, success, error) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            spec.recipient,
            spec.path.name,
            period,
            spec.channel,
            str(folder) if folder else None,
            json.dumps(files),
            rows,
            success,
            error,
        ),
    )
