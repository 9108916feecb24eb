"""journal.<domain>: one journal of every call and chat of each user (JO1–JO5)."""

from .component import JournalComponent

__all__ = ["JournalComponent"]
