"""What the message view shows around a message's text, and instead of it: the message a reply
answers (XEP-0461) above, the reactions (XEP-0444) below, *message retracted* (XEP-0424) in place of
the text, ``/me`` as an action, and @mentions highlighted (CH4).

Each part is plain rich :class:`~rich.text.Text`, so the view measures it (its plain text) and
renders it (its styles) the same way.
"""

from __future__ import annotations

import re

from rich.text import Text

from tui.session.model import ChatMessage, Conversation, Direction
from tui.session.reactions import tally

RETRACTED = "⊘ message retracted"
MENTION = re.compile(r"(?<![\w@])@[^\s@]+")


def display_name(who: str, names: dict[str, str], me: str) -> str:
    """How a sender or reactor reads: *me*, the roster name, an occupant's nick, the local part."""
    if who == me:
        return "me"
    if who in names:
        return names[who]
    if "/" in who:  # room/nick: an occupant whose address the room does not show
        return who.split("/", 1)[1]
    return who.split("@")[0]


def body(message: ChatMessage, text: Text, sender: str) -> Text:
    """The body as shown: ``text`` (the message's text, or its file entry) with @mentions
    highlighted; *message retracted* for a retracted one, ``* sender does`` for ``/me``."""
    if message.retracted:
        return Text(RETRACTED, style="italic dim")
    if message.is_action:
        return Text.assemble("* ", (sender, "bold"), message.body[3:], style="italic")
    if message.mentions_me:  # it names me: the whole text stands out, as in irssi and poezio
        text = text.copy()
        text.stylize("bold yellow")
    elif "@" in text.plain:
        text = text.copy()
        text.highlight_regex(MENTION, "bold yellow")
    return text


def body_plain(message: ChatMessage, plain: str, sender: str) -> str:
    """:func:`body` without styles, for measuring."""
    if message.retracted:
        return RETRACTED
    if message.is_action:
        return f"* {sender}{message.body[3:]}"
    return plain


def quote(message: ChatMessage, conversation: Conversation | None, names: dict[str, str],
          me: str) -> Text | None:
    """One line naming what a reply answers: its author and the start of its text."""
    if message.retracted or (not message.reply_to and not message.quote):
        return None
    original = conversation.find(message.reply_to) if conversation and message.reply_to else None
    if original is not None:
        author = "me" if original.direction is Direction.OUTGOING else \
            original.nick or display_name(original.sender, names, me)
        text = RETRACTED if original.retracted else original.body
    else:
        author, text = "", message.quote
    first = text.strip().split("\n", 1)[0]
    line = Text.assemble(("↱ ", "dim"), (f"{author}: " if author else "", "bold dim"), (first, "dim italic"))
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


def reactions(message: ChatMessage, names: dict[str, str], me: str) -> Text | None:
    """The reactions under a message: each emoji with how many gave it and who."""
    if message.retracted or not message.reactions:
        return None
    parts = []
    for emoji, who in tally(message):
        people = ", ".join(display_name(w, names, me) for w in who)
        mine = me in who
        parts.append(Text.assemble((emoji, ""), (f" {len(who)} ", "bold" if mine else ""),
                                   (people, "cyan" if mine else "dim")))
    return Text("  ").join(parts)
