"""The error a whole batch ends with: its message names the file and the problem.

Messages name files, rows, sheets, cells and columns, never a cell's content.
"""


class BatchError(ValueError):
    """The whole file cannot be ingested; the message names the file and the problem."""
