"""Statistical disclosure control: nothing leaves the warehouse with a count an outsider could
tie to a handful of people. Extracts (`observatorio.delivery.extracts`) and the bulletin
(`observatorio.delivery.bulletin`) call `protect_rows` on every table before writing it.

**Primary suppression.** A count from 1 to `threshold - 1` (default 1-9) is suppressed. Zeros
are published: an empty cell identifies no one.

**Complementary (secondary) suppression.** We assume the attacker knows every row and column
total of each 2-D table (they may be published elsewhere, or summed from another extract), so a
table of R rows and C columns is handled as its (R+1) x (C+1) extension with the margins as
cells. The published cells and the totals give one linear equation per row and per column.
Seen as a bipartite graph (one node per row line and per column line, the total row and total
column included; one edge per suppressed cell), those equations are exactly the incidence
equations of the graph (after flipping the sign of the margin cells), and their solution space
is spanned by the graph's cycles. A suppressed cell is therefore exactly recoverable if and only
if its edge is a *bridge* (it lies on no cycle). The algorithm:

1. mark the primary cells (small margins included: a published total of 3 is disclosive too);
2. closure: every row or column line holding exactly one suppressed cell gets a second one,
   the smallest non-zero published cell of that line (zeros only as a last resort, because a
   suppressed zero pins its neighbours to their bounds);
3. while some suppressed cell is a bridge, suppress the smallest published cell that joins the
   two sides the bridge separates, which puts the bridge on a cycle; then repeat step 2.

Adding cells never turns a cycle edge into a bridge, so the loop ends (at worst with every
cell suppressed) and the result has no bridge: every suppressed cell lies on a cycle of
suppressed cells. With non-zero cells on the cycle, adding ±1 alternately around it gives
another non-negative integer table with the same published cells and totals, so each
suppressed value is uncertain by at least 1 even for an attacker who uses non-negativity.
This is a greedy heuristic: it chooses small cells, not a proven minimum, and it protects
each 2-D table with its margins, not hierarchies (department subtotals) nor links between
tables beyond the shared universe the extracts protect first.

**Dependent cells.** A count that is "of which" another (femicide victims of all victims) is
suppressed wherever its whole is, and a rate is suppressed wherever its numerator is.

**Who receives.** Each extract spec declares the recipient's disclosure level (`LEVELS`):
`public` (anyone may read it) and `external` (another institution, a researcher) get the
suppression above; `owner` (the institution the records come from, or an analyst accredited
under a data-sharing agreement) gets exact counts. The minimum cell size and the published
decimals are never written here: they come from the indicator definitions' publication rules
(`dbt_project/indicators/_publication.yml`, the active country profile's `publication:` over
it, or the definition of the indicator a column counts), through `publication_rules`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_THRESHOLD = 10  # only for tables built by hand; deliveries use `publication_rules`
DEFAULT_MARKER = "*"
LEVELS = ("public", "external", "owner")
SUPPRESSING_LEVELS = frozenset({"public", "external"})

Cell = tuple[int, int]


class DisclosureError(ValueError):
    """A table cannot be protected as described (duplicate keys, negative counts...)."""


@dataclass(frozen=True)
class Protection:
    """The suppression pattern of one table, in extended coordinates.

    Row index `n_rows` is the total row and column index `n_cols` the total column.
    """

    n_rows: int
    n_cols: int
    primary: frozenset[Cell]
    suppressed: frozenset[Cell]

    @property
    def secondary(self) -> frozenset[Cell]:
        return self.suppressed - self.primary

    def interior(self) -> frozenset[Cell]:
        """Suppressed body cells (without the margins)."""
        return frozenset((i, j) for i, j in self.suppressed if i < self.n_rows and j < self.n_cols)


def extend_with_totals(values: Sequence[Sequence[int]]) -> list[list[int]]:
    """The table with a total column on the right and a total row at the bottom."""
    n_cols = len(values[0]) if values else 0
    rows = [[*map(int, row), sum(int(v) for v in row)] for row in values]
    totals = [sum(row[j] for row in rows) for j in range(n_cols + 1)]
    return [*rows, totals]


def _lines(n_rows: int, n_cols: int) -> list[list[Cell]]:
    rows = [[(i, j) for j in range(n_cols + 1)] for i in range(n_rows + 1)]
    cols = [[(i, j) for i in range(n_rows + 1)] for j in range(n_cols + 1)]
    return rows + cols


def _cost(cell: Cell, ext: list[list[int]], n_rows: int, n_cols: int) -> tuple[int, int, int, Cell]:
    value = ext[cell[0]][cell[1]]
    is_margin = int(cell[0] == n_rows or cell[1] == n_cols)
    return (int(value == 0), value, is_margin, cell)


def _close(suppressed: set[Cell], ext: list[list[int]], n_rows: int, n_cols: int) -> None:
    """Give every line with exactly one suppressed cell a second one (in place)."""
    lines = _lines(n_rows, n_cols)
    changed = True
    while changed:
        changed = False
        for line in lines:
            hidden = [c for c in line if c in suppressed]
            if len(hidden) != 1:
                continue
            candidates = [c for c in line if c not in suppressed]
            suppressed.add(min(candidates, key=lambda c: _cost(c, ext, n_rows, n_cols)))
            changed = True


def _components_without(edges: set[Cell], removed: Cell) -> tuple[set[str], set[str]]:
    """Nodes reachable from each end of `removed` once it is taken out of the graph."""
    adjacency: dict[str, list[str]] = defaultdict(list)
    for i, j in edges:
        if (i, j) == removed:
            continue
        adjacency[f"r{i}"].append(f"c{j}")
        adjacency[f"c{j}"].append(f"r{i}")

    def reach(start: str) -> set[str]:
        seen = {start}
        stack = [start]
        while stack:
            for nxt in adjacency[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    return reach(f"r{removed[0]}"), reach(f"c{removed[1]}")


def recoverable_cells(suppressed: Iterable[Cell]) -> list[Cell]:
    """Suppressed cells an attacker can solve exactly from the row and column equations.

    These are the bridges of the row/column graph of suppressed cells (see the module doc).
    """
    edges = set(suppressed)
    bridges = []
    for edge in sorted(edges):
        side_a, side_b = _components_without(edges, edge)
        if f"c{edge[1]}" not in side_a and not side_a & side_b:
            bridges.append(edge)
    return bridges


def protect_table(
    values: Sequence[Sequence[int]],
    threshold: int = DEFAULT_THRESHOLD,
    initial: Iterable[Cell] = (),
) -> Protection:
    """Primary and complementary suppression of one 2-D table of non-negative counts.

    `initial` holds cells (extended coordinates) that must be suppressed anyway, e.g. the
    pattern of the same table in a wider universe, or the cells of a count's whole.
    """
    if threshold < 1:
        raise DisclosureError(f"threshold must be at least 1, got {threshold}")
    n_rows = len(values)
    n_cols = len(values[0]) if n_rows else 0
    if any(len(row) != n_cols for row in values):
        raise DisclosureError("the table is ragged: every row needs the same number of columns")
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            if int(value) < 0:
                raise DisclosureError(f"negative count {value} at row {i}, column {j}")
    if n_rows == 0 or n_cols == 0:
        return Protection(n_rows, n_cols, frozenset(), frozenset())
    ext = extend_with_totals(values)
    primary = {
        (i, j) for i in range(n_rows + 1) for j in range(n_cols + 1) if 1 <= ext[i][j] < threshold
    }
    suppressed = set(primary) | set(initial)
    while True:
        _close(suppressed, ext, n_rows, n_cols)
        bridges = recoverable_cells(suppressed)
        if not bridges:
            break
        bridge = bridges[0]
        side_a, side_b = _components_without(suppressed, bridge)
        candidates = [
            (i, j)
            for i in range(n_rows + 1)
            for j in range(n_cols + 1)
            if (i, j) not in suppressed
            and (
                (f"r{i}" in side_a and f"c{j}" in side_b)
                or (f"r{i}" in side_b and f"c{j}" in side_a)
            )
        ]
        if not candidates:  # only possible before closure; kept as a guard, never silent
            raise DisclosureError(f"cannot protect cell {bridge}: no complementary candidate")
        suppressed.add(min(candidates, key=lambda c: _cost(c, ext, n_rows, n_cols)))
    return Protection(n_rows, n_cols, frozenset(primary), frozenset(suppressed))


@dataclass(frozen=True)
class PublicationRules:
    """What the definitions say a published table must respect."""

    min_cell_size: int
    decimals: Mapping[str, int]


def publication_rules(indicators: Iterable[str] = ()) -> PublicationRules:
    """The publication rules of a table whose counts are `indicators` (codes of the
    definitions), or the country's defaults (`_publication.yml`, or the active profile's
    `publication:`) for counts no indicator defines.

    The strictest minimum cell size wins; decimals by unit are the defaults, each indicator's
    own unit overriding them with its definition's.
    """
    from observatorio.indicators.definitions import load_definitions, publication_defaults

    defaults = publication_defaults()
    sizes = [int(defaults.get("min_cell_size", 0))]
    raw_decimals = defaults.get("decimals") or {}
    decimals = {str(k): int(v) for k, v in raw_decimals.items()}
    definitions = load_definitions()
    for code in indicators:
        indicator = definitions.get(code)
        sizes.append(indicator.publication.min_cell_size)
        decimals[indicator.unit] = indicator.publication.decimals
    size = max(sizes)
    if size < 1:
        raise DisclosureError("the publication rules give no minimum cell size (min_cell_size)")
    return PublicationRules(min_cell_size=size, decimals=decimals)


@dataclass(frozen=True)
class DisclosureRule:
    """How a long table is protected: which columns are counts, and how they add up.

    The cells of each count column form one 2-D table per value of `by` (e.g. per month),
    with `rows` down and `columns` across (a 1-D table when `columns` is None).
    """

    counts: tuple[str, ...]
    rows: str
    columns: str | None = None
    by: tuple[str, ...] = ()
    threshold: int = DEFAULT_THRESHOLD
    marker: str = DEFAULT_MARKER
    part_of: Mapping[str, str] = field(default_factory=dict)
    rates: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ProtectedRows:
    """The rows with, per protected column, the indexes of suppressed rows."""

    rows: list[dict[str, Any]]
    suppressed: dict[str, set[int]]
    # Totals hidden too, per count column: `(*by, row label, column label)` with None for the
    # dimension summed over (`(*by, None, label)` is a column total, e.g. a national figure).
    hidden_totals: dict[str, set[tuple[Any, ...]]] = field(default_factory=dict)

    def is_suppressed(self, column: str, index: int) -> bool:
        return index in self.suppressed.get(column, set())

    def count(self) -> int:
        return sum(len(v) for v in self.suppressed.values())


def _ordered_counts(rule: DisclosureRule) -> list[str]:
    """Wholes before their parts, so a part starts from its whole's pattern."""
    ordered: list[str] = []

    def visit(column: str, trail: tuple[str, ...]) -> None:
        if column in ordered:
            return
        if column in trail:
            raise DisclosureError(f"part_of has a cycle through {column!r}")
        whole = rule.part_of.get(column)
        if whole is not None:
            visit(whole, (*trail, column))
        ordered.append(column)

    for column in rule.counts:
        visit(column, ())
    return ordered


def protect_rows(
    rows: Sequence[Mapping[str, Any]],
    rule: DisclosureRule,
    seed: Mapping[str, Iterable[tuple[Any, ...]]] | None = None,
) -> tuple[ProtectedRows, dict[str, set[tuple[Any, ...]]]]:
    """Protect a long table; return it with its suppression and the suppressed cell keys.

    Cell keys are `(*by values, row value, column value)`. `seed` gives, per count column,
    keys that must be suppressed anyway (the pattern of the wider universe).
    """
    seed = seed or {}
    key_columns = (*rule.by, rule.rows, *([rule.columns] if rule.columns else []))
    positions: dict[tuple[Any, ...], int] = {}
    for index, row in enumerate(rows):
        for column in (*key_columns, *rule.counts):
            if column not in row:
                raise DisclosureError(f"row {index} has no column {column!r}")
        key = tuple(row[c] for c in key_columns)
        if key in positions:
            raise DisclosureError(
                f"rows {positions[key]} and {index} have the same cell {key!r} "
                f"({', '.join(key_columns)}): the table is not at the disclosure grain"
            )
        positions[key] = index
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[tuple(row[c] for c in rule.by)].append(index)
    out = [dict(r) for r in rows]
    suppressed: dict[str, set[int]] = {c: set() for c in (*rule.counts, *rule.rates)}
    keys: dict[str, set[tuple[Any, ...]]] = {c: set() for c in rule.counts}
    hidden_totals: dict[str, set[tuple[Any, ...]]] = {c: set() for c in rule.counts}
    for column in _ordered_counts(rule):
        wanted = set(map(tuple, seed.get(column, ())))
        whole = rule.part_of.get(column)
        if whole is not None:
            wanted |= keys[whole]
        for group, members in groups.items():
            row_labels = sorted({out[i][rule.rows] for i in members}, key=_sort_key)
            col_labels = (
                sorted({out[i][rule.columns] for i in members}, key=_sort_key)
                if rule.columns
                else [None]
            )
            r_index = {v: n for n, v in enumerate(row_labels)}
            c_index = {v: n for n, v in enumerate(col_labels)}
            table = [[0] * len(col_labels) for _ in row_labels]
            where: dict[Cell, int] = {}
            for i in members:
                value = out[i][column]
                count = 0 if value is None else int(value)
                cell = (
                    r_index[out[i][rule.rows]],
                    c_index[out[i][rule.columns] if rule.columns else None],
                )
                table[cell[0]][cell[1]] = count
                where[cell] = i
            initial = [
                (r_index[k[-2 if rule.columns else -1]], c_index[k[-1] if rule.columns else None])
                for k in wanted
                if k[: len(rule.by)] == group
                and k[len(rule.by)] in r_index
                and (not rule.columns or k[-1] in c_index)
            ]
            protection = protect_table(table, rule.threshold, initial)
            for i, j in protection.suppressed - protection.interior():
                hidden_totals[column].add(
                    (
                        *group,
                        row_labels[i] if i < len(row_labels) else None,
                        col_labels[j] if j < len(col_labels) else None,
                    )
                )
            for cell in protection.interior():
                found = where.get(cell)
                if found is not None:
                    index = found
                else:
                    # A zero cell the mart has no row for (sparse marts omit zeros). Left
                    # out, readers would take it for a published zero and solve the table:
                    # it goes out as a row of its own, suppressed like the others.
                    index = len(out)
                    out.append(
                        _filler_row(
                            out, members, rule, group, row_labels[cell[0]], col_labels[cell[1]]
                        )
                    )
                    members.append(index)
                    where[cell] = index
                suppressed[column].add(index)
                keys[column].add(tuple(out[index][c] for c in key_columns))
    for rate, numerator in rule.rates.items():
        suppressed[rate] |= suppressed[numerator]
    return ProtectedRows(out, suppressed, hidden_totals), keys


def _filler_row(
    rows: list[dict[str, Any]],
    members: list[int],
    rule: DisclosureRule,
    group: tuple[Any, ...],
    row_label: Any,
    col_label: Any,
) -> dict[str, Any]:
    """A row for an absent zero cell; attributes copied where the row or column fixes them."""
    filler: dict[str, Any] = dict(zip(rule.by, group, strict=True))
    filler[rule.rows] = row_label
    if rule.columns:
        filler[rule.columns] = col_label
    measures = {*rule.counts, *rule.rates}
    same_row = [rows[i] for i in members if rows[i][rule.rows] == row_label]
    same_col = [rows[i] for i in members if rule.columns and rows[i][rule.columns] == col_label]
    for column in rows[members[0]]:
        if column in filler:
            continue
        if column in measures:
            filler[column] = 0 if column in rule.counts else None
            continue
        filler[column] = None
        for peers in (same_row, same_col):
            values = {repr(p[column]) for p in peers}
            if peers and len(values) == 1:
                filler[column] = peers[0][column]
                break
    return filler


def _sort_key(value: Any) -> tuple[int, str]:
    return (value is None, str(value))
