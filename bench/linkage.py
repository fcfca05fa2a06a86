"""Benchmark of victim record linkage on the simulator, scored against its ground truth.

    python -m bench.linkage --scale small [--days 365] [--out DIR] [--replicate N]

Generates (or reuses, with `--out` pointing at an existing simulation) a simulated country,
builds the linkage inputs from its raw exports exactly as the warehouse would see them
(persons pseudonymised with `ingestion.pseudonymise` under the warehouse's key), links them
with `observatorio.linkage.link_records`, and scores pairwise precision, recall and F1 against
`truth/victims.csv`. `--replicate N` stacks N disguised copies of the records (fresh
pseudonyms, dates shifted by whole years) to measure speed at national scale. Writes
`bench/results/linkage.json` with `records, precision, recall, f1, seconds` (and details).
The tests import `simulation_records` and `pairwise_scores` from here.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ingestion.pseudonymise import pseudonymise_name, pseudonymise_national_id
from observatorio import linkage

RESULTS = Path(__file__).resolve().parent / "results" / "linkage.json"
HOMICIDE_CODES = linkage.HOMICIDE_OFFENCE_CODES
VIOLENT_INTENTS = {"homicide", "undetermined", "legal_intervention"}


def _key() -> bytes:
    os.environ.setdefault("OBSERVATORIO_DEMO", "1")
    from observatorio.settings import get_settings

    return get_settings().pseudonym_key()


def _municipality_resolver() -> dict[str, str]:
    from ingestion.pseudonymise import normalise_name
    from simulator.reference import municipalities, municipality_aliases

    names = {normalise_name(m.name): m.code for m in municipalities()}
    names.update({normalise_name(alias): code for code, alias, _ in municipality_aliases()})
    names.update({m.code: m.code for m in municipalities()})
    return names


def _resolve(resolver: dict[str, str], code: str | None, name: str | None) -> str:
    from ingestion.pseudonymise import normalise_name

    for value in (code, name):
        if value:
            found = resolver.get(value) or resolver.get(normalise_name(value))
            if found:
                return found
    return "99999"


def _person(key: bytes, national_id: str | None, name: str | None) -> dict[str, Any]:
    id_pseudonym = pseudonymise_national_id(key, national_id or "")[0]
    name_pseudonym, tokens = pseudonymise_name(key, name or "")
    return {"id_pseudonym": id_pseudonym, "name_pseudonym": name_pseudonym, "name_tokens": tokens}


def _police_rows(exports: Path) -> Iterator[dict[str, str]]:
    for path in sorted((exports / "police" / "reports").glob("denuncias_*.csv")):
        if "_reenvio" in path.name:
            continue
        with path.open(encoding="cp1252", newline="") as handle:
            yield from csv.DictReader(handle, delimiter=";")


def _dmy(value: str) -> date:
    return datetime.strptime(value[:10], "%d/%m/%Y").date()


def simulation_records(sim_dir: Path, key: bytes | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """(linkage input, truth victim key per unique_id) from a simulation's exports.

    Police: latest version of each report and victim whose code is intentional homicide.
    Prosecution: victim parties of cases about a homicide (by the case's code or its report's
    latest code), and one unidentified record per such case without a victim party.
    Forensic: deaths whose ICD-10 cause is homicide, undetermined intent or legal intervention.
    Hospital: admissions that ended in death.
    """
    key = key or _key()
    exports, truth = sim_dir / "exports", sim_dir / "truth"
    resolver = _municipality_resolver()
    rows: list[dict[str, Any]] = []
    truth_key: dict[str, str] = {}

    victims = pd.read_csv(truth / "victims.csv", dtype=str, keep_default_na=False)
    by_police = {
        (r.police_report_number, r.police_victim_nro): f"{r.event_id}/{r.victim_nro}"
        for r in victims.itertuples()
        if r.police_report_number and r.police_victim_nro
    }
    by_case_id = {
        (r.prosecution_case_id, r.national_id): f"{r.event_id}/{r.victim_nro}"
        for r in victims.itertuples()
        if r.prosecution_case_id
    }
    nn_by_case: dict[str, str] = {}
    for r in victims.itertuples():
        if r.prosecution_case_id and r.identified == "false":
            nn_by_case.setdefault(r.prosecution_case_id, f"{r.event_id}/{r.victim_nro}")
    by_forensic = {
        r.forensic_record_id: f"{r.event_id}/{r.victim_nro}"
        for r in victims.itertuples()
        if r.forensic_record_id
    }
    by_hospital = {
        r.hospital_admission_id: f"{r.event_id}/{r.victim_nro}"
        for r in victims.itertuples()
        if r.hospital_admission_id
    }

    latest: dict[tuple[str, str], dict[str, str]] = {}
    for row in _police_rows(exports):
        ident = (row["numero_denuncia"], row["victima_nro"])
        recorded = datetime.strptime(row["fecha_registro"], "%d/%m/%Y %H:%M")
        if ident not in latest or recorded >= latest[ident]["_recorded"]:  # type: ignore[operator]
            latest[ident] = {**row, "_recorded": recorded}  # type: ignore[dict-item]
    report_code: dict[str, str] = {}
    report_date: dict[str, date] = {}
    for (report, nro), row in latest.items():
        report_code.setdefault(report, row["codigo_delito"])
        if row["codigo_delito"] in HOMICIDE_CODES:
            report_code[report] = row["codigo_delito"]
        report_date[report] = _dmy(row["fecha_hecho"])
        if row["codigo_delito"] not in HOMICIDE_CODES:
            continue
        uid = f"police:{report}-{nro}"
        birth = row["fecha_nacimiento_victima"]
        rows.append(
            {
                "unique_id": uid,
                "source_dataset": "police",
                **_person(key, row["cedula_victima"], row["nombre_victima"]),
                "sex": row["sexo_victima"],
                "birth_year": int(birth[-4:]) if birth else None,
                "age": int(row["edad_victima"]) if row["edad_victima"] else None,
                "event_date": _dmy(row["fecha_hecho"]),
                "municipality_code": _resolve(resolver, row["codigo_municipio"], row["municipio"]),
                "classification": row["codigo_delito"],
                "is_unidentified": not row["cedula_victima"] and row["nombre_victima"] == "NN",
                "report_id": report,
            }
        )
        truth_key[uid] = by_police.get((report, nro), "")

    cases = pd.read_csv(exports / "justice" / "cases.csv", dtype=str, keep_default_na=False)
    parties = pd.read_csv(exports / "justice" / "parties.csv", dtype=str, keep_default_na=False)
    victim_parties = parties[parties["role"] == "victima"].groupby("case_id")
    for case in cases.itertuples():
        code = case.offence_code
        if code not in HOMICIDE_CODES and report_code.get(case.report_number) not in HOMICIDE_CODES:
            continue
        when = report_date.get(case.report_number) or date.fromisoformat(case.opened_date)
        place = _resolve(resolver, case.municipality_code, case.municipality_name)
        common = {
            "source_dataset": "prosecution",
            "event_date": when,
            "municipality_code": place,
            "classification": code,
            "report_id": case.report_number or None,
        }
        members = (
            victim_parties.get_group(case.case_id)
            if case.case_id in victim_parties.groups
            else None
        )
        if members is None:
            uid = f"prosecution:{case.case_id}-NN"
            rows.append(
                {
                    "unique_id": uid,
                    **_person(key, None, None),
                    "sex": None,
                    "birth_year": None,
                    "age": None,
                    "is_unidentified": True,
                    **common,
                }
            )
            truth_key[uid] = nn_by_case.get(case.case_id, "")
            continue
        for party in members.itertuples():
            uid = f"prosecution:{party.party_id}"
            rows.append(
                {
                    "unique_id": uid,
                    **_person(key, party.national_id, party.full_name),
                    "sex": party.sex or None,
                    "birth_year": int(party.birth_date[:4]) if party.birth_date else None,
                    "age": None,
                    "is_unidentified": False,
                    **common,
                }
            )
            truth_key[uid] = by_case_id.get((case.case_id, party.national_id), "")

    health = exports / "health"
    for death in json.loads((health / "forensic_deaths.json").read_text(encoding="utf-8")):
        cause = death["causa_basica_cie10"]
        if linkage.classify_intent(cause) not in VIOLENT_INTENTS:
            continue
        uid = f"forensic:{death['id_registro']}"
        rows.append(
            {
                "unique_id": uid,
                "source_dataset": "forensic",
                **_person(key, death["cedula"], death["nombre"]),
                "sex": death["sexo"],
                "birth_year": None,
                "age": death["edad"],
                "event_date": date.fromisoformat(death["fecha_defuncion"]),
                "municipality_code": _resolve(
                    resolver, death["codigo_municipio"], death["municipio"]
                ),
                "classification": cause,
                "is_unidentified": not death["cedula"] and death["nombre"] in (None, "NN"),
                "report_id": None,
            }
        )
        truth_key[uid] = by_forensic.get(death["id_registro"], "")
    for stay in json.loads((health / "hospital_admissions.json").read_text(encoding="utf-8")):
        if stay["condicion_egreso"] != "fallecido":
            continue
        uid = f"hospital:{stay['id_ingreso']}"
        rows.append(
            {
                "unique_id": uid,
                "source_dataset": "hospital",
                **_person(key, stay["cedula"], stay["nombre"]),
                "sex": stay["sexo"],
                "birth_year": None,
                "age": stay["edad"],
                "event_date": date.fromisoformat(stay["fecha_egreso"]),
                "municipality_code": _resolve(
                    resolver, stay["codigo_municipio"], stay["municipio"]
                ),
                "classification": stay["causa_externa_cie10"],
                "is_unidentified": not stay["cedula"] and stay["nombre"] in (None, "NN"),
                "report_id": None,
            }
        )
        truth_key[uid] = by_hospital.get(stay["id_ingreso"], "")
    records = pd.DataFrame(rows)
    # A record the truth does not know (a suicide coded undetermined, a police killing) is
    # its own victim.
    keys = pd.Series(truth_key).reindex(records["unique_id"]).to_numpy()
    keys = np.where(keys == "", "solo:" + records["unique_id"].to_numpy(), keys)
    return records, pd.Series(keys, index=records["unique_id"].to_numpy(), name="truth")


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(victim_of: pd.Series, truth: pd.Series) -> dict[str, float | int]:
    """Pairwise precision, recall and F1 of a clustering (both indexed by unique_id)."""
    frame = pd.DataFrame({"victim": victim_of, "truth": truth.reindex(victim_of.index)})
    predicted = _pairs(frame.groupby("victim").size())
    actual = _pairs(frame.groupby("truth").size())
    correct = _pairs(frame.groupby(["victim", "truth"]).size())
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "predicted_pairs": predicted,
        "true_pairs": actual,
        "correct_pairs": correct,
    }


def replicate(
    records: pd.DataFrame, truth: pd.Series, copies: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Stack disguised copies: new pseudonyms per copy, dates shifted by whole years."""
    frames, truths = [records], [truth]
    for n in range(1, copies):
        salt = f"copy{n}:"

        def disguise(value: Any, salt: str = salt) -> Any:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                return value
            return hashlib.blake2b((salt + str(value)).encode(), digest_size=16).hexdigest()

        copy = records.copy()
        for column in ("id_pseudonym", "name_pseudonym", "report_id"):
            copy[column] = copy[column].map(disguise)
        copy["name_tokens"] = copy["name_tokens"].map(lambda ts: [disguise(t)[:16] for t in ts])
        copy["unique_id"] = salt + copy["unique_id"]
        shift = pd.DateOffset(years=n)
        copy["event_date"] = (pd.to_datetime(copy["event_date"]) + shift).dt.date
        copy["birth_year"] = copy["birth_year"] + n
        frames.append(copy)
        truths.append(pd.Series((salt + truth).to_numpy(), index=copy["unique_id"].to_numpy()))
    return pd.concat(frames, ignore_index=True), pd.concat(truths)


def run(
    sim_dir: Path, copies: int = 1, config: linkage.LinkageConfig | None = None
) -> dict[str, Any]:
    key = _key()
    started = time.perf_counter()
    records, truth = simulation_records(sim_dir, key)
    if copies > 1:
        records, truth = replicate(records, truth, copies)
    built = time.perf_counter()
    result = linkage.link_records(
        records, config, unidentified_names=linkage.unidentified_name_pseudonyms(key)
    )
    seconds = time.perf_counter() - built
    scores = pairwise_scores(result.records.set_index("unique_id")["victim_id"], truth)
    counts = result.victims["final_status"].value_counts().to_dict()
    nn_bodies = result.records[
        result.records["is_unidentified"] & (result.records["source_dataset"] == "forensic")
    ]
    return {
        "records": len(records),
        "precision": scores["precision"],
        "recall": scores["recall"],
        "f1": scores["f1"],
        "seconds": round(seconds, 2),
        "input_build_seconds": round(built - started, 2),
        "victims": len(result.victims),
        "status_counts": {str(k): int(v) for k, v in counts.items()},
        "pairs": {k: scores[k] for k in ("predicted_pairs", "true_pairs", "correct_pairs")},
        "nn_bodies_sharing_a_victim": int(nn_bodies["victim_id"].duplicated().sum()),
        "records_per_source": result.records["source_dataset"].value_counts().to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="simulation directory (reused if it exists)")
    parser.add_argument("--replicate", type=int, default=1, help="disguised copies, for speed")
    parser.add_argument("--policy", default="evidence", choices=["evidence", "strict"])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-linkage-") as scratch:
        sim_dir = args.out or Path(scratch) / args.scale
        if not (sim_dir / "truth" / "victims.csv").exists():
            from simulator import generate

            generate(
                sim_dir, seed=args.seed, scale=args.scale, start=date(2024, 1, 1), days=args.days
            )
        config = linkage.LinkageConfig(unidentified_policy=args.policy)
        outcome = run(sim_dir, args.replicate, config)
    outcome = {
        "scale": args.scale,
        "days": args.days,
        "replicate": args.replicate,
        "policy": args.policy,
        **outcome,
    }
    print(json.dumps(outcome, indent=2))
    results = _load(args.results)
    results.update({k: outcome[k] for k in ("records", "precision", "recall", "f1", "seconds")})
    label = f"{args.scale}" + (f"x{args.replicate}" if args.replicate > 1 else "")
    if args.policy != "evidence":
        label += f"-{args.policy}"
    results.setdefault("runs", {})[label] = outcome
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


def _load(path: Path) -> dict[str, Any]:
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    return {}


if __name__ == "__main__":
    raise SystemExit(main())
