"""Reactions (XEP-0444) as the client keeps them: per person a set of emojis on a message.

A reaction stanza carries *all* of its sender's emojis for one message, so each one replaces what
that sender gave before; an empty one takes them all back.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import ChatMessage

QUICK = ("👍", "❤️", "😂", "😮", "😢", "🙏", "👏", "🎉")
"""The emojis offered by the reaction picker, in its order (digits 1–8 choose them)."""


def toggled(current: Iterable[str], emoji: str) -> tuple[str, ...]:
    """``current`` with ``emoji`` added, or taken away when it is there."""
    mine = list(current)
    return tuple(e for e in mine if e != emoji) if emoji in mine else (*mine, emoji)


def set_reactions(message: ChatMessage, who: str, emojis: Iterable[str]) -> bool:
    """``who`` now reacts to ``message`` with exactly ``emojis``; True when anything changed."""
    given = tuple(dict.fromkeys(e for e in emojis if e))
    if message.reactions.get(who, ()) == given:
        return False
    if given:
        message.reactions[who] = given
    else:
        message.reactions.pop(who, None)
    return True


def tally(message: ChatMessage) -> list[tuple[str, list[str]]]:
    """Each emoji given to ``message`` with who gave it, the first-given emoji first."""
    by_emoji: dict[str, list[str]] = {}
    for who, emojis in message.reactions.items():
        for emoji in emojis:
            by_emoji.setdefault(emoji, []).append(who)
    return list(by_emoji.items())
