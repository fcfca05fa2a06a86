"""Ground truth: the true events, victims and deaths, and the indicator values they imply.

``Indicators`` counts every indicator numerator while the engine generates, from the same
decisions that produce the exports, so the warehouse can be checked against it exactly. The
definitions are in simulator/README.md ("Indicators"); the codes are listed in ``INDICATORS``.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from simulator.csvio import CsvWriter
from simulator.reference import municipalities

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
    """Numerators per (indicator, municipality, month); ``sex`` and ``age_group`` are ``all``."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, indicator: str, municipality_code: str, day: date, value: int = 1) -> None:
        """Add ``value`` to the indicator for the municipality and the month of ``day``."""
        self.counts[(indicator, municipality_code, month_of(day))] += value

    def write(self, path: Path, months: list[str]) -> int:
        """Write a dense table (zeros included) over the period; return rows written."""
        writer = CsvWriter(
            path, ("indicator_code", "municipality_code", "month", "sex", "age_group", "value")
        )
        in_period = set(months)
        stray = [k for k, v in self.counts.items() if v and k[2] not in in_period]
        if stray:
            raise AssertionError(f"indicator counted outside the period: {sorted(stray)[:3]}")
        for indicator in INDICATORS:
            for m in municipalities():
                for month in months:
                    value = self.counts.get((indicator, m.code, month), 0)
                    writer.write((indicator, m.code, month, "all", "all", str(value)))
        writer.close()
        return writer.count


class TruthWriter:
    """Streams events, victims and deaths to ``truth/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.events = CsvWriter(folder / "events.csv", EVENT_COLUMNS)
        self.victims = CsvWriter(folder / "victims.csv", VICTIM_COLUMNS)
        self.deaths = CsvWriter(folder / "deaths.csv", DEATH_COLUMNS)
        self.indicators = Indicators()

    def close(self, months: list[str]) -> int:
        """Close the streams and write indicators.csv; return its row count."""
        for writer in (self.events, self.victims, self.deaths):
            writer.close()
        return self.indicators.write(self.folder / "indicators.csv", months)


def flag(value: bool) -> str:
    """Booleans in truth files."""
    return "true" if value else "false"
