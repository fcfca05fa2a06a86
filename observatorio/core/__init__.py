"""Core: the one settings object, the warehouse connection (embedded or external), the
migrations that shape the `ops` schema and the roles, and the country profile (`profile`).

Imports nothing else of Observatorio; everything else may import it.
"""
