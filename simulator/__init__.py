"""Observatorio's synthetic country: messy source-system exports with known ground truth.

``simulator.generate(out, seed, scale, start, days, messiness)`` writes the exports of the
police, justice, health, survey and consultation systems under ``out/exports`` and the truth
under ``out/truth``. See simulator/README.md for the world, every layout and every defect.
"""

from simulator.engine import generate

__all__ = ["generate"]
