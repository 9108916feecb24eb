"""A real X display for screen-sharing tests: Xvfb on a free display number, two monitors side by
side (RandR 1.5 monitors on one screen), the left one red and the right one green.

Xvfb comes from Debian's ``xvfb`` package and ``xsetroot``/``xrandr`` from ``x11-xserver-utils``,
both installed by ``scripts/install.sh``: if they are missing the fixture fails, never skips.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

WIDTH, HEIGHT = 320, 240
LEFT_RGB, RIGHT_RGB = (255, 0, 0), (0, 200, 0)


@dataclass(frozen=True)
class Display:
    """A running Xvfb: ``name`` is what DISPLAY says; the two halves have these colours."""

    name: str
    left_rgb: tuple[int, int, int] = LEFT_RGB
    right_rgb: tuple[int, int, int] = RIGHT_RGB


def _half_bitmap(path: Path) -> None:
    """An XBM as big as the screen whose left half is set (foreground) and right half clear."""
    row = [0xFF] * (WIDTH // 2 // 8) + [0x00] * (WIDTH // 2 // 8)
    lines = ",\n".join(", ".join(f"0x{b:02x}" for b in row) for _ in range(HEIGHT))
    path.write_text(f"#define half_width {WIDTH}\n#define half_height {HEIGHT}\n"
                    f"static unsigned char half_bits[] = {{\n{lines}}};\n")


def _run(display: str, *command: str) -> None:
    subprocess.run(command, env={**os.environ, "DISPLAY": display}, check=True,
                   capture_output=True, timeout=20)


@pytest.fixture
def xvfb() -> Iterator[Display]:
    """Start Xvfb on a display number it picks itself (``-displayfd``); stopped afterwards."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{WIDTH}x{HEIGHT}x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 20)
        number = os.read(read_end, 16).decode().strip() if ready else ""
        assert number.isdigit(), "Xvfb did not start (is the xvfb package installed?)"
        name = f":{number}"
        with tempfile.TemporaryDirectory() as folder:
            bitmap = Path(folder) / "half.xbm"
            _half_bitmap(bitmap)
            left, right = (f"rgb:{r:02x}/{g:02x}/{b:02x}" for r, g, b in (LEFT_RGB, RIGHT_RGB))
            _run(name, "xsetroot", "-bitmap", str(bitmap), "-fg", left, "-bg", right)
        half = WIDTH // 2
        _run(name, "xrandr", "--setmonitor", "left", f"{half}/40x{HEIGHT}/30+0+0", "none")
        _run(name, "xrandr", "--setmonitor", "right", f"{half}/40x{HEIGHT}/30+{half}+0", "none")
        yield Display(name)
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(timeout=10)
