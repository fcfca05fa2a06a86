"""Observatorio: a citizen-security data warehouse for Latin America and the Caribbean.

The importable core: settings, the warehouse connection (embedded or external), the
Airflow environment, dbt invocation, extracts and the command-line interface.
"""

__version__ = "0.1.0"
