"""What the benchmarks share: a private ejabberd, accounts, and the report format."""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xmpp_components.stack.ejabberd import EjabberdServer
from xmpp_components.stack.settings import private_settings


@contextmanager
def private_stack() -> Iterator[EjabberdServer]:
    """A private ejabberd from the repository's ejabberd.yml on free ports, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as state:
        server = EjabberdServer(private_settings(Path(state)))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def account(server: EjabberdServer, prefix: str) -> tuple[str, str]:
    """Register a fresh account; returns (jid, password)."""
    user, password = f"{prefix}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    server.register(user, password)
    return f"{user}@{server.settings.domain}", password


@dataclass
class Figure:
    """One measured comparison."""

    name: str
    unit: str
    ours: float
    peer: float
    peer_name: str
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.peer if self.peer else float("inf")

    def line(self) -> str:
        text = (f"{self.name:<44} ours {self.ours:10.3f} {self.unit:<6} "
                f"{self.peer_name} {self.peer:10.3f} {self.unit:<6} ratio {self.ratio:5.2f}")
        return text + (f"   (target: {self.target})" if self.target else "")


@dataclass
class Note:
    """A line printed among the figures: how they were measured, or what they leave out."""

    text: str

    def line(self) -> str:
        return f"  note: {self.text}"


def met(target: str, reached: bool) -> str:
    """A target with whether this run reached it, for :attr:`Figure.target`."""
    return f"{target}: {'met' if reached else 'MISSED'}"


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    return _percentile(samples, 0.95)


def p99(samples: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    return _percentile(samples, 0.99)


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def busy_seconds(cores: set[int]) -> float:
    """CPU seconds ``cores`` have spent busy since boot, whoever ran on them (``/proc/stat``)."""
    busy = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *ticks = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, ticks[:8])
                busy += user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


def waited_for_core() -> float:
    """Seconds the calling thread has spent ready to run but without a core (its run-queue wait
    in ``/proc/thread-self/schedstat``)."""
    with open("/proc/thread-self/schedstat") as schedstat:
        return int(schedstat.read().split()[1]) / 1e9
