"""Core: the one settings object, the warehouse connection (embedded or external) and the
migrations that shape the `ops` schema and the roles.

Imports nothing else of Observatorio; everything else may import it.
"""
