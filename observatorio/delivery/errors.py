"""The errors a delivery raises: the CLI prints their message as one line, never a traceback."""

from __future__ import annotations


class ExtractError(RuntimeError):
    """An extract spec is invalid or its delivery failed."""


class SpreadsheetError(ExtractError):
    """Data that cannot be written safely to a spreadsheet (Excel's limits)."""


class EmptyExtractError(ExtractError):
    """The delivery would hold no rows and its spec does not say `allow_empty: true`."""
