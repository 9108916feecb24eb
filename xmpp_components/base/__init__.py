"""The small base every component builds on.

Names load on first use (PEP 562), so a client that needs only :mod:`.reconnect` does not import
the component machinery and its settings at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .commands import Command, CommandRegistry, Field, Result
    from .component import SwitchboardComponent, run
    from .logging import RedactingFilter, redact, setup_logging
    from .main import component_main

_WHERE = {
    "Command": "commands", "CommandRegistry": "commands", "Field": "commands", "Result": "commands",
    "SwitchboardComponent": "component", "run": "component",
    "RedactingFilter": "logging", "redact": "logging", "setup_logging": "logging",
    "component_main": "main",
}

__all__ = [
    "Command", "CommandRegistry", "Field", "RedactingFilter", "Result", "SwitchboardComponent",
    "component_main", "redact", "run", "setup_logging",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
