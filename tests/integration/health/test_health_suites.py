"""The health suites on real batches: simulator records pass, broken ones are rejected or
flagged, each naming the expectation and the rows. All batches go through one GX run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingestion.landing import inbox


def _land(settings, source: str, name: str, records: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    folder = inbox(source, settings)
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (folder / f"{source}_{name}.jsonl").write_text(lines, encoding="utf-8")


def test_each_health_suite_passes_a_good_batch_and_rejects_a_bad_one(
    clean_health, country, settings, ingest_landed
):
    deaths = country.records("forensic_deaths")[:120]
    admissions = country.records("hospital_admissions")[:120]
    # Forensic deaths: a cause outside the external causes (lung cancer), a death in the
    # future, an autopsy before the death.
    bad_deaths = [dict(r) for r in deaths[:40]]
    bad_deaths[4]["causa_basica_cie10"] = "C34.1"
    bad_deaths[9]["fecha_defuncion"] = "2099-01-01"
    bad_deaths[9]["fecha_autopsia"] = "2099-01-02"
    bad_deaths[14]["fecha_autopsia"] = "2023-12-01"
    # Too many undetermined-intent deaths (Y10-Y34): published, with a warning.
    murky = [dict(r, causa_basica_cie10="Y34") if i % 3 == 0 else r for i, r in enumerate(deaths)]
    # Admissions: an injury code where the external cause belongs, discharged before admitted.
    bad_admissions = [dict(r) for r in admissions[:40]]
    bad_admissions[2]["causa_externa_cie10"] = "S06.9"
    bad_admissions[7]["fecha_egreso"] = "2023-06-01"
    _land(settings, "health__forensic_deaths", "good", deaths)
    _land(settings, "health__forensic_deaths", "bad", bad_deaths)
    _land(settings, "health__forensic_deaths", "murky", murky)
    _land(settings, "health__hospital_admissions", "good", admissions)
    _land(settings, "health__hospital_admissions", "bad", bad_admissions)

    results = {Path(r["file"]).stem: r for r in ingest_landed()}
    status = {name: r["status"] for name, r in results.items()}
    assert status == {
        "health__forensic_deaths_good": "loaded",
        "health__forensic_deaths_bad": "rejected",
        "health__forensic_deaths_murky": "loaded",
        "health__hospital_admissions_good": "loaded",
        "health__hospital_admissions_bad": "rejected",
    }
    dead = results["health__forensic_deaths_bad"]["message"]
    assert "expect_column_values_to_match_regex(icd10_cause_raw) [critical] 1 unexpected" in dead
    assert "sample rows 5" in dead
    assert "expect_column_values_to_be_between(death_date) [critical]" in dead
    assert "expect_column_pair_values_a_to_be_greater_than_b(autopsy_date) [critical]" in dead
    admitted = results["health__hospital_admissions_bad"]["message"]
    assert "expect_column_values_to_match_regex(external_cause_icd10_raw)" in admitted
    assert "sample rows 3" in admitted
    assert "expect_column_pair_values_a_to_be_greater_than_b(discharge_date) [crit" in admitted
    assert results["health__forensic_deaths_good"]["warnings"] == []
    assert results["health__hospital_admissions_good"]["warnings"] == []
    [undetermined] = results["health__forensic_deaths_murky"]["warnings"]
    assert "expect_column_values_to_not_match_regex(icd10_cause_raw) [warning]" in undetermined

    db = clean_health
    assert db.execute("select count(*) from raw.health__forensic_deaths").fetchone()[0] == 240
    assert db.execute("select count(*) from raw.health__hospital_admissions").fetchone()[0] == 120
    # Persons reach the warehouse only as pseudonyms.
    raw_ids = {r["cedula"] for r in deaths if r["cedula"]}
    stored = db.execute(
        "select string_agg(row_to_json(d)::text, ' ') from raw.health__forensic_deaths d"
    ).fetchone()[0]
    assert not any(national_id in stored for national_id in raw_ids)
    assert "Martínez" not in stored
    failed = db.execute(
        "select distinct column_name from ops.validation_results where not success"
        " and severity = 'critical' and suite_name = 'health__forensic_deaths'"
    ).fetchall()
    assert {r[0] for r in failed} >= {"icd10_cause_raw", "death_date", "autopsy_date"}
