"""The one settings object, read from the environment.

Every other module asks `get_settings()` for paths, ports and secrets instead of reading
`os.environ` itself, so a deployment is configured in exactly one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

# A fixed, public key for the synthetic demo only: pseudonyms made with it protect nothing,
# so `pseudonym_key()` refuses to hand it out unless demo mode is explicitly on.
DEMO_PSEUDONYM_KEY = "observatorio-demo-key-not-for-real-data"


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
    pseudonym_key_value: str | None
    project_dir: Path = PROJECT_DIR
    # Names the OpenLineage namespace (`observatorio-<environment>`): one per deployment.
    environment: str = "local"
    # Where OpenLineage events go over HTTP (Marquez); unset means files under `home`.
    openlineage_url: str | None = None
    # The country profile `make run` runs (`observatorio.core.profile`): a name under
    # `profiles/` or a folder.
    profile: str = "demo"

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
        return self.home / "dbt" / "target"

    @property
    def lineage_dir(self) -> Path:
        return self.home / "lineage"

    @property
    def dags_dir(self) -> Path:
        return self.project_dir / "dags"

    def pseudonym_key(self) -> bytes:
        """The HMAC key for pseudonyms; refuses to run without one outside the demo."""
        if self.pseudonym_key_value:
            return self.pseudonym_key_value.encode("utf-8")
        if self.demo:
            return DEMO_PSEUDONYM_KEY.encode("utf-8")
        raise SettingsError(
            "OBSERVATORIO_PSEUDONYM_KEY is not set. Set it to a secret of at least 32 characters "
            "(or an Airflow connection's password), or set OBSERVATORIO_DEMO=1 for synthetic data."
        )


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
        environment=os.environ.get("OBSERVATORIO_ENVIRONMENT", "").strip() or "local",
        openlineage_url=(
            os.environ.get("OBSERVATORIO_OPENLINEAGE_URL", "").strip()
            or os.environ.get("OPENLINEAGE_URL", "").strip()
            # The name the README used first.
            or os.environ.get("OBSERVATORIO_MARQUEZ_URL", "").strip()
            or None
        ),
        profile=os.environ.get("OBSERVATORIO_PROFILE", "").strip() or "demo",
    )
