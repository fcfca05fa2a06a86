"""The one settings object, read from the environment.

Every other module asks `get_settings()` for paths, ports and secrets instead of reading
`os.environ` itself, so a deployment is configured in exactly one place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from observatorio.core.keychain import (
    FINGERPRINT_LABEL,
    encode_key_chain,
    key_chain_fingerprint,
)

__all__ = ["FINGERPRINT_LABEL", "key_chain_fingerprint"]

PROJECT_DIR = Path(__file__).resolve().parents[2]

# A fixed, public key for the synthetic demo only: pseudonyms made with it protect nothing,
# so `pseudonym_key()` refuses to hand it out unless demo mode is explicitly on.
DEMO_PSEUDONYM_KEY = "observatorio-demo-key-not-for-real-data"
# A real key is a secret of at least this many characters (256 bits of hex, or a passphrase).
MIN_KEY_CHARS = 32


# DuckDB's buffer for linking the victim register: what DuckDB holds before it spills to
# disk, not the whole process (Python and pandas come on top). Measured with the million
# records of bench/results/linkage_1m.json, where the whole linkage process peaks at the
# figure recorded there.
LINKAGE_MEMORY_LIMIT = "384MB"
# PostgreSQL's `work_mem` for dbt's sessions (each sort or hash of a query may use this much,
# a hash twice as much, before it spills to temporary files). PostgreSQL's 4MB default makes
# the builds' large aggregates and the tests' duplicate searches sort on disk at millions of
# rows; with dbt's 2 threads and a few such nodes per query, 64MB stays within a few hundred
# MB of the server's memory.
TRANSFORM_WORK_MEM = "64MB"
# A memory size: a number and KB, MB, GB or TB (or KiB ... TiB, the same powers of 1024).
_MEMORY_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT])i?B\s*$", re.IGNORECASE)


def memory_kilobytes(size: str) -> int:
    """A memory size of the settings (`64MB`, `1 GiB`) in kilobytes."""
    match = _MEMORY_SIZE.match(size)
    if not match:
        raise SettingsError(f"not a memory size: {size!r}")
    return int(float(match[1]) * 1024 ** "KMGT".index(str(match[2]).upper()) + 0.5)


class SettingsError(RuntimeError):
    """A required setting is missing or invalid."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Where Observatorio keeps its state and how it reaches the warehouse."""

    home: Path
    warehouse_url: str | None
    warehouse_port: int
    airflow_port: int
    airflow_db: str
    demo: bool
    pseudonym_key_value: str | None = field(repr=False)
    # Keys used before the last rotation, oldest first (comma-separated): see `pseudonym_key`.
    retired_keys_value: str | None = field(default=None, repr=False)
    project_dir: Path = PROJECT_DIR
    # Names the OpenLineage namespace (`observatorio-<environment>`): one per deployment.
    environment: str = "local"
    # Where OpenLineage events go over HTTP (Marquez); unset means files under `home`.
    openlineage_url: str | None = None
    # The country profile `make run` runs (`observatorio.core.profile`): a name under
    # `profiles/` or a folder.
    profile: str = "demo"
    # An administrator's URL for the one-time creation of roles on an external server.
    admin_url: str | None = field(default=None, repr=False)
    # DuckDB's memory for record linkage (`observatorio.linkage.model.linkage_database`);
    # beyond it DuckDB spills to disk. See LINKAGE_MEMORY_LIMIT.
    linkage_memory_limit: str = LINKAGE_MEMORY_LIMIT
    # `work_mem` of dbt's sessions (`observatorio.transform.dbt.dbt_environment`). See
    # TRANSFORM_WORK_MEM.
    transform_work_mem: str = TRANSFORM_WORK_MEM

    @property
    def is_embedded(self) -> bool:
        """True when no external warehouse is configured and the embedded server is used."""
        return self.warehouse_url is None

    @cached_property
    def pgdata(self) -> Path:
        return self.home / "warehouse" / "pgdata"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def rejected_dir(self) -> Path:
        return self.home / "rejected"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def gx_docs_dir(self) -> Path:
        return self.home / "gx_docs"

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def dbt_target_dir(self) -> Path:
        # One target (manifest, partial-parse state) per country profile: the profile
        # reaches dbt in an environment variable, and dbt re-parses the whole project when
        # it changes, so profiles sharing a home would otherwise re-parse at every switch.
        if self.profile == "demo":
            return self.home / "dbt" / "target"
        return self.home / "dbt" / f"target-{self.profile}"

    @property
    def lineage_dir(self) -> Path:
        return self.home / "lineage"

    @property
    def dags_dir(self) -> Path:
        return self.project_dir / "dags"

    def __repr__(self) -> str:
        # Secrets never reach a log line or a traceback through this object.
        return (
            f"Settings(home={str(self.home)!r}, warehouse={self.warehouse_display!r},"
            f" warehouse_port={self.warehouse_port}, airflow_port={self.airflow_port},"
            f" airflow_db={self.airflow_db!r}, demo={self.demo},"
            f" pseudonym_key={'set' if self.pseudonym_key_value else 'unset'},"
            f" environment={self.environment!r})"
        )

    @property
    def warehouse_display(self) -> str:
        """The external warehouse URL with its password masked, or `embedded`."""
        return mask_url(self.warehouse_url) if self.warehouse_url else "embedded"

    def pseudonym_key(self) -> bytes:
        """The pseudonym key: the current key, or after a rotation the whole key chain.

        Retired keys (`OBSERVATORIO_PSEUDONYM_RETIRED_KEYS`, comma-separated, oldest first)
        stay needed: a pseudonym is HMAC(k_n, ... HMAC(k_1, value)), see `keys rotate`.
        """
        retired = [
            self.checked_key(k.strip(), "OBSERVATORIO_PSEUDONYM_RETIRED_KEYS")
            for k in (self.retired_keys_value or "").split(",")
            if k.strip()
        ]
        return encode_key_chain([*retired, self.current_pseudonym_key()])

    def current_pseudonym_key(self) -> bytes:
        """The newest key alone; refuses a missing, short or public key outside the demo."""
        value = self.pseudonym_key_value
        if value and value == DEMO_PSEUDONYM_KEY and not self.demo:
            raise SettingsError(
                "OBSERVATORIO_PSEUDONYM_KEY is the public demo key, which protects nobody: it is "
                "refused outside the demo (OBSERVATORIO_DEMO=1, synthetic data only)."
            )
        if value and (len(value) >= MIN_KEY_CHARS or self.demo):
            return value.encode("utf-8")
        if value:
            raise SettingsError(
                f"OBSERVATORIO_PSEUDONYM_KEY has {len(value)} characters; a key needs at least "
                f"{MIN_KEY_CHARS} (e.g. the output of `openssl rand -hex 32`)."
            )
        if self.demo:
            return DEMO_PSEUDONYM_KEY.encode("utf-8")
        raise SettingsError(
            "OBSERVATORIO_PSEUDONYM_KEY is not set. Set it to a secret of at least "
            f"{MIN_KEY_CHARS} characters, or set OBSERVATORIO_DEMO=1 for synthetic data."
        )

    def checked_key(self, value: str, variable: str) -> bytes:
        """A key read from `variable`, refused if short or public outside the demo."""
        if value == DEMO_PSEUDONYM_KEY and not self.demo:
            raise SettingsError(f"{variable} holds the public demo key, refused outside the demo.")
        if len(value) < MIN_KEY_CHARS and not self.demo:
            raise SettingsError(
                f"{variable}: a key has {len(value)} characters; each needs {MIN_KEY_CHARS}."
            )
        return value.encode("utf-8")

    def key_fingerprint(self) -> str:
        """Names the key (chain) without revealing it (kept in `ops`, checked per batch)."""
        return key_chain_fingerprint(self.pseudonym_key())


def mask_url(url: str) -> str:
    """A database URL fit to print: its password replaced by `***`."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a URL we can parse: print nothing of it
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def _env_memory_size(name: str, default: str) -> str:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not _MEMORY_SIZE.match(raw):
        raise SettingsError(f"{name} must be a memory size such as 512MB or 1GB, got {raw!r}")
    return raw


def get_settings() -> Settings:
    """Read the settings from the environment; cheap enough to call per use."""
    home = Path(os.environ.get("OBSERVATORIO_HOME") or PROJECT_DIR / ".observatorio")
    return Settings(
        home=home.resolve(),
        warehouse_url=os.environ.get("OBSERVATORIO_WAREHOUSE_URL") or None,
        warehouse_port=_env_int("OBSERVATORIO_WAREHOUSE_PORT", 54329),
        airflow_port=_env_int("OBSERVATORIO_AIRFLOW_PORT", 28080),
        airflow_db=os.environ.get("OBSERVATORIO_AIRFLOW_DB") or "airflow",
        demo=_env_flag("OBSERVATORIO_DEMO"),
        pseudonym_key_value=os.environ.get("OBSERVATORIO_PSEUDONYM_KEY") or None,
        retired_keys_value=os.environ.get("OBSERVATORIO_PSEUDONYM_RETIRED_KEYS") or None,
        environment=os.environ.get("OBSERVATORIO_ENVIRONMENT", "").strip() or "local",
        openlineage_url=(
            os.environ.get("OBSERVATORIO_OPENLINEAGE_URL", "").strip()
            or os.environ.get("OPENLINEAGE_URL", "").strip()
            # The name the README used first.
            or os.environ.get("OBSERVATORIO_MARQUEZ_URL", "").strip()
            or None
        ),
        profile=os.environ.get("OBSERVATORIO_PROFILE", "").strip() or "demo",
        admin_url=os.environ.get("OBSERVATORIO_ADMIN_URL") or None,
        linkage_memory_limit=_env_memory_size(
            "OBSERVATORIO_LINKAGE_MEMORY_LIMIT", LINKAGE_MEMORY_LIMIT
        ),
        transform_work_mem=_env_memory_size("OBSERVATORIO_TRANSFORM_WORK_MEM", TRANSFORM_WORK_MEM),
    )
