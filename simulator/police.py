"""Police exports: daily CSV drops of crime reports, detentions, complaints and use of force.

The engine decides what the police learn about each event; this module renders the rows in
the police system's own layout (cp1252, ``;``, CRLF, dd/mm/yyyy) and applies the row-level
defects. Folder layout: ``exports/police/{reports,detentions,complaints,use_of_force}/``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ingestion.contract import load_contract
from simulator.config import DefectRates
from simulator.csvio import DailyDrop, csv_line, dmy, dmy_hm
from simulator.reference import municipality_name, penal_code
from simulator.world import Person, with_typo


def _export_header(contract: str) -> tuple[str, ...]:
    """The export's header as its contract names it (each column's `source`, in order)."""
    return tuple(column.source for column in load_contract(contract).columns)


REPORT_COLUMNS = _export_header("police__reports")
DETENTION_COLUMNS = _export_header("police__detentions")
COMPLAINT_COLUMNS = _export_header("police__complaints")
USE_OF_FORCE_COLUMNS = _export_header("police__use_of_force")
COMPLAINT_TYPES = (
    ("abuso de autoridad", 0.35),
    ("maltrato", 0.3),
    ("detención arbitraria", 0.2),
    ("corrupción", 0.1),
    ("otro", 0.05),
)


@dataclass(frozen=True)
class VictimFields:
    """The victim columns of a report row, rendered once and reused by corrections."""

    cedula: str
    nombre: str
    sexo: str
    edad: str
    fecha_nacimiento: str


class PoliceExport:
    """The four police daily drops and the row-level defects applied to them."""

    def __init__(self, folder: Path, rng: random.Random, rates: DefectRates) -> None:
        self._rng = rng
        self._rates = rates
        self._variants = rates.spelling_variants > 0
        resend = rates.police_file_resent
        self.reports = DailyDrop(folder / "reports", "denuncias", REPORT_COLUMNS, resend, rng)
        self.detentions = DailyDrop(
            folder / "detentions", "detenciones", DETENTION_COLUMNS, resend, rng
        )
        self.complaints = DailyDrop(folder / "complaints", "quejas", COMPLAINT_COLUMNS, resend, rng)
        self.use_of_force = DailyDrop(
            folder / "use_of_force", "uso_fuerza", USE_OF_FORCE_COLUMNS, resend, rng
        )
        self.drops = (self.reports, self.detentions, self.complaints, self.use_of_force)

    def municipality_fields(self, code: str) -> tuple[str, str]:
        """(codigo_municipio, municipio), sometimes with the name where the code belongs."""
        name = municipality_name(code, "police", self._variants)
        if self._rng.random() < self._rates.police_name_in_code:
            return name, name
        return code, name

    def victim_fields(
        self, person: Person | None, age: int, identified: bool, on: date
    ) -> VictimFields:
        """Victim columns with the missing-ID, typo, unknown-sex and missing-age defects."""
        if person is None:  # victimless offence: the row carries no person
            return VictimFields("", "", "I", "", "")
        if not identified:
            return VictimFields("", "NN", person.sex, "", "")
        rng, rates = self._rng, self._rates
        cedula = "" if rng.random() < rates.police_missing_id else person.national_id
        name = person.full_name
        if rng.random() < rates.police_name_typo:
            name = with_typo(name, rng)
        sex = "I" if rng.random() < rates.police_unknown_sex else person.sex
        if rng.random() < rates.police_missing_age:
            return VictimFields(cedula, name, sex, "", "")
        return VictimFields(cedula, name, sex, str(age), dmy(person.birth_date))

    def add_report_row(
        self,
        registered: datetime,
        report_number: str,
        victim_nro: int,
        event_day: date,
        event_time: str,
        municipality_code: str,
        offence_code: str,
        victim: VictimFields,
        relationship: str,
        weapon: str,
        place: str,
    ) -> None:
        """Queue one version of one (report, victim) row for the file of its registration day."""
        code, name = self.municipality_fields(municipality_code)
        line = csv_line(
            (
                report_number,
                str(victim_nro),
                dmy_hm(registered),
                dmy(event_day),
                event_time,
                code,
                name,
                offence_code,
                penal_code()[offence_code].name_es,
                victim.cedula,
                victim.nombre,
                victim.sexo,
                victim.edad,
                victim.fecha_nacimiento,
                relationship,
                weapon,
                place,
            )
        )
        self.reports.add(registered.date(), (registered, report_number, victim_nro), line)

    def add_detention(
        self,
        detained: datetime,
        detention_number: str,
        municipality_code: str,
        report_number: str,
        offence_code: str,
        person: Person,
        age: int,
        legal_basis: str,
        hours: int,
        handed_over: bool,
    ) -> None:
        """Queue one detention row for the file of the detention day."""
        code, name = self.municipality_fields(municipality_code)
        line = csv_line(
            (
                detention_number,
                dmy_hm(detained),
                dmy(detained.date()),
                f"{detained.hour:02d}:{detained.minute:02d}",
                code,
                name,
                report_number,
                offence_code,
                penal_code()[offence_code].name_es,
                person.national_id,
                person.full_name,
                person.sex,
                str(age),
                legal_basis,
                str(hours),
                "S" if handed_over else "N",
            )
        )
        self.detentions.add(detained.date(), (detained, detention_number), line)

    def add_complaint(
        self,
        registered: datetime,
        number: str,
        happened: date,
        municipality_code: str,
        kind: str,
        detention_number: str,
    ) -> None:
        """Queue one complaint against the police."""
        code, name = self.municipality_fields(municipality_code)
        line = csv_line(
            (
                number,
                dmy_hm(registered),
                dmy(happened),
                code,
                name,
                kind,
                detention_number,
                "recibida",
            )
        )
        self.complaints.add(registered.date(), (registered, number), line)

    def add_use_of_force(
        self,
        happened: datetime,
        number: str,
        municipality_code: str,
        kind: str,
        injured: int,
        killed: int,
        detention_number: str,
    ) -> None:
        """Queue one use-of-force incident, registered the day it happened."""
        code, name = self.municipality_fields(municipality_code)
        line = csv_line(
            (
                number,
                dmy_hm(happened),
                dmy(happened.date()),
                f"{happened.hour:02d}:{happened.minute:02d}",
                code,
                name,
                kind,
                str(injured),
                str(killed),
                detention_number,
            )
        )
        self.use_of_force.add(happened.date(), (happened, number), line)

    def flush(self, day: date) -> None:
        """Write every entity's file for ``day``."""
        for drop in self.drops:
            drop.flush(day)

    def finish(self, end: date) -> None:
        """Forget rows registered after the period: they were never exported."""
        for drop in self.drops:
            drop.discard_from(end)
