from __future__ import annotations

import hashlib
import time
from datetime import date
from pathlib import Path

from simulator import generate


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        started = time.perf_counter()
        generate(tmp_path / name, seed=3, scale="tiny", start=date(2024, 1, 1), days=365)
        # tiny is for unit tests: it has to stay fast.
        assert time.perf_counter() - started < 10
        digests.append(tree_digest(tmp_path / name))
    assert digests[0] == digests[1]
    assert len(digests[0]) > 4 * 365
    generate(tmp_path / "c", seed=4, scale="tiny", start=date(2024, 1, 1), days=365)
    other = tree_digest(tmp_path / "c")
    assert other["truth/events.csv"] != digests[0]["truth/events.csv"]
