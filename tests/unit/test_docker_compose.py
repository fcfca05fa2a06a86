"""docker-compose.yml describes the production-shaped stack, consistently.

Parsed with PyYAML (anchors and merge keys resolved as Docker Compose resolves them); no
Docker needed. Checks the services, images, commands, the shared environment and volumes,
the healthchecks and the start order, and that every Airflow service runs the same image
with the same configuration.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_COMMANDS = {
    "airflow-apiserver": ["airflow", "api-server", "--port", "8080"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
    "airflow-triggerer": ["airflow", "triggerer"],
    "airflow-worker": ["airflow", "celery", "worker"],
}
AIRFLOW_SERVICES = {*AIRFLOW_COMMANDS, "airflow-init"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


def _url_host(url: str) -> str:
    match = re.match(r"^[\w+]+://(?:[^@/]*@)?([^:/]+)", url)
    assert match, url
    return match.group(1)


MARQUEZ_SERVICES = {"marquez", "marquez-web", "marquez-db"}


def test_the_stack_has_every_component(services):
    backing = {"redis", "metadata-db", "warehouse-db"}
    assert set(services) == AIRFLOW_SERVICES | backing | MARQUEZ_SERVICES


def test_backing_services_use_pinned_official_images(services):
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("metadata-db", "warehouse-db", "marquez-db"):
        assert re.fullmatch(r"postgres:1[6-8][\w.-]*", services[name]["image"]), name
    for name in ("marquez", "marquez-web"):
        assert re.fullmatch(rf"marquezproject/{name}:\d+\.\d+\.\d+", services[name]["image"])
    for name, service in services.items():
        assert not service.get("image", "").endswith(":latest"), name


def test_every_airflow_service_runs_the_same_image_and_configuration(services):
    reference = services["airflow-scheduler"]
    assert reference["image"] == "observatorio:local"
    assert reference["build"]["dockerfile"] == "Dockerfile"
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["image"] == reference["image"], name
        assert service["build"] == reference["build"], name
        # airflow-init alone also gets the first admin's password, to create that user.
        environment = {
            k: v for k, v in service["environment"].items() if k != "AIRFLOW_ADMIN_PASSWORD"
        }
        assert environment == reference["environment"], f"{name}: environment differs"
        assert service["volumes"] == reference["volumes"], f"{name}: volumes differ"
    assert (ROOT / "Dockerfile").is_file()


def test_airflow_commands(services):
    for name, command in AIRFLOW_COMMANDS.items():
        assert services[name]["command"] == command, name
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init
    assert "observatorio.transform.manifest" in init  # the manifest build_warehouse renders from


def test_shared_environment_wires_the_components_together(services):
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert _url_host(env["OBSERVATORIO_WAREHOUSE_URL"]) == "warehouse-db"
    assert _url_host(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]) == "metadata-db"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert _url_host(env["AIRFLOW__CELERY__RESULT_BACKEND"]) == "metadata-db"
    assert _url_host(env["AIRFLOW__CELERY__BROKER_URL"]) == "redis"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://airflow-apiserver:8080/execution/"
    )
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/observatorio/dags"
    assert env["PYTHONPATH"] == "/opt/observatorio"
    assert env["DBT_PROJECT_DIR"] == "/opt/observatorio/dbt_project"
    assert env["DBT_TARGET_PATH"].startswith(env["OBSERVATORIO_HOME"])
    assert env["AIRFLOW_HOME"].startswith(env["OBSERVATORIO_HOME"])


def test_the_shared_environment_sets_what_the_local_airflow_environment_sets(services, settings):
    """Compose and `observatorio.orchestration.airflow_env` configure the same Airflow knobs."""
    from observatorio.orchestration.airflow_env import airflow_environment

    local = airflow_environment(settings, executor="CeleryExecutor")
    env = services["airflow-scheduler"]["environment"]
    # Local-only: ports and bind address of the dev server, and the passwords file it writes.
    local_only = {
        "AIRFLOW__API__HOST",
        "AIRFLOW__API__PORT",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
        "AIRFLOW__CORE__PARALLELISM",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG",
        "AIRFLOW__LOGGING__LOGGING_LEVEL",
        "PATH",
    }
    missing = {k for k in local if k.startswith(("AIRFLOW", "DBT_", "GX_"))} - local_only - set(env)
    assert missing == set()
    assert "OBSERVATORIO_HOME" in env


def test_secrets_come_from_the_environment_not_the_file(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    env = compose["services"]["airflow-scheduler"]["environment"]
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "OBSERVATORIO_PSEUDONYM_KEY"):
        assert env[key].startswith("${"), key
    for url_key in ("OBSERVATORIO_WAREHOUSE_URL", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        assert ":${" in env[url_key], f"{url_key}: password must be a variable"
    assert "AIRFLOW_CONN_SMTP_DEFAULT" in env and "AIRFLOW_CONN_OBSERVATORIO_WEBHOOK" in env
    for name in ("metadata-db", "warehouse-db", "marquez-db", "marquez"):
        assert compose["services"][name]["environment"]["POSTGRES_PASSWORD"].startswith("${")
    assert "${AIRFLOW_JWT_SECRET" in text


def test_project_is_mounted_and_state_is_in_volumes(compose, services):
    volumes = services["airflow-scheduler"]["volumes"]
    assert ".:/opt/observatorio" in volumes
    assert "observatorio-home:/var/lib/observatorio" in volumes
    declared = set(compose["volumes"])
    assert {"observatorio-home", "metadata-db-data", "warehouse-db-data"} <= declared
    assert "marquez-db-data" in declared
    for name in ("metadata-db", "warehouse-db", "marquez-db"):
        assert any(v.startswith(f"{name}-data:") for v in services[name]["volumes"]), name


def test_healthchecks_and_start_order(services):
    for name, service in services.items():
        if name == "airflow-init":
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
    assert "/api/v2/monitor/health" in " ".join(
        services["airflow-apiserver"]["healthcheck"]["test"]
    )
    for name in AIRFLOW_COMMANDS:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        for backing in ("redis", "metadata-db", "warehouse-db"):
            assert depends[backing]["condition"] == "service_healthy", f"{name} -> {backing}"
    init = services["airflow-init"]["depends_on"]
    assert "airflow-init" not in init
    assert {k for k, v in init.items() if v["condition"] == "service_healthy"} == {
        "redis",
        "metadata-db",
        "warehouse-db",
    }
    assert services["airflow-init"]["restart"] == "no"


def test_published_ports_stay_on_localhost(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} publicly"


def test_dockerfile_installs_the_pinned_stack_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.MULTILINE)
    assert "-c constraints.txt" in text and "[celery,fab]" in text
    assert re.search(r"^USER 50000", text, re.MULTILINE)
    assert "curl" in text  # the API server's healthcheck uses it


def _resolve_defaults(value: str) -> str:
    """`${VAR:-default}` as Docker Compose resolves it when VAR is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_airflow_sends_openlineage_events_to_marquez(services, settings):
    """The compose environment is what `observatorio.lineage.explain` derives for production with
    Marquez: one namespace for the environment, the HTTP transport to the marquez service."""
    import dataclasses
    import json

    from observatorio.lineage.openlineage import openlineage_environment

    env = {
        k: _resolve_defaults(str(v)) for k, v in services["airflow-worker"]["environment"].items()
    }
    production = dataclasses.replace(
        settings,
        environment=env["OBSERVATORIO_ENVIRONMENT"],
        openlineage_url=env["OBSERVATORIO_OPENLINEAGE_URL"],
    )
    expected = openlineage_environment(production)
    assert env["OBSERVATORIO_ENVIRONMENT"] == "production"
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "observatorio-production"
    for key in ("AIRFLOW__OPENLINEAGE__NAMESPACE", "AIRFLOW__OPENLINEAGE__DISABLED"):
        assert env[key] == expected[key], key
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport == json.loads(expected["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "http" and _url_host(transport["url"]) == "marquez"
    port = transport["url"].rsplit(":", 1)[1]
    marquez = services["marquez"]
    assert marquez["environment"]["MARQUEZ_PORT"] == port
    assert marquez["environment"]["POSTGRES_HOST"] == "marquez-db"
    assert marquez["depends_on"]["marquez-db"]["condition"] == "service_healthy"
    assert services["marquez-web"]["environment"]["MARQUEZ_HOST"] == "marquez"


def test_airflow_runs_with_roles_an_encryption_key_and_distinct_secrets(compose):
    """The FAB auth manager (users and roles, not one shared admin), a Fernet key required, and
    the JWT secret, the API secret and the Fernet key three different variables."""
    env = compose["services"]["airflow-scheduler"]["environment"]
    manager = env["AIRFLOW__CORE__AUTH_MANAGER"]
    assert manager.endswith("fab_auth_manager.FabAuthManager")
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS" not in env
    secrets = {
        key: env[key]
        for key in (
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "AIRFLOW__API__SECRET_KEY",
            "AIRFLOW__CORE__FERNET_KEY",
        )
    }
    variables = {value.split(":?")[0] for value in secrets.values()}
    assert all(value.startswith("${") and ":?" in value for value in secrets.values()), secrets
    assert len(variables) == 3, secrets
    init = compose["services"]["airflow-init"]
    assert init["environment"]["AIRFLOW_ADMIN_PASSWORD"].startswith("${AIRFLOW_ADMIN_PASSWORD:?")
    assert "users create" in " ".join(init["command"])
    # The auth manager the stack names is importable with the project's `fab` extra.
    module, _, name = manager.rpartition(".")
    import importlib

    assert getattr(importlib.import_module(module), name)


def test_the_image_keeps_state_private():
    text = (ROOT / "Dockerfile").read_text()
    assert "g+rwX" not in text and "go-rwx" in text
    assert "umask 077" in text
    assert ".[celery,fab]" in text
