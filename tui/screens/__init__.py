"""The client's screens. The journal screen loads when first opened, not at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .main import MainScreen

if TYPE_CHECKING:
    from .journal import JournalScreen

__all__ = ["JournalScreen", "MainScreen"]


def __getattr__(name: str) -> Any:
    if name == "JournalScreen":
        from .journal import JournalScreen

        return JournalScreen
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
