"""dBase files (`format: dbf`) and DATASUS's compressed DBF (`format: dbc`).

The header and field list come from dbfread; the records, being fixed-width, are read
a batch at a time straight into numpy and sliced into Arrow columns, so a million
records stream in constant memory at the speed of the disk. A header that lies about
the number of records (a truncated or padded file) rejects the batch, naming both
counts. A DBC is first decompressed (datasus-dbc, PKWARE DCL implode) into a temporary
DBF; a plain DBF renamed `.dbc` is told apart by its size and named as such. Rows are
numbered by record; records flagged deleted (`*`) are not records and are not counted.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.readers.base import ROWS_PER_BATCH, TextBatch

_DELETED = ord("*")
_EOF = b"\x1a"


def _header_sizes(head: bytes) -> tuple[int, int, int]:
    """(records, header length, record length) from a DBF's first 12 bytes."""
    records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    return records, header_len, record_len


class DbfSource:
    def __init__(self, path: Path, contract: Contract, encoding: str, name: str) -> None:
        from dbfread import DBF

        self.path, self.encoding, self.name = path, encoding, name
        try:
            table = DBF(str(path), encoding=encoding, load=False)
        except Exception as exc:  # dbfread raises plain errors on a broken header
            raise BatchError(f"{name}: not a readable DBF header ({type(exc).__name__})") from exc
        unsupported = sorted({f.type for f in table.fields} - set("CNFDLI"))
        if unsupported:
            raise BatchError(f"{name}: DBF field types {unsupported} are not supported")
        self.header = [f.name for f in table.fields]
        self.widths = [int(f.length) for f in table.fields]
        self.records = int(table.header.numrecords)
        self.header_len = int(table.header.headerlen)
        self.record_len = int(table.header.recordlen)
        if 1 + sum(self.widths) != self.record_len:
            raise BatchError(
                f"{name}: the DBF header's fields add up to {1 + sum(self.widths)} bytes a "
                f"record, but it declares {self.record_len}"
            )
        self._check_size()

    def _check_size(self) -> None:
        size = self.path.stat().st_size
        expected = self.header_len + self.records * self.record_len
        complete = max(size - self.header_len, 0) // self.record_len
        if size < expected:
            raise BatchError(
                f"{self.name}: the DBF header declares {self.records} records but the file "
                f"holds {complete} complete records (truncated?)"
            )
        extra = size - expected
        if extra > 1 or (extra == 1 and self._last_byte() != _EOF):
            raise BatchError(
                f"{self.name}: the DBF header declares {self.records} records but the file "
                f"holds {complete} (the header lies about its record count)"
            )

    def _last_byte(self) -> bytes:
        with self.path.open("rb") as handle:
            handle.seek(-1, 2)
            return handle.read(1)

    def batches(self) -> Iterator[TextBatch]:
        offsets = np.cumsum([1, *self.widths])
        with self.path.open("rb") as handle:
            handle.seek(self.header_len)
            done = 0
            while done < self.records:
                count = min(ROWS_PER_BATCH, self.records - done)
                data = handle.read(count * self.record_len)
                grid = np.frombuffer(data, dtype=np.uint8).reshape(count, self.record_len)
                keep = grid[:, 0] != _DELETED
                rows = np.arange(done + 1, done + count + 1, dtype=np.int64)[keep]
                kept = grid[keep]
                arrays = [
                    self._field(kept, int(offsets[i]), width) for i, width in enumerate(self.widths)
                ]
                names = [f"f{i}" for i in range(len(arrays))]
                yield TextBatch(pa.RecordBatch.from_arrays(arrays, names=names), rows)
                done += count

    def _field(self, grid: np.ndarray, start: int, width: int) -> pa.Array:
        n = len(grid)
        block = np.ascontiguousarray(grid[:, start : start + width])
        offsets = pa.py_buffer(np.arange(0, (n + 1) * width, width, dtype=np.int32).tobytes())
        data = pa.py_buffer(block.tobytes())
        if n == 0 or int(block.max()) < 0x80:
            text = pa.StringArray.from_buffers(n, offsets, data)
        else:
            raw = pa.BinaryArray.from_buffers(pa.binary(), n, [None, offsets, data])
            encoded = pc.dictionary_encode(raw)
            decoded = [
                value.decode(self.encoding, errors="strict")
                for value in encoded.dictionary.to_pylist()
            ]
            text = pc.take(pa.array(decoded, pa.string()), encoded.indices)
        # Character fields are padded with spaces (some writers pad with NULs).
        return pc.utf8_trim(text, characters=" \x00")

    def close(self) -> None:
        return None


class DbcSource(DbfSource):
    """A DBC decompressed into a temporary DBF, removed when the source is closed."""

    def __init__(self, path: Path, contract: Contract, encoding: str) -> None:
        import datasus_dbc

        with path.open("rb") as handle:
            head = handle.read(12)
        if len(head) < 12:
            raise BatchError(f"{path.name}: too short to be a DBC")
        records, header_len, record_len = _header_sizes(head)
        size = path.stat().st_size
        if size in (header_len + records * record_len, header_len + records * record_len + 1):
            raise BatchError(
                f"{path.name}: not compressed: this is a plain DBF named .dbc (its size "
                "matches its header); declare format: dbf for it"
            )
        self._tmp = tempfile.TemporaryDirectory(prefix="observatorio-dbc-")
        target = Path(self._tmp.name) / (path.stem + ".dbf")
        try:
            datasus_dbc.decompress(str(path), str(target))
        except Exception as exc:  # the decompressor's errors carry no file name
            self._tmp.cleanup()
            raise BatchError(
                f"{path.name}: not a valid DBC: decompression failed ({type(exc).__name__})"
            ) from exc
        try:
            super().__init__(target, contract, encoding, path.name)
        except BatchError:
            self._tmp.cleanup()
            raise

    def close(self) -> None:
        self._tmp.cleanup()


def open_dbf(path: Path, contract: Contract, encoding: str) -> DbfSource:
    if contract.format == "dbc":
        return DbcSource(path, contract, encoding)
    return DbfSource(path, contract, encoding, path.name)
