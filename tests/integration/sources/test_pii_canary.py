"""A PII canary through every file source the demo ingests: nothing of it outside the archive.

A national ID and a full name are planted in a simulated export of each file-drop source:
in its person columns (police reports and detentions; the other sources name nobody), in a
malformed (ragged) row, and, in a second file, in a column the contract does not declare.
Each source then runs the ingest DAGs' own steps (`observatorio.orchestration.ingest`:
claim, stage, gate, publish, report). The canary must be nowhere but in the archived and
rejected source files: not in any row of any relation of any schema, not in the logs or
stderr, not in what the steps return (Airflow's XCom), and in no file under
OBSERVATORIO_HOME (Data Docs, lineage events, outbox, the database's own files and log).
Retention then deletes the source files, and a second search of the home finds nothing.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingestion.contract import load_contract
from ingestion.landing import inbox
from ingestion.loader import BatchRejected
from observatorio.core.retention import apply_retention
from observatorio.orchestration import ingest
from tests.integration.sources.conftest import POLICE_CSV, SURVEY_CSV, CsvLayout, SourceKit
from tests.pii_search import (
    CANARY_ID,
    CANARY_NAME,
    admin_connection,
    file_hits,
    text_hits,
    warehouse_hits,
)
from tests.police_files import national_id

DRIFT_COLUMN = "direccion_victima"
CSV_SOURCES: dict[str, CsvLayout] = {
    "police__reports": POLICE_CSV,
    "police__detentions": POLICE_CSV,
    "police__complaints": POLICE_CSV,
    "police__use_of_force": POLICE_CSV,
    "survey__responses": SURVEY_CSV,
}
JSON_SOURCES = ("consultations__consultations",)
CANARY_NATIONAL_ID = national_id(9988776655)  # a well-formed ID: it loads, pseudonymised


def _person_sources(source: str) -> dict[str, str]:
    """Source header -> kind, for the contract's pseudonymised person columns."""
    return {
        c.source: c.person.kind
        for c in load_contract(source).columns
        if c.person is not None and c.person.action == "pseudonymise"
    }


def _largest(files: list[Path]) -> Path:
    return max(files, key=lambda p: p.stat().st_size)


def _plant_csv(
    kit: SourceKit, source: str, exports: list[Path], layout: CsvLayout, out: Path
) -> None:
    # Every export's rows in one file: the rare sources (complaints) have few a day.
    export = _largest(exports)
    header, _ = kit.read_csv(export, layout)
    # Re-sent files repeat their rows (the gate refuses duplicate keys): one copy of each.
    originals = [p for p in exports if "reenvio" not in p.stem]
    rows = list({tuple(r): r for p in originals for r in kit.read_csv(p, layout)[1]}.values())
    known = [list(r) for r in rows]
    for name, kind in _person_sources(source).items():
        known[0][header.index(name)] = CANARY_NATIONAL_ID if kind == "national_id" else CANARY_NAME
    ragged = [*rows[1], CANARY_ID, CANARY_NAME]
    kit.write_csv(out / f"{export.stem}_canario{export.suffix}", header, [*known, ragged], layout)
    drift = [[*r, f"{CANARY_NAME}, {CANARY_ID}"] for r in rows]
    kit.write_csv(
        out / f"{export.stem}_nueva{export.suffix}", [*header, DRIFT_COLUMN], drift, layout
    )


def _plant_json(source: str, export: Path, out: Path) -> None:
    document = json.loads(export.read_text("utf-8"))
    key = load_contract(source).records_path
    assert key and isinstance(document[key], list), "the export holds a list of records"
    records = document[key]
    malformed = [*records, f"{CANARY_ID} {CANARY_NAME}"]  # not an object
    drift = [{**r, DRIFT_COLUMN: f"{CANARY_NAME}, {CANARY_ID}"} for r in records]
    for suffix, listed in (("_canario", malformed), ("_nueva", drift)):
        text = json.dumps({**document, key: listed}, ensure_ascii=False)
        (out / f"{export.stem}{suffix}.json").write_text(text, encoding="utf-8")


def _run(source: str) -> tuple[list[dict[str, Any]], str]:
    """The ingest DAG's steps over the landed files: (what they returned, report's error)."""
    steps: list[dict[str, Any]] = []
    paths = ingest.claim(source)
    assert len(paths) == 2, paths
    steps.append(ingest.stage(source, paths))
    steps.append(ingest.gate(steps[-1]))
    steps.append(ingest.publish(steps[-1]))
    with pytest.raises(BatchRejected) as rejected:
        ingest.report(steps[-1])
    return steps, str(rejected.value)


def test_the_canary_is_only_in_the_archived_files_until_retention_deletes_them(
    kit, week_simulation, year_simulation, settings, tmp_path, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    sources = [*CSV_SOURCES, *JSON_SOURCES]
    kit.reset(*sources)
    for source in sources:
        planted = tmp_path / source
        planted.mkdir()
        if source in CSV_SOURCES:
            exports = kit.exports(source, week_simulation)
            _plant_csv(kit, source, exports, CSV_SOURCES[source], planted)
        else:
            _plant_json(source, _largest(kit.exports(source, year_simulation)), planted)
        target = inbox(source, settings)
        target.mkdir(parents=True, exist_ok=True)
        for path in planted.iterdir():
            shutil.copy2(path, target / path.name)

        steps, error = _run(source)
        # The drift file is rejected naming its new column; the other loads, its ragged
        # row quarantined.
        assert DRIFT_COLUMN in error and "_nueva" in error, error
        assert not text_hits(error) and not text_hits(json.dumps(steps, default=str)), source
        done = {Path(r["file"]).name: r for r in steps[-1]["done"]}
        canario = next(r for name, r in done.items() if "_canario" in name)
        # A source with few rows rejects the file for its one bad row (over the threshold);
        # its quarantine is kept, and searched, all the same.
        assert canario["rows_quarantined"] == 1, (source, done)
        assert canario["status"] == "loaded" or "threshold" in canario["message"], canario
        if _person_sources(source):
            assert canario["status"] == "loaded", canario

    with admin_connection(settings) as admin:
        assert warehouse_hits(admin) == []
        person_rows = admin.execute(
            "select count(*) from raw.police__reports where victim_national_id_status = 'valid'"
            " and victim_name_pseudonym is not null"
        ).fetchone()[0]
        assert person_rows > 0  # the person columns were loaded, as pseudonyms
    assert not text_hits(caplog.text), "a log record holds the canary"
    assert not text_hits(capfd.readouterr().err), "stderr holds the canary"

    home = settings.home
    kept = {settings.archive_dir, settings.rejected_dir}
    hits = file_hits(home)
    outside = [p for p in hits if not any(p.is_relative_to(k) for k in kept)]
    assert outside == [], outside
    # Every planted file is archived (loaded) or rejected: 2 a source.
    assert len(hits) == 2 * len(sources), hits
    # Data Docs, lineage events and the outbox were searched, not skipped for being absent.
    assert settings.gx_docs_dir.is_dir()

    report = apply_retention(settings, now=datetime.now(UTC) + timedelta(days=400))
    assert report.deleted.get("archive", 0) + report.deleted.get("rejected", 0) >= len(hits)
    assert file_hits(home) == []
