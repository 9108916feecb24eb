"""Processes the launcher starts in the background, tracked by pid files in the state folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .settings import StackSettings

COMPONENTS = ("journal", "calls")
"""Components the launcher runs, each as ``python -m xmpp_components.<name>``."""

READY_LINE = "connected to"
"""What a component logs once ejabberd accepted its handshake."""

ASSISTANT_READY_LINE = "online ("
"""What the assistant logs once its account is logged in."""


class ProcessError(RuntimeError):
    """A background process did not start or stop; the message says what to look at."""


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def read_pid(pid_file: Path, marker: str) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs and its command line contains
    ``marker`` (so a recycled pid is never mistaken for ours)."""
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) and marker.encode() in cmdline else None


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` s, then SIGKILL its whole process group."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # helpers started by the process (erl_child_setup, …) share its group
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    # until it is gone from the process table too (reaped), so `pgrep` right after shows nothing
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # ours to reap if we started it in this process
        time.sleep(0.02)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    if not path.exists():
        return "(no log yet)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ServiceProcess:
    """One background process of the stack: a component or the assistant."""

    def __init__(self, settings: StackSettings, name: str, module: str, ready_line: str,
                 env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.name = name
        self.module = module
        self.ready_line = ready_line
        self.env = env or {}

    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The running component's pid, or None."""
        return read_pid(self.pid_file, self.module)

    def start(self, timeout: float = 20.0) -> int:
        """Start the component unless it runs; return its pid once it is connected."""
        if (pid := self.pid()) is not None:
            return pid
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        env = dict(os.environ, **self.settings.component_env(), **self.env)
        with open(self.settings.log_dir / f"{self.name}.out", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "--log-file", str(self.log_file)],
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ProcessError(f"{self.name} exited at start (code {proc.returncode}):\n"
                                   + tail(self.settings.log_dir / f"{self.name}.out"))
            if self.log_file.exists():
                with open(self.log_file, "rb") as log:
                    log.seek(offset)
                    if self.ready_line.encode() in log.read():
                        return proc.pid
            time.sleep(0.1)
        raise ProcessError(f"{self.name} did not log in to ejabberd within {timeout:.0f} s; "
                           f"see {self.log_file}:\n{tail(self.log_file)}")

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the component; True if it was running."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, timeout)
        return True


def ComponentProcess(settings: StackSettings, name: str) -> ServiceProcess:  # noqa: N802
    """The background process of component ``name`` (``python -m xmpp_components.<name>``)."""
    return ServiceProcess(settings, name, f"xmpp_components.{name}", READY_LINE)


def AssistantProcess(settings: StackSettings, password: str) -> ServiceProcess:  # noqa: N802
    """The assistant's background process, logged in as ``assistant@<domain>``."""
    env = {
        "SWITCHBOARD_ASSISTANT_JID": f"assistant@{settings.domain}",
        "SWITCHBOARD_ASSISTANT_PASSWORD": password,
        "SWITCHBOARD_ASSISTANT_SERVER": settings.bind_ip,
        "SWITCHBOARD_ASSISTANT_PORT": str(settings.c2s_port),
        "SWITCHBOARD_ASSISTANT_CA_FILE": str(settings.ca_file),
        "SWITCHBOARD_ASSISTANT_DATABASE_URL": settings.effective_database_url,
    }
    return ServiceProcess(settings, "assistant", "bridge_bot", ASSISTANT_READY_LINE, env)
