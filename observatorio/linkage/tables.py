"""The records as DuckDB sees them: the model's columns, pseudonyms as integer codes.

`load_records()` copies the columns the model compares into the run's DuckDB database
(`model.linkage_database()`), one table per system. Pseudonyms, report numbers and name
tokens are only ever compared for equality (or intersected), so DuckDB holds them as integer
codes instead of 64-character HMACs: the records and every candidate-pair table Splink
builds from them shrink several-fold, and every comparison and blocking rule gives what it
gave on the text. `release_memory()` hands what a step freed back to the system. Imported
by `model` and `clusters`; imports `records` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from observatorio.linkage.records import SOURCES

if TYPE_CHECKING:
    import pyarrow as pa

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

# What the model only compares for equality (or intersects, the name tokens): DuckDB holds
# them as integer codes, not as 64-character HMACs. Equal pseudonyms get equal codes, so every
# comparison, blocking rule and Splink's sample (a hash of unique_id) come out the same, while
# the records and every candidate-pair table in DuckDB shrink several-fold.
CODED_COLUMNS = ("id_pseudonym", "name_pseudonym", "report_id")
# Of those, what the records hold as pandas categories: a name pseudonym repeats (a victim's
# records, the placeholder names `prepare_records` blanks by code). ID pseudonyms and report
# numbers are nearly one per person or event, and a category costs some 2.5 times its text
# when nearly every value is distinct (pandas indexes the categories as Python strings): at
# 1M records, 87 MB more than as text.
CATEGORY_COLUMNS = ("name_pseudonym",)


def _codes(values: pd.Series) -> pa.Array:
    """Each value's code (equal values, equal codes); null stays null.

    A category's code as it is; text is encoded by Arrow on its own buffers (pandas'
    factorize would hash a million Python strings made from them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return pa.array(codes.astype(np.int32), mask=codes < 0)
    # A chunked column is encoded chunk by chunk with one dictionary (equal text, equal code
    # across chunks), without first concatenating its text.
    encoded = pc.dictionary_encode(pa.array(values.array))
    if isinstance(encoded, pa.ChunkedArray):
        indices: pa.Array = pa.chunked_array([c.indices for c in encoded.chunks]).combine_chunks()
        return indices
    first: pa.Array = encoded.indices
    return first


def _token_codes(tokens: pd.Series) -> pa.Array:
    """The name tokens as lists of token codes: the codes `prepare_records` gave them
    (`records.token_lists`, one code per distinct token of the run)."""
    import pyarrow as pa

    lists = pa.array(tokens)
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    if not pa.types.is_dictionary(lists.type.value_type):
        raise TypeError("name_tokens must be prepared (records.token_lists)")
    codes: pa.Array = pa.ListArray.from_arrays(
        lists.offsets, lists.values.indices, mask=lists.is_null()
    )
    return codes


def model_table(records: pd.DataFrame, *, positions: bool = False) -> pa.Table:
    """The model columns of `records` as an Arrow table, pseudonyms and tokens as codes.

    Codes are numbered over the whole frame: tables loaded from slices of one frame
    (`load_records(..., rows=...)`) compare with each other. With `positions`, `unique_id`
    is each record's position in `records` instead of its text (see `score_pairs`).
    """
    import pyarrow as pa

    columns = {}
    for column in MODEL_COLUMNS:
        if column == "unique_id" and positions:
            columns[column] = pa.array(np.arange(len(records), dtype=np.int64))
        elif column in CODED_COLUMNS:
            columns[column] = _codes(records[column])
        elif column == "name_tokens":
            columns[column] = _token_codes(records[column])
        else:
            columns[column] = pa.array(records[column])
    return pa.table(columns)


def load_records(
    connection: Any,
    records: pd.DataFrame,
    role: str,
    rows: slice = slice(None),
    *,
    positions: bool = False,
) -> list[str]:
    """Copy the model columns of `records[rows]` into DuckDB, one table per system; their names.

    Tables of systems without records are not made. Pseudonyms and name tokens go in as
    codes (`model_table`), numbered over all of `records`; with `positions`, records are
    known by their position in `records` (what `score_pairs` wants).
    """
    start, stop, _ = rows.indices(len(records))
    table = model_table(records, positions=positions).slice(start, stop - start)
    release_memory()  # the encoding's hash tables, before DuckDB takes its share
    connection.register("_records_input", table)
    tables = []
    try:
        for source in SOURCES:
            name = f"{role}_{source}"
            connection.sql(
                f"create or replace table {name} as select {', '.join(MODEL_COLUMNS)}"
                " from _records_input where source_dataset = $source",
                params={"source": source},
            )
            if connection.sql(f"select count(*) from {name}").fetchall()[0][0]:
                tables.append(name)
            else:
                connection.sql(f"drop table {name}")
    finally:
        connection.unregister("_records_input")
        del table
        release_memory()
    return tables


def release_memory() -> None:
    """Hand the memory a step freed back to the system.

    Arrow's allocator keeps what it freed for reuse, and glibc's keeps the large numpy and
    DuckDB buffers it freed on its heap: after a one-off step over a million records (the
    codes above, the accepted links, the clustering) that memory would stay in the process
    until it ends and add to the next step's peak.
    """
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    if libc and hasattr(ctypes.CDLL(libc), "malloc_trim"):  # glibc only
        ctypes.CDLL(libc).malloc_trim(0)
