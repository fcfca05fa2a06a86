"""Citizen consultations: communities rank the issues they want the observatory to monitor.

Exported as one JSON document, ``exports/consultations/consultas.json``, as a participation
platform would. Each priority names an indicator code (``tipo_codigo: "indicador"``) or a
crime type (``tipo_codigo: "tipo_delito"``) so the warehouse can link it to its numbers.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

from simulator.reference import municipalities, municipality_name

# (label shown to participants, kind of code, code)
ISSUES: tuple[tuple[str, str, str], ...] = (
    ("Homicidios", "indicador", "homicide_count_police"),
    ("Femicidios", "indicador", "femicide_count"),
    ("Violencia intrafamiliar", "indicador", "intrafamily_violence_reports"),
    ("Violencia sexual", "indicador", "sexual_violence_reports"),
    ("Abusos policiales", "indicador", "police_complaints_count"),
    ("Muertes por intervención policial", "indicador", "legal_intervention_deaths"),
    ("Robos en la calle", "tipo_delito", "robbery"),
    ("Robo de vehículos", "tipo_delito", "vehicle_theft"),
    ("Extorsión a comercios", "tipo_delito", "extortion"),
    ("Venta de drogas", "tipo_delito", "drugs"),
    ("Hurtos", "tipo_delito", "theft"),
    ("Robo en viviendas", "tipo_delito", "burglary"),
    ("Corrupción", "tipo_delito", "corruption"),
)


def write_consultations(folder: Path, rng: random.Random, start: date, end: date) -> int:
    """Write the consultations held in [start, end); return how many."""
    days = (end - start).days
    consultations = []
    codes = [m.code for m in municipalities()]
    # About one municipality in four consults its community once a year.
    n = max(1, round(len(codes) / 4 * days / 365))
    for k, code in enumerate(sorted(rng.sample(codes * (1 + n // len(codes)), n)), start=1):
        held = start + timedelta(days=rng.randrange(days))
        participants = rng.randint(20, 400)
        issues = rng.sample(ISSUES, rng.randint(3, 5))
        votes = sorted((rng.randint(1, participants) for _ in issues), reverse=True)
        consultations.append(
            {
                "id_consulta": f"CONS-{held.year}-{k:04d}",
                "codigo_municipio": code,
                "municipio": municipality_name(code, "consultations"),
                "fecha": held.isoformat(),
                "participantes": participants,
                "prioridades": [
                    {
                        "posicion": rank,
                        "tema": label,
                        "tipo_codigo": kind,
                        "codigo_tema": tcode,
                        "votos": v,
                    }
                    for rank, ((label, kind, tcode), v) in enumerate(
                        zip(issues, votes, strict=True), start=1
                    )
                ],
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "plataforma": "Participa Ciudadanía",
        "exportado": end.isoformat(),
        "consultas": consultations,
    }
    (folder / "consultas.json").write_text(
        json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return len(consultations)
