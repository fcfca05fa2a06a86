"""The `observatorio` command line: one-line errors, distinct exit codes.

The top of the house: may import every other subpackage; nothing imports it.
"""
