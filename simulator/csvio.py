"""Small writers shared by the exports: CSV lines, daily file drops and streamed JSON arrays."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

_SPECIAL = ('"', "\r", "\n")


def csv_line(fields: Sequence[str], delimiter: str = ";") -> str:
    """One CSV record with ``csv.QUOTE_MINIMAL`` quoting and a CRLF terminator."""
    out = []
    for value in fields:
        if delimiter in value or any(ch in value for ch in _SPECIAL):
            value = '"' + value.replace('"', '""') + '"'
        out.append(value)
    return delimiter.join(out) + "\r\n"


def dmy(day: date) -> str:
    """dd/mm/yyyy."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def dmy_hm(moment: datetime) -> str:
    """dd/mm/yyyy HH:MM."""
    return f"{dmy(moment.date())} {moment.hour:02d}:{moment.minute:02d}"


def iso_ts(moment: datetime) -> str:
    """YYYY-MM-DD HH:MM:SS."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class DailyDrop:
    """Rows of one police entity queued by registration day, written as one file per day.

    A file is written for every day of the period, with only a header when nothing was
    registered. With probability ``resend_rate`` the file is delivered a second time as an
    identical copy named ``<prefix>_YYYYMMDD_reenvio.csv``.
    """

    def __init__(
        self,
        folder: Path,
        prefix: str,
        header: Sequence[str],
        resend_rate: float,
        rng: random.Random,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._prefix = prefix
        self._header = csv_line(header)
        self._resend_rate = resend_rate
        self._rng = rng
        self._queue: dict[date, list[tuple[tuple[Any, ...], str]]] = {}
        self.files_written = 0
        self.files_resent = 0
        self.rows_written = 0

    def add(self, day: date, sort_key: tuple[Any, ...], line: str) -> None:
        """Queue one rendered line for the file of ``day``."""
        self._queue.setdefault(day, []).append((sort_key, line))

    def flush(self, day: date) -> None:
        """Write the file of ``day`` (rows sorted by their key) and maybe its resend."""
        rows = sorted(self._queue.pop(day, []))
        path = self.folder / f"{self._prefix}_{day:%Y%m%d}.csv"
        with path.open("w", encoding="cp1252", newline="") as handle:
            handle.write(self._header)
            handle.writelines(line for _, line in rows)
        self.files_written += 1
        self.rows_written += len(rows)
        if self._rng.random() < self._resend_rate:
            shutil.copyfile(path, self.folder / f"{self._prefix}_{day:%Y%m%d}_reenvio.csv")
            self.files_resent += 1

    def discard_from(self, day: date) -> None:
        """Drop rows registered on or after ``day`` (after the end of the period)."""
        for key in [d for d in self._queue if d >= day]:
            del self._queue[key]


class JsonArrayWriter:
    """Streams a JSON array of objects to disk, one object per line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = path.open("w", encoding="utf-8", newline="\n")
        self._handle.write("[")
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one object."""
        separator = "\n" if self.count == 0 else ",\n"
        self._handle.write(separator + json.dumps(record, ensure_ascii=False))
        self.count += 1

    def close(self) -> None:
        """Terminate the array and close the file."""
        self._handle.write("\n]\n")
        self._handle.close()


class CsvWriter:
    """A plain UTF-8, comma-delimited CSV with a header, LF line endings."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._handle.write(_lf(csv_line(header, ",")))
        self.count = 0

    def write(self, fields: Sequence[str]) -> None:
        """Append one row."""
        self._handle.write(_lf(csv_line(fields, ",")))
        self.count += 1

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def _lf(line: str) -> str:
    return line[:-2] + "\n"
