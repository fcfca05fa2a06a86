"""A dataset's rows as they go out: read from its mart for the period (summed to the spec's
grain), protected by disclosure control (`observatorio.delivery.disclosure`) unless the
recipient owns the data (level `owner`), sorted, and rendered: codes named in the
recipient's language (`observatorio.delivery.labels`), values rounded to the decimals the
publication rules give their unit, suppressed cells as the marker (CSV, XLSX) or null plus a
`_suppressed` flag (Parquet).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from observatorio.delivery.disclosure import (
    SUPPRESSING_LEVELS,
    ProtectedRows,
    protect_rows,
    publication_rules,
)
from observatorio.delivery.errors import ExtractError
from observatorio.delivery.labels import CodeLabels
from observatorio.delivery.specs import Dataset, ExtractSpec

SUPPRESSED_SUFFIX = {"es": "_suprimido", "en": "_suppressed"}


def _query(dataset: Dataset, period: str | None) -> tuple[sql.Composed, list[Any]]:
    """All rows of the dataset for the period, before the recipient's filters (the universe)."""
    params: list[Any] = []
    where: sql.Composable = sql.SQL("")
    if period is not None:
        if dataset.period_column is None:
            raise ExtractError(f"dataset {dataset.name}: no period_column, cannot pick a period")
        where = sql.SQL(" where {} = %s").format(sql.Identifier(dataset.period_column))
        params.append(period)
    if dataset.grain:
        select = sql.SQL(", ").join(
            sql.Identifier(c.name)
            if c.name in dataset.grain
            else sql.SQL("sum({0})::bigint as {0}").format(sql.Identifier(c.name))
            for c in dataset.mart_columns
        )
        group: sql.Composable = sql.SQL(" group by ") + sql.SQL(", ").join(
            map(sql.Identifier, dataset.grain)
        )
    else:
        select = sql.SQL(", ").join(sql.Identifier(c.name) for c in dataset.mart_columns)
        group = sql.SQL("")
    query = sql.SQL("select {} from marts.{}{}{}").format(
        select, sql.Identifier(dataset.mart), where, group
    )
    return query, params


def _matches(row: Mapping[str, Any], filters: Mapping[str, list[str]]) -> bool:
    return all(str(row[column]) in values for column, values in filters.items())


def protected_rows(
    conn: psycopg.Connection, dataset: Dataset, period: str | None, level: str = "external"
) -> ProtectedRows:
    """The recipient's rows with disclosure control applied for its level.

    `owner`: the rows as they are (exact counts, under the recipient's agreement). `public`
    and `external`: the universe (every row, whatever the recipient may see) is protected
    first, and its pattern seeds the protection of the recipient's subset: cells hidden from
    one ministry stay hidden from the others, and the subset's own totals cannot reveal them.
    """
    query, params = _query(dataset, period)
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        names = [d.name for d in cursor.description or []]
        universe = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    rule = dataset.disclosure
    if level not in SUPPRESSING_LEVELS:
        protected = ProtectedRows([r for r in universe if _matches(r, dataset.filters)], {})
    elif not dataset.filters:
        protected, _ = protect_rows(universe, rule)
    else:
        _, keys = protect_rows(universe, rule)
        subset = [r for r in universe if _matches(r, dataset.filters)]
        protected, _ = protect_rows(subset, rule, seed=keys)
    order = dataset.order_by or tuple(c.name for c in dataset.columns)
    indexes = sorted(
        range(len(protected.rows)),
        key=lambda i: tuple(_order_key(protected.rows[i].get(c)) for c in order),
    )
    position = {old: new for new, old in enumerate(indexes)}
    return ProtectedRows(
        [protected.rows[i] for i in indexes],
        {c: {position[i] for i in s} for c, s in protected.suppressed.items()},
        protected.hidden_totals,
    )


def _order_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (2, "")
    if isinstance(value, int | float | Decimal):
        return (0, value)
    return (1, str(value))


def rendered_rows(
    spec: ExtractSpec, dataset: Dataset, protected: ProtectedRows, labels: CodeLabels
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows as they go out: codes named, values rounded to the decimals their
    unit is published with, suppressed cells as the marker, or null + a flag (Parquet)."""
    header = [c.header(spec.language) for c in dataset.columns]
    guarded = [c.name for c in dataset.columns if c.name in protected.suppressed]
    flags = spec.format == "parquet"
    if flags:
        header += [
            dataset.column(c).header(spec.language) + SUPPRESSED_SUFFIX[spec.language]
            for c in guarded
        ]
    decimals = publication_rules(c.indicator for c in dataset.columns if c.indicator).decimals
    rows: list[list[Any]] = []
    for index, row in enumerate(protected.rows):
        values: list[Any] = []
        for column in dataset.columns:
            where = f"{spec.path.name}: dataset {dataset.name}, row {index + 1}, {column.name}"
            if protected.is_suppressed(column.name, index):
                values.append(None if flags else dataset.disclosure.marker)
            elif column.names_of is not None:
                code = row[column.names_of]
                source = dataset.column(column.names_of)
                assert source.codes is not None  # checked when the spec is read
                values.append(None if code is None else labels.name(source.codes, code, where))
            elif column.named_by is not None and row[column.name] is not None:
                values.append(labels.names_in(column.named_by, row[column.name], where))
            else:
                values.append(_rounded(row[column.name], decimals.get(column.unit or "")))
        if flags:
            values += [protected.is_suppressed(c, index) for c in guarded]
        rows.append(values)
    return header, rows


def _rounded(value: Any, decimals: int | None) -> Any:
    """A number to the decimals its unit is published with (counts stay integers)."""
    if decimals is None or isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    if decimals == 0:
        return round(value)
    return round(float(value), decimals)
