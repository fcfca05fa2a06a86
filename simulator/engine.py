"""The run loop: one day at a time, events become records in every source system.

``generate`` is the package's entry point (``simulator.generate``). For each day it draws the
true events, decides what police, prosecutors and health services learn about each one,
streams the records to ``exports/`` and the truth to ``truth/``, and writes that day's police
files. Memory stays bounded: only police rows registered on later days are held back.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from simulator.config import SURVEY_SAMPLE_SIZE, DefectRates, scale_factor
from simulator.consultations import write_consultations
from simulator.crimes import Event, EventGenerator, Victim, pick
from simulator.health import (
    SEQUELAE_OF_ASSAULT,
    DeathRecord,
    HealthExport,
    assault_cause,
    forensic_indicators,
    is_homicide_cause,
    is_legal_intervention_cause,
    is_undetermined_intent_cause,
    undetermined_cause,
)
from simulator.justice import CaseInput, JusticeSystem
from simulator.police import COMPLAINT_TYPES, PoliceExport, VictimFields
from simulator.reference import (
    DEMO_GEOGRAPHY,
    Geography,
    municipalities,
    municipality_population,
    penal_code,
    use_geography,
    write_seeds,
)
from simulator.survey import write_surveys
from simulator.truth import TruthWriter, flag, month_of, months_between
from simulator.world import Person, PersonFactory

HOMICIDE_CODES = frozenset(c for c, o in penal_code().items() if o.iccs_code == "0101")
SEXUAL_VIOLENCE_CODES = frozenset(c for c, o in penal_code().items() if o.iccs_code[:2] == "03")
# Acts against the person (ICCS sections 01-03): with a family relationship they count as
# intrafamily violence, the warehouse's statistical definition (not only the legal CP-133).
PERSON_CODES = frozenset(
    c for c, o in penal_code().items() if o.iccs_code[:2] in {"01", "02", "03"}
)
FAMILY_RELATIONSHIPS = frozenset({"pareja", "expareja", "familiar"})
# Offences whose police reports the warehouse counts (one per report), by the ICCS code of
# the penal article: a prefix for a division or group, the whole code for a class.
RECORDED_OFFENCES: dict[str, frozenset[str]] = {
    name: frozenset(c for c, o in penal_code().items() if test(o.iccs_code))
    for name, test in (
        ("robbery_reports", lambda iccs: iccs[:4] == "0401"),
        ("burglary_reports", lambda iccs: iccs[:4] == "0501"),
        ("theft_reports", lambda iccs: iccs[:4] == "0502"),
        ("vehicle_theft_reports", lambda iccs: iccs == "050211"),
        ("kidnapping_reports", lambda iccs: iccs == "020221"),
        ("extortion_reports", lambda iccs: iccs[:5] == "02051"),
    )
}
ASSAULT_CODE = "CP-130"  # what a homicide is first recorded as while the victim is alive
# Deaths per 100,000 inhabitants per year at the base scale, for deaths that are not crimes.
_OTHER_DEATH_RATES = (("suicidio", 6.0), ("accidente", 25.0), ("indeterminada", 2.0))
_LEGAL_INTERVENTION_RATE = 0.6


@dataclass
class _Report:
    number: str
    registered: datetime
    first_exported: datetime | None = None  # its first version the police sent


class Simulation:
    """All state of one run."""

    def __init__(
        self, out: Path, seed: int, scale: str, start: date, days: int, messiness: float
    ) -> None:
        if days <= 0:
            raise ValueError(f"days must be positive, got {days}")
        self.rates = DefectRates().scaled(messiness)
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.scale = scale
        self.factor = scale_factor(scale)
        self.start, self.end = start, start + timedelta(days=days)
        self.out = out
        exports = out / "exports"
        self.persons = PersonFactory(self.rng, seed)
        self.silenced = self._silenced_months()
        self.police = PoliceExport(exports / "police", self.rng, self.rates)
        variants = self.rates.spelling_variants > 0
        self.health = HealthExport(
            exports / "health", self.rng, self.rates.icd_format_variant, variants, self.end
        )
        self.justice = JusticeSystem(
            exports / "justice", self.rng, self.persons, self.end, variants
        )
        self.truth = TruthWriter(out / "truth")
        self.events = EventGenerator(self.rng, self.np_rng, self.persons, self.factor, start.year)
        self._seq: dict[str, int] = {}
        self.n_events = 0

    # --- setup ----------------------------------------------------------------------------

    def _silenced_months(self) -> frozenset[tuple[str, str]]:
        """(municipality, YYYY-MM) pairs in which the police send nothing for a municipality."""
        months = months_between(self.start, self.end)
        silenced: set[tuple[str, str]] = set()
        for m in municipalities():
            if self.rng.random() < self.rates.police_silence_municipality:
                first = self.rng.randrange(len(months))
                for month in months[first : first + self.rng.randint(1, 3)]:
                    silenced.add((m.code, month))
        return frozenset(silenced)

    def _exported(self, municipality_code: str, registered: datetime) -> bool:
        day = registered.date()
        return day < self.end and (municipality_code, month_of(day)) not in self.silenced

    def _next(self, prefix: str, year: int, width: int) -> str:
        key = f"{prefix}-{year}"
        self._seq[key] = self._seq.get(key, 0) + 1
        return f"{key}-{self._seq[key]:0{width}d}"

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Simulate every day, then the yearly survey and the consultations."""
        day = self.start
        while day < self.end:
            for event in self.events.events_for_day(day):
                self._process_event(event)
            self._other_deaths(day)
            self._lethal_use_of_force(day)
            self.police.flush(day)
            day += timedelta(days=1)
        self.police.finish(self.end)
        self.health.close()
        self.justice.close()
        self.truth.close_streams()
        months = months_between(self.start, self.end)
        surveys = write_surveys(
            self.out / "exports" / "survey",
            self.rng,
            self.start,
            self.end,
            SURVEY_SAMPLE_SIZE[self.scale],
            self.factor,
            self.rates.spelling_variants > 0,
            truth_folder=self.out / "truth",
            truth=self.truth.indicators,
        )
        indicator_rows = self.truth.close(months)
        consultations = write_consultations(
            self.out / "exports" / "consultations", self.rng, self.start, self.end
        )
        return self._summary(indicator_rows, surveys, consultations)

    def _summary(self, indicator_rows: int, surveys: int, consultations: int) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "scale": self.scale,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "events": self.n_events,
            "police_files": {d.folder.name: d.files_written for d in self.police.drops},
            "police_files_resent": {d.folder.name: d.files_resent for d in self.police.drops},
            "police_rows": {d.folder.name: d.rows_written for d in self.police.drops},
            "health": self.health.counts,
            "justice": self.justice.counts,
            "survey_respondents": surveys,
            "consultations": consultations,
            "indicator_rows": indicator_rows,
            "silenced_municipality_months": sorted(f"{c}:{m}" for c, m in self.silenced),
            "defect_rates": {k: round(v, 6) for k, v in vars(self.rates).items()},
        }
        (self.out / "truth" / "summary.json").write_text(
            json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return summary

    # --- one event ------------------------------------------------------------------------

    def _process_event(self, event: Event) -> None:
        self.n_events += 1
        rng, rates = self.rng, self.rates
        ctype = event.crime_type
        for victim in event.victims:
            if victim.dies and rng.random() < rates.unidentified_body:
                victim.identified = False
        if ctype.key == "homicide":
            reported = rng.random() >= rates.hidden_homicide
        else:
            reported = rng.random() < self._report_prob(event)
        report = self._register(event) if reported else None
        police_ids: dict[int, tuple[str, str]] = {}
        detainees: list[Person] = []
        if report is not None:
            police_ids = self._report_rows(event, report)
            detainees = self._detentions(event, report)
        case_id = None
        if report is not None:
            case_id = self.justice.open_case(
                CaseInput(
                    report.number,
                    report.registered.date(),
                    event.municipality_code,
                    event.offence_code,
                    ctype.key,
                    [v.person for v in event.victims if v.person is not None and v.identified],
                    detainees,
                )
            )
        if case_id is not None and report is not None:
            self._count_case(event.municipality_code, report)
        any_exported = bool(police_ids)
        self.truth.events.write(
            (
                event.event_id,
                event.day.isoformat(),
                event.time,
                event.municipality_code,
                ctype.key,
                event.offence_code,
                event.weapon,
                event.place,
                event.relationship,
                flag(event.is_femicide),
                flag(event.is_intimate_partner),
                str(len(event.victims)),
                str(event.n_offenders),
                flag(reported),
                report.number if any_exported and report else "",
                case_id or "",
            )
        )
        for victim in event.victims:
            self._victim_outcomes(event, victim, police_ids.get(victim.seq), case_id)

    def _count_case(self, muni: str, report: _Report) -> None:
        """The justice funnel's stages the case just opened reaches before the cutoff."""
        stages = self.justice.last_stages
        assert stages is not None
        add, measure = self.truth.indicators.add, self.truth.indicators.measure
        opened = stages.opened
        add("justice_funnel_cases", muni, opened)
        self.truth.indicators.count_records("prosecution_cases", muni, opened)
        if report.first_exported is not None:
            days = (opened - report.first_exported.date()).days
            if days >= 0:  # a report first sent after the case opened: a data error
                measure("justice_median_days_report_to_case", muni, opened, days)
        if stages.first_conviction is not None:
            add("justice_cases_convicted", muni, opened)
            add("justice_funnel_convictions", muni, stages.first_conviction)
        if stages.indicted is not None:
            add("justice_funnel_indictments", muni, stages.indicted)
            days = (stages.indicted - opened).days
            measure("justice_median_days_case_to_indictment", muni, stages.indicted, days)
            if stages.first_judgement is not None:
                days = (stages.first_judgement - stages.indicted).days
                measure(
                    "justice_median_days_indictment_to_judgement",
                    muni,
                    stages.first_judgement,
                    days,
                )

    def _report_prob(self, event: Event) -> float:
        prob = event.crime_type.report_prob
        victim = event.victims[0]
        if victim.person is not None:
            if victim.age >= 60:
                prob *= 0.85  # older victims report less often
            elif victim.age < 18:
                prob *= 0.7  # children depend on an adult to report
        return prob

    def _register(self, event: Event) -> _Report:
        rng = self.rng
        key = event.crime_type.key
        if key == "homicide":
            delay = 0 if rng.random() < 0.9 else 1
        elif key == "sexual_violence":
            delay = 0 if rng.random() < 0.4 else rng.randint(1, 30)
        else:
            x = rng.random()
            delay = 0 if x < 0.7 else rng.randint(1, 3) if x < 0.95 else rng.randint(4, 15)
        hh, mm = (int(p) for p in event.time.split(":"))
        happened = datetime.combine(event.day, time(hh, mm))
        registered = happened + timedelta(days=delay, minutes=rng.randint(20, 360))
        return _Report(self._next("DEN", registered.year, 7), registered)

    def _report_rows(self, event: Event, report: _Report) -> dict[int, tuple[str, str]]:
        """Queue the report's rows (and corrections); return exported (number, nro, code)."""
        rng, rates = self.rng, self.rates
        muni = event.municipality_code
        hora = event.time
        if event.crime_type.key in ("theft", "burglary", "vehicle_theft") and rng.random() < 0.3:
            hora = ""  # the victim found out later and does not know the hour
        exported: dict[int, tuple[str, str]] = {}
        first_exported: datetime | None = None
        for victim in event.victims:
            fields = self.police.victim_fields(
                victim.person, victim.age, victim.identified, event.day
            )
            first_code, correction = event.offence_code, None
            death = victim.death_date
            if (
                death is not None
                and death > report.registered.date()
                and rng.random() < rates.police_late_reclassification
            ):
                first_code = ASSAULT_CODE
                correction = datetime.combine(
                    death + timedelta(days=rng.choice((0, 0, 1, 2))),
                    time(rng.randrange(8, 20), rng.randrange(60)),
                )
            final_code = None
            versions = [(report.registered, first_code)]
            if correction is not None:
                versions.append((correction, event.offence_code))
            for registered, code in versions:
                if self._exported(muni, registered):
                    self.police.add_report_row(
                        registered,
                        report.number,
                        victim.seq,
                        event.day,
                        hora,
                        muni,
                        code,
                        fields,
                        event.relationship,
                        event.weapon,
                        event.place,
                    )
                    final_code = code
                    first_exported = min(first_exported or registered, registered)
            if final_code is not None:
                exported[victim.seq] = (report.number, final_code)
                self._count_police(muni, event, final_code, fields)
        if first_exported is not None:
            # The report's first stage of the justice funnel: the day it was first registered
            # in what the police sent (a silenced first version leaves its correction).
            report.first_exported = first_exported
            self.truth.indicators.add("justice_funnel_reports", muni, first_exported.date())
            self.truth.indicators.count_records("police_reports", muni, first_exported.date())
        is_family = event.relationship in FAMILY_RELATIONSHIPS
        if is_family and any(code in PERSON_CODES for _, code in exported.values()):
            self.truth.indicators.add("intrafamily_violence_reports", muni, event.day)
        if any(code in SEXUAL_VIOLENCE_CODES for _, code in exported.values()):
            self.truth.indicators.add("sexual_violence_reports", muni, event.day)
        for indicator, codes in RECORDED_OFFENCES.items():
            if any(code in codes for _, code in exported.values()):
                self.truth.indicators.add(indicator, muni, event.day)
        return exported

    def _count_police(self, muni: str, event: Event, code: str, fields: VictimFields) -> None:
        """The police indicators one exported victim row counts in (as the row says)."""
        day, relationship = event.day, event.relationship
        if code in HOMICIDE_CODES:
            self.truth.indicators.add("homicide_count_police", muni, day)
            # Femicide, as the warehouse defines it: an intentional homicide of a woman by a
            # partner, former partner or family member, from what the police row says.
            if fields.sexo == "F" and relationship in FAMILY_RELATIONSHIPS:
                self.truth.indicators.add("femicide_count", muni, day)
            if event.weapon == "arma de fuego":
                self.truth.indicators.add("firearm_homicides_police", muni, day)
        # Child maltreatment: a victim under 18 (by the age the row gives) of sexual violence,
        # or of an act against the person by a partner, former partner or family member.
        is_child = fields.edad != "" and int(fields.edad) < 18
        family_violence = code in PERSON_CODES and relationship in FAMILY_RELATIONSHIPS
        if is_child and (code in SEXUAL_VIOLENCE_CODES or family_violence):
            self.truth.indicators.add("child_maltreatment_victims", muni, day)
        # Victims of intrafamily and of sexual violence, by the sex and age the row gives.
        age = int(fields.edad) if fields.edad != "" else None
        if family_violence:
            self.truth.indicators.add_person(
                "intrafamily_violence_victims", muni, day, fields.sexo, age
            )
        if code in SEXUAL_VIOLENCE_CODES:
            self.truth.indicators.add_person("sexual_violence_victims", muni, day, fields.sexo, age)

    def _detentions(self, event: Event, report: _Report) -> list[Person]:
        rng = self.rng
        ctype = event.crime_type
        if rng.random() >= ctype.detention_prob:
            return []
        detainees: list[Person] = []
        for k in range(event.n_offenders):
            if k and rng.random() < 0.4:
                continue  # accomplices often get away
            flagrant = rng.random() < (0.95 if ctype.victimless else 0.6)
            if flagrant:
                hh, mm = (int(p) for p in event.time.split(":"))
                at = datetime.combine(event.day, time(hh, mm)) + timedelta(
                    minutes=rng.randint(10, 180)
                )
                basis = "flagrancia"
            else:
                at = datetime.combine(
                    report.registered.date() + timedelta(days=rng.randint(3, 120)),
                    time(rng.randrange(24), rng.randrange(60)),
                )
                basis = "orden judicial" if rng.random() < 0.9 else "otro"
            age = int(max(16, min(70, rng.gauss(28, 9))))
            person = self.persons.create("M" if rng.random() < 0.88 else "F", age, at.date())
            detainees.append(person)
            if at.date() >= self.end:
                continue
            number = self._next("DET", at.year, 7)
            hours = rng.randint(2, 36) if rng.random() < 0.93 else rng.randint(49, 96)
            exported = self._exported(event.municipality_code, at)
            if exported:
                self.police.add_detention(
                    at,
                    number,
                    event.municipality_code,
                    report.number,
                    event.offence_code,
                    person,
                    age,
                    basis,
                    hours,
                    rng.random() < 0.85,
                )
                self.truth.indicators.add_person(
                    "detentions_count", event.municipality_code, at.date(), person.sex, age
                )
                self.truth.indicators.count_records(
                    "detentions", event.municipality_code, at.date()
                )
            self._after_detention(event.municipality_code, at, number if exported else "")
        return detainees

    def _after_detention(self, muni: str, at: datetime, number: str) -> None:
        """Some detentions lead to force being used, some to a complaint against the police."""
        rng = self.rng
        if rng.random() < 0.05:
            kind = "física" if rng.random() < 0.75 else "arma no letal"
            self._use_of_force(at, muni, kind, int(rng.random() < 0.4), 0, number)
        if rng.random() < 0.04:
            registered = at + timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 8))
            if self._exported(muni, registered):
                self.police.add_complaint(
                    registered,
                    self._next("QJ", registered.year, 6),
                    at.date(),
                    muni,
                    pick(COMPLAINT_TYPES, rng),
                    number,
                )
                self.truth.indicators.add("police_complaints_count", muni, registered.date())
                self.truth.indicators.count_records("police_complaints", muni, registered.date())

    def _use_of_force(
        self, at: datetime, muni: str, kind: str, injured: int, killed: int, detention_number: str
    ) -> None:
        if self._exported(muni, at):
            self.police.add_use_of_force(
                at, self._next("UF", at.year, 6), muni, kind, injured, killed, detention_number
            )
            self.truth.indicators.add("use_of_force_incidents", muni, at.date())
            self.truth.indicators.count_records("use_of_force", muni, at.date())
            self.truth.indicators.add("persons_killed_by_police", muni, at.date(), killed)

    # --- health -----------------------------------------------------------------------------

    def _victim_outcomes(
        self, event: Event, victim: Victim, police: tuple[str, str] | None, case_id: str | None
    ) -> None:
        rng = self.rng
        person = victim.person
        forensic_id = admission_id = None
        if victim.hospitalised and person is not None:
            cause = assault_cause(event.weapon, event.place)
            admission_id = self.health.add_admission(
                event.day,
                event.municipality_code,
                person if victim.identified else None,
                victim.age if victim.identified else None,
                cause,
                victim.death_date if victim.dies else None,
            )
            if admission_id is not None:
                self.truth.indicators.count_records(
                    "hospital_admissions", event.municipality_code, event.day
                )
                # Every simulated admission is one for an assault (X85-Y09); the record gives
                # the sex and age of identified patients only.
                self.truth.indicators.add_person(
                    "assault_injury_admissions",
                    event.municipality_code,
                    event.day,
                    person.sex if victim.identified else "unknown",
                    victim.age if victim.identified else None,
                )
        if victim.dies and person is not None and victim.death_date is not None:
            self.truth.indicators.add("homicide_true", event.municipality_code, event.day)
            forensic_cause: str | None = None
            if rng.random() >= self.rates.homicide_without_autopsy:
                forensic_id, forensic_cause = self._homicide_autopsy(event, victim, person)
            self._count_recorded_homicide(
                event,
                victim,
                police,
                case_id,
                forensic_cause if forensic_id else None,
                admission_id,
            )
        self.truth.victims.write(
            (
                event.event_id,
                str(victim.seq),
                person.national_id if person else "",
                person.full_name if person else "",
                person.sex if person else "",
                person.birth_date.isoformat() if person else "",
                str(victim.age) if person else "",
                flag(victim.identified),
                flag(victim.dies),
                victim.death_date.isoformat() if victim.death_date else "",
                police[0] if police else "",
                str(victim.seq) if police else "",
                police[1] if police else "",
                case_id or "",
                forensic_id or "",
                admission_id or "",
            )
        )

    def _count_recorded_homicide(
        self,
        event: Event,
        victim: Victim,
        police: tuple[str, str] | None,
        case_id: str | None,
        forensic_cause: str | None,
        admission_id: str | None,
    ) -> None:
        """A homicide victim in the reconciled counts: recorded as a homicide by one system at
        least (police row, prosecution case, forensic cause, or a hospital stay that ended in
        death in the period), confirmed when two or more do. Counted by the event's
        municipality and the month of the attack."""
        assert victim.death_date is not None
        systems = sum(
            (
                police is not None and police[1] in HOMICIDE_CODES,
                case_id is not None and event.offence_code in HOMICIDE_CODES,
                forensic_cause is not None and is_homicide_cause(forensic_cause),
                admission_id is not None and victim.death_date < self.end,
            )
        )
        if systems >= 1:
            self.truth.indicators.add("homicide_reconciled", event.municipality_code, event.day)
        if systems >= 2:
            self.truth.indicators.add(
                "homicide_confirmed_by_two_sources", event.municipality_code, event.day
            )

    def _homicide_autopsy(
        self, event: Event, victim: Victim, person: Person
    ) -> tuple[str | None, str]:
        assert victim.death_date is not None
        rng = self.rng
        if rng.random() < self.rates.undetermined_intent:
            cause, manner = undetermined_cause(event.weapon, event.place), "indeterminada"
        elif (victim.death_date - event.day).days >= 30:
            cause, manner = SEQUELAE_OF_ASSAULT, "homicidio"
        else:
            cause, manner = assault_cause(event.weapon, event.place), "homicidio"
        record_id = self._death(
            DeathRecord(
                victim.death_date,
                event.municipality_code,
                person if victim.identified else None,
                person.sex,
                victim.age if victim.identified else None,
                cause,
                manner,
            ),
            person.national_id,
            event.event_id,
        )
        return record_id, cause

    def _death(self, record: DeathRecord, national_id: str, event_id: str) -> str | None:
        record_id = self.health.add_death(record)
        if record_id is not None:
            self.truth.indicators.count_records(
                "forensic_deaths", record.municipality_code, record.day
            )
            self.truth.indicators.add("violent_deaths", record.municipality_code, record.day)
            if is_undetermined_intent_cause(record.cause):
                self.truth.indicators.add(
                    "undetermined_intent_deaths", record.municipality_code, record.day
                )
            if is_homicide_cause(record.cause):
                self.truth.indicators.add(
                    "homicide_count_health", record.municipality_code, record.day
                )
            if is_legal_intervention_cause(record.cause):
                self.truth.indicators.add(
                    "legal_intervention_deaths", record.municipality_code, record.day
                )
            for indicator in forensic_indicators(record.cause):
                self.truth.indicators.add(indicator, record.municipality_code, record.day)
        self.truth.deaths.write(
            (
                record.day.isoformat(),
                record.municipality_code,
                record.manner,
                record.cause,
                national_id,
                event_id,
                record_id or "",
            )
        )
        return record_id

    def _other_deaths(self, day: date) -> None:
        """Suicides, accidents and undetermined deaths: autopsies that are not crimes."""
        rng = self.rng
        munis = municipalities()
        pops = np.array([municipality_population(m.code, day.year) for m in munis], dtype=float)
        per_year = np.array([r for _, r in _OTHER_DEATH_RATES]) / 100_000 * self.factor
        counts = self.np_rng.poisson(np.outer(pops, per_year) / 365.25)
        for m_index, k in zip(*np.nonzero(counts), strict=True):
            manner = _OTHER_DEATH_RATES[int(k)][0]
            for _ in range(int(counts[m_index, k])):
                age = int(max(10, min(95, rng.gauss(38 if manner == "suicidio" else 45, 18))))
                sex = "M" if rng.random() < 0.75 else "F"
                person = self.persons.create(sex, age, day)
                identified = rng.random() >= self.rates.unidentified_body
                self._death(
                    DeathRecord(
                        day,
                        munis[int(m_index)].code,
                        person if identified else None,
                        sex,
                        age if identified else None,
                        self.health.other_death_cause(manner),
                        manner,
                    ),
                    person.national_id,
                    "",
                )

    def _lethal_use_of_force(self, day: date) -> None:
        """Police killings: a use-of-force incident and a Y35 autopsy per person killed."""
        munis = municipalities()
        expected = np.array(
            [municipality_population(m.code, day.year) * m.violence for m in munis]
        ) * (_LEGAL_INTERVENTION_RATE / 100_000 / 365.25 * self.factor)
        counts = self.np_rng.poisson(expected)
        for m_index in np.nonzero(counts)[0]:
            for _ in range(int(counts[m_index])):
                self._lethal_incident(day, munis[int(m_index)].code)

    def _lethal_incident(self, day: date, muni: str) -> None:
        rng = self.rng
        at = datetime.combine(day, time(rng.randrange(24), rng.randrange(60)))
        killed = 1 if rng.random() < 0.9 else 2
        self._use_of_force(at, muni, "arma de fuego", rng.randint(0, 2), killed, "")
        for _ in range(killed):
            age = int(max(15, min(60, rng.gauss(26, 7))))
            person = self.persons.create("M", age, day)
            identified = rng.random() >= self.rates.unidentified_body
            self._death(
                DeathRecord(
                    day,
                    muni,
                    person if identified else None,
                    "M",
                    age if identified else None,
                    "Y35.0",
                    "intervención legal",
                ),
                person.national_id,
                "",
            )


def generate(
    out: Path,
    seed: int,
    scale: str,
    start: date,
    days: int,
    messiness: float = 1.0,
    geography: Geography = DEMO_GEOGRAPHY,
) -> dict[str, Any]:
    """Simulate the country and write exports and truth under ``out``; return a summary.

    A geography other than the demo's also writes its reference seeds under
    ``out/reference`` (the dbt project's seeds describe the demo country only)."""
    out = Path(out)
    use_geography(geography)
    (out / "exports").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    if not geography.is_demo:
        write_seeds(out / "reference")
    return Simulation(out, seed, scale, start, days, messiness).run()
