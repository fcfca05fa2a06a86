"""``python -m simulator``: the simulator's command line."""

from simulator.cli import main

raise SystemExit(main())
