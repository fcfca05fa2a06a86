"""Command line of the simulator: ``python -m simulator`` and ``observatorio simulate``.

``python -m simulator --seed 1 --scale small --start 2024-01-01 --days 365 --out DIR``
generates; ``--justice-url URL`` also loads the justice database; ``--serve`` then keeps the
health API running until interrupted. ``register`` contributes the same command to the
``observatorio`` CLI through the entry point group ``observatorio.commands``
(pyproject.toml), so the product never imports the simulator. The simulator's modules are
imported when the command runs, not when the CLI starts.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import typer

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (shared with the ``observatorio simulate`` wrapper)."""
    from simulator.config import SCALE_EVENTS_PER_YEAR
    from simulator.health_api import DEFAULT_FAILURE_RATE, DEFAULT_TOKEN
    from simulator.reference import DEMO_GEOGRAPHY

    parser = argparse.ArgumentParser(prog="simulate", description=__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", choices=sorted(SCALE_EVENTS_PER_YEAR), default="small")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--messiness", type=float, default=1.0)
    parser.add_argument(
        "--municipalities",
        type=int,
        default=DEMO_GEOGRAPHY.municipalities,
        help="municipalities of the country (default: the demo's 60)",
    )
    parser.add_argument(
        "--departments",
        type=int,
        default=DEMO_GEOGRAPHY.departments,
        help="departments of the country (default: the demo's 5)",
    )
    parser.add_argument(
        "--justice-url", default=None, help="SQLAlchemy URL to load the justice database into"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="after generating, serve the health API until interrupted",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--failure-rate", type=float, default=DEFAULT_FAILURE_RATE)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simulator from the command line; returns the process exit code."""
    from simulator.engine import generate
    from simulator.health_api import serve
    from simulator.justice import load_database
    from simulator.reference import Geography

    args = build_parser().parse_args(argv)
    try:
        geography = Geography(args.municipalities, args.departments)
    except ValueError as exc:
        build_parser().error(str(exc))
    summary = generate(
        args.out, args.seed, args.scale, args.start, args.days, args.messiness, geography
    )
    print(json.dumps({k: summary[k] for k in ("events", "police_rows", "health", "justice")}))
    if args.justice_url:
        print(json.dumps({"justice_loaded": load_database(args.out, args.justice_url)}))
    if args.serve:
        server = serve(
            args.out,
            port=args.port,
            token=args.token,
            failure_rate=args.failure_rate,
            seed=args.seed,
        )
        print(f"health API at {server.url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
    return 0


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the ``observatorio`` CLI; its options pass through to ``main``."""

    @app.command(context_settings=PASS_THROUGH, add_help_option=False)
    def simulate(ctx: typer.Context) -> None:
        """The synthetic country: `observatorio simulate --seed 1 --scale small --out DIR`.

        Options: --seed, --scale {tiny,small,medium,large}, --start, --days, --out,
        --messiness, --municipalities, --departments, --justice-url, --serve
        (see simulator/README.md).
        """
        raise typer.Exit(main(list(ctx.args)))
