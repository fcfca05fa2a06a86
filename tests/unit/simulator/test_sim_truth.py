"""The truth's indicator numerators equal what can be counted back from the exports."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from simulator.config import DefectRates
from simulator.health import forensic_indicators, is_homicide_cause, is_legal_intervention_cause
from simulator.reference import municipalities, municipality_aliases, penal_code
from simulator.truth import BROKEN_DOWN, INDICATORS, age_group_of

HOMICIDE = {c for c, o in penal_code().items() if o.iccs_code == "0101"}
SEXUAL = {c for c, o in penal_code().items() if o.iccs_code.startswith("03")}
PERSON = {c for c, o in penal_code().items() if o.iccs_code[:2] in {"01", "02", "03"}}
FAMILY = {"pareja", "expareja", "familiar"}
# Offences counted as distinct reports, by the ICCS code of the penal article.
OFFENCES = {
    name: {c for c, o in penal_code().items() if test(o.iccs_code)}
    for name, test in (
        ("robbery_reports", lambda iccs: iccs.startswith("0401")),
        ("burglary_reports", lambda iccs: iccs.startswith("0501")),
        ("theft_reports", lambda iccs: iccs.startswith("0502")),
        ("vehicle_theft_reports", lambda iccs: iccs == "050211"),
        ("kidnapping_reports", lambda iccs: iccs == "020221"),
        ("extortion_reports", lambda iccs: iccs.startswith("02051")),
    )
}
NAMES = {m.name: m.code for m in municipalities()} | {
    alias: code for code, alias, _ in municipality_aliases()
}


def muni(value: str) -> str:
    return value if value.isdigit() else NAMES[value]


def month(dmy: str) -> str:
    return f"{dmy[6:10]}-{dmy[3:5]}"


def read_truth(run) -> Counter[tuple[str, str, str]]:
    with (run.out / "truth" / "indicators.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["sex"] for r in rows} == {"all"} and {r["age_group"] for r in rows} == {"all"}
    return Counter(
        {
            (r["indicator_code"], r["municipality_code"], r["month"]): int(r["value"])
            for r in rows
            if r["indicator_code"] in INDICATORS and r["value"] != "0"
        }
    )


def recount(run, parts: Counter[tuple[str, ...]] | None = None) -> Counter[tuple[str, str, str]]:
    """Every indicator count of INDICATORS from the exports; those of BROKEN_DOWN also into
    `parts` by (code, municipality, month, sex, age group), as the exported row gives them."""
    counts: Counter[tuple[str, str, str]] = Counter()
    parts = Counter() if parts is None else parts

    def person(code: str, where: tuple[str, str], sex: str | None, age: str | int | None) -> None:
        counts[(code, *where)] += 1
        years = None if age in (None, "") else int(age)
        parts[(code, *where, sex if sex in ("M", "F") else "unknown", age_group_of(years))] += 1

    latest: dict[tuple[str, str], dict[str, str]] = {}
    for row in run.police_rows(resends=True):
        key = (row["numero_denuncia"], row["victima_nro"])
        stamp = (
            row["fecha_registro"][6:10],
            row["fecha_registro"][3:5],
            row["fecha_registro"][:2],
            row["fecha_registro"][11:],
        )
        if key not in latest or stamp > latest[key]["_stamp"]:  # type: ignore[operator]
            latest[key] = {**row, "_stamp": stamp}  # type: ignore[dict-item]
    reports: dict[str, set[str]] = {
        "intrafamily_violence_reports": set(),
        "sexual_violence_reports": set(),
        **{name: set() for name in OFFENCES},
    }
    for row in latest.values():
        where = (muni(row["codigo_municipio"]), month(row["fecha_hecho"]))
        code = row["codigo_delito"]
        if code in HOMICIDE:
            counts[("homicide_count_police", *where)] += 1
        family = row["relacion_agresor"] in FAMILY
        if code in HOMICIDE and family and row["sexo_victima"] == "F":
            counts[("femicide_count", *where)] += 1
        if (
            code in PERSON
            and family
            and row["numero_denuncia"] not in reports["intrafamily_violence_reports"]
        ):
            reports["intrafamily_violence_reports"].add(row["numero_denuncia"])
            counts[("intrafamily_violence_reports", *where)] += 1
        if code in SEXUAL and row["numero_denuncia"] not in reports["sexual_violence_reports"]:
            reports["sexual_violence_reports"].add(row["numero_denuncia"])
            counts[("sexual_violence_reports", *where)] += 1
        for name, codes in OFFENCES.items():
            if code in codes and row["numero_denuncia"] not in reports[name]:
                reports[name].add(row["numero_denuncia"])
                counts[(name, *where)] += 1
        if code in HOMICIDE and row["arma"] == "arma de fuego":
            counts[("firearm_homicides_police", *where)] += 1
        child = row["edad_victima"] != "" and int(row["edad_victima"]) < 18
        if child and (code in SEXUAL or (code in PERSON and family)):
            counts[("child_maltreatment_victims", *where)] += 1
        victim = (row["sexo_victima"], row["edad_victima"])
        if code in PERSON and family:
            person("intrafamily_violence_victims", where, *victim)
        if code in SEXUAL:
            person("sexual_violence_victims", where, *victim)
    for entity, indicator, id_column in (
        ("detentions", "detentions_count", "numero_detencion"),
        ("complaints", "police_complaints_count", "numero_queja"),
        ("use_of_force", "use_of_force_incidents", "numero_incidente"),
    ):
        seen: set[str] = set()
        date_column = "fecha_detencion" if entity == "detentions" else "fecha_registro"
        if entity == "use_of_force":
            date_column = "fecha_hecho"
        for row in run.police_rows(entity, resends=True):
            if row[id_column] not in seen:
                seen.add(row[id_column])
                where = (muni(row["codigo_municipio"]), month(row[date_column]))
                if entity == "detentions":
                    person(indicator, where, row["sexo_detenido"], row["edad_detenido"])
                else:
                    counts[(indicator, *where)] += 1
    for record in run.health("hospital_admissions"):
        if is_homicide_cause(record["causa_externa_cie10"]):
            where = (record["codigo_municipio"], record["fecha_ingreso"][:7])
            person("assault_injury_admissions", where, record["sexo"], record["edad"])
    for record in run.health("forensic_deaths"):
        where = (record["codigo_municipio"], record["fecha_defuncion"][:7])
        if is_homicide_cause(record["causa_basica_cie10"]):
            counts[("homicide_count_health", *where)] += 1
        if is_legal_intervention_cause(record["causa_basica_cie10"]):
            counts[("legal_intervention_deaths", *where)] += 1
        for indicator in forensic_indicators(record["causa_basica_cie10"]):
            counts[(indicator, *where)] += 1
    events = {e["event_id"]: e for e in run.truth("events")}
    for victim in run.truth("victims"):
        event = events[victim["event_id"]]
        if event["crime_type"] == "homicide":
            counts[("homicide_true", event["municipality_code"], event["event_date"][:7])] += 1
    return +counts


@pytest.mark.parametrize("fixture", ["tiny_run", "busy_run", "clean_run"])
def test_indicators_equal_the_exported_records(fixture, request):
    run = request.getfixturevalue(fixture)
    truth, recounted = read_truth(run), recount(run)
    for indicator in INDICATORS:
        mine = {k: v for k, v in truth.items() if k[0] == indicator}
        theirs = {k: v for k, v in recounted.items() if k[0] == indicator}
        assert mine == theirs, indicator
    assert sum(v for k, v in truth.items() if k[0] == "homicide_true") > 0


def test_truth_lists_every_event_and_victim(busy_run):
    events = busy_run.truth("events")
    assert len(events) == busy_run.summary["events"]
    victims = busy_run.truth("victims")
    assert sum(int(e["n_victims"]) for e in events) == len(victims)
    homicide_victims = [v for v in victims if v["died"] == "true"]
    rates = DefectRates()
    # The gaps between systems show up in the truth.
    hidden = [v for v in homicide_victims if not v["police_report_number"]]
    nn = [v for v in homicide_victims if v["identified"] == "false"]
    no_autopsy = [v for v in homicide_victims if not v["forensic_record_id"]]
    assert hidden and nn and no_autopsy
    assert len(nn) <= 3 * rates.unidentified_body * len(homicide_victims) + 10
    assert any(v["hospital_admission_id"] for v in homicide_victims)


def test_icd_codes_written_inconsistently_at_rate(busy_run):
    canonical = {
        d["forensic_record_id"]: d["icd10_cause"]
        for d in busy_run.truth("deaths")
        if d["forensic_record_id"]
    }
    records = busy_run.health("forensic_deaths")
    changed = sum(r["causa_basica_cie10"] != canonical[r["id_registro"]] for r in records)
    rate = DefectRates().icd_format_variant
    assert abs(changed / len(records) - rate) < 0.06
    variants = {r["causa_basica_cie10"] for r in records}
    assert any("." not in v and len(v) == 4 for v in variants)
    assert any(v.islower() for v in variants if v[0].isalpha())


def test_justice_funnel_and_police_killings_recount_from_the_exports(tiny_run):
    """The truth's counts from what the simulator decided equal what its exports show: the
    justice funnel from the justice system's final tables and the police's first registration
    of each report, persons killed from the use-of-force files."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for row in tiny_run.police_rows("use_of_force"):
        where = (muni(row["codigo_municipio"]), month(row["fecha_hecho"]))
        counts[("persons_killed_by_police", *where)] += int(row["personas_fallecidas"])
    first: dict[str, tuple[tuple[str, ...], str]] = {}
    for row in tiny_run.police_rows(resends=True):
        stamp = row["fecha_registro"]
        key = (stamp[6:10], stamp[3:5], stamp[:2], stamp[11:])
        number = row["numero_denuncia"]
        if number not in first or key < first[number][0]:
            first[number] = (key, muni(row["codigo_municipio"]))
    for (year, mm, _, _), code in first.values():
        counts[("justice_funnel_reports", code, f"{year}-{mm}")] += 1
    folder = tiny_run.out / "exports" / "justice"
    with (folder / "cases.csv").open(encoding="utf-8", newline="") as handle:
        cases = {row["case_id"]: row for row in csv.DictReader(handle)}
    convicted: dict[str, str] = {}
    with (folder / "judgements.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["verdict"] == "condena":
                day = row["judgement_date"]
                convicted[row["case_id"]] = min(day, convicted.get(row["case_id"], day))
    for case_id, case in cases.items():
        code = case["municipality_code"]
        counts[("justice_funnel_cases", code, case["opened_date"][:7])] += 1
        if case["decision"] == "acusacion":
            filed = case["court_filed_date"] or case["decision_date"]
            counts[("justice_funnel_indictments", code, filed[:7])] += 1
        if case_id in convicted:
            counts[("justice_funnel_convictions", code, convicted[case_id][:7])] += 1
            counts[("justice_conviction_share", code, case["opened_date"][:7])] += 1
    with (tiny_run.out / "truth" / "indicators.csv").open(encoding="utf-8", newline="") as handle:
        truth = Counter(
            {
                (r["indicator_code"], r["municipality_code"], r["month"]): int(r["numerator"])
                for r in csv.DictReader(handle)
                if r["indicator_code"] in {k[0] for k in counts}
            }
        )
    assert +truth == +counts
    assert {k[0] for k in +counts} >= {"justice_funnel_convictions", "justice_funnel_reports"}


def test_breakdowns_by_sex_and_age_equal_the_exported_records(tiny_run):
    """`indicator_breakdowns.csv`: the counts of BROKEN_DOWN by sex and age group (and each
    alone) are those of the exported rows' sex and age; their rates divide by the simulator's
    population of that sex and age group, and have none for `unknown`."""
    parts: Counter[tuple[str, ...]] = Counter()
    recount(tiny_run, parts)
    rows = tiny_run.truth("indicator_breakdowns")
    finest = {
        tuple(r[c] for c in ("indicator_code", "municipality_code", "month", "sex", "age_group")):
        int(r["value"])
        for r in rows
        if r["indicator_code"] in BROKEN_DOWN and "all" not in (r["sex"], r["age_group"])
    }  # fmt: skip
    assert finest == +parts
    assert {k[0] for k in finest} == set(BROKEN_DOWN)
    assert {k[3] for k in finest} >= {"M", "F"}
    # The cells by sex alone add up the finest cells of that sex.
    by_sex: Counter[tuple[str, ...]] = Counter()
    for (code, muni_code, month_, sex, _group), n in finest.items():
        by_sex[(code, muni_code, month_, sex)] += n
    assert by_sex == Counter(
        {
            (r["indicator_code"], r["municipality_code"], r["month"], r["sex"]): int(r["value"])
            for r in rows
            if r["indicator_code"] in BROKEN_DOWN and r["sex"] != "all" and r["age_group"] == "all"
        }
    )
    rates = [r for r in rows if r["indicator_code"] not in BROKEN_DOWN]
    assert rates and all(
        (r["denominator"] == "") == ("unknown" in (r["sex"], r["age_group"])) for r in rates
    )
