"""From accepted links to victims: clustering, one row per victim, and the linking runs.

`link_records()` links records from scratch (training the model unless one is given);
`link_new_records()` links new records into an existing register with the stored model. Both
cluster the accepted links so that a victim holds at most one record per system
(`cluster_records()`) and summarise each victim (`summarise_victims()`). Called by
`register.update_register()`, `bench/linkage.py` and the tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.pseudonymise import victim_id_pseudonym
from observatorio.core.settings import get_settings
from observatorio.linkage.model import (
    accept_links,
    linkage_database,
    score_pairs,
    train_model,
)
from observatorio.linkage.records import (
    LINK_COLUMNS,
    POSITION_COLUMNS,
    SOURCES,
    Intent,
    LinkageConfig,
    LinkageError,
    LinkageResult,
    Status,
    concat_records,
    links_by_id,
    prepare_records,
    take_text,
)
from observatorio.linkage.tables import load_records, release_memory


class _Clusters:
    """Union-find over record positions where a cluster holds at most one record per system.

    `systems` is each record's system as a bit, `rank` its unique_id's place in sorted
    order: a cluster's root is always its record with the smallest unique_id.
    """

    def __init__(self, systems: np.ndarray, rank: np.ndarray) -> None:
        self.parent: dict[int, int] = {}
        self.systems: dict[int, int] = {}
        self.record_system = systems
        self.rank = rank

    def find(self, node: int) -> int:
        root = self.parent.setdefault(node, node)
        if root not in self.systems:
            self.systems[root] = int(self.record_system[node])
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: int, b: int) -> bool:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return True
        if self.systems[root_a] & self.systems[root_b]:
            return False
        if self.rank[root_b] < self.rank[root_a]:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.systems[root_a] |= self.systems.pop(root_b)
        return True


def _positions(uids: pa.Array, values: Any) -> np.ndarray:
    """Position in `uids` of each of `values` (Arrow's hash lookup, no Python strings)."""
    found = pc.index_in(pa.array(values).cast(pa.large_string()), value_set=uids)
    if found.null_count:
        raise LinkageError("a link names a unique_id that is not among the records")
    positions: np.ndarray = found.to_numpy(zero_copy_only=False).astype(np.int64)
    return positions


def _by_rank(records: pd.DataFrame) -> np.ndarray:
    """Record positions in the sorted order of their unique_ids."""
    order: np.ndarray = pc.sort_indices(pa.array(records["unique_id"])).to_numpy()
    return order


def cluster_records(
    records: pd.DataFrame,
    links: pd.DataFrame,
    seed_clusters: dict[str, str] | None = None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Assign each record a cluster root; returns (root per record, links actually used).

    `links` name records by position in `records` (`POSITION_LINK_COLUMNS`), and so do the
    roots: the position of the record with the smallest unique_id of the cluster, one per
    record. Links are applied most-evidence-first (documentary and NN rules, then by
    probability); a link that would put two records of one system together is refused.
    `seed_clusters` (unique_id -> victim_id of the register) are applied first, so existing
    victims stay.

    Only connected components in which some system appears twice can refuse a link, so the
    greedy pass runs on those alone; every other component takes all its links at once
    (scipy's connected components), which keeps a million records to seconds. Records are
    handled by position and unique_ids by their rank in sorted order (Arrow), so a million
    records make no Python string.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    count = len(records)
    by_rank = _by_rank(records)
    rank = np.empty(count, dtype=np.int64)
    rank[by_rank] = np.arange(count)
    left, right = (links[side].to_numpy(dtype=np.int64) for side in POSITION_COLUMNS)
    evidence = links["match_probability"].fillna(2.0).to_numpy(dtype=np.float64)
    # Most evidence first, then by unique_ids: the order of a sort on (evidence, id_l, id_r).
    order = np.lexsort((rank[right], rank[left], -evidence))
    del evidence
    left, right = left[order], right[order]
    # Seed edges: each register victim's records chained to its first record.
    seed_pairs: list[tuple[str, str]] = []
    if seed_clusters:
        present = set(records["unique_id"])
        first: dict[str, str] = {}
        for uid, victim in sorted(seed_clusters.items()):
            if uid not in present:
                continue
            anchor = first.setdefault(victim, uid)
            if anchor != uid:
                seed_pairs.append((anchor, uid))
    if seed_pairs:
        uids = pa.array(records["unique_id"]).cast(pa.large_string())
        seed_left = _positions(uids, [a for a, _ in seed_pairs])
        seed_right = _positions(uids, [b for _, b in seed_pairs])
        del uids
    else:
        seed_left = seed_right = np.zeros(0, dtype=np.int64)
    rows = np.concatenate([left, seed_left])
    cols = np.concatenate([right, seed_right])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(count,) * 2)
    del rows, cols
    _, component = connected_components(graph, directed=False)
    del graph
    system = records["source_dataset"].map({s: i for i, s in enumerate(SOURCES)}).to_numpy()
    repeated = pd.DataFrame({"component": component, "system": system}).duplicated().to_numpy()
    conflicted = np.zeros(component.max() + 1 if len(component) else 0, dtype=bool)
    conflicted[component[repeated]] = True

    used = np.ones(len(order), dtype=bool)
    label = component.astype(np.int64)
    in_conflict = conflicted[component[left]] if len(left) else np.zeros(0, dtype=bool)
    if conflicted.any():
        members = np.flatnonzero(conflicted[component])
        clusters = _Clusters(np.left_shift(1, system.astype(np.int64)), rank)
        for a, b in zip(seed_left.tolist(), seed_right.tolist(), strict=True):
            if conflicted[component[a]]:
                clusters.union(a, b)
        for index in np.flatnonzero(in_conflict).tolist():
            used[index] = clusters.union(int(left[index]), int(right[index]))
        # Sub-clusters of a conflicted component get labels past the component numbers.
        roots = [clusters.find(m) for m in members.tolist()]
        label[members] = len(conflicted) + pd.factorize(np.asarray(roots))[0]
    # The root: the record of smallest unique_id (lowest rank) under each label.
    lowest = pd.Series(rank).groupby(label).transform("min").to_numpy()
    root: np.ndarray = by_rank[lowest]
    return root, links.iloc[order[used]].reset_index(drop=True)


def _victim_id(members: Sequence[str], key: bytes) -> str:
    # Keyed under the victim-id purpose: an unkeyed hash of a record id could be recomputed
    # by anyone holding the record ids (the review list's recipients) to join victims.
    return f"VIC-{victim_id_pseudonym(key, min(members))}"


# --------------------------------------------------------------------------- victims

VICTIM_COLUMNS = (
    "victim_id",
    "record_count",
    "systems",
    "has_police_record",
    "has_prosecution_record",
    "has_forensic_record",
    "has_hospital_record",
    "police_record_id",
    "prosecution_record_id",
    "forensic_record_id",
    "hospital_record_id",
    "police_classification",
    "prosecution_classification",
    "forensic_classification",
    "hospital_classification",
    "homicide_sources",
    "match_probability",
    "linked_by_rule",
    "final_status",
    "is_unidentified",
    "event_date",
    "municipality_code",
    "is_police_without_autopsy",
    "is_autopsy_without_police",
    "is_reclassified",
    "id_pseudonym",
    "name_pseudonym",
)

# The reference place and date of a victim come from the first system that has them.
_REFERENCE_ORDER = ("police", "forensic", "prosecution", "hospital")


# Every intent classify_intent() can give, as the codes summarise_victims() compares.
_INTENTS: tuple[str, ...] = get_args(Intent)


def _victim_codes(victim_id: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(code per record, victim ids in sorted order): each record's victim as its place in
    that order, from the categories when the column is categorical (what `_assign_victims`
    gives), so a million records are never hashed as text again."""
    victim = pd.Categorical(victim_id).remove_unused_categories()
    order = victim.categories.argsort()
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    return place[victim.codes], victim.categories[order]


def _link_owners(records: pd.DataFrame, links: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(position in `records` of each link's first record, whether it is among them).

    Links by position (`POSITION_LINK_COLUMNS`, a run's own) or by unique_id (`LINK_COLUMNS`,
    the register's, which may name records that left it)."""
    if POSITION_COLUMNS[0] in links.columns:
        positions = links[POSITION_COLUMNS[0]].to_numpy(dtype=np.int64)
        return positions, np.ones(len(positions), dtype=bool)
    found = pc.index_in(
        pa.array(links["unique_id_l"]).cast(pa.large_string()),
        value_set=pa.array(records["unique_id"]).cast(pa.large_string()),
    )
    known = found.is_valid().to_numpy(zero_copy_only=False)
    positions = np.zeros(len(links), dtype=np.int64)
    positions[known] = found.drop_null().to_numpy()
    return positions, known


# What final_status() can say, as the codes summarise_victims() picks array-wise.
_STATUSES: tuple[str, ...] = get_args(Status)


def summarise_victims(records: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """One row per victim: which systems, each one's classification, probability, status.

    Array-wise (numpy over victim codes, no per-victim Python): a national register of a
    million records summarises in seconds. `links` by position or by unique_id (see
    `_link_owners`). The status is categorical, and victims with the same systems share
    one `systems` list.
    """
    if records.empty:
        return pd.DataFrame(columns=list(VICTIM_COLUMNS))
    codes, victims = _victim_codes(records["victim_id"])
    n = len(victims)
    system = records["source_dataset"].map({s: i for i, s in enumerate(SOURCES)}).to_numpy()
    rank = records["source_dataset"].map({s: i for i, s in enumerate(_REFERENCE_ORDER)})
    is_nn = records["is_unidentified"].to_numpy(dtype=bool)

    def first_per_victim(mask: np.ndarray) -> np.ndarray:
        """Row index of each victim's first record (in _REFERENCE_ORDER) within `mask`, or -1."""
        order = np.lexsort((rank.to_numpy(), codes))
        order = order[mask[order]]
        found, where = np.unique(codes[order], return_index=True)
        first = np.full(n, -1)
        first[found] = order[where]
        return first

    def pick(column: str, rows: np.ndarray) -> Any:
        """`column` at each victim's row in `rows` (missing for -1), taken column-wise: a
        million-record column never becomes a million Python objects. A categorical column
        (the name pseudonyms as the register read gives them) stays one, sharing its
        categories; text comes as the default string dtype, missing as NaN (`take_text`)."""
        if isinstance(records[column].dtype, pd.CategoricalDtype):
            return records[column].array.take(rows, allow_fill=True)
        return take_text(records[column], rows)

    # Row of each (victim, system); -1 where the system has no record of the victim.
    row_of = np.full((n, len(SOURCES)), -1, dtype=np.int64)
    row_of[codes, system] = np.arange(len(records))
    present = row_of >= 0

    first = first_per_victim(np.ones(len(records), dtype=bool))
    out: dict[str, Any] = {
        "victim_id": victims,
        "record_count": np.bincount(codes, minlength=n).astype("int64"),
        # The reference place and date: the first system in _REFERENCE_ORDER that has them.
        "event_date": records["event_date"].take(first).to_numpy(dtype=object),
        "municipality_code": pick("municipality_code", first),
        "is_unidentified": np.bincount(codes, weights=~is_nn, minlength=n) == 0,
    }
    for column in ("id_pseudonym", "name_pseudonym"):
        out[column] = pick(column, first_per_victim(~is_nn & records[column].notna().to_numpy()))
    for i, source in enumerate(SOURCES):
        out[f"has_{source}_record"] = present[:, i]
        out[f"{source}_record_id"] = pick("unique_id", row_of[:, i])
        out[f"{source}_classification"] = pick("classification", row_of[:, i])
    # One list per set of systems (sixteen at most), shared by the victims that have it.
    combination = present @ (1 << np.arange(len(SOURCES)))
    lists = np.empty(1 << len(SOURCES), dtype=object)
    for bits in range(len(lists)):
        lists[bits] = [s for i, s in enumerate(SOURCES) if bits >> i & 1]
    out["systems"] = lists[combination]
    # Each system's intent of the victim as a small code (-1: no record), not as strings.
    intent_of_record = pd.Categorical(records["intent"], _INTENTS).codes
    intents = np.where(present, intent_of_record[np.maximum(row_of, 0)], -1)
    homicide, undetermined, legal = (
        _INTENTS.index(i) for i in ("homicide", "undetermined", "legal_intervention")
    )
    homicides = (intents == homicide).sum(axis=1)
    out["homicide_sources"] = homicides.astype("int64")
    # final_status(), array-wise, as category codes.
    status = np.select(
        [
            homicides >= 2,
            (intents == legal).any(axis=1),
            homicides == 1,
            (intents == undetermined).any(axis=1),
        ],
        [
            _STATUSES.index(s)
            for s in (
                "confirmed_homicide",
                "legal_intervention",
                "homicide_single_source",
                "undetermined_intent",
            )
        ],
        default=_STATUSES.index("not_homicide"),
    )
    out["final_status"] = pd.Categorical.from_codes(status, categories=list(_STATUSES))
    reclassified = np.zeros(n, dtype=bool)
    for a in range(len(SOURCES)):
        for b in range(a + 1, len(SOURCES)):
            both = present[:, a] & present[:, b]
            reclassified |= both & (intents[:, a] != intents[:, b])
    out["is_reclassified"] = reclassified
    police, forensic = present[:, SOURCES.index("police")], present[:, SOURCES.index("forensic")]
    out["is_police_without_autopsy"] = police & ~forensic
    out["is_autopsy_without_police"] = forensic & ~police

    # The lowest model probability among the victim's links; rule links flag the victim.
    position, known = _link_owners(records, links)
    owner = codes[position]
    is_model = (links["rule"] == "model").to_numpy(dtype=bool)
    probability = pd.to_numeric(links["match_probability"], errors="coerce").to_numpy(float)
    lowest = np.full(n, np.inf)
    keep = known & is_model & ~np.isnan(probability)
    np.minimum.at(lowest, owner[keep], probability[keep])
    out["match_probability"] = np.where(np.isinf(lowest), np.nan, lowest)
    by_rule = np.zeros(n, dtype=bool)
    by_rule[owner[known & ~is_model]] = True
    out["linked_by_rule"] = by_rule
    # Each array becomes a column as it is: a dict's frame would copy them all by default.
    return pd.DataFrame({column: out.pop(column) for column in VICTIM_COLUMNS}, copy=False)


def _assign_victims(
    records: pd.DataFrame,
    roots: np.ndarray,
    key: bytes | None,
    known: dict[str, str] | None = None,
) -> pd.Series:
    """Victim id per record (categorical): the register's id for a cluster it knows, else a
    new one. `roots`: the position of each record's cluster root (`cluster_records`)."""
    # A new victim's id hashes its smallest record id, which is the cluster's root: only the
    # roots' unique_ids become Python strings.
    codes, unique_roots = pd.factorize(roots)
    key = key if key is not None else get_settings().pseudonym_key()
    root_ids = take_text(records["unique_id"], unique_roots)
    new_ids = np.array([_victim_id([r], key) for r in root_ids], dtype=object)
    victim = pd.Series(new_ids[codes], index=records.index, dtype=object)
    del new_ids
    if known:
        existing = records["unique_id"].map(known)
        # A cluster keeps the register's victim id (the smallest when two victims merged).
        kept = existing.groupby(roots).transform("min")
        victim = kept.where(kept.notna(), victim)
    return victim.astype("category")


def link_records(
    df: pd.DataFrame,
    config: LinkageConfig | None = None,
    *,
    model: dict[str, Any] | None = None,
    unidentified_names: Iterable[str] = (),
    key: bytes | None = None,
) -> LinkageResult:
    """Link all records from scratch (training the model unless one is given)."""
    config = config or LinkageConfig()
    records = prepare_records(df, unidentified_names)
    release_memory()  # preparation's temporaries, before DuckDB's share is taken
    if model is None:
        # Splink samples pairs for training by unique_id: train on the unique_ids, then
        # score the same records known by position (see score_pairs). In a database of its
        # own: DuckDB keeps the memory it used until it is closed, and scoring would
        # otherwise start with training's on top of its own.
        with linkage_database() as connection:
            model = train_model(connection, load_records(connection, records, "train"), config)
        release_memory()
    with linkage_database() as connection:
        tables = load_records(connection, records, "new", positions=True)
        scored = score_pairs(connection, model, tables, threshold=min(0.5, config.match_threshold))
        links = accept_links(connection, scored, records, config)
    release_memory()  # DuckDB's, now that the database is closed
    # Links stay positions through clustering, the summary and the result: they get their
    # unique_ids when written (LinkageResult.link_batches).
    roots, used = cluster_records(records, links)
    del links
    release_memory()
    records["victim_id"] = _assign_victims(records, roots, key)
    del roots
    victims = summarise_victims(records, used)
    release_memory()
    return LinkageResult(records, used, victims, model)


def link_new_records(
    register_records: pd.DataFrame,
    register_links: pd.DataFrame,
    new: pd.DataFrame,
    model: dict[str, Any],
    config: LinkageConfig | None = None,
    *,
    unidentified_names: Iterable[str] = (),
    key: bytes | None = None,
) -> LinkageResult:
    """Link new records to an existing register with the stored model.

    `register_records` are earlier records (input columns) with their `victim_id`, and
    `register_links` the links that made those victims. Only new-to-existing and new-to-new
    pairs are scored, so the cost follows the size of the new batch. Existing victims keep
    their ids; a new record joins a victim or starts one, and a new record that bridges two
    victims merges them under the smaller id. Records already in the register are ignored.
    Returns the whole updated register.
    """
    config = config or LinkageConfig()
    known = dict(zip(register_records["unique_id"], register_records["victim_id"], strict=True))
    fresh = new[~new["unique_id"].isin(known)]
    old = prepare_records(register_records.drop(columns=["victim_id"]), unidentified_names)
    if fresh.empty:
        old["victim_id"] = old["unique_id"].map(known)
        return LinkageResult(old, register_links, summarise_victims(old, register_links), model)
    added = prepare_records(fresh, unidentified_names)
    records = concat_records([old, added])
    del added
    release_memory()
    with linkage_database() as connection:
        scored = score_pairs(
            connection,
            model,
            # Both from `records`: their codes are numbered together (model_table).
            load_records(connection, records, "new", slice(len(old), None), positions=True),
            load_records(connection, records, "old", slice(len(old)), positions=True),
            threshold=min(0.5, config.match_threshold),
        )
        links = accept_links(connection, scored, records, config)
    # NN rules look at the whole neighbourhood (uniqueness) but only links to new records
    # count: the new records are the positions after the old ones.
    touches_new = (links[list(POSITION_COLUMNS)].to_numpy() >= len(old)).any(axis=1)
    roots, used = cluster_records(records, links[touches_new], seed_clusters=known)
    records["victim_id"] = _assign_victims(records, roots, key, known)
    all_links = pd.concat(
        [register_links.loc[:, list(LINK_COLUMNS)], links_by_id(records, used)], ignore_index=True
    )
    return LinkageResult(records, all_links, summarise_victims(records, all_links), model)
