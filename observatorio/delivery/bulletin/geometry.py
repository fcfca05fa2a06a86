"""Municipal geometries for the bulletin's map: read from the country profile, or generated.

A profile supplies its municipalities' boundaries as a GeoJSON FeatureCollection beside its
`profile.yaml` (`profiles/<name>/municipios.geojson`), each feature a Polygon or
MultiPolygon with the property `municipality_code` (national statistical offices publish
them; convert to WGS84 GeoJSON once). A profile without the file gets no map (the panel says
so), never a wrong one.

The simulated country has no real land, so its file is generated deterministically by
`tessellate()` from the profile's geography (the municipality seed: code and department):
departments are blocks of a grid, municipalities the cells of their block, and every lattice
vertex is moved by an offset drawn from a hash of its position, so neighbours share their
jittered edges exactly and the shapes look like a map rather than a chessboard.
`python -m observatorio.delivery.bulletin.geometry SEED_CSV OUT_GEOJSON` writes it; a test
checks that the committed `profiles/demo/municipios.geojson` is exactly what it generates.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

GEOMETRY_FILE = "municipios.geojson"
Ring = list[tuple[float, float]]
# Degrees a lattice step spans, and where the schematic country sits (only for plausibility).
STEP = 0.25
ORIGIN = (-84.0, 9.0)
JITTER = 0.32


class GeometryError(ValueError):
    """A geometry file that cannot be drawn; the message names the file and the feature."""


def load_geometries(path: Path) -> dict[str, list[Ring]]:
    """Municipality code → its outer rings, from a GeoJSON FeatureCollection."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GeometryError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(loaded, dict) or loaded.get("type") != "FeatureCollection":
        raise GeometryError(f"{path}: expected a GeoJSON FeatureCollection")
    shapes: dict[str, list[Ring]] = {}
    for position, feature in enumerate(loaded.get("features") or [], start=1):
        where = f"{path}: feature {position}"
        code = (feature.get("properties") or {}).get("municipality_code")
        if not code:
            raise GeometryError(f"{where}: no property municipality_code")
        geometry = feature.get("geometry") or {}
        kind = geometry.get("type")
        coordinates: Any = geometry.get("coordinates") or []
        polygons: list[Any]
        if kind == "Polygon":
            polygons = [coordinates]
        elif kind == "MultiPolygon":
            polygons = coordinates
        else:
            raise GeometryError(f"{where} ({code}): geometry {kind!r} is not a (Multi)Polygon")
        try:
            rings = [[(float(x), float(y)) for x, y, *_ in polygon[0]] for polygon in polygons]
        except (TypeError, ValueError, IndexError):
            raise GeometryError(f"{where} ({code}): coordinates are not [x, y] positions") from None
        if any(len(ring) < 4 for ring in rings):
            raise GeometryError(f"{where} ({code}): a ring with fewer than 4 positions")
        shapes.setdefault(str(code), []).extend(rings)
    if not shapes:
        raise GeometryError(f"{path}: no features")
    return shapes


def load_departments(path: Path) -> dict[str, str]:
    """Municipality code → its department, from the features' optional `department_code`."""
    loaded = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for feature in loaded.get("features") or []:
        properties = feature.get("properties") or {}
        if properties.get("department_code"):
            found[str(properties["municipality_code"])] = str(properties["department_code"])
    return found


def borders(shapes: dict[str, list[Ring]], departments: dict[str, str]) -> list[Ring]:
    """The segments between departments and along the coast: edges of the municipalities'
    rings held by one municipality only, or by municipalities of two departments."""
    owners: dict[tuple[tuple[float, float], tuple[float, float]], list[str]] = defaultdict(list)
    for code, rings in shapes.items():
        group = departments.get(code, code)
        for ring in rings:
            for a, b in pairwise(ring):
                owners[(min(a, b), max(a, b))].append(group)
    return [[a, b] for (a, b), groups in owners.items() if len(groups) == 1 or len(set(groups)) > 1]


def _offset(a: int, b: int) -> tuple[float, float]:
    digest = hashlib.sha256(f"{a},{b}".encode()).digest()
    angle = digest[0] / 255 * 2 * math.pi
    radius = digest[1] / 255 * JITTER
    return radius * math.cos(angle), radius * math.sin(angle)


def _vertex(a: int, b: int) -> tuple[float, float]:
    """Lattice point (a, b) at half-cell resolution, jittered by its own hash."""
    dx, dy = _offset(a, b)
    x = ORIGIN[0] + STEP * (a / 2 + dx / 2)
    y = ORIGIN[1] + STEP * (b / 2 + dy / 2)
    return round(x, 5), round(y, 5)


def _cell(i: int, j: int) -> Ring:
    """The eight-vertex ring of grid cell (i, j): corners and edge midpoints, closed."""
    a, b = 2 * i, 2 * j
    steps = [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2), (0, 1), (0, 0)]
    return [_vertex(a + da, b + db) for da, db in steps]


def tessellate(municipalities: list[tuple[str, str, str]]) -> dict[str, Any]:
    """A schematic GeoJSON for (code, name, department_code) rows: one cell per municipality."""
    by_department: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, name, department in sorted(municipalities):
        by_department[department].append((code, name))
    departments = sorted(by_department)
    largest = max(len(v) for v in by_department.values())
    block_cols = math.ceil(math.sqrt(largest * 4 / 3))
    block_rows = math.ceil(largest / block_cols)
    per_row = math.ceil(math.sqrt(len(departments) * 1.5))
    features = []
    for index, department in enumerate(departments):
        row, col = divmod(index, per_row)
        # The last row of blocks is centred under the others, like a coastline's bulge.
        in_row = min(per_row, len(departments) - row * per_row)
        shift = (per_row - in_row) * block_cols // 2
        top = (math.ceil(len(departments) / per_row) - 1 - row) * block_rows
        for k, (code, name) in enumerate(by_department[department]):
            r, c = divmod(k, block_cols)
            i = shift + col * block_cols + c
            j = top + block_rows - 1 - r
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "municipality_code": code,
                        "municipality_name": name,
                        "department_code": department,
                    },
                    "geometry": {"type": "Polygon", "coordinates": [_cell(i, j)]},
                }
            )
    return {
        "type": "FeatureCollection",
        "name": "municipios",
        "description": "Polígonos esquemáticos del país simulado, generados (no son límites "
        "reales): observatorio.delivery.bulletin.geometry.tessellate",
        "features": features,
    }


def tessellate_seed(seed_csv: Path) -> dict[str, Any]:
    """The schematic GeoJSON of a municipality seed (`municipality_code, municipality_name,
    department_code, …`)."""
    with seed_csv.open(encoding="utf-8", newline="") as handle:
        rows = [
            (r["municipality_code"], r["municipality_name"], r["department_code"])
            for r in csv.DictReader(handle)
        ]
    return tessellate(rows)


def geojson_text(collection: dict[str, Any]) -> str:
    """One feature a line: diffs stay readable, the file stays small."""
    head = {k: v for k, v in collection.items() if k != "features"}
    lines = [
        json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]
    ]
    body = ",\n".join(lines)
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n' + body + "\n]}\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            "usage: python -m observatorio.delivery.bulletin.geometry SEED_CSV OUT", file=sys.stderr
        )
        return 1
    Path(args[1]).write_text(geojson_text(tessellate_seed(Path(args[0]))), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
