"""Indicators: the one definition of every indicator (`dbt_project/indicators/*.yml`), read
by `definitions.py`; `generate.py` writes what dbt needs from them (the definitions as a macro,
the `ref_indicators` seed); `poisson.py` the exact Poisson limits seed.

Imports nothing else of Observatorio; `lineage` (explain, recompute) reads the definitions.
"""
