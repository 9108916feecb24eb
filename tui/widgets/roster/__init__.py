"""The contact list."""

from .roster_list import PRESENCE_COLOURS, RosterList, presence_dot

__all__ = ["PRESENCE_COLOURS", "RosterList", "presence_dot"]
