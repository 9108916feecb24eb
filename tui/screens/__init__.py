"""The client's screens."""

from .journal import JournalScreen
from .main import MainScreen

__all__ = ["JournalScreen", "MainScreen"]
