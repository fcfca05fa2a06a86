"""The true crimes: crime types, municipality rates and the day-by-day event generator.

``EventGenerator.events_for_day`` draws the events of one day from Poisson counts per
municipality and type, then fills in victims, weapon, place and relationship. What each
source system later records about an event is decided elsewhere (police, justice, health).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from simulator.config import BASE_EVENTS_PER_YEAR
from simulator.reference import (
    Municipality,
    municipalities,
    municipality_population,
    population_ratio,
)
from simulator.world import Person, PersonFactory

Weighted = tuple[tuple[str, float], ...]

RELATIONSHIPS = ("pareja", "expareja", "familiar", "conocido", "desconocido", "sin dato")
INTIMATE = frozenset({"pareja", "expareja"})


@dataclass(frozen=True)
class CrimeType:
    """How one type of crime happens in the fictional country."""

    key: str
    label_es: str
    share: float  # share of all events at the base rates
    violent: bool  # scaled by the municipality's violence (else property-crime) multiplier
    report_prob: float  # chance that the victim (or the police itself) files a report
    female_share: float
    age_mean: float
    age_sd: float
    victims: tuple[float, ...]  # probabilities of 1, 2, 3... victims
    weapons: Weighted
    places: Weighted
    relationships: Weighted
    offences: Weighted  # national penal code used by police, with weights
    victimless: bool = False
    hospital_prob: float = 0.0
    detention_prob: float = 0.05


_NO_WEAPON: Weighted = (("ninguna", 0.85), ("sin dato", 0.15))
_STREET: Weighted = (("vía pública", 0.7), ("transporte", 0.15), ("comercio", 0.1), ("otro", 0.05))
_HOME: Weighted = (("vivienda", 0.9), ("otro", 0.1))
_STRANGER: Weighted = (("desconocido", 0.8), ("conocido", 0.05), ("sin dato", 0.15))
_FAMILY: Weighted = (("pareja", 0.45), ("expareja", 0.2), ("familiar", 0.35))
_NONE: Weighted = (("sin dato", 1.0),)

CRIME_TYPES: tuple[CrimeType, ...] = (
    CrimeType(
        "homicide",
        "Homicidio intencional",
        0.022,
        True,
        1.0,
        0.12,
        31,
        13,
        (0.93, 0.05, 0.02),
        (
            ("arma de fuego", 0.62),
            ("arma blanca", 0.2),
            ("objeto contundente", 0.07),
            ("ninguna", 0.04),
            ("otra", 0.04),
            ("sin dato", 0.03),
        ),
        (
            ("vía pública", 0.6),
            ("vivienda", 0.25),
            ("comercio", 0.05),
            ("transporte", 0.04),
            ("otro", 0.06),
        ),
        _NONE,
        (("CP-121", 0.7), ("CP-122", 0.3)),
        detention_prob=0.3,
    ),
    CrimeType(
        "attempted_homicide",
        "Tentativa de homicidio",
        0.015,
        True,
        0.85,
        0.2,
        30,
        12,
        (0.9, 0.08, 0.02),
        (
            ("arma de fuego", 0.55),
            ("arma blanca", 0.3),
            ("objeto contundente", 0.1),
            ("otra", 0.05),
        ),
        _STREET,
        (("desconocido", 0.5), ("conocido", 0.3), ("pareja", 0.1), ("familiar", 0.1)),
        (("CP-126", 1.0),),
        hospital_prob=0.6,
        detention_prob=0.25,
    ),
    CrimeType(
        "assault",
        "Lesiones",
        0.12,
        True,
        0.45,
        0.35,
        32,
        14,
        (0.9, 0.1),
        (
            ("ninguna", 0.45),
            ("arma blanca", 0.15),
            ("objeto contundente", 0.25),
            ("otra", 0.1),
            ("arma de fuego", 0.05),
        ),
        (("vía pública", 0.55), ("vivienda", 0.15), ("comercio", 0.15), ("otro", 0.15)),
        (("desconocido", 0.45), ("conocido", 0.4), ("sin dato", 0.15)),
        (("CP-130", 0.3), ("CP-131", 0.7)),
        hospital_prob=0.12,
        detention_prob=0.15,
    ),
    CrimeType(
        "sexual_violence",
        "Violencia sexual",
        0.04,
        True,
        0.15,
        0.88,
        22,
        11,
        (1.0,),
        (("ninguna", 0.8), ("arma blanca", 0.08), ("arma de fuego", 0.04), ("sin dato", 0.08)),
        (("vivienda", 0.6), ("vía pública", 0.2), ("otro", 0.2)),
        (
            ("familiar", 0.3),
            ("conocido", 0.35),
            ("pareja", 0.1),
            ("expareja", 0.05),
            ("desconocido", 0.2),
        ),
        (("CP-140", 0.4), ("CP-141", 0.45), ("CP-142", 0.15)),
        hospital_prob=0.1,
        detention_prob=0.2,
    ),
    CrimeType(
        "intrafamily_violence",
        "Violencia intrafamiliar",
        0.1,
        True,
        0.3,
        0.78,
        34,
        13,
        (1.0,),
        (("ninguna", 0.75), ("objeto contundente", 0.12), ("arma blanca", 0.08), ("otra", 0.05)),
        _HOME,
        _FAMILY,
        (("CP-133", 1.0),),
        hospital_prob=0.06,
        detention_prob=0.25,
    ),
    CrimeType(
        "robbery",
        "Robo con violencia",
        0.14,
        False,
        0.4,
        0.45,
        33,
        14,
        (0.88, 0.1, 0.02),
        (("arma de fuego", 0.35), ("arma blanca", 0.35), ("ninguna", 0.25), ("otra", 0.05)),
        _STREET,
        _STRANGER,
        (("CP-160", 0.6), ("CP-161", 0.4)),
        hospital_prob=0.03,
        detention_prob=0.1,
    ),
    CrimeType(
        "burglary",
        "Robo en vivienda o comercio",
        0.08,
        False,
        0.55,
        0.5,
        45,
        15,
        (1.0,),
        _NO_WEAPON,
        (("vivienda", 0.7), ("comercio", 0.3)),
        _STRANGER,
        (("CP-170", 0.7), ("CP-171", 0.3)),
        detention_prob=0.05,
    ),
    CrimeType(
        "theft",
        "Hurto",
        0.2,
        False,
        0.3,
        0.52,
        35,
        15,
        (1.0,),
        _NO_WEAPON,
        (("vía pública", 0.5), ("transporte", 0.25), ("comercio", 0.15), ("otro", 0.1)),
        _STRANGER,
        (("CP-172", 0.7), ("CP-173", 0.25), ("CP-175", 0.05)),
        detention_prob=0.04,
    ),
    CrimeType(
        "vehicle_theft",
        "Robo o hurto de vehículo",
        0.06,
        False,
        0.9,
        0.3,
        40,
        12,
        (1.0,),
        (("ninguna", 0.75), ("arma de fuego", 0.2), ("sin dato", 0.05)),
        (("vía pública", 0.8), ("vivienda", 0.15), ("otro", 0.05)),
        _STRANGER,
        (("CP-174", 0.75), ("CP-162", 0.25)),
        detention_prob=0.04,
    ),
    CrimeType(
        "extortion",
        "Extorsión",
        0.04,
        True,
        0.1,
        0.4,
        42,
        12,
        (1.0,),
        (("ninguna", 0.9), ("arma de fuego", 0.1)),
        (("comercio", 0.6), ("vivienda", 0.3), ("otro", 0.1)),
        (("desconocido", 0.85), ("conocido", 0.15)),
        (("CP-153", 1.0),),
        detention_prob=0.08,
    ),
    CrimeType(
        "kidnapping",
        "Secuestro",
        0.003,
        True,
        0.7,
        0.4,
        30,
        15,
        (1.0,),
        (("arma de fuego", 0.6), ("ninguna", 0.3), ("otra", 0.1)),
        _STREET,
        (("desconocido", 0.7), ("conocido", 0.2), ("familiar", 0.1)),
        (("CP-150", 0.4), ("CP-151", 0.6)),
        detention_prob=0.3,
    ),
    CrimeType(
        "drugs",
        "Delitos de drogas",
        0.06,
        False,
        1.0,
        0.0,
        0,
        0,
        (1.0,),
        _NO_WEAPON,
        (("vía pública", 0.7), ("vivienda", 0.2), ("otro", 0.1)),
        _NONE,
        (("CP-190", 0.4), ("CP-191", 0.55), ("CP-192", 0.05)),
        victimless=True,
        detention_prob=0.9,
    ),
    CrimeType(
        "corruption",
        "Corrupción y cohecho",
        0.01,
        False,
        0.6,
        0.0,
        0,
        0,
        (1.0,),
        _NO_WEAPON,
        (("otro", 1.0),),
        _NONE,
        (("CP-200", 0.5), ("CP-201", 0.2), ("CP-202", 0.1), ("CP-203", 0.1), ("CP-204", 0.1)),
        victimless=True,
        detention_prob=0.1,
    ),
    CrimeType(
        "threats",
        "Amenazas y hostigamiento",
        0.06,
        True,
        0.25,
        0.6,
        36,
        14,
        (1.0,),
        (("ninguna", 0.8), ("arma de fuego", 0.1), ("arma blanca", 0.1)),
        (("vivienda", 0.4), ("vía pública", 0.4), ("otro", 0.2)),
        (("conocido", 0.5), ("expareja", 0.15), ("desconocido", 0.35)),
        (("CP-132", 0.85), ("CP-136", 0.15)),
        detention_prob=0.03,
    ),
    CrimeType(
        "fraud",
        "Estafa y falsificación",
        0.04,
        False,
        0.35,
        0.5,
        47,
        16,
        (1.0,),
        _NO_WEAPON,
        (("otro", 0.7), ("comercio", 0.3)),
        _STRANGER,
        (("CP-180", 0.85), ("CP-181", 0.15)),
        detention_prob=0.03,
    ),
    CrimeType(
        "property_damage",
        "Daños a la propiedad",
        0.032,
        False,
        0.2,
        0.45,
        42,
        15,
        (1.0,),
        (("ninguna", 0.7), ("objeto contundente", 0.2), ("otra", 0.1)),
        (("vía pública", 0.5), ("vivienda", 0.3), ("comercio", 0.2)),
        _STRANGER,
        (("CP-176", 1.0),),
        detention_prob=0.04,
    ),
    CrimeType(
        "weapons",
        "Porte ilegal de armas",
        0.015,
        True,
        1.0,
        0.0,
        0,
        0,
        (1.0,),
        (("arma de fuego", 1.0),),
        (("vía pública", 0.8), ("otro", 0.2)),
        _NONE,
        (("CP-210", 0.9), ("CP-211", 0.1)),
        victimless=True,
        detention_prob=0.85,
    ),
    CrimeType(
        "other",
        "Otros delitos",
        0.02,
        False,
        0.6,
        0.0,
        0,
        0,
        (1.0,),
        _NO_WEAPON,
        (("vía pública", 0.4), ("otro", 0.6)),
        _NONE,
        (
            ("CP-213", 0.25),
            ("CP-214", 0.2),
            ("CP-215", 0.2),
            ("CP-221", 0.1),
            ("CP-299", 0.1),
            ("CP-177", 0.05),
            ("CP-230", 0.05),
            ("CP-220", 0.05),
        ),
        victimless=True,
        detention_prob=0.3,
    ),
)
CRIME_TYPE_BY_KEY: dict[str, CrimeType] = {t.key: t for t in CRIME_TYPES}

# A homicide victim dies after the attack (in hospital) with this probability.
LATE_DEATH_PROB = 0.15
LATE_DEATH_MAX_DAYS = 45


@dataclass
class Victim:
    """One victim of one event; ``person`` is None for victimless crimes."""

    seq: int
    person: Person | None
    age: int
    dies: bool = False
    death_date: date | None = None
    hospitalised: bool = False
    identified: bool = True  # False: an "NN" body, never identified by anyone


@dataclass
class Event:
    """One true crime."""

    event_id: str
    day: date
    time: str  # HH:MM
    municipality_code: str
    crime_type: CrimeType
    weapon: str
    place: str
    relationship: str
    offence_code: str  # the national code the police would record for it
    n_offenders: int
    victims: list[Victim] = field(default_factory=list)

    @property
    def is_intimate_partner(self) -> bool:
        """Victim and offender are or were partners."""
        return self.relationship in INTIMATE

    @property
    def is_femicide(self) -> bool:
        """A woman killed by a partner, ex-partner or (recorded as such) a relative."""
        return self.offence_code == "CP-123"


def pick(options: Weighted, rng: random.Random) -> str:
    """Draw one option from a weighted tuple."""
    x = rng.random() * sum(w for _, w in options)
    for value, weight in options:
        x -= weight
        if x < 0:
            return value
    return options[-1][0]


class EventGenerator:
    """Generates the true events of each day for one run."""

    def __init__(
        self,
        rng: random.Random,
        np_rng: np.random.Generator,
        persons: PersonFactory,
        scale_factor: float,
        first_year: int,
    ) -> None:
        self._rng = rng
        self._np_rng = np_rng
        self._persons = persons
        self._munis: tuple[Municipality, ...] = municipalities()
        self._count = 0
        self._base = base_daily_rates(first_year) * scale_factor

    def events_for_day(self, day: date) -> Iterator[Event]:
        """All events of ``day``, in municipality then crime-type order."""
        counts = self._np_rng.poisson(self._base * _seasonality(day))
        for m_index, t_index in zip(*np.nonzero(counts), strict=True):
            for _ in range(int(counts[m_index, t_index])):
                yield self._event(day, self._munis[int(m_index)].code, CRIME_TYPES[int(t_index)])

    def _event(self, day: date, municipality_code: str, ctype: CrimeType) -> Event:
        rng = self._rng
        self._count += 1
        hour = _event_hour(ctype, rng)
        event = Event(
            event_id=f"EV-{self._count:09d}",
            day=day,
            time=f"{hour:02d}:{rng.randrange(60):02d}",
            municipality_code=municipality_code,
            crime_type=ctype,
            weapon=pick(ctype.weapons, rng),
            place=pick(ctype.places, rng),
            relationship="sin dato",
            offence_code=pick(ctype.offences, rng),
            n_offenders=1 + (rng.random() < 0.25) + (rng.random() < 0.08),
        )
        if ctype.key == "burglary":  # the article depends on what was broken into
            event.offence_code = "CP-171" if event.place == "comercio" else "CP-170"
        n_victims = 1 + _index_of_draw(ctype.victims, rng)
        for seq in range(1, n_victims + 1):
            event.victims.append(self._victim(event, seq))
        first = event.victims[0]
        event.relationship = self._relationship(ctype, first)
        if ctype.key == "homicide":
            event.offence_code = _homicide_offence(
                event.relationship, first, event.offence_code, rng
            )
            for victim in event.victims:
                _set_homicide_death(victim, day, rng)
        elif ctype.hospital_prob:
            for victim in event.victims:
                victim.hospitalised = rng.random() < ctype.hospital_prob
        return event

    def _victim(self, event: Event, seq: int) -> Victim:
        ctype = event.crime_type
        if ctype.victimless:
            return Victim(seq=seq, person=None, age=0)
        rng = self._rng
        sex = "F" if rng.random() < ctype.female_share else "M"
        age = int(max(0, min(95, rng.gauss(ctype.age_mean, ctype.age_sd))))
        if ctype.key in ("intrafamily_violence", "robbery", "vehicle_theft", "fraud"):
            age = max(age, 15 if ctype.key != "vehicle_theft" else 18)
        return Victim(seq=seq, person=self._persons.create(sex, age, event.day), age=age)

    def _relationship(self, ctype: CrimeType, victim: Victim) -> str:
        if ctype.key != "homicide":
            return pick(ctype.relationships, self._rng)
        female = victim.person is not None and victim.person.sex == "F"
        options: Weighted = (
            (
                ("pareja", 0.3),
                ("expareja", 0.15),
                ("familiar", 0.15),
                ("conocido", 0.15),
                ("desconocido", 0.15),
                ("sin dato", 0.1),
            )
            if female
            else (
                ("pareja", 0.03),
                ("expareja", 0.02),
                ("familiar", 0.07),
                ("conocido", 0.3),
                ("desconocido", 0.38),
                ("sin dato", 0.2),
            )
        )
        return pick(options, self._rng)


def _homicide_offence(relationship: str, victim: Victim, default: str, rng: random.Random) -> str:
    female = victim.person is not None and victim.person.sex == "F"
    if female and (relationship in INTIMATE or (relationship == "familiar" and rng.random() < 0.3)):
        return "CP-123"
    if relationship in INTIMATE or relationship == "familiar":
        return "CP-124"
    return default


def _set_homicide_death(victim: Victim, day: date, rng: random.Random) -> None:
    victim.dies = True
    if rng.random() < LATE_DEATH_PROB:
        victim.hospitalised = True
        victim.death_date = day + timedelta(days=rng.randint(1, LATE_DEATH_MAX_DAYS))
    else:
        victim.death_date = day


def _index_of_draw(probabilities: tuple[float, ...], rng: random.Random) -> int:
    x = rng.random()
    for i, p in enumerate(probabilities):
        x -= p
        if x < 0:
            return i
    return len(probabilities) - 1


def _event_hour(ctype: CrimeType, rng: random.Random) -> int:
    # Violent crime clusters at night; property crime during the day.
    if ctype.violent and rng.random() < 0.55:
        return (rng.randrange(19, 29)) % 24
    return rng.randrange(7, 22) if rng.random() < 0.8 else rng.randrange(24)


def _seasonality(day: date) -> float:
    weekend = 1.12 if day.weekday() >= 5 else 0.95
    december = 1.1 if day.month == 12 else 1.0
    return weekend * december


def base_daily_rates(year: int) -> np.ndarray:
    """Expected events per day, shape (municipality, crime type), at the base scale.

    The base scale is calibrated on the demo country; a larger geography gets as many more
    events as it has more inhabitants, so the rates per capita stay the same."""
    munis = municipalities()
    pops = np.array([municipality_population(m.code, year) for m in munis], dtype=float)
    violence = np.array([m.violence for m in munis])
    prop = np.array([m.property_crime for m in munis])
    rates = np.zeros((len(munis), len(CRIME_TYPES)))
    for t, ctype in enumerate(CRIME_TYPES):
        weight = pops * (violence if ctype.violent else prop)
        rates[:, t] = weight / weight.sum() * ctype.share
    result: np.ndarray = rates / rates.sum() * (BASE_EVENTS_PER_YEAR / 365.25)
    ratio = population_ratio()
    if ratio != 1.0:
        result = result * ratio
    return result
