"""Cold start of the terminal client to its first frame, beside a bare Textual app.

Each start is a fresh Python process (imports included, as a user sees it): the parent notes the
time, starts ``python -m bench.tui_start <kind> <t0>``, and the child prints how long after ``t0``
its first screen refresh happened. The bare app is a Textual ``App`` with a header line, a
``Static`` and a ``Footer``; ours is the Switchboard client on a demo account that does not
connect (so the figure is the client, not the network).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import Figure, met

RUNS = 7


def _child(kind: str, t0: float) -> None:
    """Start the app, print the seconds from ``t0`` to its first frame (Textual's ``Ready``
    event: the DOM is ready and the first frame was displayed), and exit."""
    from textual.app import App, ComposeResult

    if kind == "ours":
        import tui.app
        from tui.app import SwitchboardApp
        from tui.session import Account

        class Ours(SwitchboardApp):
            CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))  # not next to this file

            def on_ready(self) -> None:
                print(f"{time.time() - t0:.6f}", flush=True)
                self.exit()

        Ours(Account("alice@localhost", "alice"), autoconnect=False).run(headless=True)
        return
    from textual.widgets import Footer, Static

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("Switchboard")
            yield Static("hello")
            yield Footer()

        def on_ready(self) -> None:
            print(f"{time.time() - t0:.6f}", flush=True)
            self.exit()

    Bare().run(headless=True)


def _start(kind: str) -> float:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "bench.tui_start", kind, repr(t0)],
                         capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout.strip().splitlines()[-1]) * 1000


async def run(_server: object = None) -> list[Figure]:
    ours, bare = [], []
    for _ in range(RUNS):  # interleaved, so both see the same machine
        ours.append(_start("ours"))
        bare.append(_start("bare"))
    o, b = statistics.median(ours), statistics.median(bare)
    return [Figure("client cold start to first frame, median", "ms", o, b, "bare Textual",
                   met("≤ 1.5× a bare Textual app", o <= 1.5 * b))]


if __name__ == "__main__":
    _child(sys.argv[1], float(sys.argv[2]))
