"""Health-system records: forensic-institute deaths (autopsies) and hospital admissions.

The engine calls ``HealthExport`` once per death or admission; records stream into
``exports/health/forensic_deaths.json`` and ``exports/health/hospital_admissions.json``,
which ``simulator.health_api`` serves over HTTP. ICD-10 codes are chosen canonically here
and then written in the inconsistent ways the real systems use (``X95.0``, ``X950``, ``x95``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.csvio import JsonArrayWriter
from simulator.reference import municipality_name
from simulator.world import Person

# Fourth ICD-10 character for the place of occurrence (W00-Y34 place codes).
_PLACE_DIGIT = {
    "vivienda": "0",
    "vía pública": "4",
    "transporte": "4",
    "comercio": "5",
    "otro": "8",
}
# Underlying cause for an assault by weapon, and for the same death coded as undetermined intent.
_ASSAULT_BY_WEAPON = {
    "arma de fuego": "X95",
    "arma blanca": "X99",
    "objeto contundente": "Y00",
    "ninguna": "Y04",
    "otra": "Y08",
    "sin dato": "Y09",
}
_UNDETERMINED_BY_WEAPON = {
    "arma de fuego": "Y24",
    "arma blanca": "Y28",
    "objeto contundente": "Y29",
    "ninguna": "Y33",
    "otra": "Y33",
    "sin dato": "Y34",
}
_SUICIDE = (("X70", 0.55), ("X68", 0.2), ("X74", 0.15), ("X80", 0.1))
_ACCIDENT = (("V89", 0.5), ("W19", 0.2), ("W69", 0.1), ("X49", 0.1), ("W87", 0.1))
_UNDETERMINED = (("Y34", 0.6), ("Y24", 0.2), ("Y28", 0.2))
_INJURY_DIAGNOSES = ("S06.9", "S21.1", "S31.0", "S36.9", "T14.1", "S01.8", "S42.3")
SEQUELAE_OF_ASSAULT = "Y87.1"


def assault_cause(weapon: str, place: str) -> str:
    """Canonical ICD-10 code (with the place digit) for a death or injury by assault."""
    return f"{_ASSAULT_BY_WEAPON[weapon]}.{_PLACE_DIGIT.get(place, '9')}"


def undetermined_cause(weapon: str, place: str) -> str:
    """Canonical ICD-10 code for the same death certified as undetermined intent."""
    return f"{_UNDETERMINED_BY_WEAPON[weapon]}.{_PLACE_DIGIT.get(place, '9')}"


def is_homicide_cause(code: str) -> bool:
    """True for X85-Y09 and Y87.1 (after normalising the way the code was written)."""
    clean = code.strip().upper().replace(".", "")
    return "X85" <= clean[:3] <= "Y09" or clean == "Y871"


def is_undetermined_intent_cause(code: str) -> bool:
    """True for Y10-Y34, events of undetermined intent."""
    return "Y10" <= code.strip().upper().replace(".", "")[:3] <= "Y34"


def is_legal_intervention_cause(code: str) -> bool:
    """True for Y35 (any fourth character)."""
    return code.strip().upper().startswith("Y35")


# Firearm discharge, whatever the intent: accident, suicide, assault, undetermined.
_FIREARM_CATEGORIES = frozenset(
    ("W32", "W33", "W34", "X72", "X73", "X74", "X93", "X94", "X95", "Y22", "Y23", "Y24")
)


def forensic_indicators(code: str) -> list[str]:
    """The forensic-death indicators (besides homicide and legal intervention) a death with
    this underlying cause counts in: SDG 16.1.1 homicide (legal intervention included),
    suicide (X60-X84), road traffic (V01-V89) and firearm deaths."""
    category = code.strip().upper().replace(".", "")[:3]
    found = []
    if is_homicide_cause(code) or is_legal_intervention_cause(code):
        found.append("homicide_count_sdg")
    if "X60" <= category <= "X84":
        found.append("suicide_count_health")
    if "V01" <= category <= "V89":
        found.append("road_traffic_deaths_health")
    if category in _FIREARM_CATEGORIES:
        found.append("firearm_deaths_health")
    return found


def messy_icd(code: str, rate: float, rng: random.Random) -> str:
    """``code`` as some clerk wrote it: dot dropped, lower case or truncated to 3 characters.

    Y87.1 is never truncated: ``Y87`` would no longer say which sequela it is.
    """
    if rng.random() >= rate:
        return code
    kind = rng.randrange(3)
    if kind == 0:
        return code.replace(".", "")
    if kind == 1:
        return code.lower()
    return code.replace(".", "") if code == SEQUELAE_OF_ASSAULT else code[:3]


@dataclass
class DeathRecord:
    """One body examined by the forensic institute."""

    day: date
    municipality_code: str
    person: Person | None  # None: never identified ("NN")
    sex: str
    age: int | None
    cause: str  # canonical ICD-10
    manner: str


class HealthExport:
    """Assigns record ids and streams health records to their JSON files."""

    def __init__(
        self,
        folder: Path,
        rng: random.Random,
        icd_variant_rate: float,
        use_variants: bool,
        end: date,
    ) -> None:
        self._rng = rng
        self._icd_rate = icd_variant_rate
        self._variants = use_variants
        self._end = end
        self._deaths = JsonArrayWriter(folder / "forensic_deaths.json")
        self._admissions = JsonArrayWriter(folder / "hospital_admissions.json")
        self._death_seq: dict[int, int] = {}
        self._admission_seq: dict[int, int] = {}

    def add_death(self, record: DeathRecord) -> str | None:
        """Write a forensic record if the death falls in the period; return its id."""
        if record.day >= self._end:
            return None
        year = record.day.year
        self._death_seq[year] = self._death_seq.get(year, 0) + 1
        record_id = f"NML-{year}-{self._death_seq[year]:06d}"
        autopsy = record.day + timedelta(days=self._rng.choice((0, 1, 1, 2, 3)))
        person = record.person
        self._deaths.write(
            {
                "id_registro": record_id,
                "fecha_defuncion": record.day.isoformat(),
                "fecha_autopsia": autopsy.isoformat(),
                "codigo_municipio": record.municipality_code,
                "municipio": municipality_name(record.municipality_code, "health", self._variants),
                "sexo": record.sex,
                "edad": record.age,
                "cedula": person.national_id if person else None,
                "nombre": person.full_name if person else "NN",
                "causa_basica_cie10": messy_icd(record.cause, self._icd_rate, self._rng),
                "manera_muerte": record.manner,
                "actualizado_en": _stamp(autopsy, self._rng),
            }
        )
        return record_id

    def add_admission(
        self,
        admitted: date,
        municipality_code: str,
        person: Person | None,
        age: int | None,
        external_cause: str,
        died_on: date | None,
    ) -> str | None:
        """Write a hospital admission if it starts in the period; return its id."""
        if admitted >= self._end:
            return None
        rng = self._rng
        year = admitted.year
        self._admission_seq[year] = self._admission_seq.get(year, 0) + 1
        admission_id = f"ING-{year}-{self._admission_seq[year]:07d}"
        if died_on is not None:
            discharged: date | None = died_on
            condition: str | None = "fallecido"
        else:
            discharged = admitted + timedelta(days=rng.randint(0, 20))
            condition = "alta" if rng.random() < 0.93 else "traslado"
        if discharged is not None and discharged >= self._end:
            discharged, condition = None, None  # still in hospital when the data was exported
        record: dict[str, Any] = {
            "id_ingreso": admission_id,
            "establecimiento": f"HOSP-{municipality_code[:2]}-{1 + rng.randrange(3):02d}",
            "fecha_ingreso": admitted.isoformat(),
            "fecha_egreso": discharged.isoformat() if discharged else None,
            "codigo_municipio": municipality_code,
            "municipio": municipality_name(municipality_code, "health", self._variants),
            "sexo": person.sex if person else None,
            "edad": age,
            "cedula": person.national_id if person else None,
            "nombre": person.full_name if person else "NN",
            "diagnostico_cie10": messy_icd(rng.choice(_INJURY_DIAGNOSES), self._icd_rate, rng),
            "causa_externa_cie10": messy_icd(external_cause, self._icd_rate, rng),
            "condicion_egreso": condition,
            "actualizado_en": _stamp(discharged or admitted, rng),
        }
        self._admissions.write(record)
        return admission_id

    def other_death_cause(self, manner: str) -> str:
        """A canonical cause for a suicide, accident or undetermined-intent death."""
        rng = self._rng
        options: tuple[tuple[str, float], ...] = _SUICIDE if manner == "suicidio" else _ACCIDENT
        if manner == "indeterminada":
            options = _UNDETERMINED
        x = rng.random()
        for code, weight in options:
            x -= weight
            if x < 0:
                return f"{code}.{rng.choice('0489')}"
        return f"{options[-1][0]}.9"

    @property
    def counts(self) -> dict[str, int]:
        """Records written so far per file."""
        return {
            "forensic_deaths": self._deaths.count,
            "hospital_admissions": self._admissions.count,
        }

    def close(self) -> None:
        """Finish both JSON files."""
        self._deaths.close()
        self._admissions.close()


def _stamp(day: date, rng: random.Random) -> str:
    moment = datetime(day.year, day.month, day.day, rng.randrange(7, 20), rng.randrange(60))
    return moment.isoformat()
