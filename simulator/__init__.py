"""Observatorio's synthetic country: messy source-system exports with known ground truth.

``simulator.generate(out, seed, scale, start, days, messiness)`` writes the exports of the
police, justice, health, survey and consultation systems under ``out/exports`` and the truth
under ``out/truth``. See simulator/README.md for the world, every layout and every defect.
``simulator.demo`` prepares the demo country for ``make run`` (the demo profile's hook).

``generate`` is imported on first use, so the ``observatorio`` CLI can load the simulator's
command (``simulator.cli.register``) without loading the whole simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.engine import generate

__all__ = ["generate"]


def __getattr__(name: str) -> Any:
    if name == "generate":
        from simulator.engine import generate

        return generate
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
