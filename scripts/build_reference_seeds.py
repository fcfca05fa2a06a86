"""Build the ICCS reference seed for the dbt project from the UNODC source documents.

Maintainers run this script when the reference material changes; nothing in the pipeline
calls it. It reads the Spanish ICCS 2015 tables and the English ICCS document (as text)
from ``--reference-dir`` and writes ``ref_iccs_categories.csv`` into ``--out``:

    python scripts/build_reference_seeds.py --reference-dir ../shared/reference \
        --out dbt_project/seeds

The Spanish table gives the code hierarchy (codes without their leading zero, e.g. ``1031``
for ICCS ``01031``) and the category names; the parsed Spanish file adds the official,
accented wording and the descriptions. English names come from the "broad and detailed
structure" tables of the English document. The output is sorted by code and written with
fixed quoting and line endings, so re-running it on the same inputs gives the same bytes;
``tests/unit/test_reference_seeds.py`` checks that.

The script uses the standard library only and fails, naming the file and the code, when a
code has no English or Spanish name.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SPANISH_TABLE_FILE = "iccs_2015_es_table.csv"
SPANISH_PARSED_FILE = "iccs_2015_es_parsed.csv"
ENGLISH_TEXT_FILE = "ICCS_English_2016.txt"
ICCS_SEED_FILE = "ref_iccs_categories.csv"

ICCS_COLUMNS = (
    "iccs_code",
    "iccs_level",
    "parent_iccs_code",
    "level_1_code",
    "level_2_code",
    "level_3_code",
    "level_4_code",
    "name_en",
    "name_es",
    "description_es",
)

# Canonical ICCS code width per level: section 01, division 0101, group 01011, class 010111.
CODE_WIDTH_BY_LEVEL = {1: 2, 2: 4, 3: 5, 4: 6}
LEVEL_COLUMNS = ("nivel_1", "nivel_2", "nivel_3", "nivel_4")

# Lines of the English structure tables ("Part Two - Broad and detailed structure").
SECTION_LINE = re.compile(r"^Section (\d{2}) (\S.*?)\s*$")
CODE_LINE = re.compile(r"^\s*(\d{4,6})\s{2,}(\S.*?)\s*$")
COLUMN_HEADER_LINE = re.compile(r"^\s*LEVEL 02\s+LEVEL 03\s+LEVEL 04\s+CRIME\s*$")
PAGE_NUMBER_LINE = re.compile(r"^\s*\d{1,3}\s*$")
STRUCTURE_END_LINE = re.compile(r"^Table:")
WORD = re.compile(r"[^\W\d_]+")


class ReferenceDataError(Exception):
    """A reference file does not have the shape this script expects."""


@dataclass(frozen=True)
class SpanishCategory:
    """One ICCS category as the Spanish reference files describe it."""

    iccs_code: str
    level: int
    level_codes: tuple[str, str, str, str]
    name_es: str
    description_es: str


@dataclass(frozen=True)
class IccsCategory:
    """One row of ``ref_iccs_categories.csv``."""

    iccs_code: str
    level: int
    parent_iccs_code: str
    level_codes: tuple[str, str, str, str]
    name_en: str
    name_es: str
    description_es: str

    def as_row(self) -> list[str]:
        """Return the values in ``ICCS_COLUMNS`` order."""
        return [
            self.iccs_code,
            str(self.level),
            self.parent_iccs_code,
            *self.level_codes,
            self.name_en,
            self.name_es,
            self.description_es,
        ]


def canonical_code(raw: str, level: int, where: str) -> str:
    """Return the zero-padded ICCS code for a Spanish-table code of the given level."""
    width = CODE_WIDTH_BY_LEVEL[level]
    if not raw.isdigit() or not width - 1 <= len(raw) <= width:
        raise ReferenceDataError(
            f"{where}: level-{level} code {raw!r} is not {width - 1}-{width} digits"
        )
    return raw.zfill(width)


def fold_accents(text: str) -> str:
    """Return ``text`` without diacritics (``daños`` -> ``danos``), as the Spanish table has it."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace so a description stays one clean CSV field."""
    return " ".join(text.split())


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Read a UTF-8 CSV file with a header row into dicts."""
    if not path.is_file():
        raise ReferenceDataError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def level_of(row: dict[str, str], where: str) -> int:
    """Return the ICCS level of a Spanish row: the deepest non-empty ``nivel_N`` column."""
    filled = [n for n, column in enumerate(LEVEL_COLUMNS, start=1) if row[column].strip()]
    if not filled or filled != list(range(1, len(filled) + 1)):
        raise ReferenceDataError(f"{where}: columns nivel_1..nivel_4 are not filled top-down")
    return filled[-1]


def level_codes_of(row: dict[str, str], level: int, where: str) -> tuple[str, str, str, str]:
    """Return the canonical level-1..4 codes of a Spanish row ('' below its level)."""
    codes = ["", "", "", ""]
    for n in range(1, level + 1):
        codes[n - 1] = canonical_code(row[LEVEL_COLUMNS[n - 1]].strip(), n, where)
        if n > 1 and not codes[n - 1].startswith(codes[n - 2]):
            raise ReferenceDataError(
                f"{where}: code {codes[n - 1]} does not start with {codes[n - 2]}"
            )
    return codes[0], codes[1], codes[2], codes[3]


def build_accent_lexicon(texts: Iterable[str]) -> dict[str, str]:
    """Map each accent-free lower-case word to its most frequent accented spelling.

    Words whose plain spelling is at least as frequent as any accented one (``esta`` and
    ``está``) are left out, so only unambiguous restorations are made.
    """
    spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        for word in WORD.findall(text):
            lower = word.lower()
            spellings[fold_accents(lower)][lower] += 1
    lexicon: dict[str, str] = {}
    for plain, counts in sorted(spellings.items()):
        best, best_count = max(sorted(counts.items()), key=lambda item: item[1])
        if best != plain and best_count > counts.get(plain, 0):
            lexicon[plain] = best
    return lexicon


def restore_accents(text: str, lexicon: dict[str, str]) -> str:
    """Return ``text`` with accent-free words respelled from ``lexicon``, keeping capitals."""

    def respell(match: re.Match[str]) -> str:
        word = match.group(0)
        accented = lexicon.get(word.lower())
        if accented is None:
            return word
        return accented[0].upper() + accented[1:] if word[0].isupper() else accented

    return WORD.sub(respell, text)


def read_spanish_categories(reference_dir: Path) -> list[SpanishCategory]:
    """Read every ICCS category (sections included) from the two Spanish files.

    The table gives the hierarchy and the names used in the classification's structure
    list, without accents. The parsed file repeats the hierarchy and adds the official
    accented wording (``glosa_iccs``) and the description. Where the accent-free forms
    agree, the accented wording is used; elsewhere the table's wording is kept and its
    accents are restored from words seen in the parsed file.
    """
    table_path = reference_dir / SPANISH_TABLE_FILE
    parsed_path = reference_dir / SPANISH_PARSED_FILE
    table = read_csv_rows(table_path)
    parsed = read_csv_rows(parsed_path)

    parsed_by_codes: dict[tuple[str, str, str, str], dict[str, str]] = {}
    for line, row in enumerate(parsed, start=2):
        where = f"{parsed_path}:{line}"
        codes = level_codes_of(row, level_of(row, where), where)
        if codes in parsed_by_codes:
            raise ReferenceDataError(f"{where}: code {codes} appears twice")
        parsed_by_codes[codes] = row

    lexicon = build_accent_lexicon(
        row[column]
        for row in parsed
        for column in ("glosa_iccs", "descripcion", "inclusiones", "exclusiones", "notas")
    )

    sections: dict[str, str] = {}
    categories: list[SpanishCategory] = []
    for line, row in enumerate(table, start=2):
        where = f"{table_path}:{line}"
        level = level_of(row, where)
        codes = level_codes_of(row, level, where)
        section_name = normalise_space(row["seccion"])
        if sections.setdefault(codes[0], section_name) != section_name:
            raise ReferenceDataError(f"{where}: section {codes[0]} has two names in column seccion")
        details = parsed_by_codes.pop(codes, None)
        if details is None:
            raise ReferenceDataError(
                f"{where}: code {codes[level - 1]} is missing from {parsed_path}"
            )
        table_name = normalise_space(row["delito_iccs"])
        official_name = normalise_space(details["glosa_iccs"])
        if official_name and fold_accents(official_name) == table_name:
            name_es = official_name
        else:
            name_es = restore_accents(table_name, lexicon)
        categories.append(
            SpanishCategory(
                iccs_code=codes[level - 1],
                level=level,
                level_codes=codes,
                name_es=name_es,
                description_es=normalise_space(details["descripcion"]),
            )
        )
    if parsed_by_codes:
        missing = ", ".join(sorted(max(codes, key=len) for codes in parsed_by_codes))
        raise ReferenceDataError(f"{table_path}: codes only in {parsed_path}: {missing}")

    for code, name in sections.items():
        categories.append(
            SpanishCategory(
                iccs_code=code,
                level=1,
                level_codes=(code, "", "", ""),
                name_es=restore_accents(name, lexicon),
                description_es="",
            )
        )
    return categories


def structure_lines(text_path: Path) -> list[str]:
    """Return the lines of the English document's broad and detailed structure tables."""
    if not text_path.is_file():
        raise ReferenceDataError(f"{text_path}: file not found")
    lines = text_path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if SECTION_LINE.match(line)), None)
    if start is None:
        raise ReferenceDataError(f"{text_path}: no line like 'Section 01 <name>' found")
    end = next(
        (i for i in range(start, len(lines)) if STRUCTURE_END_LINE.match(lines[i])), len(lines)
    )
    return lines[start:end]


def read_english_names(reference_dir: Path) -> dict[str, str]:
    """Return the English name of every ICCS code listed in the English structure tables.

    Names that wrap onto following lines are joined; page numbers, blank lines and the
    repeated column header are skipped.
    """
    text_path = reference_dir / ENGLISH_TEXT_FILE
    names: dict[str, str] = {}
    current: str | None = None
    for line in structure_lines(text_path):
        if not line.strip() or PAGE_NUMBER_LINE.match(line) or COLUMN_HEADER_LINE.match(line):
            continue
        match = SECTION_LINE.match(line) or CODE_LINE.match(line)
        if match:
            current = match.group(1)
            if current in names:
                raise ReferenceDataError(f"{text_path}: code {current} listed twice")
            names[current] = match.group(2)
        elif current is None:
            raise ReferenceDataError(f"{text_path}: text before the first code: {line.strip()!r}")
        else:
            names[current] = f"{names[current]} {line.strip()}"
    return {code: normalise_space(name) for code, name in names.items()}


def build_iccs_categories(reference_dir: Path) -> list[IccsCategory]:
    """Join Spanish and English ICCS names into seed rows, sorted by code."""
    spanish = read_spanish_categories(reference_dir)
    english = read_english_names(reference_dir)
    without_english = sorted(c.iccs_code for c in spanish if not english.get(c.iccs_code))
    if without_english:
        raise ReferenceDataError(
            f"{reference_dir / ENGLISH_TEXT_FILE}: no English name for codes "
            + ", ".join(without_english)
        )
    without_spanish = sorted(c.iccs_code for c in spanish if not c.name_es)
    if without_spanish:
        raise ReferenceDataError(
            f"{reference_dir / SPANISH_TABLE_FILE}: no Spanish name for codes "
            + ", ".join(without_spanish)
        )
    rows = [
        IccsCategory(
            iccs_code=c.iccs_code,
            level=c.level,
            parent_iccs_code=c.level_codes[c.level - 2] if c.level > 1 else "",
            level_codes=c.level_codes,
            name_en=english[c.iccs_code],
            name_es=c.name_es,
            description_es=c.description_es,
        )
        for c in spanish
    ]
    return sorted(rows, key=lambda row: row.iccs_code)


def english_only_codes(reference_dir: Path, rows: Sequence[IccsCategory]) -> list[str]:
    """Return codes listed in the English structure but absent from the Spanish table."""
    known = {row.iccs_code for row in rows}
    return sorted(code for code in read_english_names(reference_dir) if code not in known)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a UTF-8 CSV with '\\n' line endings and minimal quoting (deterministic bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        writer.writerows(rows)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--reference-dir",
        type=Path,
        required=True,
        help=f"folder holding {SPANISH_TABLE_FILE}, {SPANISH_PARSED_FILE}, {ENGLISH_TEXT_FILE}",
    )
    parser.add_argument("--out", type=Path, required=True, help="seeds folder to write into")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the seed and print a one-line summary per level."""
    args = parse_args(argv)
    try:
        rows = build_iccs_categories(args.reference_dir)
        extra = english_only_codes(args.reference_dir, rows)
    except ReferenceDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out_path = args.out / ICCS_SEED_FILE
    write_csv(out_path, ICCS_COLUMNS, (row.as_row() for row in rows))
    per_level = Counter(row.level for row in rows)
    summary = ", ".join(f"level {level}: {per_level[level]}" for level in sorted(per_level))
    print(f"wrote {out_path} ({len(rows)} rows; {summary})")
    if extra:
        print(f"note: in the English structure only: {', '.join(extra)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
