"""Ground truth: the true events, victims and deaths, and the indicator values they imply.

``Indicators`` counts every indicator numerator while the engine generates, from the same
decisions that produce the exports, so the warehouse can be checked against it exactly. The
definitions are in simulator/README.md ("Indicators"). ``truth/indicators.csv`` has one row
per indicator code, municipality and month of the period (zeros included): the counts of
``INDICATORS`` (recounted from the exports by tests/unit/simulator) and ``DECIDED_COUNTS``
(from what the simulator decided: who was killed by the police, how far each case went, who
is a homicide victim in which system), the rates of ``RATES`` (a count over the true
population), the shares of ``SHARES`` (two counts), the medians of ``MEDIANS``, the reporting
gaps and coverage of ``REPORTING_SOURCES`` and the true population values of the survey's
indicators (``survey_indicators``; the survey's estimates are not truth).
``truth/indicator_breakdowns.csv`` has the cells by sex, by age group and by both of the counts
of ``BROKEN_DOWN`` and their rates (only cells with a count: the warehouse's are sparse too),
by the sex and age the exported record gives its person (``unknown`` where it gives none).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from simulator.csvio import CsvWriter
from simulator.reference import AGE_GROUPS, municipalities, population_table

INDICATORS: tuple[str, ...] = (
    "homicide_count_police",
    "homicide_count_health",
    "femicide_count",
    "intrafamily_violence_reports",
    "sexual_violence_reports",
    "detentions_count",
    "legal_intervention_deaths",
    "homicide_true",
    "police_complaints_count",
    "use_of_force_incidents",
    "firearm_homicides_police",
    "child_maltreatment_victims",
    "robbery_reports",
    "burglary_reports",
    "theft_reports",
    "vehicle_theft_reports",
    "kidnapping_reports",
    "extortion_reports",
    "homicide_count_sdg",
    "suicide_count_health",
    "road_traffic_deaths_health",
    "firearm_deaths_health",
    "intrafamily_violence_victims",
    "sexual_violence_victims",
    "assault_injury_admissions",
)
# Counts with truth by sex and age group too, from the person each counted record is about.
BROKEN_DOWN: tuple[str, ...] = (
    "detentions_count",
    "intrafamily_violence_victims",
    "sexual_violence_victims",
    "assault_injury_admissions",
)
# The sources whose monthly records the reporting-gap indicators watch, each counted by the
# date its system registers a record (a police report by its first exported version).
REPORTING_SOURCES: tuple[str, ...] = (
    "police_reports",
    "detentions",
    "police_complaints",
    "use_of_force",
    "forensic_deaths",
    "hospital_admissions",
    "prosecution_cases",
)
# Counts from what the simulator decided rather than what one export shows.
DECIDED_COUNTS: tuple[str, ...] = (
    "persons_killed_by_police",
    "justice_funnel_reports",
    "justice_funnel_cases",
    "justice_funnel_indictments",
    "justice_funnel_convictions",
    # Homicide victims any system recorded as a homicide, and those two or more systems did.
    "homicide_reconciled",
    "homicide_confirmed_by_two_sources",
    *(f"reporting_gap__{source}" for source in REPORTING_SOURCES),
)
# Rates per 100,000: (code, count, population); the population is the simulator's own.
RATES: tuple[tuple[str, str, str], ...] = (
    ("homicide_rate_police", "homicide_count_police", "population"),
    ("femicide_rate", "femicide_count", "female_population"),
    ("intrafamily_violence_rate", "intrafamily_violence_reports", "population"),
    ("sexual_violence_rate", "sexual_violence_reports", "population"),
    ("detentions_rate", "detentions_count", "population"),
    ("intrafamily_violence_victim_rate", "intrafamily_violence_victims", "population"),
    ("sexual_violence_victim_rate", "sexual_violence_victims", "population"),
    ("assault_injury_admission_rate", "assault_injury_admissions", "population"),
    *(
        (f"{offence}_rate", f"{offence}_reports", "population")
        for offence in ("robbery", "burglary", "theft", "vehicle_theft", "kidnapping", "extortion")
    ),
    ("homicide_rate_health", "homicide_count_health", "population"),
    ("homicide_rate_sdg", "homicide_count_sdg", "population"),
    ("suicide_rate_health", "suicide_count_health", "population"),
    ("road_traffic_death_rate_health", "road_traffic_deaths_health", "population"),
    ("homicide_rate_reconciled", "homicide_reconciled", "population"),
)
# Shares: (code, numerator count, denominator count); the helper counts are not published.
SHARES: tuple[tuple[str, str, str], ...] = (
    ("undetermined_intent_share", "undetermined_intent_deaths", "violent_deaths"),
    ("homicide_police_health_ratio", "homicide_count_police", "homicide_count_health"),
    ("justice_conviction_share", "justice_cases_convicted", "justice_funnel_cases"),
    ("reporting_coverage_share", "usual_sources_reporting", "usual_sources"),
)
# Medians of days between stages of the justice funnel, by month of the later stage.
MEDIANS: tuple[str, ...] = (
    "justice_median_days_report_to_case",
    "justice_median_days_case_to_indictment",
    "justice_median_days_indictment_to_judgement",
)
# A source usually reports to a municipality in a month when over the previous
# GAP_WINDOW_MONTHS months of the period it had records in at least GAP_USUAL_MONTHS and at
# least GAP_USUAL_RECORDS_A_MONTH a month on average (the warehouse's statistical rule).
GAP_WINDOW_MONTHS, GAP_USUAL_MONTHS, GAP_USUAL_RECORDS_A_MONTH = 6, 4, 5
COLUMNS = (
    "indicator_code",
    "municipality_code",
    "month",
    "sex",
    "age_group",
    "value",
    "numerator",
    "denominator",
)

EVENT_COLUMNS = (
    "event_id",
    "event_date",
    "event_time",
    "municipality_code",
    "crime_type",
    "national_offence_code",
    "weapon",
    "place",
    "relationship",
    "is_femicide",
    "is_intimate_partner",
    "n_victims",
    "n_offenders",
    "reported",
    "police_report_number",
    "prosecution_case_id",
)
VICTIM_COLUMNS = (
    "event_id",
    "victim_nro",
    "national_id",
    "full_name",
    "sex",
    "birth_date",
    "age",
    "identified",
    "died",
    "death_date",
    "police_report_number",
    "police_victim_nro",
    "police_offence_code",
    "prosecution_case_id",
    "forensic_record_id",
    "hospital_admission_id",
)
DEATH_COLUMNS = (
    "death_date",
    "municipality_code",
    "manner",
    "icd10_cause",
    "national_id",
    "event_id",
    "forensic_record_id",
)


def month_of(day: date) -> str:
    """YYYY-MM."""
    return f"{day.year:04d}-{day.month:02d}"


def age_group_of(age: int | None) -> str:
    """The population's five-year group of an age in completed years (`unknown`: none)."""
    if age is None:
        return "unknown"
    return AGE_GROUPS[min(age // 5, len(AGE_GROUPS) - 1)]


def months_between(start: date, end: date) -> list[str]:
    """Every YYYY-MM from ``start``'s month to the month of the day before ``end``."""
    months: list[str] = []
    year, month = start.year, start.month
    while (year, month) < (end.year, end.month) or (
        (year, month) == (end.year, end.month) and end.day > 1
    ):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class Indicators:
    """Counts and measured days per (name, municipality, month); ``sex`` and ``age_group`` are
    ``all``. Names are indicator codes or the helper counts of ``SHARES``."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.days: defaultdict[tuple[str, str, str], list[int]] = defaultdict(list)
        # The survey's indicators: (municipality, year) -> code -> true population value.
        self.survey: defaultdict[tuple[str, int], dict[str, float]] = defaultdict(dict)
        # Counts of BROKEN_DOWN by (name, municipality, month, sex, age group).
        self.parts: Counter[tuple[str, str, str, str, str]] = Counter()

    def add(self, indicator: str, municipality_code: str, day: date, value: int = 1) -> None:
        """Add ``value`` to the indicator for the municipality and the month of ``day``."""
        self.counts[(indicator, municipality_code, month_of(day))] += value

    def add_person(
        self, indicator: str, municipality_code: str, day: date, sex: str, age: int | None
    ) -> None:
        """Add one to the indicator, and to its cell of the person's sex (`M`, `F`, else
        `unknown`) and age group."""
        self.add(indicator, municipality_code, day)
        sex = sex if sex in ("M", "F") else "unknown"
        self.parts[(indicator, municipality_code, month_of(day), sex, age_group_of(age))] += 1

    def measure(self, indicator: str, municipality_code: str, day: date, days: int) -> None:
        """One case's days between two stages, for the median of the month of ``day``."""
        self.days[(indicator, municipality_code, month_of(day))].append(days)

    def count_records(self, source: str, municipality_code: str, day: date) -> None:
        """One record a reporting source registered on ``day``."""
        self.add(f"records:{source}", municipality_code, day)

    def _reporting_gaps(self, months: list[str]) -> None:
        """Reporting gaps and the coverage share's parts, from each source's records."""
        for m in municipalities():
            for position, month in enumerate(months):
                before = months[max(0, position - GAP_WINDOW_MONTHS) : position]
                for source in REPORTING_SOURCES:
                    records = [self.counts[(f"records:{source}", m.code, b)] for b in before]
                    usual = (
                        sum(1 for r in records if r > 0) >= GAP_USUAL_MONTHS
                        and sum(records) >= GAP_WINDOW_MONTHS * GAP_USUAL_RECORDS_A_MONTH
                    )
                    if not usual:
                        continue
                    sent = self.counts[(f"records:{source}", m.code, month)] > 0
                    self.counts[("usual_sources", m.code, month)] += 1
                    self.counts[("usual_sources_reporting", m.code, month)] += int(sent)
                    self.counts[(f"reporting_gap__{source}", m.code, month)] += int(not sent)

    def _cells(self, months: list[str]) -> Iterable[tuple[str, str, str, str, str, str]]:
        """(code, municipality, month, value, numerator, denominator) of every cell."""
        populations = {year: _populations(year) for year in {int(m[:4]) for m in months}}
        for m in municipalities():
            for month in months:
                year = int(month[:4])

                def count(name: str, m: str = m.code, month: str = month) -> int:
                    return self.counts.get((name, m, month), 0)

                for code in (*INDICATORS, *DECIDED_COUNTS):
                    counted = str(count(code))
                    yield code, m.code, month, counted, counted, ""
                for code, numerator, population in RATES:
                    n, d = count(numerator), populations[year][(m.code, population)]
                    yield code, m.code, month, _number(n * 100_000 / d), str(n), str(d)
                for code, numerator, denominator in SHARES:
                    n, d = count(numerator), count(denominator)
                    yield code, m.code, month, _number(n / d if d else None), str(n), str(d)
                for code in MEDIANS:
                    days = self.days.get((code, m.code, month), [])
                    median = statistics.median(days) if days else None
                    yield code, m.code, month, _number(median), _number(median), str(len(days))
                for code, value in self.survey.get((m.code, year), {}).items():
                    yield code, m.code, month, _number(value), "", ""

    def _breakdown_cells(self) -> Iterable[tuple[str, ...]]:
        """(code, municipality, month, sex, age group, value, numerator, denominator) of each
        cell by sex, by age group and by both with a count, and of its rate (no denominator
        for an `unknown` sex or age: no population has it)."""
        sums: Counter[tuple[str, str, str, str, str]] = Counter()
        for (code, muni, month, sex, group), n in self.parts.items():
            for cell in ((sex, "all"), ("all", group), (sex, group)):
                sums[(code, muni, month, *cell)] += n
        rates = {count: rate for rate, count, people in RATES if people == "population"}
        tables: dict[int, Counter[tuple[str, str, str]]] = {}
        for (code, muni, month, sex, group), n in sorted(sums.items()):
            yield code, muni, month, sex, group, str(n), str(n), ""
            if code not in rates:
                continue
            year = int(month[:4])
            if year not in tables:
                tables[year] = _populations_by_sex_and_age(year)
            people = tables[year].get((muni, sex, group))  # none for `unknown`
            value = _number(n * 100_000 / people) if people else ""
            yield rates[code], muni, month, sex, group, value, str(n), str(people or "")

    def write_breakdowns(self, path: Path, months: list[str]) -> int:
        """Write the sparse cells by sex and age group; return rows written."""
        stray = [k for k in self.parts if k[2] not in set(months)]
        if stray:
            raise AssertionError(f"indicator counted outside the period: {sorted(stray)[:3]}")
        writer = CsvWriter(path, COLUMNS)
        for row in self._breakdown_cells():
            writer.write(row)
        writer.close()
        return writer.count

    def write(self, path: Path, months: list[str]) -> int:
        """Write a dense table (zeros included) over the period; return rows written."""
        in_period = set(months)
        stray = [k for k, v in self.counts.items() if v and k[2] not in in_period]
        stray += [k for k in self.days if k[2] not in in_period]
        if stray:
            raise AssertionError(f"indicator counted outside the period: {sorted(stray)[:3]}")
        self._reporting_gaps(months)
        writer = CsvWriter(path, COLUMNS)
        for code, muni, month, value, numerator, denominator in self._cells(months):
            writer.write((code, muni, month, "all", "all", value, numerator, denominator))
        writer.close()
        return writer.count


def _populations(year: int) -> dict[tuple[str, str], int]:
    """Each municipality's population and female population in ``year`` (1 July)."""
    table = population_table(year)
    found: Counter[tuple[str, str]] = Counter()
    for (code, sex, _group), people in table.items():
        found[(code, "population")] += people
        if sex == "F":
            found[(code, "female_population")] += people
    return found


def _populations_by_sex_and_age(year: int) -> Counter[tuple[str, str, str]]:
    """Each municipality's population in ``year`` by (sex, age group), `all` included."""
    found: Counter[tuple[str, str, str]] = Counter()
    for (code, sex, group), people in population_table(year).items():
        for cell in ((sex, group), (sex, "all"), ("all", group)):
            found[(code, *cell)] += people
    return found


def _number(value: float | None) -> str:
    """A value as the truth files write it: empty when undefined, integers without decimals."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class TruthWriter:
    """Streams events, victims and deaths to ``truth/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.events = CsvWriter(folder / "events.csv", EVENT_COLUMNS)
        self.victims = CsvWriter(folder / "victims.csv", VICTIM_COLUMNS)
        self.deaths = CsvWriter(folder / "deaths.csv", DEATH_COLUMNS)
        self.indicators = Indicators()

    def close_streams(self) -> None:
        """Close the events, victims and deaths files."""
        for writer in (self.events, self.victims, self.deaths):
            writer.close()

    def close(self, months: list[str]) -> int:
        """Write indicators.csv (after the survey's values are known); return its rows."""
        self.indicators.write_breakdowns(self.folder / "indicator_breakdowns.csv", months)
        return self.indicators.write(self.folder / "indicators.csv", months)


def flag(value: bool) -> str:
    """Booleans in truth files."""
    return "true" if value else "false"
