"""The justice system: prosecution cases, parties, hearings and judgements, and its database.

The engine calls ``JusticeSystem.open_case`` for each police report the prosecutor takes up.
The whole life of the case (decision, indictment, hearings, judgement) is simulated at once
and every version of every row is streamed to ``exports/justice/history/<table>.csv`` with its
``updated_at``; the last version known at the end of the period goes to
``exports/justice/<table>.csv``. ``load_database`` replays the history into a real SQL
database as it was known on a given day, the way the operational system would show it.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from simulator.csvio import CsvWriter, iso_ts
from simulator.reference import municipality_name
from simulator.world import Person, PersonFactory

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": (
        "case_id",
        "report_number",
        "municipality_code",
        "municipality_name",
        "offence_code",
        "opened_date",
        "status",
        "decision",
        "decision_date",
        "court_case_id",
        "court_filed_date",
        "created_at",
        "updated_at",
    ),
    "parties": (
        "party_id",
        "case_id",
        "role",
        "national_id",
        "full_name",
        "sex",
        "birth_date",
        "procedural_status",
        "created_at",
        "updated_at",
    ),
    "hearings": (
        "hearing_id",
        "case_id",
        "hearing_type",
        "scheduled_date",
        "status",
        "created_at",
        "updated_at",
    ),
    "judgements": (
        "judgement_id",
        "case_id",
        "party_id",
        "judgement_date",
        "verdict",
        "sentence_months",
        "status",
        "created_at",
        "updated_at",
    ),
}
_KEYS = {
    "cases": "case_id",
    "parties": "party_id",
    "hearings": "hearing_id",
    "judgements": "judgement_id",
}
_DATE_COLUMNS = frozenset(
    {
        "opened_date",
        "decision_date",
        "court_filed_date",
        "birth_date",
        "scheduled_date",
        "judgement_date",
    }
)
_TS_COLUMNS = frozenset({"created_at", "updated_at"})

# Chance that the prosecutor opens a case from a report, by crime type.
CASE_OPEN_PROB: dict[str, float] = {
    "homicide": 0.95,
    "attempted_homicide": 0.9,
    "sexual_violence": 0.85,
    "intrafamily_violence": 0.7,
    "kidnapping": 0.9,
    "extortion": 0.8,
    "drugs": 0.9,
    "corruption": 0.9,
    "weapons": 0.85,
}
_DEFAULT_OPEN_PROB = 0.45
# (dismissed, alternative resolution, indictment) when no one was detained.
_DECISION_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "homicide": (0.45, 0.05, 0.5),
    "attempted_homicide": (0.5, 0.15, 0.35),
    "sexual_violence": (0.55, 0.05, 0.4),
    "intrafamily_violence": (0.35, 0.4, 0.25),
    "drugs": (0.3, 0.35, 0.35),
    "corruption": (0.5, 0.1, 0.4),
}
_DEFAULT_DECISION = (0.7, 0.18, 0.12)
_SENTENCE_MONTHS: dict[str, tuple[int, int]] = {
    "homicide": (120, 400),
    "attempted_homicide": (60, 180),
    "sexual_violence": (60, 240),
    "kidnapping": (96, 240),
    "extortion": (48, 144),
    "robbery": (36, 120),
    "drugs": (24, 120),
}
_DEFAULT_SENTENCE = (6, 60)

Row = dict[str, str]


@dataclass
class CaseInput:
    """What the prosecutor receives with a police report."""

    report_number: str
    registered: date
    municipality_code: str
    offence_code: str
    crime_type: str
    victims: list[Person]
    detainees: list[Person]


@dataclass(frozen=True)
class CaseStages:
    """The days a case reached each stage of the justice funnel, as known at the cutoff."""

    opened: date
    indicted: date | None
    first_judgement: date | None
    first_conviction: date | None


class JusticeSystem:
    """Simulates cases and streams their row versions to CSV."""

    def __init__(
        self,
        folder: Path,
        rng: random.Random,
        persons: PersonFactory,
        end: date,
        use_variants: bool,
    ) -> None:
        self._rng = rng
        self._persons = persons
        self._cutoff = datetime.combine(end, time())
        self._variants = use_variants
        self._history = {
            t: CsvWriter(folder / "history" / f"{t}.csv", c) for t, c in TABLE_COLUMNS.items()
        }
        self._final = {t: CsvWriter(folder / f"{t}.csv", c) for t, c in TABLE_COLUMNS.items()}
        self._seq: dict[str, int] = {}
        # The stages of the case ``open_case`` opened last (the truth's justice funnel).
        self.last_stages: CaseStages | None = None

    def open_case(self, case: CaseInput) -> str | None:
        """Maybe open a case from a report; return its id if it exists before the cutoff."""
        rng = self._rng
        self.last_stages = None
        if rng.random() >= CASE_OPEN_PROB.get(case.crime_type, _DEFAULT_OPEN_PROB):
            return None
        opened = _at(case.registered + timedelta(days=rng.choice((0, 1, 2, 5, 10, 20))), rng)
        if opened >= self._cutoff:
            return None
        case_id = self._next_id("FIS", opened.year, 6)
        versions = list(self._case_versions(case_id, opened, case))
        self.last_stages = _stages(self._emit(versions))
        return case_id

    def _case_versions(
        self, case_id: str, opened: datetime, case: CaseInput
    ) -> Iterator[tuple[datetime, str, Row]]:
        rng = self._rng
        row: Row = {
            "case_id": case_id,
            "report_number": case.report_number,
            "municipality_code": case.municipality_code,
            "municipality_name": municipality_name(
                case.municipality_code, "justice", self._variants
            ),
            "offence_code": case.offence_code,
            "opened_date": opened.date().isoformat(),
            "status": "en_investigacion",
            "decision": "",
            "decision_date": "",
            "court_case_id": "",
            "court_filed_date": "",
            "created_at": iso_ts(opened),
        }
        yield opened, "cases", dict(row)
        parties = [self._party(case_id, "victima", p, "victima", opened) for p in case.victims]
        parties += [
            self._party(case_id, "imputado", p, "investigado", opened) for p in case.detainees
        ]
        for party in parties:
            yield opened, "parties", dict(party)
        months = (2, 14) if case.crime_type == "homicide" else (1, 10)
        decided = _at(
            opened.date() + timedelta(days=rng.randint(months[0] * 30, months[1] * 30)), rng
        )
        weights = _DECISION_WEIGHTS.get(case.crime_type, _DEFAULT_DECISION)
        if case.detainees:  # a detained suspect makes an indictment likelier
            weights = (weights[0] * 0.5, weights[1], weights[2] * 1.6)
        decision = rng.choices(("desestimada", "salida_alternativa", "acusacion"), weights)[0]
        defendants = [p for p in parties if p["role"] == "imputado"]
        if decision == "acusacion" and not defendants:
            suspect = self._persons.create(
                "M" if rng.random() < 0.9 else "F", rng.randint(18, 55), decided.date()
            )
            defendants = [self._party(case_id, "imputado", suspect, "investigado", decided)]
            yield decided, "parties", dict(defendants[0])
        row.update(decision=decision, decision_date=decided.date().isoformat())
        if decision == "acusacion":
            court_id = self._next_id("TRI", decided.year, 6)
            row.update(
                status="acusada",
                court_case_id=court_id,
                court_filed_date=decided.date().isoformat(),
            )
        else:
            row["status"] = "archivada" if decision == "desestimada" else "salida_alternativa"
        yield decided, "cases", dict(row)
        new_status = {
            "desestimada": "sobreseido",
            "salida_alternativa": "salida_alternativa",
            "acusacion": "acusado",
        }[decision]
        for party in defendants:
            party["procedural_status"] = new_status
            yield decided, "parties", dict(party)
        if decision == "acusacion":
            yield from self._trial(case_id, case.crime_type, decided, row, defendants)

    def _trial(
        self,
        case_id: str,
        crime_type: str,
        indicted: datetime,
        case_row: Row,
        defendants: list[Row],
    ) -> Iterator[tuple[datetime, str, Row]]:
        rng = self._rng
        scheduled_at = indicted
        held_on: date | None = None
        for hearing_type, gap in (("preparatoria", (20, 90)), ("juicio_oral", (60, 240))):
            held_on = None
            while held_on is None:  # suspended hearings are rescheduled
                day = scheduled_at.date() + timedelta(days=rng.randint(*gap))
                hearing: Row = {
                    "hearing_id": self._next_id("AUD", scheduled_at.year, 7),
                    "case_id": case_id,
                    "hearing_type": hearing_type,
                    "scheduled_date": day.isoformat(),
                    "status": "programada",
                    "created_at": iso_ts(scheduled_at),
                }
                yield scheduled_at, "hearings", dict(hearing)
                happened_at = _at(day, rng)
                suspended = rng.random() < 0.2
                hearing["status"] = "suspendida" if suspended else "realizada"
                yield happened_at, "hearings", dict(hearing)
                scheduled_at = happened_at
                gap = (15, 60)
                if not suspended:
                    held_on = day
            if hearing_type == "preparatoria":
                case_row["status"] = "en_juicio"
                yield scheduled_at, "cases", dict(case_row)
        ruled = scheduled_at
        case_row["status"] = "sentenciada"
        yield ruled, "cases", dict(case_row)
        low, high = _SENTENCE_MONTHS.get(crime_type, _DEFAULT_SENTENCE)
        for party in defendants:
            convicted = rng.random() < 0.7
            judgement: Row = {
                "judgement_id": self._next_id("SEN", ruled.year, 6),
                "case_id": case_id,
                "party_id": party["party_id"],
                "judgement_date": ruled.date().isoformat(),
                "verdict": "condena" if convicted else "absolucion",
                "sentence_months": str(rng.randint(low, high)) if convicted else "",
                "status": "primera_instancia",
                "created_at": iso_ts(ruled),
            }
            yield ruled, "judgements", dict(judgement)
            party["procedural_status"] = "condenado" if convicted else "absuelto"
            yield ruled, "parties", dict(party)
            final_at = _at(ruled.date() + timedelta(days=rng.randint(30, 120)), rng)
            judgement["status"] = "firme"
            yield final_at, "judgements", dict(judgement)

    def _party(self, case_id: str, role: str, person: Person, status: str, at: datetime) -> Row:
        return {
            "party_id": self._next_id("PAR", at.year, 7),
            "case_id": case_id,
            "role": role,
            "national_id": person.national_id,
            "full_name": person.full_name,
            "sex": person.sex,
            "birth_date": person.birth_date.isoformat(),
            "procedural_status": status,
            "created_at": iso_ts(at),
        }

    def _emit(self, versions: list[tuple[datetime, str, Row]]) -> list[tuple[str, Row]]:
        """Write every version before the cutoff; return the last one of each row."""
        last: dict[tuple[str, str], Row] = {}
        # Stable sort: versions of one row keep their order when they share a timestamp.
        for moment, table, row in sorted(versions, key=lambda v: v[0]):
            if moment >= self._cutoff:
                continue
            row["updated_at"] = iso_ts(moment)
            self._history[table].write([row[c] for c in TABLE_COLUMNS[table]])
            last[(table, row[_KEYS[table]])] = row
        for (table, _), row in last.items():
            self._final[table].write([row[c] for c in TABLE_COLUMNS[table]])
        return [(table, row) for (table, _), row in last.items()]

    def _next_id(self, prefix: str, year: int, width: int) -> str:
        key = f"{prefix}-{year}"
        self._seq[key] = self._seq.get(key, 0) + 1
        return f"{key}-{self._seq[key]:0{width}d}"

    @property
    def counts(self) -> dict[str, int]:
        """Final-state rows written per table."""
        return {t: w.count for t, w in self._final.items()}

    def close(self) -> None:
        """Close all CSV files."""
        for writer in (*self._history.values(), *self._final.values()):
            writer.close()


def _stages(rows: list[tuple[str, Row]]) -> CaseStages:
    """A case's stages from the last version of its rows: indicted on the day it was filed in
    court (the decision's day without a filing), judged and convicted on its first such
    judgement."""
    (case,) = [row for table, row in rows if table == "cases"]
    judgements = [row for table, row in rows if table == "judgements"]
    indicted = None
    if case["decision"] == "acusacion":
        indicted = date.fromisoformat(case["court_filed_date"] or case["decision_date"])
    judged = sorted(date.fromisoformat(j["judgement_date"]) for j in judgements)
    convicted = sorted(
        date.fromisoformat(j["judgement_date"]) for j in judgements if j["verdict"] == "condena"
    )
    return CaseStages(
        opened=date.fromisoformat(case["opened_date"]),
        indicted=indicted,
        first_judgement=judged[0] if judged else None,
        first_conviction=convicted[0] if convicted else None,
    )


def _at(day: date, rng: random.Random) -> datetime:
    """A working-hours moment on ``day``."""
    return datetime.combine(day, time(rng.randrange(8, 18), rng.randrange(60), rng.randrange(60)))


# --- the operational database --------------------------------------------------------------


def _metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    for table, columns in TABLE_COLUMNS.items():
        cols: list[sa.Column[Any]] = []
        for name in columns:
            kind: sa.types.TypeEngine[Any]
            if name in _DATE_COLUMNS:
                kind = sa.Date()
            elif name in _TS_COLUMNS:
                kind = sa.DateTime()
            elif name == "sentence_months":
                kind = sa.Integer()
            else:
                kind = sa.String(64 if name != "full_name" else 128)
            cols.append(
                sa.Column(
                    name, kind, primary_key=name == _KEYS[table], nullable=name != _KEYS[table]
                )
            )
        sa.Table(table, metadata, *cols)
    return metadata


def _justice_folder(out_dir: Path) -> Path:
    nested = out_dir / "exports" / "justice"
    return nested if nested.is_dir() else out_dir


def snapshot(out_dir: Path, table: str, as_of: date | None) -> list[dict[str, object]]:
    """Rows of ``table`` as known at the end of ``as_of`` (final state when None), typed."""
    folder = _justice_folder(out_dir)
    limit = iso_ts(datetime.combine(as_of + timedelta(days=1), time())) if as_of else None
    latest: dict[str, dict[str, str]] = {}
    with (folder / "history" / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if limit is None or row["updated_at"] < limit:
                latest[row[_KEYS[table]]] = row
    return [_typed(row) for row in latest.values()]


def _typed(row: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in row.items():
        if value == "":
            out[name] = None
        elif name in _DATE_COLUMNS:
            out[name] = date.fromisoformat(value)
        elif name in _TS_COLUMNS:
            out[name] = datetime.fromisoformat(value)
        elif name == "sentence_months":
            out[name] = int(value)
        else:
            out[name] = value
    return out


def load_database(out_dir: Path, url: str, as_of: date | None = None) -> dict[str, int]:
    """Create the justice tables at ``url`` and bring them to their state at ``as_of``.

    ``out_dir`` is the simulator's output directory (or its ``exports/justice`` folder).
    Rows are inserted or updated, never deleted, so calling this with increasing ``as_of``
    replays the system's history the way incremental extraction would see it. Returns the
    number of rows in each table after loading.
    """
    engine = sa.create_engine(url)
    metadata = _metadata()
    try:
        metadata.create_all(engine)
        counts: dict[str, int] = {}
        with engine.begin() as conn:
            for name, table in metadata.tables.items():
                counts[name] = _upsert(conn, table, snapshot(out_dir, name, as_of))
        return counts
    finally:
        engine.dispose()


def _upsert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, object]]) -> int:
    key = table.c[_KEYS[table.name]]
    known = {r[0]: r[1] for r in conn.execute(sa.select(key, table.c.updated_at))}
    inserts = [r for r in rows if r[key.name] not in known]
    updates = [r for r in rows if r[key.name] in known and known[r[key.name]] != r["updated_at"]]
    for start in range(0, len(inserts), 5_000):
        conn.execute(table.insert(), inserts[start : start + 5_000])
    if updates:
        values: dict[str, Any] = {
            c.name: sa.bindparam(f"v_{c.name}") for c in table.c if c is not key
        }
        stmt = table.update().where(key == sa.bindparam("k")).values(**values)
        conn.execute(
            stmt,
            [
                {"k": r[key.name], **{f"v_{n}": v for n, v in r.items() if n != key.name}}
                for r in updates
            ],
        )
    return len(known) + len(inserts)
