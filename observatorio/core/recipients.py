"""BI logins declared in `bi/logins.yaml`: one PostgreSQL login per recipient, with its rows.

Each login is a member of `observatorio_bi` (reads the `bi` schema only) and has one row in
`bi_access.recipient_scopes` naming the department it sees (`null`: the whole country). The
row-level security policies of every `bi` table read that row (see dbt macro
`bi_row_security`). The warehouse bootstrap applies the file; `observatorio warehouse logins`
applies it again after an edit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from observatorio.core.settings import PROJECT_DIR

LOGINS_FILE = PROJECT_DIR / "bi" / "logins.yaml"
_LOGIN = re.compile(r"[a-z][a-z0-9_]{2,62}")
_DEPARTMENT = re.compile(r"[0-9]{2}")


class RecipientError(ValueError):
    """`bi/logins.yaml` declares a login that cannot be made."""


@dataclass(frozen=True)
class BiLogin:
    login: str
    recipient: str
    # None: the whole country (a national ministry).
    department_code: str | None


def load_logins(path: Path = LOGINS_FILE) -> list[BiLogin]:
    """The declared BI logins; a missing file declares none."""
    if not path.exists():
        return []
    document: Any = yaml.safe_load(path.read_text("utf-8")) or {}
    logins: list[BiLogin] = []
    for index, entry in enumerate(document.get("logins") or [], start=1):
        where = f"{path.name}, login {index}"
        login = str(entry.get("login", ""))
        if not _LOGIN.fullmatch(login) or login.startswith(("observatorio_", "pg_")):
            raise RecipientError(
                f"{where}: login {login!r} must be 3-63 lowercase letters, digits or `_`,"
                " and not start with `observatorio_` or `pg_`"
            )
        national = entry.get("scope") == "national"
        department = entry.get("department_code")
        if national == (department is not None):
            raise RecipientError(f"{where}: give either `scope: national` or `department_code`")
        if department is not None and not _DEPARTMENT.fullmatch(str(department)):
            raise RecipientError(f'{where}: department_code must be two digits, e.g. "01"')
        logins.append(
            BiLogin(
                login=login,
                recipient=str(entry.get("recipient") or login),
                department_code=None if national else str(department),
            )
        )
    if len({item.login for item in logins}) != len(logins):
        raise RecipientError(f"{path.name}: a login is declared twice")
    return logins


def logins_digest(path: Path = LOGINS_FILE) -> str:
    """Identifies the declared logins, so a change to the file is applied on the next start."""
    return hashlib.sha256(path.read_bytes() if path.exists() else b"").hexdigest()


def sync_recipient_scopes(owner: psycopg.Connection[Any], path: Path = LOGINS_FILE) -> None:
    """Make `bi_access.recipient_scopes` hold exactly the declared logins (as the owner)."""
    logins = load_logins(path)
    with owner.transaction():
        owner.execute("delete from bi_access.recipient_scopes")
        for item in logins:
            owner.execute(
                "insert into bi_access.recipient_scopes (login, recipient, department_code)"
                " values (%s, %s, %s)",
                (item.login, item.recipient, item.department_code),
            )
