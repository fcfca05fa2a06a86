"""How Observatorio configures Airflow: one function returns the whole environment.

AIRFLOW_HOME lives under OBSERVATORIO_HOME; the dags folder, executor, parallelism, the
execution API URL and the metadata database (a database named `airflow` on the warehouse
server) are set here. The CLI (`observatorio airflow ...`), `make airflow`, `make run` and
the tests all start Airflow with exactly this environment.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import sqlalchemy_url, warehouse_url
from observatorio.transform.dbt import dbt_environment

ADMIN_USER = "admin"
# The dbt node tasks' classes (observatorio.orchestration.watch): they emit no OpenLineage
# task events. Each was about half a node task's run time, with no dataset in it: the
# producer's events and dbt's manifest carry the lineage.
NODE_TASK_CLASSES = r"observatorio\.orchestration\.watch\.Dbt(Model|Seed|Snapshot|Test)Watcher"


def cosmos_and_lineage_settings(settings: Settings) -> dict[str, str]:
    """Cosmos and OpenLineage options Observatorio sets (observatorio.orchestration.cosmos)."""
    policy = [
        {
            "scope": {"operator": NODE_TASK_CLASSES},
            "match_mode": "regex",
            "controls": {"emit_task_events": False},
        }
    ]
    return {
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(settings.home / "cosmos"),
        "AIRFLOW__OPENLINEAGE__EMISSION_POLICY": json.dumps(policy),
    }


def _fernet_key() -> str:
    # What cryptography's Fernet.generate_key() returns: 32 random bytes, URL-safe base64.
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _secret(settings: Settings, name: str, make: Callable[[], str] | None = None) -> str:
    """A random secret generated once per OBSERVATORIO_HOME and kept there (mode 0600)."""
    path = settings.airflow_home / "secrets.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        stored[name] = make() if make else secrets.token_urlsafe(24)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored[name]


def admin_password(settings: Settings | None = None) -> str:
    return _secret(settings or get_settings(), "admin_password")


def _passwords_file(settings: Settings) -> Path:
    path = settings.airflow_home / "simple_auth_manager_passwords.json"
    path.write_text(json.dumps({ADMIN_USER: admin_password(settings)}))
    path.chmod(0o600)
    return path


def airflow_environment(
    settings: Settings | None = None, executor: str = "LocalExecutor"
) -> dict[str, str]:
    """Every variable Airflow needs, derived from the settings (nothing else configures it)."""
    settings = settings or get_settings()
    metadata = sqlalchemy_url(
        warehouse_url(settings, role="airflow"), driver="psycopg2", database=settings.airflow_db
    )
    api = f"http://127.0.0.1:{settings.airflow_port}"
    env = {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_dir),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        # Two cores: a few task processes at once, more only queue and thrash.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(settings, "jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _secret(settings, "api_secret_key"),
        # Connections and variables are stored encrypted in the metadata database.
        "AIRFLOW__CORE__FERNET_KEY": _secret(settings, "fernet_key", _fernet_key),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "OBSERVATORIO_HOME": str(settings.home),
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # `airflow standalone` and Celery start their components as `airflow` from PATH.
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(settings.project_dir), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    if settings.warehouse_url:
        env["OBSERVATORIO_WAREHOUSE_URL"] = settings.warehouse_url
    env.update(cosmos_and_lineage_settings(settings))
    env.update(
        {
            k: v
            for k, v in dbt_environment(settings).items()
            if k.startswith("DBT_") or k == "OBSERVATORIO_REFERENCE"
        }
    )
    # OpenLineage events for every task: file transport under OBSERVATORIO_HOME by default.
    from observatorio.lineage.openlineage import openlineage_environment

    env.update(openlineage_environment(settings))
    # Task processes emit events of their own (the gate, dbt): same namespace and transport.
    env["OBSERVATORIO_ENVIRONMENT"] = settings.environment
    if settings.openlineage_url:
        env["OBSERVATORIO_OPENLINEAGE_URL"] = settings.openlineage_url
    return env


def apply(settings: Settings | None = None, executor: str = "LocalExecutor") -> dict[str, str]:
    """Put the Airflow environment into this process (before `import airflow`)."""
    env = airflow_environment(settings, executor)
    os.environ.update(env)
    return env
