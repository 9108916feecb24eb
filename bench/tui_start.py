"""Cold start of the terminal client to its first frame, beside a bare Textual app.

Each start is a fresh Python process (imports included, as a user sees it): the parent notes the
time, starts ``python -m bench.tui_start <kind> <t0>``, and the child prints how long after ``t0``
its first screen refresh happened. The bare app is a Textual ``App`` with a header line, a
``Static`` and a ``Footer``; ours is the Switchboard client on a demo account that does not
connect (so the figure is the client, not the network).

Both start with compiled bytecode, as an installed client does (pip compiles what it installs, and
a checkout keeps ``__pycache__`` after its first start): the children write it to a private cache
(``PYTHONPYCACHEPREFIX``, also where ``PYTHONDONTWRITEBYTECODE`` is set), and one untimed start of
each fills it. Without that, our modules were compiled from source at every start while Textual's
came compiled from the virtualenv (~100 ms of the gap).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import Figure, Note, met

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


def _start(kind: str, bytecode: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = bytecode
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "bench.tui_start", kind, repr(t0)],
                         capture_output=True, text=True, check=True, timeout=60, env=env)
    return float(out.stdout.strip().splitlines()[-1]) * 1000


async def run(_server: object = None) -> list[Figure | Note]:
    ours, bare = [], []
    with tempfile.TemporaryDirectory(prefix="switchboard-bytecode-") as bytecode:
        first = _start("ours", bytecode), _start("bare", bytecode)  # compiles what each imports
        for _ in range(RUNS):  # interleaved, so both see the same machine
            ours.append(_start("ours", bytecode))
            bare.append(_start("bare", bytecode))
    o, b = statistics.median(ours), statistics.median(bare)
    return [Figure("client cold start to first frame, median", "ms", o, b, "bare Textual",
                   met("≤ 1.5× a bare Textual app", o <= 1.5 * b)),
            Note(f"with compiled bytecode, as installed; the untimed first starts that compiled "
                 f"it took {first[0]:.0f} ms (ours) and {first[1]:.0f} ms (bare)")]


if __name__ == "__main__":
    _child(sys.argv[1], float(sys.argv[2]))
