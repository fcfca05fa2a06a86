"""Streaming `xlsx` reader: the sheet's XML is parsed row by row straight out of the zip.

calamine loads a whole sheet before the first row (a 1M-row sheet: ~700 MB and most of
a minute), so xlsx files are read here instead, in constant memory: the workbook's sheet
list, shared strings and date styles first, then the sheet's rows as they decompress.
Merged cells are listed after the rows in the sheet's XML, so a first pass that only
decompresses (no parsing) finds them, and a merged header is refused before any row is
read. `.xls` files (binary) are read by calamine (`readers.spreadsheet`).
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree.ElementTree import Element, iterparse

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Excel's built-in number formats that are dates or times.
_DATE_FORMATS = {*range(14, 23), 45, 46, 47}
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')
_EPOCH = datetime(1899, 12, 30)


class XlsxError(ValueError):
    """The workbook is not a readable xlsx (the message names no cell content)."""


def column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def _split_ref(ref: str) -> tuple[int, int]:
    """(0-based row, 0-based column) of `C5`."""
    split = next(i for i, c in enumerate(ref) if c.isdigit())
    return int(ref[split:]) - 1, column_index(ref[:split])


class XlsxBook:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.sheets = self._sheets()
        self.strings = self._shared_strings()
        self.date_styles = self._date_styles()

    def _xml(self, name: str) -> Element | None:
        try:
            with self.archive.open(name) as handle:
                return _parse(handle)
        except KeyError:
            return None

    def _sheets(self) -> list[tuple[str, str]]:
        book = self._xml("xl/workbook.xml")
        rels = self._xml("xl/_rels/workbook.xml.rels")
        if book is None or rels is None:
            raise XlsxError("no workbook part (not an xlsx file)")
        targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
        out = []
        for sheet in book.iter(f"{_MAIN}sheet"):
            target = targets.get(sheet.get(f"{_REL}id"), "")
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            out.append((sheet.get("name", ""), str(PurePosixPath(path))))
        return out

    def _shared_strings(self) -> list[str]:
        root = self._xml("xl/sharedStrings.xml")
        if root is None:
            return []
        return [
            "".join(t.text or "" for t in si.iter(f"{_MAIN}t")) for si in root.iter(f"{_MAIN}si")
        ]

    def _date_styles(self) -> set[int]:
        root = self._xml("xl/styles.xml")
        if root is None:
            return set()
        custom = {
            int(f.get("numFmtId", "0")): f.get("formatCode", "")
            for f in root.iter(f"{_MAIN}numFmt")
        }
        dates = set()
        xfs = root.find(f"{_MAIN}cellXfs")
        for i, xf in enumerate(xfs if xfs is not None else ()):
            fmt = int(xf.get("numFmtId", "0"))
            if fmt in _DATE_FORMATS or (fmt in custom and _is_date_code(custom[fmt])):
                dates.add(i)
        return dates

    def merged(self, member: str) -> list[tuple[int, int, int, int]]:
        """(row0, col0, row1, col1) of every merged range, 0-based, from a scan of the bytes."""
        found: list[tuple[int, int, int, int]] = []
        tail = b""
        with self.archive.open(member) as handle:
            while chunk := handle.read(1 << 20):
                data = tail + chunk
                for m in _MERGE.finditer(data):
                    c0, r0, c1, r1 = (g.decode() for g in m.groups())
                    found.append((int(r0) - 1, column_index(c0), int(r1) - 1, column_index(c1)))
                cut = data.rfind(b"<")
                tail = data[cut:] if cut >= 0 and len(data) - cut < 200 else b""
        return found

    def rows(self, member: str) -> Iterator[tuple[int, list[Any]]]:
        """(0-based row, cell values) for each row element of the sheet, in order.

        Cells written the way Excel and its libraries write them (`r`, `s`, `t` in schema
        order) are read by one regular expression per chunk; a chunk holding any other
        cell shape switches to the XML parser from the next row on.
        """
        last = -1
        try:
            for index, cells in self._fast_rows(member):
                last = index
                yield index, cells
            return
        except _Irregular:
            pass
        for index, cells in self._parsed_rows(member):
            if index > last:
                yield index, cells

    def _fast_rows(self, member: str) -> Iterator[tuple[int, list[Any]]]:
        strings, dates = self.strings, self.date_styles
        with self.archive.open(member) as handle:
            tail = b""
            while True:
                chunk = handle.read(4 << 20)
                data = tail + chunk
                end = data.rfind(b"</row>") + len(b"</row>") if chunk else len(data)
                if end < len(b"</row>"):
                    end = 0
                body, tail = data[:end], data[end:]
                if body.count(b"<c ") + body.count(b"<c>") != len(_CELL.findall(body)):
                    raise _Irregular
                row_index = -1
                cells: list[Any] | None = None
                for letters, number, style, kind, value, inline in _CELL.findall(body):
                    index = int(number) - 1
                    if index != row_index:
                        if cells is not None:
                            yield row_index, cells
                        row_index, cells = index, []
                    column = _COLUMNS.get(letters)
                    if column is None:
                        column = _COLUMNS[letters] = column_index(letters.decode())
                    assert cells is not None
                    if column > len(cells):
                        cells.extend([None] * (column - len(cells)))
                    cells.append(_fast_value(kind, value, inline, style, strings, dates))
                if cells is not None:
                    yield row_index, cells
                if not chunk:
                    return

    def _parsed_rows(self, member: str) -> Iterator[tuple[int, list[Any]]]:
        with self.archive.open(member) as handle:
            sheet_data: Element | None = None
            next_row = 0
            for event, elem in iterparse(handle, events=("start", "end")):
                tag = elem.tag
                if event == "start":
                    if tag == f"{_MAIN}sheetData":
                        sheet_data = elem
                    continue
                if tag != f"{_MAIN}row":
                    continue
                ref = elem.get("r")
                index = int(ref) - 1 if ref else next_row
                next_row = index + 1
                yield index, self._cells(elem)
                if sheet_data is not None:
                    sheet_data.clear()

    def _cells(self, row: Element) -> list[Any]:
        cells: list[Any] = []
        for c in row:
            ref = c.get("r")
            column = _split_ref(ref)[1] if ref else len(cells)
            if column > len(cells):
                cells.extend([None] * (column - len(cells)))
            cells.append(self._value(c))
        return cells

    def _value(self, c: Element) -> Any:
        kind = c.get("t", "n")
        if kind == "inlineStr":
            return "".join(t.text or "" for t in c.iter(f"{_MAIN}t"))
        v = c.find(f"{_MAIN}v")
        text = v.text if v is not None else None
        if text is None:
            return None
        if kind == "s":
            return self.strings[int(text)]
        if kind in ("str", "e"):
            return text
        if kind == "b":
            return text == "1"
        number = float(text)
        if int(c.get("s", "0")) in self.date_styles:
            return _EPOCH + timedelta(days=number)
        return number


class _Irregular(Exception):
    """A cell the fast expression does not read: parse the sheet's XML instead."""


_CELL = re.compile(
    rb'<c r="([A-Z]+)([0-9]+)"(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?\s*'
    rb"(?:/>|>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)?(?:<v>([^<]*)</v>)?(?:<is>(.*?)</is>)?</c>)",
    re.DOTALL,
)
_INLINE_TEXT = re.compile(rb"<t[^>]*>([^<]*)</t>")
_COLUMNS: dict[bytes, int] = {}


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    return html.unescape(text) if "&" in text else text


def _fast_value(
    kind: bytes, value: bytes, inline: bytes, style: bytes, strings: list[str], dates: set[int]
) -> Any:
    if kind == b"s":
        return strings[int(value)]
    if kind == b"inlineStr":
        return "".join(_text(t) for t in _INLINE_TEXT.findall(inline))
    if not value:
        return None
    if kind in (b"str", b"e"):
        return _text(value)
    if kind == b"b":
        return value == b"1"
    number = float(value)
    if style and int(style) in dates:
        return _EPOCH + timedelta(days=number)
    return number


def _parse(handle: IO[bytes]) -> Element:
    from xml.etree.ElementTree import parse

    return parse(handle).getroot()


def _is_date_code(code: str) -> bool:
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", code).lower()
    return any(ch in bare for ch in "dy") or ("m" in bare and "h" not in bare and "s" not in bare)
