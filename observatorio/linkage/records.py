"""Linkage input: the records schema, its validation and preparation, and intent.

`prepare_records()` validates a frame of victim records against the schema below and derives
the comparison columns the model uses; `classify_intent()` and `final_status()` say what each
system called a death and what that makes the victim. The shared types of the linkage
(`LinkageConfig`, `LinkageResult`, `LinkageError`) live here too. Imported by `model`,
`clusters` and `register`; imports `ingestion.pseudonymise` only for the placeholder names.

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
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
# The name tokens of prepared records (`token_lists`): lists of codes into the distinct tokens.
TOKEN_TYPE = pa.list_(pa.dictionary(pa.int32(), pa.string()))

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


# A link as the register keeps it, and what made it: the model or an NN rule.
LINK_COLUMNS = ("unique_id_l", "unique_id_r", "match_probability", "rule")
# A link while a run works on it: its records by position in the prepared records. A million
# accepted links stay three numbers and a rule code each until they are written; only then,
# a batch at a time, do they get their unique_ids (`links_by_id`).
POSITION_COLUMNS = ("position_l", "position_r")
POSITION_LINK_COLUMNS = (*POSITION_COLUMNS, *LINK_COLUMNS[2:])


def take_text(values: pd.Series, rows: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The text column `values` at the positions `rows` (-1: missing), chunk by chunk.

    A column read in batches (the register read's, the bench's stacked years) is an Arrow
    column of many chunks, and Arrow's take of such a column first concatenates them all: a
    copy of a million 64-character pseudonyms (some 76 MB) to take a third of them. Here each
    chunk gives its rows, and only what is taken is copied, twice at most."""
    text = pa.array(values.array)
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    starts = np.cumsum([0, *(len(chunk) for chunk in chunks)])
    rows = np.asarray(rows, dtype=np.int64)
    owner = np.where(rows < 0, -1, np.searchsorted(starts, rows, side="right") - 1)
    parts, where = [], []
    for i, chunk in enumerate(chunks):
        at = np.flatnonzero(owner == i)
        if len(at):
            parts.append(chunk.take(pa.array(rows[at] - starts[i])))
            where.append(at)
    missing = np.flatnonzero(owner < 0)
    parts.append(pa.nulls(len(missing), text.type))
    where.append(missing)
    gathered = pa.concat_arrays(parts)
    del parts
    order = np.empty(len(rows), dtype=np.int64)
    order[np.concatenate(where)] = np.arange(len(rows))
    return pd.array(gathered.take(pa.array(order)), dtype="str")


def links_by_id(records: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Links by position (`POSITION_LINK_COLUMNS`) as links by unique_id (`LINK_COLUMNS`)."""
    columns = [take_text(records["unique_id"], links[side].to_numpy()) for side in POSITION_COLUMNS]
    columns += [links[column].array for column in LINK_COLUMNS[2:]]
    return pd.DataFrame(dict(zip(LINK_COLUMNS, columns, strict=True)))


@dataclass
class LinkageResult:
    """Records with their victim, the accepted links, and one row per victim.

    `link_table` names records by unique_id (`LINK_COLUMNS`: the register's links, an
    incremental run's) or by position in `records` (`POSITION_LINK_COLUMNS`: a full run's,
    a million links without a million pairs of unique_id texts); `links` and
    `link_batches()` give them by unique_id either way.
    """

    records: pd.DataFrame  # input columns + victim_id
    link_table: pd.DataFrame  # LINK_COLUMNS or POSITION_LINK_COLUMNS
    victims: pd.DataFrame  # see VICTIM_COLUMNS
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def links(self) -> pd.DataFrame:
        """The links by unique_id (`LINK_COLUMNS`), made anew at each call from positions."""
        return self._by_id(self.link_table)

    def link_batches(self, rows: int) -> Iterator[pd.DataFrame]:
        """The links by unique_id, `rows` at a time: what the register write sends."""
        for start in range(0, len(self.link_table), rows):
            yield self._by_id(self.link_table.iloc[start : start + rows])

    def _by_id(self, links: pd.DataFrame) -> pd.DataFrame:
        if POSITION_COLUMNS[0] in links.columns:
            return links_by_id(self.records, links)
        return links.loc[:, list(LINK_COLUMNS)]


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
    """The column with empty strings as nulls; a string column without any comes back as is."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _without(series, ("",))
    if isinstance(series.dtype, pd.StringDtype):
        # Compared in place: astype(str) would build a second million-string column.
        empty = series.eq("").fillna(False).to_numpy(dtype=bool)
        return series.mask(empty) if empty.any() else series
    return series.where(series.notna() & (series.astype(str) != ""), None)


def _without(series: pd.Series, values: Iterable[str]) -> pd.Series:
    """A categorical column with `values` as nulls: new codes, the categories shared, so a
    million pseudonyms are not copied to blank a few (see `prepare_records`)."""
    dropped = series.cat.categories.intersection(pd.Index(list(values), dtype=object))
    return series.cat.remove_categories(dropped) if len(dropped) else series


def _token_parts(tokens: pd.Series) -> tuple[Any, np.ndarray, np.ndarray]:
    """(distinct tokens as Arrow text, each token's code into them, tokens per record).

    An Arrow list column (the register read's) is taken as it is, dictionary-encoded once if
    its tokens are text; Python lists (the bench's, the tests') are coded token by token into
    a compact integer buffer, no Arrow text copy of every token. A null or non-list value has
    no tokens.
    """
    if isinstance(tokens.dtype, pd.ArrowDtype) and pa.types.is_list(tokens.dtype.pyarrow_dtype):
        lists = pa.array(tokens)
        lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
        lengths = pc.list_value_length(lists).fill_null(0).to_numpy().astype(np.int64)
        flat = pc.list_flatten(lists)
        if not pa.types.is_dictionary(flat.type):
            flat = pc.dictionary_encode(flat)
        dictionary, indices = flat.dictionary, flat.indices.to_numpy().astype(np.int32)
        distinct = pc.unique(dictionary)
        if len(distinct) < len(dictionary):  # a dictionary with repeats: one code per text
            remap = pc.index_in(dictionary, value_set=distinct).to_numpy().astype(np.int32)
            dictionary, indices = distinct, remap[indices]
        return dictionary, indices, lengths
    values = tokens.to_numpy(dtype=object)
    codes: dict[str, int] = {}
    flat_codes = array("i")
    lengths = np.zeros(len(values), dtype=np.int64)
    for row, names in enumerate(values):
        if isinstance(names, list | tuple | np.ndarray):
            lengths[row] = len(names)
            flat_codes.extend(codes.setdefault(token, len(codes)) for token in names)
    dictionary = pa.array(list(codes), type=pa.string())
    return dictionary, np.frombuffer(flat_codes, dtype=np.int32), lengths


def token_lists(tokens: pd.Series, blank: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The name tokens as `TOKEN_TYPE`: per record its sorted tokens as dictionary codes,
    null where `blank` (a placeholder name) or where there are none.

    Codes into one dictionary of the distinct tokens, in sorted order (equal text, equal
    code, what the model compares): a million records hold four bytes a token and one copy
    of each distinct token, where Python lists of 64-character HMACs took some 400 MB.
    """
    dictionary, indices, lengths = _token_parts(tokens)
    # Codes renumbered in the tokens' sorted order, so sorting codes sorts the text.
    order = pc.sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    row = np.repeat(np.arange(len(lengths)), lengths)
    keep = ~blank[row]
    lengths = np.where(blank, 0, lengths)
    codes, row = rank[indices[keep]], row[keep]
    codes = codes[np.lexsort((codes, row))]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = pa.DictionaryArray.from_arrays(pa.array(codes), dictionary.take(pa.array(order)))
    lists = pa.ListArray.from_arrays(
        pa.array(offsets), values, type=TOKEN_TYPE, mask=pa.array(lengths == 0)
    )
    return pd.arrays.ArrowExtensionArray(lists)


def concat_records(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after another, under a new RangeIndex.

    A column categorical in every frame stays categorical over the union of the categories:
    pandas' concat makes frames with different categories an object column, a million Python
    strings for a million pseudonyms.
    """
    from pandas.api.types import union_categoricals

    names = list(frames[0].columns)
    if any(list(f.columns) != names for f in frames):
        return pd.concat(frames, ignore_index=True)
    columns: dict[str, Any] = {}
    for name in names:
        parts = [f[name] for f in frames]
        if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
            columns[name] = pd.Series(union_categoricals(parts), copy=False)
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)


def prepare_records(df: pd.DataFrame, unidentified_names: Iterable[str] = ()) -> pd.DataFrame:
    """Validate the input and derive the comparison columns the model uses.

    Placeholder names (their pseudonyms in `unidentified_names`) are dropped, so an `NN`
    is no name at all; a record without ID and name is unidentified whatever it says.
    """
    validate_records(df)
    # Shallow: the input's columns are shared until one is replaced (copy-on-write), so a
    # million records are not held twice.
    out = df.copy(deep=False)
    for column in OPTIONAL_COLUMNS:
        if column not in out.columns:
            out[column] = None
    placeholders = frozenset(unidentified_names)
    out["id_pseudonym"] = _nullable(out["id_pseudonym"])
    out["name_pseudonym"] = _nullable(out["name_pseudonym"])
    is_placeholder = out["name_pseudonym"].isin(placeholders).to_numpy(dtype=bool)
    if isinstance(out["name_pseudonym"].dtype, pd.CategoricalDtype):
        # Pseudonyms as categories (what the warehouse read and the bench hand over): only
        # the codes change.
        out["name_pseudonym"] = _without(out["name_pseudonym"], placeholders)
    elif is_placeholder.any():  # else the column stays shared with the input
        out.loc[is_placeholder, "name_pseudonym"] = None
    out["name_tokens"] = token_lists(out["name_tokens"], is_placeholder)
    known_sex = out["sex"].isin(["M", "F"])
    if not known_sex.all():
        out["sex"] = out["sex"].where(known_sex, None)
    out["report_id"] = _nullable(out["report_id"])
    out["municipality_code"] = out["municipality_code"].astype(str)
    event = pd.to_datetime(out["event_date"])
    if pd.api.types.infer_dtype(out["event_date"], skipna=False) != "date":
        # Dates already (what the warehouse and the bench hand over) are kept, not remade.
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
    out["intent"] = pd.Categorical(intents[codes], categories=get_args(Intent))
    return out.reset_index(drop=True)
