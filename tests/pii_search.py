"""Searching the warehouse and the state folders for a planted PII canary.

The canary is a national ID and a full name that no simulated person carries. The privacy
tests plant it in source files and then look for it everywhere a person's data must never
be: every row of every relation of every schema (each row cast to text, so every column of
every type is searched), and every file under a folder (bytes, in the encodings the sources
use, gzip members opened).
"""

from __future__ import annotations

import gzip
import os
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
