"""How the `observatorio` command ends: one line on stderr and a distinct exit code.

| code | meaning |
| --- | --- |
| 0 | done (a batch loaded or skipped, a delivery made) |
| 1 | usage or missing input (unknown command, source, indicator or file) |
| 2 | a batch was rejected (the reason is printed, and in `--json`) |
| 3 | configuration (settings, key, profile, warehouse unreachable) |

`run_cli` maps every error to one of these, so a person never sees a Python traceback;
the full details of the main job are in its log file, named on the last line.
"""

from __future__ import annotations

import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_REJECTED = 2
EXIT_CONFIG = 3


class CliError(Exception):
    """An error the command reports as one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print `error: <message>` as one line on stderr and end the command with `code`."""
    import typer

    print(f"error: {one_line(message)}", file=sys.stderr)
    raise typer.Exit(code)


def one_line(text: str, limit: int = 2000) -> str:
    """The message on one line: a person reads it, a log collector keeps it whole."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def report(message: str, code: int) -> NoReturn:
    print(f"error: {one_line(message)}", file=sys.stderr)
    raise SystemExit(code)
