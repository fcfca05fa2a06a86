"""dbt's manifest as a build artefact: made once by `dbt parse`, then only read.

`make manifest` (also run by `make run`, the test session and the `airflow-init` service of
docker-compose.yml) calls `refresh()`: `dbt parse` of `dbt_project/`, its manifest copied to
`$OBSERVATORIO_HOME/dbt/manifest.json` with a fingerprint of the project files it was parsed
from beside it. Everything else reads it through this module: Cosmos renders
`build_warehouse` from `current_path()`, `explain` and delivery read `load()`. Neither ever
starts dbt; a manifest that is missing, or older than the project files, raises
`ManifestOutOfDate`, whose message is the command to run. A DAG processor shows it as the
DAG's import error.

A copy, not dbt's `target/manifest.json` itself: every `dbt build` and `dbt docs generate`
rewrites that file, and a reader must never see it half-written. The copy is replaced
atomically.

Before parsing, the dbt sources of the contracts are (re)generated
(`observatorio.transform.sources`), so a new contract is a new source with no other edit.

Imports `core` and `transform.sources` only; dbt itself only in the child process
`refresh()` starts.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from observatorio.core.locking import file_lock
from observatorio.core.settings import Settings, get_settings

# What `make manifest` runs; quoted by every "out of date" error.
REFRESH_COMMAND = "make manifest"
# Where a change can change the manifest; `target/` and `logs/` inside the project are output.
PROJECT_PARTS = ("models", "seeds", "macros", "snapshots", "tests", "analyses")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml")


class ManifestError(RuntimeError):
    """`dbt parse` failed, so there is no manifest of the project; the message is dbt's."""


class ManifestOutOfDate(ManifestError):
    """The manifest is missing, or the dbt project changed after it was made."""


def manifest_path(settings: Settings | None = None) -> Path:
    """Where the manifest lives (whether or not it is current)."""
    settings = settings or get_settings()
    return settings.home / "dbt" / "manifest.json"


def _fingerprint_path(settings: Settings) -> Path:
    return manifest_path(settings).with_suffix(".fingerprint")


def _project_files(settings: Settings) -> Iterator[Path]:
    root = settings.dbt_project_dir
    for name in PROJECT_FILES:
        if (root / name).is_file():
            yield root / name
    for part in PROJECT_PARTS:
        for dirpath, dirnames, filenames in os.walk(root / part):
            dirnames.sort()
            for name in sorted(filenames):
                yield Path(dirpath) / name


def project_fingerprint(settings: Settings | None = None) -> str:
    """A hash of what the manifest is made from: the dbt project's files (names and
    contents) and the dbt version.

    Contents, not modification times: a fresh checkout, a copy or a bind mount changes the
    times of files whose manifest is still right. About 140 files: a few milliseconds. (The
    warehouse a manifest was parsed for shows only in its nodes' `database`, which nothing
    reads: the DAG processor's and a test session's differ and still share one manifest.)
    """
    settings = settings or get_settings()
    digest = hashlib.sha256(importlib.metadata.version("dbt-core").encode())
    root = settings.dbt_project_dir
    for path in _project_files(settings):
        digest.update(b"\0" + str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_current(settings: Settings | None = None) -> bool:
    """Whether the manifest exists and was parsed from the project as it is now."""
    settings = settings or get_settings()
    stamp = _fingerprint_path(settings)
    if not manifest_path(settings).is_file() or not stamp.is_file():
        return False
    return stamp.read_text().strip() == project_fingerprint(settings)


def current_path(settings: Settings | None = None) -> Path:
    """The manifest's path; `ManifestOutOfDate` (naming the command to run) if it is not current."""
    settings = settings or get_settings()
    path = manifest_path(settings)
    if not path.is_file():
        raise ManifestOutOfDate(
            f"no dbt manifest at {path}: run `{REFRESH_COMMAND}` (it runs `dbt parse` of "
            f"{settings.dbt_project_dir})"
        )
    if not is_current(settings):
        raise ManifestOutOfDate(
            f"the dbt manifest {path} was made before the last change to "
            f"{settings.dbt_project_dir}: run `{REFRESH_COMMAND}` (it runs `dbt parse`)"
        )
    return path


def load(settings: Settings | None = None) -> dict[str, Any]:
    """The current manifest as a dict (nodes, sources, exposures, parent_map, child_map)."""
    manifest: dict[str, Any] = json.loads(current_path(settings).read_text(encoding="utf-8"))
    return manifest


def adopt(home: Path, settings: Settings | None = None) -> bool:
    """Copy the manifest of another Observatorio home if it is current for this one.

    The test session starts with an empty home: it takes the one `make manifest` made
    instead of parsing the same project again.
    """
    settings = settings or get_settings()
    source = replace(settings, home=home)
    if not is_current(source):
        return False
    for target_path, source_path in (
        (manifest_path(settings), manifest_path(source)),
        (_fingerprint_path(settings), _fingerprint_path(source)),
    ):
        target_path.parent.mkdir(parents=True, exist_ok=True)
        partial = target_path.with_suffix(target_path.suffix + ".tmp")
        shutil.copyfile(source_path, partial)
        os.replace(partial, target_path)
    return is_current(settings)


@contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    with file_lock(manifest_path(settings).with_suffix(".lock")):
        yield


def refresh(settings: Settings | None = None, force: bool = False) -> Path:
    """Make the manifest current: `dbt parse` in a child process, unless it already is.

    A child process so the caller (a test session, the CLI) never imports dbt nor takes
    its environment variables. A few seconds, once per project change.
    """
    settings = settings or get_settings()
    _write_sources(settings)
    if not force and is_current(settings):
        return manifest_path(settings)
    command = [sys.executable, "-m", __name__, "--project-dir", str(settings.project_dir)]
    completed = subprocess.run(
        [*command, *([] if force else ["--if-stale"])],
        env={**os.environ, "OBSERVATORIO_HOME": str(settings.home)},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-20:]
        raise ManifestError(
            f"dbt parse of {settings.dbt_project_dir} failed:\n" + "\n".join(detail)
        )
    return manifest_path(settings)


def _write_sources(settings: Settings) -> None:
    """The dbt sources generated from the contracts, first: a new or changed contract
    changes that file, hence the project's fingerprint, hence the manifest."""
    from observatorio.transform.sources import active_contract_paths, write_sources

    contracts = settings.project_dir / "ingestion" / "contracts"
    if contracts.is_dir():  # a dbt project copied alone keeps the sources it was copied with
        write_sources(settings.dbt_project_dir, active_contract_paths(contracts))


def _parse(settings: Settings) -> Path:
    """`dbt parse` in this process, then publish its manifest and the fingerprint.

    dbt is invoked directly, not through `transform.dbt.run_dbt`, which first creates the
    raw tables: parsing needs no database. It parses into a target folder of its own, so a
    `dbt build` running meanwhile keeps its `target/`.
    """
    from dbt.cli.main import dbtRunner

    from observatorio.transform.dbt import dbt_environment

    fingerprint = project_fingerprint(settings)  # of the files dbt is about to read
    parse_target = settings.home / "dbt" / "parse"
    os.environ.update(dbt_environment(settings))
    os.environ["DBT_TARGET_PATH"] = str(parse_target)
    project = str(settings.dbt_project_dir)
    result = dbtRunner().invoke(["parse", "--project-dir", project, "--profiles-dir", project])
    if not result.success:
        raise ManifestError(f"dbt parse of {project} failed: {result.exception}")
    path = manifest_path(settings)
    partial = path.with_suffix(".json.tmp")
    shutil.copyfile(parse_target / "manifest.json", partial)
    os.replace(partial, path)  # atomic: readers see the old manifest or the new one
    stamp = _fingerprint_path(settings)
    stamp.with_suffix(".tmp").write_text(fingerprint + "\n")
    os.replace(stamp.with_suffix(".tmp"), stamp)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m observatorio.transform.manifest",
        description="Make the dbt manifest current (`dbt parse`), as `make manifest` does.",
    )
    parser.add_argument(
        "--project-dir", type=Path, help="the checkout to parse (default: this one)"
    )
    parser.add_argument("--if-stale", action="store_true", help="do nothing if it is current")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.project_dir:
        settings = replace(settings, project_dir=args.project_dir.resolve())
    with _lock(settings):  # a test session and `make manifest` may refresh one home at once
        _write_sources(settings)
        if args.if_stale and is_current(settings):
            print(f"dbt manifest is current: {manifest_path(settings)}")
            return
        print(f"dbt manifest: {_parse(settings)}")


if __name__ == "__main__":
    main()
