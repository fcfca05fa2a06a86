"""Archives around a file: `container: zip` (with a `member` glob) or `gz`.

The member is unpacked, streamed, into a temporary folder the loader owns, and read from
there like any delivered file. Zero or several members matching the pattern reject the
batch, naming the archive, the pattern and the matches. Text formats inside `.gz`
(csv, jsonl, json, fixed_width) are read compressed as they are; binary formats are
unpacked first.
"""

from __future__ import annotations

import fnmatch
import gzip
import shutil
import zipfile
import zlib
from pathlib import Path

from ingestion.contract import TEXT_FORMATS, Contract
from ingestion.errors import BatchError

CHUNK = 1 << 20


def materialise(path: Path, contract: Contract, workdir: Path) -> Path:
    """The file to read: `path` itself, or its member unpacked into `workdir`."""
    if contract.container == "zip":
        return _zip_member(path, contract.member or "*", workdir)
    if contract.container == "gz" or path.suffix == ".gz":
        if contract.format in TEXT_FORMATS:
            return path
        return _gunzipped(path, workdir)
    return path


def _zip_member(path: Path, pattern: str, workdir: Path) -> Path:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BatchError(f"{path.name}: not a readable zip archive") from exc
    with archive:
        names = [
            info.filename
            for info in archive.infolist()
            if not info.is_dir() and fnmatch.fnmatch(Path(info.filename).name, pattern)
        ]
        if len(names) != 1:
            found = ", ".join(map(repr, names)) if names else "none"
            raise BatchError(
                f"{path.name}: expected exactly one member matching {pattern!r}, "
                f"found {len(names)} ({found})"
            )
        target = workdir / Path(names[0]).name
        try:
            with archive.open(names[0]) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, CHUNK)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise BatchError(f"{path.name}: member {names[0]!r} is corrupt") from exc
    return target


def _gunzipped(path: Path, workdir: Path) -> Path:
    target = workdir / (path.stem if path.suffix == ".gz" else path.name)
    try:
        with gzip.open(path, "rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, CHUNK)
    except (gzip.BadGzipFile, zlib.error, OSError, EOFError) as exc:
        raise BatchError(f"{path.name}: the gzip stream is truncated or corrupt") from exc
    return target
