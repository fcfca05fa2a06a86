"""Benchmark of victim record linkage on the simulator, scored against its ground truth.

    python -m bench.linkage --scale small [--days 365] [--out DIR] [--results FILE]
    python -m bench.linkage --scale medium --out DIR --records 1000000 \
        --results bench/results/linkage_1m.json

Generates (or reuses, with `--out` pointing at an existing simulation) a simulated country,
builds the linkage inputs from its raw exports exactly as the warehouse would see them
(persons pseudonymised with `ingestion.pseudonymise` under the warehouse's key; cached beside
the simulation as Parquet), links them with `observatorio.linkage.clusters.link_records`, and scores
pairwise precision, recall and F1 against `truth/victims.csv`, plus how unidentified bodies
were linked (`nn_checks`). `--records N` (or `--replicate N`) stacks yearly copies of the
records (fresh IDs, same names) to measure speed at national scale with a known truth. Writes
`bench/results/linkage.json` (or `--results`) with `records, precision, recall, f1, seconds`,
the CPU seconds and the machine's load average. The tests import `simulation_records`,
`pairwise_scores` and `replicate` from here.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ingestion.pseudonymise import pseudonymise_name, pseudonymise_national_id
from observatorio.core.settings import get_settings
from observatorio.linkage.clusters import link_records
from observatorio.linkage.records import (
    HOMICIDE_OFFENCE_CODES,
    LinkageConfig,
    LinkageResult,
    classify_intent,
    concat_records,
    unidentified_name_pseudonyms,
)
from observatorio.linkage.tables import CATEGORY_COLUMNS, release_memory

RESULTS = Path(__file__).resolve().parent / "results" / "linkage.json"
HOMICIDE_CODES = HOMICIDE_OFFENCE_CODES
VIOLENT_INTENTS = {"homicide", "undetermined", "legal_intervention"}


def _key() -> bytes:
    os.environ.setdefault("OBSERVATORIO_DEMO", "1")
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
        if classify_intent(cause) not in VIOLENT_INTENTS:
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
    """Stack `copies` copies of one year of records: a country over `copies` years.

    Copy n holds other people n years later: ID pseudonyms and report numbers get the suffix
    `~n` (an ID or a report belongs to one person or event for ever), dates and birth years
    move n years, ages stay. Names stay as they are, because names repeat from year to year:
    every copy brings namesakes of earlier years' victims (same name, birth year n years
    apart), which both loads the name blocking rules as a real multi-year register would and
    tests that namesakes are not linked. Column-wise: a million records in seconds. The truth
    is known: a copy's victim is `copy<n>:<original victim>`.
    """
    frames, truths = [records], [truth]
    event = pd.to_datetime(records["event_date"])
    birth_year = pd.to_numeric(records["birth_year"], errors="coerce")
    for n in range(1, copies):
        copy = records.copy()
        for column in ("id_pseudonym", "report_id"):
            copy[column] = _suffixed(records[column], f"~{n}")
        copy["unique_id"] = f"copy{n}:" + records["unique_id"]
        # Each distinct day one date object (a year holds 366 at most), not one per record.
        days, distinct = pd.factorize(event + pd.DateOffset(years=n))
        copy["event_date"] = np.asarray(distinct.date, dtype=object)[days]
        copy["birth_year"] = birth_year + n
        frames.append(copy)
        truths.append(
            pd.Series((f"copy{n}:" + truth).to_numpy(), index=copy["unique_id"].to_numpy())
        )
    # The truth as a category: a million victim keys would otherwise be a million strings
    # in the bench process whose peak memory is measured.
    return concat_records(frames), pd.concat(truths).astype("category")


def _suffixed(values: pd.Series, suffix: str) -> pd.Series:
    """Each value with `suffix` (null stays null); a categorical column stays categorical."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.rename_categories(lambda category: f"{category}{suffix}")
    return values.astype("str") + suffix


def _positional(records: pd.DataFrame, truth: pd.Series) -> pd.Series:
    """The truth by position in `records` when it follows their order (what `replicate` and
    the cache give): a million unique_ids as its index would be held while linking, adding
    to the peak memory the bench measures. Otherwise the truth as it is (by unique_id)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    uids, keys = pa.array(records["unique_id"]), pa.array(truth.index.array)
    if len(uids) == len(keys) and pc.all(pc.equal(uids, keys)).as_py():
        return pd.Series(truth.array)
    return truth


def _by_position(records: pd.DataFrame, truth: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(victim per record, truth per record) for `pairwise_scores`: by position when the
    truth is (`_positional`; linking keeps the input's order), else by unique_id."""
    if isinstance(truth.index, pd.RangeIndex) and len(truth) == len(records):
        return pd.Series(records["victim_id"].array), truth
    return records.set_index("unique_id")["victim_id"], truth


def _by_unique_id(records: pd.DataFrame, truth: pd.Series) -> pd.Series:
    """The truth by unique_id again, after linking (`nn_checks` looks records up by it)."""
    if isinstance(truth.index, pd.RangeIndex):
        return pd.Series(truth.array, index=records["unique_id"].array)
    return truth


def nn_checks(result: LinkageResult, truth: pd.Series) -> dict[str, Any]:
    """How unidentified (NN) records were linked, scored against the truth.

    `nn_to_nn_links`: links between two NN records, by rule; `without_evidence` counts those
    made by the model alone (must be 0: only a shared report number or the unique NN body of
    the day and place may join two NN records), `wrong` those joining different victims.
    `nn_records_wrongly_merged`: NN records whose victim holds a record of another victim.
    """
    records = result.records
    is_nn = records.set_index("unique_id")["is_unidentified"].astype(bool)
    links = result.links
    both = (
        is_nn.reindex(links["unique_id_l"]).to_numpy()
        & is_nn.reindex(links["unique_id_r"]).to_numpy()
    )
    nn_links = links[both]
    wrong = (
        truth.reindex(nn_links["unique_id_l"]).to_numpy()
        != truth.reindex(nn_links["unique_id_r"]).to_numpy()
    )
    frame = pd.DataFrame(
        {
            "victim": records["victim_id"].to_numpy(),
            "truth": truth.reindex(records["unique_id"]).to_numpy(),
            "nn": records["is_unidentified"].astype(bool).to_numpy(),
        }
    )
    mixed = frame.groupby("victim")["truth"].transform("nunique") > 1
    return {
        "nn_records": int(frame["nn"].sum()),
        "nn_to_nn_links": {
            "total": len(nn_links),
            # The rule is categorical: value_counts lists rules no link used, as 0.
            "by_rule": {str(k): int(v) for k, v in nn_links["rule"].value_counts().items() if v},
            "without_evidence": int((nn_links["rule"] == "model").sum()),
            "wrong": int(wrong.sum()),
            "wrong_by_rule": {
                str(k): int(v) for k, v in nn_links.loc[wrong, "rule"].value_counts().items() if v
            },
        },
        "nn_records_wrongly_merged": int((frame["nn"] & mixed).sum()),
    }


def cached_records(sim_dir: Path, key: bytes) -> tuple[pd.DataFrame, pd.Series]:
    """`simulation_records` of `sim_dir`, kept beside it as Parquet for the next run.

    Building the inputs of a medium simulation (pseudonymising every person) takes minutes;
    the cache is per key, and rebuilt when the simulation is newer.
    """
    fingerprint = hashlib.sha256(key).hexdigest()[:12]
    cache = sim_dir / f"bench_linkage_input_{fingerprint}.parquet"
    victims = sim_dir / "truth" / "victims.csv"
    if cache.exists() and cache.stat().st_mtime >= victims.stat().st_mtime:
        frame = pd.read_parquet(cache)
        frame["name_tokens"] = [list(t) if t is not None else [] for t in frame["name_tokens"]]
        truth = pd.Series(frame.pop("truth").to_numpy(), index=frame["unique_id"].to_numpy())
    else:
        frame, truth = simulation_records(sim_dir, key)
        frame.assign(truth=truth.reindex(frame["unique_id"]).to_numpy()).to_parquet(cache)
    # Name pseudonyms as categories, as the warehouse read hands them over
    # (register.read_source_records).
    for column in CATEGORY_COLUMNS:
        frame[column] = frame[column].astype("category")
    return frame, truth


def run(
    sim_dir: Path,
    copies: int = 1,
    config: LinkageConfig | None = None,
    *,
    records_wanted: int | None = None,
) -> dict[str, Any]:
    """Link the simulation's records (or `copies` years of them) and score the result.

    `records_wanted`: stack as many yearly copies as it takes to reach that many records.
    `seconds` is the wall time of `link_records` alone; `cpu_seconds` its CPU time (all
    threads), `peak_rss_mb` the process's peak resident memory, and `load_average` the
    machine's 1-minute load before and after, because the wall time on a shared machine says
    little without them.
    """
    key = _key()
    names = unidentified_name_pseudonyms(key)
    started = time.perf_counter()
    records, truth = cached_records(sim_dir, key)
    base = len(records)
    if records_wanted:
        copies = max(copies, -(-records_wanted // base))
    if copies > 1:
        records, truth = replicate(records, truth, copies)
    truth = _positional(records, truth)
    release_memory()  # the input build's temporaries are not the linkage's
    built = time.perf_counter()
    load_before = os.getloadavg()[0]
    cpu = time.process_time()
    result = link_records(records, config, unidentified_names=names)
    seconds = time.perf_counter() - built
    cpu_seconds = time.process_time() - cpu
    # The high-water mark when linking ends, before the bench's own scoring against the truth.
    linkage_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    load_after = os.getloadavg()[0]
    scores = pairwise_scores(*_by_position(result.records, truth))
    counts = result.victims["final_status"].value_counts()
    counts = counts[counts > 0].to_dict()  # a categorical status lists every category
    nn_bodies = result.records[
        result.records["is_unidentified"] & (result.records["source_dataset"] == "forensic")
    ]
    return {
        "records": len(records),
        "precision": scores["precision"],
        "recall": scores["recall"],
        "f1": scores["f1"],
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "load_average": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "cpus": os.cpu_count(),
        # The whole process (input build included): DuckDB's share is capped by the setting.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "linkage_peak_rss_mb": linkage_peak,
        "duckdb_memory_limit": get_settings().linkage_memory_limit,
        "replicate": copies,
        "base_records": base,
        "input_build_seconds": round(built - started, 2),
        "victims": len(result.victims),
        "status_counts": {str(k): int(v) for k, v in counts.items()},
        "pairs": {k: scores[k] for k in ("predicted_pairs", "true_pairs", "correct_pairs")},
        "nn_bodies_sharing_a_victim": int(nn_bodies["victim_id"].duplicated().sum()),
        **nn_checks(result, _by_unique_id(result.records, truth)),
        "records_per_source": result.records["source_dataset"].value_counts().to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="simulation directory (reused if it exists)")
    parser.add_argument("--replicate", type=int, default=1, help="disguised yearly copies")
    parser.add_argument(
        "--records", type=int, help="stack yearly copies up to this many records (speed)"
    )
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
        config = LinkageConfig(unidentified_policy=args.policy)
        outcome = run(sim_dir, args.replicate, config, records_wanted=args.records)
    outcome = {
        "scale": args.scale,
        "days": args.days,
        "policy": args.policy,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **outcome,
    }
    print(json.dumps(outcome, indent=2))
    results = _load(args.results)
    results.update(
        {k: outcome[k] for k in ("records", "precision", "recall", "f1", "seconds", "peak_rss_mb")}
    )
    label = f"{args.scale}" + (f"x{outcome['replicate']}" if outcome["replicate"] > 1 else "")
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
