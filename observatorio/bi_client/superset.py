"""Apache Superset on the `bi` schema: its virtualenv, configuration, admin, dashboard, server.

`make bi` and `tests/e2e/test_superset.py` call `up()`: it installs Superset in its own
virtualenv (pinned by `bi/superset/requirements.txt` + `constraints.txt`; it cannot share
Airflow's), writes its configuration under `<OBSERVATORIO_HOME>/superset` (SQLite metadata,
a generated SECRET_KEY, mode 0600), creates the `admin` user with a generated password,
imports the dashboard bundle `bi/superset/dashboard/` with the database connection of a BI
login from `bi/logins.yaml` (its password injected at import, never in the repository) and
starts the web server on 127.0.0.1. Superset runs as separate processes of that virtualenv:
nothing here imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml
from sqlalchemy.engine import make_url

from observatorio.core import warehouse
from observatorio.core.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]
SUPERSET_DIR = ROOT / "bi" / "superset"
BUNDLE = SUPERSET_DIR / "dashboard"
REQUIREMENTS = SUPERSET_DIR / "requirements.txt"
CONSTRAINTS = SUPERSET_DIR / "constraints.txt"
# The national ministry's login: it reads every department's rows of the `bi` schema.
DEFAULT_LOGIN = "bi_ministerio_seguridad"
DEFAULT_PORT = 8088
ADMIN_USER = "admin"
DASHBOARD_SLUG = "observatorio-homicidios"
BI_RELATIONS = ("indicators_monthly", "dim_indicator", "dim_municipality")


class SupersetError(RuntimeError):
    """Superset could not be installed, configured or started."""


@dataclass(frozen=True)
class Superset:
    """Where one Superset lives: its virtualenv, its state and its port."""

    venv: Path
    home: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.home / "superset_config.py"

    @property
    def admin_password_file(self) -> Path:
        return self.home / "admin_password"

    @property
    def pid_file(self) -> Path:
        return self.home / "superset.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "superset.log"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "SUPERSET_CONFIG_PATH": str(self.config),
            "FLASK_APP": "superset.app:create_app()",
            "PYTHONUNBUFFERED": "1",
        }

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def locate(settings: Settings | None = None, venv: Path | None = None) -> Superset:
    """Superset for these settings: `OBSERVATORIO_SUPERSET_VENV` / `_PORT` override the defaults."""
    settings = settings or get_settings()
    venv = venv or Path(
        os.environ.get("OBSERVATORIO_SUPERSET_VENV", settings.home / "superset-venv")
    )
    port = int(os.environ.get("OBSERVATORIO_SUPERSET_PORT", DEFAULT_PORT))
    return Superset(venv=venv.resolve(), home=(settings.home / "superset").resolve(), port=port)


def _requirements_digest() -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, CONSTRAINTS):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv(superset: Superset) -> float:
    """Install Superset in its virtualenv unless these pins are already there; seconds spent."""
    stamp = superset.venv / ".observatorio-requirements"
    digest = _requirements_digest()
    if stamp.exists() and stamp.read_text() == digest:
        return 0.0
    started = time.monotonic()
    print(f"installing Superset in {superset.venv} (a few minutes, once)", flush=True)
    if not (superset.venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(superset.venv)], check=True)
    pip = [superset.bin("python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # Captured: pip's warnings about this machine's package index are noise unless it fails.
    result = subprocess.run(
        [*pip, "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
        raise SupersetError("installing Superset failed: " + " | ".join(errors[-3:]))
    stamp.write_text(digest)
    return time.monotonic() - started


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def write_config(superset: Superset) -> None:
    """superset_config.py: SQLite metadata, a generated SECRET_KEY (0600), no examples."""
    superset.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    superset.home.chmod(0o700)
    secret = superset.home / "secret_key"
    if not secret.exists():
        _write_private(secret, secrets.token_urlsafe(48))
    metadata = superset.home / "superset.db"
    _write_private(
        superset.config,
        "# Written by observatorio.bi_client.superset; edits are overwritten by `make bi`.\n"
        "from pathlib import Path\n\n"
        f"SECRET_KEY = Path({str(secret)!r}).read_text().strip()\n"
        f"SQLALCHEMY_DATABASE_URI = {f'sqlite:///{metadata}'!r}\n"
        "SQLALCHEMY_EXAMPLES_URI = None\n"
        "FEATURE_FLAGS = {'ALERT_REPORTS': False, 'EMBEDDED_SUPERSET': False}\n"
        "# Served on 127.0.0.1 over plain HTTP: cookies must not require HTTPS.\n"
        "TALISMAN_ENABLED = False\n"
        "SESSION_COOKIE_SECURE = False\n"
        "WTF_CSRF_ENABLED = True\n"
        "BABEL_DEFAULT_LOCALE = 'es'\n"
        "LANGUAGES = {\n"
        "    'es': {'flag': 'es', 'name': 'Español'},\n"
        "    'en': {'flag': 'us', 'name': 'English'},\n"
        "}\n"
        "THUMBNAIL_SELENIUM_USER = None\n",
    )


def _superset(superset: Superset, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [superset.bin("superset"), *args],
        env=superset.environment(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise SupersetError(f"superset {args[0]} failed: " + " | ".join(tail))
    return result


def admin_password(superset: Superset) -> str:
    return superset.admin_password_file.read_text("utf-8").strip()


def ensure_metadata(superset: Superset) -> str | None:
    """Migrate Superset's metadata and create `admin`; its password when it was just made."""
    _superset(superset, "db", "upgrade")
    created = None
    if not superset.admin_password_file.exists():
        created = secrets.token_urlsafe(18)
        _superset(
            superset,
            "fab",
            "create-admin",
            "--username", ADMIN_USER,
            "--firstname", "Observatorio",
            "--lastname", "Admin",
            "--email", "admin@observatorio.invalid",
            "--password", created,
        )  # fmt: skip
        _write_private(superset.admin_password_file, created + "\n")
    _superset(superset, "init")
    return created


def bi_database_uri(settings: Settings, login: str = DEFAULT_LOGIN) -> str:
    """The SQLAlchemy URI (psycopg2, Superset's driver) of a BI login, with its password."""
    url = make_url(warehouse.login_url(settings, login))
    return url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def check_bi_schema(settings: Settings, login: str = DEFAULT_LOGIN) -> int:
    """Rows of bi.indicators_monthly this login sees; an error when a relation is missing."""
    with psycopg.connect(warehouse.login_url(settings, login), connect_timeout=10) as conn:
        for relation in BI_RELATIONS:
            found = conn.execute("select to_regclass(%s)", (f"bi.{relation}",)).fetchone()
            if not found or found[0] is None:
                raise SupersetError(
                    f"bi.{relation} does not exist: build the warehouse first (`make run`)"
                )
        row = conn.execute("select count(*) from bi.indicators_monthly").fetchone()
    return int(row[0]) if row else 0


def render_bundle(destination: Path, database_uri: str) -> Path:
    """The dashboard bundle as the ZIP Superset imports, with `database_uri` injected."""
    folder = "observatorio_dashboard"
    archive = destination / f"{folder}.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(BUNDLE.rglob("*.yaml")):
            relative = path.relative_to(BUNDLE).as_posix()
            text = path.read_text("utf-8")
            if relative.startswith("databases/"):
                config = yaml.safe_load(text)
                config["sqlalchemy_uri"] = database_uri
                text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
            bundle.writestr(f"{folder}/{relative}", text)
    return archive


def import_dashboard(superset: Superset, settings: Settings, login: str = DEFAULT_LOGIN) -> None:
    """Import (overwrite) the database, datasets, charts and dashboard of the bundle."""
    with tempfile.TemporaryDirectory(prefix="superset-bundle-") as scratch:
        os.chmod(scratch, 0o700)
        archive = render_bundle(Path(scratch), bi_database_uri(settings, login))
        _superset(superset, "import-dashboards", "-p", str(archive), "-u", ADMIN_USER)


def _healthy(superset: Superset) -> bool:
    try:
        with urllib.request.urlopen(f"{superset.url}/health", timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _running_pid(superset: Superset) -> int | None:
    if not superset.pid_file.exists():
        return None
    pid = int(superset.pid_file.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def start(superset: Superset, timeout: float = 180.0) -> None:
    """Start Superset's web server on 127.0.0.1 in its own process group; wait for /health."""
    if _running_pid(superset) and _healthy(superset):
        return
    log = superset.log_file.open("ab")
    # One gunicorn worker with threads: enough for one analyst on 2 cores.
    command = [superset.bin("gunicorn"), "--bind", f"127.0.0.1:{superset.port}"]
    command += ["--workers", "1", "--threads", "8", "--worker-class", "gthread"]
    command += ["--timeout", "120", "--graceful-timeout", "5", "superset.app:create_app()"]
    process = subprocess.Popen(
        command,
        env=superset.environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    superset.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SupersetError(
                f"Superset exited with {process.returncode}: see {superset.log_file}"
            )
        if _healthy(superset):
            return
        time.sleep(1)
    stop(superset)
    raise SupersetError(f"Superset did not answer in {timeout:.0f} s: see {superset.log_file}")


def stop(superset: Superset) -> bool:
    """Stop the server `start` launched (its whole process group); False when none ran."""
    pid = _running_pid(superset)
    superset.pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    for _ in range(50):
        with contextlib.suppress(ChildProcessError):  # reap it when this process started it
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    return True


def up(settings: Settings | None = None, venv: Path | None = None) -> Superset:
    """Everything `make bi` does, in order; prints the URL, the login and timings."""
    settings = settings or get_settings()
    superset = locate(settings, venv)
    started = time.monotonic()
    warehouse.ensure_warehouse(settings)
    rows = check_bi_schema(settings)
    if rows == 0:
        print("the bi schema is empty: run `make run` first to build the warehouse", flush=True)
    installed = ensure_venv(superset)
    write_config(superset)
    created = ensure_metadata(superset)
    if created:  # printed once, on one line; kept in admin_password_file (0600)
        print(f"Superset login: {ADMIN_USER} / {created}", flush=True)
    import_dashboard(superset, settings)
    start(superset)
    print(f"Superset: {superset.url}/superset/dashboard/{DASHBOARD_SLUG}/", flush=True)
    print(
        f"Superset login: {ADMIN_USER}, password in {superset.admin_password_file} (0600); "
        f"database login {DEFAULT_LOGIN}; install {installed:.0f} s, "
        f"total {time.monotonic() - started:.0f} s; stop: make bi-stop",
        flush=True,
    )
    return superset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m observatorio.bi_client.superset")
    parser.add_argument("command", choices=("up", "import", "stop"))
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            up()
        elif args.command == "import":
            settings = get_settings()
            superset = locate(settings)
            import_dashboard(superset, settings)
            print(f"dashboard imported: {superset.url}/superset/dashboard/{DASHBOARD_SLUG}/")
        else:
            print("stopped" if stop(locate()) else "Superset was not running")
    except (SupersetError, warehouse.WarehouseError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
