"""Linkage: record linkage of homicide victims across police, prosecution, forensic and
hospital records (Splink on DuckDB), and the victim register it keeps in the warehouse.

Imports `core` only.
"""
