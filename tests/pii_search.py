"""Searching the warehouse and the state folders for a planted PII canary.

The canary is a national ID and a full name that no simulated person carries. The privacy
tests plant it in source files and then look for it everywhere a person's data must never
be: every row of every relation of every schema (each row cast to text, so every column of
every type is searched), and every file under a folder (bytes, in the encodings the sources
use, gzip members opened).
"""

from __future__ import annotations

import csv
import gzip
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The ID's digits are searched as well as the whole ID: a normalised copy would keep them.
CANARY_ID = "CANARY-9988776655"
CANARY_ID_DIGITS = "9988776655"
CANARY_NAME = "Juana Canaria Pérez"
CANARY_SURNAME = "Canaria"
NEEDLES = (CANARY_ID_DIGITS, CANARY_SURNAME)


def admin_connection(settings: Any) -> Any:
    """A superuser connection to the warehouse database: it reads every schema and table."""
    import psycopg
    from sqlalchemy.engine import make_url

    from observatorio.core.warehouse import admin_url, warehouse_url

    administrator = admin_url(settings)
    assert administrator, "the canary search needs the server's administrator"
    database = make_url(warehouse_url(settings)).database
    url = make_url(administrator).set(database=database, drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def warehouse_hits(conn: Any, needles: Iterable[str] = NEEDLES) -> list[str]:
    """`schema.relation: N rows` for every table or materialised view holding a needle."""
    from psycopg import sql

    patterns = [f"%{n}%" for n in needles]
    relations = conn.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind in ('r', 'p', 'm')"
        " and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')"
        " order by 1, 2"
    ).fetchall()
    hits: list[str] = []
    for schema, name in relations:
        count = conn.execute(
            sql.SQL("select count(*) from {}.{} as t where t::text ilike any(%s)").format(
                sql.Identifier(schema), sql.Identifier(name)
            ),
            (patterns,),
        ).fetchone()[0]
        if count:
            hits.append(f"{schema}.{name}: {count} rows")
    assert relations, "no relation searched"
    return hits


def _variants(needle: str) -> list[bytes]:
    forms = {needle, needle.lower(), needle.upper()}
    return sorted({f.encode(e) for f in forms for e in ("utf-8", "cp1252", "utf-16-le")})


def _contents(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return data + gzip.decompress(data)
        except (OSError, EOFError):
            return data
    return data


def file_hits(root: Path, needles: Iterable[str] = NEEDLES) -> list[Path]:
    """Every file under `root` holding a needle (any case; UTF-8, cp1252 or UTF-16)."""
    wanted = [v for n in needles for v in _variants(n)]
    hits: list[Path] = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                data = _contents(path)
            except OSError:  # a socket, or a file that went away meanwhile
                continue
            if any(v in data for v in wanted):
                hits.append(path)
    return hits


def text_hits(text: str, needles: Iterable[str] = NEEDLES) -> list[str]:
    folded = text.casefold()
    return [n for n in needles if n.casefold() in folded]


# --- the simulated persons themselves -------------------------------------------------------
# Every person of a simulation is in its truth files (truth/victims.csv): their national IDs
# and full names are needles too, thousands of them. An ID is found as its 9-digit number
# (a run of exactly 9 digits, whatever punctuation surrounds it); a name as written.
_NINE_DIGITS = re.compile(rb"(?<![0-9])([0-9]{9})(?![0-9])")


def simulated_persons(simulation: Path) -> tuple[set[bytes], list[str]]:
    """(9-digit ID numbers, full names of two words or more) of a simulation's persons."""
    ids: set[bytes] = set()
    names: set[str] = set()
    with (simulation / "truth" / "victims.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            digits = row["national_id"].split("-")[0]
            if len(digits) == 9 and digits.isdigit():
                ids.add(digits.encode())
            if len(row["full_name"].split()) >= 2:
                names.add(row["full_name"])
    assert ids and names, f"no persons in {simulation}"
    return ids, sorted(names)


def person_hits(data: bytes, ids: set[bytes], names: list[str]) -> list[str]:
    """The persons' ID numbers and names found in `data` (UTF-8 or cp1252 text, any case)."""
    found = [m.decode() for m in set(_NINE_DIGITS.findall(data)) if m in ids]
    folded = data.decode("utf-8", errors="replace").casefold()
    folded += data.decode("cp1252", errors="replace").casefold()
    found += [n for n in names if n.casefold() in folded]
    return found


def relations_text(conn: Any) -> Iterable[tuple[str, bytes]]:
    """Every row of every table of the connection's database, as text, relation by relation."""
    from psycopg import sql

    relations = conn.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind in ('r', 'p', 'm')"
        " and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')"
        " order by 1, 2"
    ).fetchall()
    for schema, name in relations:
        rows = conn.execute(
            sql.SQL("select t::text from {}.{} as t").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
        ).fetchall()
        yield f"{schema}.{name}", "\n".join(r[0] for r in rows).encode()


def files_text(root: Path, skip: Iterable[Path]) -> Iterable[tuple[str, bytes]]:
    """Every file under `root` but the folders in `skip`, with its bytes (gzip opened)."""
    skipped = {p.resolve() for p in skip}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if (Path(folder) / d).resolve() not in skipped]
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                yield str(path), _contents(path)
            except OSError:
                continue
