"""Command-palette providers made from a list of actions."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

Command = tuple[str, str, Callable[[], object]]
"""A palette entry: title, help text, what it does."""


class ActionCommands(Provider):
    """Offers the actions :meth:`commands` lists: all of them when the palette opens, those whose
    title matches what is typed as the user types."""

    def commands(self) -> list[Command]:
        """The actions that apply now."""
        raise NotImplementedError

    async def discover(self) -> Hits:
        """Every action that applies now."""
        for title, help_text, callback in self.commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """The actions whose title matches ``query``."""
        matcher = self.matcher(query)
        for title, help_text, callback in self.commands():
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
