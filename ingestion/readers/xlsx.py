"""Streaming `xlsx` reader: the sheet's XML is read in chunks of whole rows straight out of the zip.

calamine loads a whole sheet before the first row (a 1M-row sheet: ~700 MB and most of
a minute), so xlsx files are read here instead, in bounded memory: the workbook's sheet
list, shared strings (streamed into one Arrow array) and date styles first, then the
sheet's rows as they decompress. Each chunk is tokenised column-wise with numpy
(`chunk_cells`: the positions of its tags, then every cell's row, column, type, style and
text as arrays), which reads the cells Excel and its libraries write; a chunk holding any
other shape (formulas, rich text) is read with one regular expression per cell, and one
that expression cannot read switches to the XML parser. Merged cells are listed after
the rows in the sheet's XML, so a separate pass that only decompresses finds them
(`merged`), and a merged header is refused before any row is handed over. `.xls` files
(binary) are read by calamine (`readers.spreadsheet`).
"""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree.ElementTree import Element, iterparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.readers.cellblock import CellBlock, cell_text, rows_block

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Excel's built-in number formats that are dates or times.
_DATE_FORMATS = {*range(14, 23), 45, 46, 47}
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')
_EPOCH = datetime(1899, 12, 30)
# Decompressed bytes read at a time: whole rows of them are tokenised together.
_CHUNK = 2 << 20
_SHEET_DATA = re.compile(rb"<sheetData>")


def serial_datetime(number: float) -> datetime:
    """The date and time of an Excel serial number, to the millisecond as Excel keeps it
    (14:30 is stored as 0.6041666…, which is 14:29:59.999999 to the microsecond)."""
    return _EPOCH + timedelta(milliseconds=round(number * 86_400_000))


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

    def _shared_strings(self) -> pa.Array:
        """The shared strings table, parsed as it decompresses and held as one Arrow array."""
        parts: list[pa.Array] = []
        texts: list[str] = []
        try:
            handle = self.archive.open("xl/sharedStrings.xml")
        except KeyError:
            return pa.array([], pa.string())
        with handle:
            root: Element | None = None
            for event, elem in iterparse(handle, events=("start", "end")):
                if event == "start":
                    if root is None:
                        root = elem
                    continue
                if elem.tag != f"{_MAIN}si":
                    continue
                texts.append("".join(t.text or "" for t in elem.iter(f"{_MAIN}t")))
                if root is not None:
                    root.clear()
                if len(texts) >= 65_536:
                    parts.append(pa.array(texts, pa.string()))
                    texts = []
        parts.append(pa.array(texts, pa.string()))
        return pa.concat_arrays(parts)

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
                for m in _MERGE.finditer(data) if b"mergeCell" in data else ():
                    c0, r0, c1, r1 = (g.decode() for g in m.groups())
                    found.append((int(r0) - 1, column_index(c0), int(r1) - 1, column_index(c1)))
                cut = data.rfind(b"<")
                tail = data[cut:] if cut >= 0 and len(data) - cut < 200 else b""
        return found

    def string(self, index: int) -> str:
        text: str = self.strings[index].as_py()
        return text

    def blocks(self, member: str) -> Iterator[CellBlock]:
        """The sheet's cells, whole rows at a time, in sheet order.

        Each decompressed chunk of whole rows is tokenised column-wise (`chunk_cells`); a
        chunk holding a cell shape it does not read (a formula, rich text) is read by one
        regular expression per cell instead, and a chunk that expression does not read
        either switches to the XML parser for the rest of the sheet.
        """
        last = -1
        try:
            for block in self._chunk_blocks(member):
                if len(block.rows):
                    last = int(block.rows[-1])
                yield block
            return
        except _Irregular:
            pass
        rows = ((index, cells) for index, cells in self._parsed_rows(member) if index > last)
        while batch := list(islice(rows, 4096)):
            yield rows_block(batch)

    def _chunk_blocks(self, member: str) -> Iterator[CellBlock]:
        with self.archive.open(member) as handle:
            data = handle.read(_CHUNK)
            opening = _SHEET_DATA.search(data)
            if opening is None:
                if b"<sheetData/>" in data or b"<sheetData />" in data:
                    return
                raise _Irregular
            tail = data[opening.end() :]
            while True:
                chunk = handle.read(_CHUNK)
                data = tail + chunk
                end = data.rfind(b"</row>") + len(b"</row>")
                if end < len(b"</row>"):
                    end = 0
                body, tail = data[:end], data[end:]
                if body:
                    block = chunk_cells(body, self.strings, self.date_styles)
                    yield block if block is not None else rows_block(self._regex_rows(body))
                if not chunk:
                    if b"<c" in tail.split(b"</sheetData>")[0]:
                        raise _Irregular
                    return

    def _regex_rows(self, body: bytes) -> Iterator[tuple[int, list[Any]]]:
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
            cells.append(_fast_value(kind, value, inline, style, self, self.date_styles))
        if cells is not None:
            yield row_index, cells

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
            return self.string(int(text))
        if kind in ("str", "e"):
            return text
        if kind == "b":
            return text == "1"
        number = float(text)
        if int(c.get("s", "0")) in self.date_styles:
            return serial_datetime(number)
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
    kind: bytes, value: bytes, inline: bytes, style: bytes, book: XlsxBook, dates: set[int]
) -> Any:
    if kind == b"s":
        return book.string(int(value))
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
        return serial_datetime(number)
    return number


def _parse(handle: IO[bytes]) -> Element:
    from xml.etree.ElementTree import parse

    return parse(handle).getroot()


def _is_date_code(code: str) -> bool:
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", code).lower()
    return any(ch in bare for ch in "dy") or ("m" in bare and "h" not in bare and "s" not in bare)


# --- the column-wise pass: a chunk of whole rows tokenised with numpy, no per-cell Python ---

_ATTRIBUTE = re.compile(r'\s+([a-z]+)="([^"]*)"')
_TAG_REST = re.compile(r'(?:\s+[a-z]+="[^"]*")*\s*/?')
# Cell types read column-wise (0 number, 1 shared string, 2 inline string, 3 text, 4
# boolean); any other (`d`) takes the per-cell path.
_KINDS: dict[str | None, int] = {None: 0, "n": 0, "s": 1, "inlineStr": 2, "str": 3, "e": 3, "b": 4}
_EPOCH_DAY = np.datetime64("1899-12-30", "D")


def _slices(data: pa.Buffer, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """`data[starts[i]:ends[i]]` for each i, as strings (the slices ordered and disjoint)."""
    if not len(starts):
        return pa.array([], pa.string())
    bounds = np.empty(2 * len(starts) + 1, np.int64)
    bounds[0:-1:2], bounds[1::2], bounds[-1] = starts, ends, ends[-1]
    if (np.diff(bounds) < 0).any():
        raise pa.ArrowInvalid("overlapping slices")
    spans = pa.Array.from_buffers(
        pa.large_binary(), len(bounds) - 1, [None, pa.py_buffer(bounds), data]
    )
    picked = pc.take(spans, pa.array(np.arange(0, len(bounds) - 1, 2)))
    return picked.cast(pa.large_string()).cast(pa.string())


def _code(text: bytes) -> int:
    """The little-endian integer of up to four bytes (what `_tags` compares with)."""
    return int.from_bytes(text.ljust(4, b"\0")[:4], "little")


# The bytes after a `<`, as one integer, and the mask of the bytes that name the tag.
_TAGS = {
    "cell": (_code(b"c "), 0xFFFF),
    "row": (_code(b"row "), 0xFFFFFFFF),
    "row>": (_code(b"row>"), 0xFFFFFFFF),
    "/row": (_code(b"/row"), 0xFFFFFFFF),
    "v": (_code(b"v>"), 0xFFFF),
    "/v": (_code(b"/v>"), 0xFFFFFF),
    "/c": (_code(b"/c>"), 0xFFFFFF),
    "is": (_code(b"is>"), 0xFFFFFF),
    "t>": (_code(b"t>"), 0xFFFF),
    "t ": (_code(b"t "), 0xFFFF),
    "/t": (_code(b"/t>"), 0xFFFFFF),
    "/is": (_code(b"/is>"), 0xFFFFFFFF),
}


def chunk_cells(body: bytes, strings: pa.Array, date_styles: set[int]) -> CellBlock | None:
    """The cells of `body` (whole `<row>` elements) read column-wise, or None when it holds
    anything but the plain shapes Excel and its libraries write: `<c r="B7" s=".." t="..">`
    holding nothing, `<v>…</v>` or `<is><t>…</t></is>`. Every `<` of the chunk must be a
    row tag or one of those cells' tags, so nothing is skipped unread."""
    padded = body + b"\0" * 16
    b = np.frombuffer(padded, np.uint8)
    words = np.ndarray((len(padded) - 3,), "<u4", padded, 0, (1,))
    lt = np.flatnonzero(b[: len(body)] == ord("<"))
    if not len(lt):
        return None
    after = words[lt + 1]
    lt = np.append(lt, len(body))  # a sentinel: `lt[i + 1]` always exists

    def tag(name: str, index: np.ndarray | None = None) -> np.ndarray:
        code, mask = _TAGS[name]
        found: np.ndarray = (after if index is None else after[index]) & mask == code
        return found

    cell = tag("cell")
    row_tags = int(np.count_nonzero(tag("row") | tag("row>") | tag("/row")))
    first = np.flatnonzero(cell)  # index in `lt` of each cell's `<`
    n = len(first)
    starts = lt[first]
    if not n or (words[starts + 1] != _code(b"c r=")).any() or (b[starts + 5] != ord('"')).any():
        return None
    ref0 = starts + 6

    heads = [b[ref0 + j].astype(np.int32) - 64 for j in range(3)]
    letters = [(head >= 1) & (head <= 26) for head in heads]
    if not letters[0].all():
        return None
    two = letters[0] & letters[1]
    count = 1 + two + (two & letters[2])
    cols = heads[0]
    cols = np.where(two, cols * 26 + heads[1], cols)
    cols = np.where(count == 3, cols * 26 + heads[2], cols) - 1
    rows = np.zeros(n, np.int32)
    digits = np.zeros(n, np.int32)
    going = np.ones(n, bool)
    at = ref0 + count
    for _ in range(8):
        digit = b[at].astype(np.int32) - 48
        going &= (digit >= 0) & (digit <= 9)
        rows = np.where(going, rows * 10 + digit, rows)
        digits += going
        at += 1
    ref1 = ref0 + count + digits
    if digits.min() < 1 or digits.max() > 7 or (b[ref1] != ord('"')).any():
        return None
    rows -= 1
    if n > 1 and (np.diff(rows) < 0).any():
        return None
    # The start tag ends right before the next `<` (no text between a cell's tags).
    k = first + 1
    tag_end = lt[k] - 1
    if (tag_end <= ref1).any() or (b[tag_end] != ord(">")).any():
        return None
    data = pa.py_buffer(body)
    attributes = _slices(data, ref1 + 1, tag_end).dictionary_encode()
    styles, kinds, closed = [], [], []
    for spelling in attributes.dictionary.to_pylist():
        found = dict(_ATTRIBUTE.findall(spelling))
        if _TAG_REST.fullmatch(spelling) is None or not set(found) <= {"s", "t"}:
            return None
        if found.get("t") not in _KINDS or not found.get("s", "0").isdigit():
            return None
        styles.append(int(found.get("s", "0")))
        kinds.append(_KINDS[found.get("t")])
        closed.append(spelling.endswith("/"))
    codes = attributes.indices.to_numpy(zero_copy_only=False)
    style = np.asarray(styles, np.int64)[codes]
    kind = np.asarray(kinds, np.int64)[codes]
    open_ = ~np.asarray(closed, bool)[codes]
    # What each cell holds, from the tags that follow its start tag.
    last = len(after) - 1

    def tag_at(name: str, shift: int) -> np.ndarray:
        return tag(name, np.minimum(k + shift, last))

    empty = open_ & tag_at("/c", 0)
    value = open_ & tag_at("v", 0) & tag_at("/v", 1) & tag_at("/c", 2)
    plain_t = tag_at("t>", 1)
    inline = (
        open_
        & tag_at("is", 0)
        & (plain_t | tag_at("t ", 1))
        & tag_at("/t", 2)
        & tag_at("/is", 3)
        & tag_at("/c", 4)
    )
    if not (~open_ | empty | value | inline).all():
        return None
    if (inline & (kind != 2)).any() or (value & (kind == 2)).any():
        return None
    used = 1 + empty + 3 * value + 5 * inline
    if row_tags + int(used.sum()) != len(lt) - 1:
        return None
    t_open = lt[np.minimum(k + 1, len(lt) - 1)]
    inline_start = t_open + 3
    spaced = inline & ~plain_t
    if spaced.any():  # `<t xml:space="preserve">`: the text starts after its `>`
        gt = np.flatnonzero(b[: len(body)] == ord(">"))
        inline_start[spaced] = gt[np.searchsorted(gt, t_open[spaced])] + 1
    text0 = np.where(
        value, lt[np.minimum(k, len(lt) - 1)] + 3, np.where(inline, inline_start, starts)
    )
    text1 = np.where(
        value,
        lt[np.minimum(k + 1, len(lt) - 1)],
        np.where(inline, lt[np.minimum(k + 2, len(lt) - 1)], starts),
    )
    if (text1 < text0).any():
        return None
    try:
        raw = _slices(data, text0, text1)
        text = _typed_text(raw, kind, style, strings, date_styles)
        return CellBlock(rows.astype(np.int32), cols.astype(np.int32), text)
    except pa.ArrowInvalid:  # not UTF-8, or a number Arrow does not read: cell by cell
        return None


def _typed_text(
    raw: pa.Array, kind: np.ndarray, style: np.ndarray, strings: pa.Array, date_styles: set[int]
) -> pa.Array:
    """Each cell's text as `cell_text` writes it, from its raw text, type and style."""
    filled = pc.greater(pc.binary_length(raw), 0).to_numpy(zero_copy_only=False)
    text = raw
    escaped = (kind >= 2) & (kind <= 3) & filled
    if escaped.any():
        has_amp = pc.match_substring(raw, "&").to_numpy(zero_copy_only=False) & escaped
        if has_amp.any():
            fixed = [html.unescape(t) for t in raw.filter(pa.array(has_amp)).to_pylist()]
            text = pc.replace_with_mask(text, pa.array(has_amp), pa.array(fixed, pa.string()))
    shared = (kind == 1) & filled
    if shared.any():
        index = pc.cast(raw.filter(pa.array(shared)), pa.int64())
        text = pc.replace_with_mask(text, pa.array(shared), pc.take(strings, index))
    boolean = (kind == 4) & filled
    if boolean.any():
        yes = pc.equal(raw.filter(pa.array(boolean)), "1")
        words = pc.if_else(yes, "true", "false")
        text = pc.replace_with_mask(text, pa.array(boolean), words)
    number = (kind == 0) & filled
    if number.any():
        values = pc.cast(raw.filter(pa.array(number)), pa.float64()).to_numpy()
        text = pc.replace_with_mask(
            text, pa.array(number), _number_text(values, np.isin(style[number], list(date_styles)))
        )
    return text


def _number_text(values: np.ndarray, dated: np.ndarray) -> pa.Array:
    """Numbers as `cell_text` writes them: whole ones without `.0`, dates in ISO form."""
    whole = (np.floor(values) == values) & (np.abs(values) < 1e15)
    out = pa.array(np.where(whole, values, 0).astype(np.int64)).cast(pa.string())
    whole_days = dated & whole & (np.abs(values) < 2_900_000)
    if whole_days.any():
        days = _EPOCH_DAY + values[whole_days].astype(np.int64).astype("timedelta64[D]")
        iso = pa.array(np.datetime_as_string(days, unit="D"), pa.string())
        out = pc.replace_with_mask(out, pa.array(whole_days), iso)
    other = ~whole | (dated & ~whole_days)
    if other.any():
        picked = values[other].tolist()
        dates = dated[other].tolist()
        texts = [
            cell_text(serial_datetime(v) if d else v) for v, d in zip(picked, dates, strict=True)
        ]
        out = pc.replace_with_mask(out, pa.array(other), pa.array(texts, pa.string()))
    return out
