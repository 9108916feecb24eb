"""The small base every component builds on."""

from .commands import Command, CommandRegistry, Field, Result
from .component import SwitchboardComponent, run
from .logging import RedactingFilter, redact, setup_logging
from .main import component_main

__all__ = [
    "Command", "CommandRegistry", "Field", "RedactingFilter", "Result", "SwitchboardComponent",
    "component_main", "redact", "run", "setup_logging",
]
