"""The fictional country's static reference data: geography, population and penal code.

None of this depends on the seed or the scale: the country is always the same. The functions
here feed the generator, and ``python -m simulator.reference DIR`` writes them as the dbt seeds
``ref_municipalities.csv``, ``ref_population.csv`` and ``ref_national_offences.csv``.

The geography is the demo's 60 municipalities in 5 departments unless ``use_geography`` selects
a larger one (``--municipalities 5570 --departments 27``): the same draws per municipality
(population, growth, violence), generated names ("Municipio 27206") past the demo's fixed
lists, and the same ``DDMMM`` codes (up to 99 departments of 999 municipalities each).
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

AGE_GROUPS: tuple[str, ...] = (*(f"{lo:02d}-{lo + 4:02d}" for lo in range(0, 80, 5)), "80+")
SEXES: tuple[str, ...] = ("M", "F")
POPULATION_YEARS: tuple[int, ...] = tuple(range(2018, 2031))
# A fixed seed, unrelated to the run seed, so that the country never changes between runs.
_WORLD_SEED = 20_240_101

_DEMO_DEPARTMENTS: dict[str, str] = {
    "01": "Central",
    "02": "Cordillera",
    "03": "Costa Pacífica",
    "04": "Llanos del Norte",
    "05": "Oriente",
}

_MUNICIPALITY_NAMES: dict[str, tuple[str, ...]] = {
    "01": (
        "San José",
        "Santa Rosa",
        "El Carmen",
        "Villa Nueva",
        "La Esperanza",
        "San Rafael",
        "Las Lomas",
        "Concepción",
        "Buenavista",
        "El Rosario",
        "San Isidro",
        "Tres Ríos",
    ),
    "02": (
        "Piedra Blanca",
        "San Martín",
        "Los Ángeles",
        "Peñas Altas",
        "Cerro Verde",
        "Santa Lucía",
        "El Tablón",
        "Quebrada Honda",
        "San Bartolomé",
        "La Cumbre",
        "Ojo de Agua",
        "Valle Escondido",
    ),
    "03": (
        "Puerto Alegre",
        "Bahía Honda",
        "Playa Dorada",
        "San Andrés",
        "Punta Brava",
        "El Morro",
        "La Ensenada",
        "Puerto Viejo",
        "Las Salinas",
        "Boca del Río",
        "Isla Verde",
        "Santa Marta del Mar",
    ),
    "04": (
        "Llano Grande",
        "San Fernando",
        "Santa Cruz",
        "El Paraíso",
        "Palo Alto",
        "La Candelaria",
        "Sabana Larga",
        "Río Seco",
        "San Vicente",
        "Las Palmas",
        "Guadalupe",
        "Nueva Aurora",
    ),
    "05": (
        "Puerto Nuevo",
        "San Ramón",
        "Santa Teresa",
        "El Porvenir",
        "Río Negro",
        "La Libertad",
        "Monte Alegre",
        "San Cristóbal",
        "Villa Hermosa",
        "Los Naranjos",
        "Agua Azul",
        "Santa Bárbara",
    ),
}

# How some source systems spell a few municipalities (the canonical name is in the seed).
SPELLING_VARIANTS: dict[str, dict[str, str]] = {
    "01001": {"police": "San Jose", "health": "S. José", "justice": "SAN JOSE"},
    "01008": {"police": "Concepcion", "justice": "CONCEPCION"},
    "01012": {"police": "Tres Rios"},
    "02002": {"police": "San Martin", "health": "S. Martín"},
    "02003": {"police": "Los Angeles", "justice": "LOS ANGELES"},
    "02004": {"police": "Penas Altas"},
    "03001": {"health": "Pto. Alegre"},
    "04002": {"health": "S. Fernando"},
    "05001": {"health": "Pto. Nuevo"},
    "05008": {"police": "San Cristobal", "health": "S. Cristóbal"},
    "05012": {"police": "Sta. Barbara", "survey": "Santa Barbara"},
}

# Share of the population in each 5-year age group (young Latin American pyramid).
_AGE_SHARES: tuple[float, ...] = (
    0.080,
    0.080,
    0.082,
    0.084,
    0.085,
    0.082,
    0.077,
    0.072,
    0.067,
    0.061,
    0.055,
    0.049,
    0.042,
    0.033,
    0.025,
    0.016,
    0.010,
)
_FEMALE_SHARE = 0.51


@dataclass(frozen=True)
class Geography:
    """How many municipalities and departments the country has (the demo: 60 in 5)."""

    municipalities: int = 60
    departments: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.departments <= 99:
            raise ValueError(f"departments must be 1..99 (2-digit codes), got {self.departments}")
        if not self.departments <= self.municipalities <= 999 * self.departments:
            raise ValueError(
                f"municipalities must be {self.departments}..{999 * self.departments} for "
                f"{self.departments} departments (3-digit codes), got {self.municipalities}"
            )

    @property
    def is_demo(self) -> bool:
        """True for the demo country, whose names and seeds are fixed."""
        return self == DEMO_GEOGRAPHY

    def per_department(self) -> list[int]:
        """Municipalities in each department, as even as the total allows."""
        base, extra = divmod(self.municipalities, self.departments)
        return [base + (1 if d < extra else 0) for d in range(self.departments)]


DEMO_GEOGRAPHY = Geography()


@dataclass
class _Active:
    geography: Geography = field(default_factory=Geography)


_ACTIVE = _Active()


def current_geography() -> Geography:
    """The geography the simulator generates (``use_geography`` changes it)."""
    return _ACTIVE.geography


def use_geography(geography: Geography) -> None:
    """Select the geography for this process; every cached reference table is recomputed."""
    _ACTIVE.geography = geography
    for cached in (departments, municipalities, municipality_by_code, population_table):
        cached.cache_clear()


@cache
def departments() -> dict[str, str]:
    """Department code to name: the demo's five names, then generated ones."""
    count = current_geography().departments
    names = dict(list(_DEMO_DEPARTMENTS.items())[:count])
    for number in range(len(names) + 1, count + 1):
        names[f"{number:02d}"] = f"Departamento {number:02d}"
    return names


@dataclass(frozen=True)
class Municipality:
    """One municipality, with its static size and crime profile."""

    code: str
    name: str
    department_code: str
    population_2020: int
    growth: float  # yearly population growth rate
    violence: float  # multiplier of violent-crime rates
    property_crime: float  # multiplier of property-crime rates

    @property
    def department_name(self) -> str:
        """Name of the department the municipality belongs to."""
        return departments()[self.department_code]


@dataclass(frozen=True)
class NationalOffence:
    """One article of the national penal code and its published ICCS correspondence."""

    code: str
    name_es: str
    iccs_code: str  # empty when the correspondence table leaves it unmapped


@cache
def municipalities() -> tuple[Municipality, ...]:
    """All municipalities, ordered by code."""
    rng = random.Random(_WORLD_SEED)
    result: list[Municipality] = []
    for dept, names in _municipality_names().items():
        for index, name in enumerate(names, start=1):
            code = f"{dept}{index:03d}"
            if code == "01001":
                size = 1_150_000  # the capital
            elif index == 1:
                size = rng.randint(150_000, 380_000)  # department capitals
            else:
                size = int(rng.lognormvariate(10.3, 0.75))
                size = max(6_000, min(size, 140_000))
            urban = min(1.0, size / 300_000)
            result.append(
                Municipality(
                    code=code,
                    name=name,
                    department_code=dept,
                    population_2020=size,
                    growth=round(rng.uniform(0.004, 0.021), 4),
                    violence=round(rng.lognormvariate(0.0, 0.45), 3),
                    property_crime=round(0.6 + 0.9 * urban + rng.uniform(0.0, 0.4), 3),
                )
            )
    return tuple(result)


def _municipality_names() -> dict[str, tuple[str, ...]]:
    """Names per department: the demo's fixed lists, generated names where they run out."""
    geography = current_geography()
    if geography.is_demo:
        return _MUNICIPALITY_NAMES
    names: dict[str, tuple[str, ...]] = {}
    for dept, count in zip(departments(), geography.per_department(), strict=True):
        fixed = _MUNICIPALITY_NAMES.get(dept, ())
        names[dept] = tuple(
            fixed[i - 1] if i <= len(fixed) else f"Municipio {dept}{i:03d}"
            for i in range(1, count + 1)
        )
    return names


@cache
def municipality_by_code() -> dict[str, Municipality]:
    """Municipalities keyed by their 5-digit code."""
    return {m.code: m for m in municipalities()}


def municipality_name(code: str, system: str, use_variants: bool = True) -> str:
    """The municipality's name as ``system`` writes it (canonical when variants are off)."""
    if use_variants:
        variant = SPELLING_VARIANTS.get(code, {}).get(system)
        if variant is not None:
            return variant
    return municipality_by_code()[code].name


def municipality_aliases() -> list[tuple[str, str, str]]:
    """(municipality_code, alias, system) for every non-canonical spelling in use."""
    known = municipality_by_code()
    return [
        (code, alias, system)
        for code, by_system in sorted(SPELLING_VARIANTS.items())
        if code in known
        for system, alias in sorted(by_system.items())
    ]


def _split_integer(total: int, shares: tuple[float, ...]) -> list[int]:
    """Split ``total`` proportionally to ``shares`` with largest-remainder rounding."""
    norm = sum(shares)
    raw = [total * s / norm for s in shares]
    parts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


@cache
def population_table(year: int) -> dict[tuple[str, str, str], int]:
    """Population by (municipality_code, sex, age_group) on 1 July of ``year``."""
    table: dict[tuple[str, str, str], int] = {}
    for m in municipalities():
        total = round(m.population_2020 * (1.0 + m.growth) ** (year - 2020))
        females, males = _split_integer(total, (_FEMALE_SHARE, 1.0 - _FEMALE_SHARE))
        for sex, sex_total in (("M", males), ("F", females)):
            # Women live longer: shift a little weight to the older groups for them.
            shares = tuple(
                s * (1.0 + (0.012 * i if sex == "F" else 0.0)) for i, s in enumerate(_AGE_SHARES)
            )
            for group, count in zip(AGE_GROUPS, _split_integer(sex_total, shares), strict=True):
                table[(m.code, sex, group)] = count
    return table


def population_ratio(year: int = 2020) -> float:
    """The country's population over the demo country's: crime counts scale with it, so the
    rates per capita stay those of the demo (1.0 for the demo itself)."""
    if current_geography().is_demo:
        return 1.0
    total = sum(population_table(year).values())
    saved = current_geography()
    use_geography(DEMO_GEOGRAPHY)
    try:
        demo_total = sum(population_table(year).values())
    finally:
        use_geography(saved)
    return total / demo_total


def municipality_population(code: str, year: int) -> int:
    """Total population of one municipality in ``year``."""
    table = population_table(year)
    return sum(table[(code, sex, group)] for sex in SEXES for group in AGE_GROUPS)


# (code, Spanish name, ICCS code). Two codes are deliberately unmapped (empty ICCS code): the
# published correspondence table has gaps, and the warehouse's coverage check must find them.
_PENAL_CODE: tuple[tuple[str, str, str], ...] = (
    ("CP-121", "Homicidio simple", "0101"),
    ("CP-122", "Homicidio agravado", "0101"),
    ("CP-123", "Femicidio", "0101"),
    ("CP-124", "Parricidio", "0101"),
    ("CP-125", "Homicidio culposo", "01032"),
    ("CP-126", "Homicidio en grado de tentativa", "0102"),
    ("CP-127", "Inducción o ayuda al suicidio", "0104"),
    ("CP-128", "Aborto sin consentimiento", "0106"),
    ("CP-130", "Lesiones graves", "020111"),
    ("CP-131", "Lesiones leves", "020112"),
    ("CP-132", "Amenazas", "02012"),
    ("CP-133", "Violencia intrafamiliar", "0201"),
    ("CP-134", "Lesiones culposas en accidente de tránsito", "02063"),
    ("CP-135", "Abandono de personas", "02061"),
    ("CP-136", "Hostigamiento", "02081"),
    ("CP-137", "Injurias y calumnias", "0209"),
    ("CP-138", "Violación de domicilio", "02111"),
    ("CP-140", "Violación", "03011"),
    ("CP-141", "Abuso sexual", "03012"),
    ("CP-142", "Acoso sexual", "030122"),
    ("CP-143", "Explotación sexual de menores", "03022"),
    ("CP-144", "Pornografía infantil", "030221"),
    ("CP-150", "Secuestro", "020221"),
    ("CP-151", "Privación ilegítima de la libertad", "02022"),
    ("CP-152", "Trata de personas", "0204"),
    ("CP-153", "Extorsión", "02051"),
    ("CP-160", "Robo con violencia o intimidación", "04011"),
    ("CP-161", "Robo agravado con uso de arma", "0401"),
    ("CP-162", "Robo de vehículo con violencia", "040121"),
    ("CP-170", "Robo con fuerza en vivienda", "05012"),
    ("CP-171", "Robo con fuerza en local comercial", "05011"),
    ("CP-172", "Hurto simple", "0502"),
    ("CP-173", "Hurto agravado", "05022"),
    ("CP-174", "Hurto de vehículo", "050211"),
    ("CP-175", "Hurto de autopartes", "050213"),
    ("CP-176", "Daños a la propiedad", "0504"),
    ("CP-177", "Abigeato", "05025"),
    ("CP-180", "Estafa", "07011"),
    ("CP-181", "Falsificación de documentos", "07023"),
    ("CP-182", "Lavado de activos", "07041"),
    ("CP-190", "Tráfico ilícito de drogas", "06012"),
    ("CP-191", "Posesión de drogas para consumo", "06011"),
    ("CP-192", "Cultivo ilícito de plantas prohibidas", "060123"),
    ("CP-200", "Cohecho", "07031"),
    ("CP-201", "Peculado", "07032"),
    ("CP-202", "Concusión", "07033"),
    ("CP-203", "Tráfico de influencias", "07034"),
    ("CP-204", "Enriquecimiento ilícito", "07035"),
    ("CP-210", "Tenencia ilegal de armas de fuego", "090111"),
    ("CP-211", "Tráfico de armas", "09012"),
    ("CP-212", "Asociación ilícita", "09051"),
    ("CP-213", "Desórdenes públicos", "08011"),
    ("CP-214", "Desobediencia a la autoridad", "0806"),
    ("CP-215", "Conducción en estado de ebriedad", "020721"),
    ("CP-220", "Contrabando", "08044"),
    ("CP-221", "Usurpación de inmuebles", ""),
    ("CP-230", "Maltrato animal", "10091"),
    ("CP-299", "Otros delitos no especificados", ""),
)


@cache
def penal_code() -> dict[str, NationalOffence]:
    """The national penal code, keyed by offence code (e.g. ``CP-121``)."""
    return {code: NationalOffence(code, name, iccs) for code, name, iccs in _PENAL_CODE}


def write_seeds(out_dir: Path) -> dict[str, int]:
    """Write the reference seeds into ``out_dir``; return rows written per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    rows_by_file: dict[str, tuple[list[str], list[list[str]]]] = {
        "ref_municipalities.csv": (
            ["municipality_code", "municipality_name", "department_code", "department_name"],
            [[m.code, m.name, m.department_code, m.department_name] for m in municipalities()],
        ),
        "ref_population.csv": (
            ["municipality_code", "year", "sex", "age_group", "population"],
            [
                [m.code, str(year), sex, group, str(population_table(year)[(m.code, sex, group)])]
                for m in municipalities()
                for year in POPULATION_YEARS
                for sex in SEXES
                for group in AGE_GROUPS
            ],
        ),
        "ref_national_offences.csv": (
            ["national_offence_code", "national_offence_name_es", "iccs_code"],
            [[o.code, o.name_es, o.iccs_code] for o in penal_code().values()],
        ),
        "ref_municipality_aliases.csv": (
            ["municipality_code", "alias", "source_system"],
            [list(alias) for alias in municipality_aliases()],
        ),
    }
    for file_name, (header, rows) in rows_by_file.items():
        with (out_dir / file_name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        counts[file_name] = len(rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    """``python -m simulator.reference DIR [--municipalities N --departments D]``: write the
    reference seeds of that geography into DIR."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m simulator.reference")
    parser.add_argument("out", type=Path)
    parser.add_argument("--municipalities", type=int, default=DEMO_GEOGRAPHY.municipalities)
    parser.add_argument("--departments", type=int, default=DEMO_GEOGRAPHY.departments)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    use_geography(Geography(args.municipalities, args.departments))
    for file_name, count in write_seeds(args.out).items():
        print(f"{file_name}: {count} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
