"""Police exports: the fixed layout and each defect at its configured rate."""

from __future__ import annotations

import re
from collections import defaultdict

from simulator.config import DefectRates
from simulator.police import REPORT_COLUMNS
from simulator.reference import municipalities, municipality_aliases
from simulator.world import is_valid_national_id

RATES = DefectRates()


def within(observed: int, total: int, rate: float, slack: float = 0.35) -> bool:
    """Observed share within a relative tolerance (plus 4 binomial standard deviations)."""
    expected = total * rate
    sd = (total * rate * (1 - rate)) ** 0.5
    return abs(observed - expected) <= slack * expected + 4 * sd


def test_report_files_follow_the_contract(tiny_run) -> None:
    folder = tiny_run.out / "exports" / "police" / "reports"
    files = sorted(folder.glob("denuncias_*.csv"))
    assert all(re.fullmatch(r"denuncias_\d{8}(_reenvio)?\.csv", f.name) for f in files)
    raw = files[0].read_bytes()
    header = raw.split(b"\r\n", 1)[0].decode("cp1252")
    assert header == ";".join(REPORT_COLUMNS)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    rows = tiny_run.police_rows()
    for row in rows:
        assert re.fullmatch(r"DEN-\d{4}-\d{7}", row["numero_denuncia"])
        assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", row["fecha_registro"])
        assert re.fullmatch(r"\d\d/\d\d/\d{4}", row["fecha_hecho"])
        assert re.fullmatch(r"(\d\d:\d\d)?", row["hora_hecho"])
        assert row["sexo_victima"] in {"M", "F", "I"}
        assert row["cedula_victima"] == "" or is_valid_national_id(row["cedula_victima"])
        assert row["relacion_agresor"] in {
            "pareja",
            "expareja",
            "familiar",
            "conocido",
            "desconocido",
            "sin dato",
        }


def test_missing_ids_and_typos_at_their_rates(busy_run) -> None:
    truth = {
        (v["police_report_number"], v["police_victim_nro"]): v for v in busy_run.truth("victims")
    }
    named = missing = typos = 0
    for row in busy_run.police_rows():
        victim = truth[(row["numero_denuncia"], row["victima_nro"])]
        if not victim["national_id"] or victim["identified"] != "true":
            continue
        named += 1
        missing += row["cedula_victima"] == ""
        typos += row["nombre_victima"] != victim["full_name"]
        if row["cedula_victima"]:
            assert row["cedula_victima"] == victim["national_id"]
    assert named > 2_000
    assert within(missing, named, RATES.police_missing_id)
    assert within(typos, named, RATES.police_name_typo)


def test_municipality_names_in_code_column_at_rate(busy_run) -> None:
    rows = busy_run.police_rows()
    names = sum(not r["codigo_municipio"].isdigit() for r in rows)
    assert within(names, len(rows), RATES.police_name_in_code)
    assert all(
        r["codigo_municipio"] == r["municipio"] for r in rows if not r["codigo_municipio"].isdigit()
    )


def test_resent_files_are_identical_copies(busy_run) -> None:
    police = busy_run.out / "exports" / "police"
    originals = resent = 0
    for entity in ("reports", "detentions", "complaints", "use_of_force"):
        for path in (police / entity).glob("*.csv"):
            if path.stem.endswith("_reenvio"):
                resent += 1
                original = path.with_name(path.stem.removesuffix("_reenvio") + ".csv")
                assert original.read_bytes() == path.read_bytes()
            else:
                originals += 1
    assert originals == 4 * 61
    assert within(resent, originals, RATES.police_file_resent, slack=0.6)


def test_late_deaths_are_resent_as_homicides(busy_run) -> None:
    versions: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in busy_run.police_rows():
        versions[(row["numero_denuncia"], row["victima_nro"])].append(row)
    corrected = [v for v in versions.values() if len(v) > 1]
    assert corrected
    for rows in corrected:
        assert len(rows) == 2
        first, second = sorted(rows, key=lambda r: _registered(r["fecha_registro"]))
        assert first["codigo_delito"] == "CP-130"
        assert second["codigo_delito"] in {"CP-121", "CP-122", "CP-123", "CP-124"}
        assert _registered(second["fecha_registro"]) > _registered(first["fecha_registro"])
    late = [
        v
        for v in busy_run.truth("victims")
        if v["died"] == "true"
        and v["police_report_number"]
        and v["police_offence_code"] != "CP-130"
    ]
    assert len(late) >= len(corrected)


def test_silenced_months_have_no_police_rows(busy_run):
    silenced = {tuple(s.split(":")) for s in busy_run.summary["silenced_municipality_months"]}
    assert silenced
    events = {e["event_id"]: e for e in busy_run.truth("events")}
    muni_of_report = {
        v["police_report_number"]: events[v["event_id"]]["municipality_code"]
        for v in busy_run.truth("victims")
        if v["police_report_number"]
    }
    for row in busy_run.police_rows():
        registered = row["fecha_registro"]
        month = f"{registered[6:10]}-{registered[3:5]}"
        assert (muni_of_report[row["numero_denuncia"]], month) not in silenced
    for entity in ("detentions", "complaints", "use_of_force"):
        for row in busy_run.police_rows(entity):
            registered = row["fecha_registro"]
            month = f"{registered[6:10]}-{registered[3:5]}"
            assert (resolve_municipality(row["codigo_municipio"]), month) not in silenced


def resolve_municipality(value: str) -> str:
    """Code for a codigo_municipio cell, which sometimes holds the police's spelling."""
    if value.isdigit():
        return value
    names = {m.name: m.code for m in municipalities()}
    names |= {alias: code for code, alias, _ in municipality_aliases()}
    return names[value]


def test_clean_run_has_no_defects(clean_run) -> None:
    truth = {
        (v["police_report_number"], v["police_victim_nro"]): v for v in clean_run.truth("victims")
    }
    rows = clean_run.police_rows()
    keys = [(r["numero_denuncia"], r["victima_nro"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert not list((clean_run.out / "exports" / "police").rglob("*_reenvio.csv"))
    assert clean_run.summary["silenced_municipality_months"] == []
    for row, key in zip(rows, keys, strict=True):
        victim = truth[key]
        assert row["codigo_municipio"].isdigit()
        if victim["national_id"]:
            assert victim["identified"] == "true"
            assert row["cedula_victima"] == victim["national_id"]
            assert row["nombre_victima"] == victim["full_name"]
            assert row["edad_victima"] == victim["age"]
    for record in clean_run.health("forensic_deaths"):
        assert record["cedula"] is not None
        assert re.fullmatch(r"[A-Z]\d\d\.\d", record["causa_basica_cie10"])


def _registered(value: str) -> tuple[str, str, str, str]:
    return (value[6:10], value[3:5], value[0:2], value[11:])
