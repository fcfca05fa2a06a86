"""Running dbt against the warehouse, programmatically and through the CLI alike.

`dbt_environment` turns the one warehouse URL into the variables `dbt_project/profiles.yml`
reads, and keeps dbt's target and logs under OBSERVATORIO_HOME so the checkout stays
clean. `run_dbt` is what DAG tasks, `make run` and tests call.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from observatorio.core.profile import ProfileError, load_profile, reference_variable
from observatorio.core.settings import Settings, get_settings, memory_kilobytes
from observatorio.core.warehouse import warehouse_url


class DbtError(RuntimeError):
    """A dbt command failed; the message lists the failing nodes."""


def dbt_environment(settings: Settings | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    url = make_url(warehouse_url(settings, role="transformer"))
    return {
        "OBSERVATORIO_DBT_HOST": url.host or "127.0.0.1",
        "OBSERVATORIO_DBT_PORT": str(url.port or 5432),
        "OBSERVATORIO_DBT_USER": url.username or "postgres",
        "OBSERVATORIO_DBT_PASSWORD": url.password or "",
        "OBSERVATORIO_DBT_DBNAME": url.database or "observatorio",
        # libpq's session options, for every connection dbt opens (models, tests, snapshots).
        "PGOPTIONS": f"-c work_mem={memory_kilobytes(settings.transform_work_mem)}kB",
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
        "DBT_PROJECT_DIR": str(settings.dbt_project_dir),
        "DBT_TARGET_PATH": str(settings.dbt_target_dir),
        "DBT_LOG_PATH": str(settings.home / "dbt" / "logs"),
        "DBT_PACKAGES_INSTALL_PATH": str(settings.home / "dbt" / "packages"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # The country profile's reference tables (seeds or loaded contracts), read by the
        # macro profile_reference(): the one way the profile reaches dbt.
        "OBSERVATORIO_REFERENCE": profile_reference(settings),
        # Colours only for a person at a terminal: logs and `make` output get plain text.
        "DBT_USE_COLORS": "true" if sys.stdout.isatty() else "false",
    }


def profile_reference(settings: Settings) -> str:
    """What dbt reads of the active country profile (`OBSERVATORIO_REFERENCE`)."""
    try:
        return reference_variable(load_profile(settings=settings))
    except ProfileError:
        if settings.profile != "demo":
            raise
        # A copy of the dbt project without profiles/ (tests, a deployment of dbt alone):
        # the demo's defaults, which the macro profile_reference() holds too.
        return "{}"


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _failures(result: Any) -> list[str]:
    failures = []
    for item in getattr(result.result, "results", None) or []:
        status = str(getattr(item, "status", "")).lower()
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{item.node.unique_id}: {item.message}")
    return failures


def run_dbt(args: list[str], settings: Settings | None = None) -> Any:
    """Invoke dbt in-process (`dbtRunner`); raise DbtError naming the failing nodes."""
    from dbt.cli.main import dbtRunner

    from ingestion.loader import ensure_raw_tables

    settings = settings or get_settings()
    ensure_raw_tables(settings)
    with _environment(dbt_environment(settings)):
        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(settings.dbt_project_dir),
                "--profiles-dir",
                str(settings.dbt_project_dir),
            ]
        )
    if not result.success:
        detail = "\n".join(_failures(result)) or str(result.exception)
        raise DbtError(f"dbt {' '.join(args)} failed:\n{detail}")
    return result.result


def build(settings: Settings | None = None, select: str | None = None) -> Any:
    """`dbt build` (seeds, models, snapshots and tests, in dependency order)."""
    args = ["build"] + (["--select", select] if select else [])
    return run_dbt(args, settings)


# The dbt docs site's own route for its lineage graph over the whole project.
LINEAGE_GRAPH_ROUTE = "index.html#!/overview?g_v=1"


def generate_docs(settings: Settings | None = None) -> Path:
    """`dbt docs generate`, plus `lineage.html`, which opens the site on the full lineage graph.

    Returns the path of `lineage.html` (beside dbt's `index.html` in the target dir).
    """
    settings = settings or get_settings()
    run_dbt(["docs", "generate"], settings)
    page = settings.dbt_target_dir / "lineage.html"
    page.write_text(
        "<!doctype html>\n<meta charset='utf-8'>\n<title>Observatorio: dbt lineage</title>\n"
        f"<meta http-equiv='refresh' content='0; url={LINEAGE_GRAPH_ROUTE}'>\n"
        f"<a href='{LINEAGE_GRAPH_ROUTE}'>Open the lineage graph</a>\n",
        encoding="utf-8",
    )
    return page
