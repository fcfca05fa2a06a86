"""Indicators: the one definition of every indicator (`dbt_project/indicators/*.yml`), read
by `definitions.py`; `generate.py` writes what dbt needs from them (the definitions as a macro,
the `ref_indicators` seed); `poisson.py` the exact Poisson limits seed.

Imports only `core`: the active country profile's publication rules (`publication.py`) are
merged into the definitions; `lineage` (explain, recompute) reads the definitions.
"""
