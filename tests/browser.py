"""A real browser for the tests: Playwright driving the distribution's Chromium.

No browser is downloaded: Playwright launches `/usr/bin/chromium` (Debian's `chromium`,
which `.ci/run` installs), or the binary named by `OBSERVATORIO_CHROMIUM`. The flags keep
Chromium off the network it would otherwise try to reach at start (this machine has none)
and let it run as root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path(os.environ.get("OBSERVATORIO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@contextmanager
def chromium(
    width: int = 1400, height: int = 900, extra_args: tuple[str, ...] = ()
) -> Iterator[BrowserContext]:
    """A fresh browser context (its own profile, no cookies) in headless Chromium."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} not found: .ci/run installs Debian's chromium "
        "(apt-get install -y chromium), or set OBSERVATORIO_CHROMIUM"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args]
        )
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            yield context
        finally:
            browser.close()
