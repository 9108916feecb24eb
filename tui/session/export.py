"""Export a conversation (CH9) as CSV for a spreadsheet and as Markdown for a text editor, and the
text of a forwarded message.

The messages exported are the ones the search index holds (everything read from the server
archive) together with those the session has in memory (the newest, with their corrections);
files go to the client's export directory (:func:`tui.settings.exports_dir`).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .message_index import IndexedMessage
from .model import ChatMessage, Direction
from .search import indexed

if TYPE_CHECKING:
    from .client import ChatSession

CSV_COLUMNS = ("time", "sender", "address", "direction", "text")

RETRACTED = "(message retracted)"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


@dataclass(frozen=True)
class ExportedFiles:
    """Where an export went."""

    csv: Path
    markdown: Path
    count: int
    """How many messages it holds."""


def merged(indexed: Iterable[IndexedMessage], in_memory: Iterable[IndexedMessage]) -> list[IndexedMessage]:
    """The messages of both sources, once each (memory wins: it has the latest corrections), by time."""
    by_id = {m.message_id: m for m in indexed}
    by_id.update((m.message_id, m) for m in in_memory)
    return sorted(by_id.values(), key=lambda m: m.time)


def sender_name(message: IndexedMessage, names: Mapping[str, str]) -> str:
    """Who wrote ``message``, as the conversation shows it."""
    if message.direction is Direction.OUTGOING:
        return "me"
    return message.nick or names.get(message.sender) or message.sender.split("@")[0]


def shown_text(message: IndexedMessage) -> str:
    """The text as exported: a retracted message (its text gone) says so."""
    return message.body or RETRACTED


def file_stem(conversation: str, now: dt.datetime) -> str:
    """``chat-bob-20261126-0930``: the conversation's name part and when it was exported."""
    local = re.sub(r"[^\w.-]+", "-", conversation.split("@")[0]).strip("-") or "chat"
    return f"chat-{local}-{now.astimezone():%Y%m%d-%H%M%S}"


def write_csv(path: Path, messages: Iterable[IndexedMessage], names: Mapping[str, str]) -> None:
    """One row per message: ISO time with offset, sender, address, in/out, text (UTF-8 with a byte
    order mark, so spreadsheets read the accents right)."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for message in messages:
            writer.writerow((message.time.astimezone().isoformat(timespec="seconds"),
                             sender_name(message, names), message.sender, message.direction.value,
                             shown_text(message)))


def markdown(title: str, messages: list[IndexedMessage], names: Mapping[str, str],
             exported: dt.datetime) -> str:
    """The conversation as Markdown: a heading per day, each message as time, sender and text."""
    lines = [f"# {_escape(title)}", "",
             f"Exported {exported.astimezone():%Y-%m-%d %H:%M} · {len(messages)} messages", ""]
    day: dt.date | None = None
    for message in messages:
        local = message.time.astimezone()
        if local.date() != day:
            day = local.date()
            lines += [f"## {day:%A, %d %B %Y}", ""]
        lines.append(f"**{local:%H:%M}** · **{_escape(sender_name(message, names))}**  ")
        lines += [_escape(line) + "  " for line in shown_text(message).split("\n")]
        lines.append("")
    return "\n".join(lines)


def export(directory: Path, conversation: str, title: str, messages: list[IndexedMessage],
           names: Mapping[str, str], now: dt.datetime | None = None) -> ExportedFiles:
    """Write ``messages`` as CSV and Markdown into ``directory``; returns the two files."""
    now = now or dt.datetime.now(dt.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    stem = file_stem(conversation, now)
    csv_path, md_path = directory / f"{stem}.csv", directory / f"{stem}.md"
    write_csv(csv_path, messages, names)
    md_path.write_text(markdown(title, messages, names, now) + "\n", encoding="utf-8")
    return ExportedFiles(csv_path, md_path, len(messages))


def forwarded_text(message: IndexedMessage, names: Mapping[str, str]) -> str:
    """The body that forwards ``message``: who wrote it and when, then its text quoted (XEP-0393)."""
    who = message.nick or names.get(message.sender) or message.sender
    header = f"Forwarded from {who}, {message.time.astimezone():%d %b %Y %H:%M}:"
    return "\n".join([header, *(f"> {line}" for line in message.body.split("\n"))])


class ExportError(Exception):
    """Exporting or forwarding failed; the text says why and what to do next."""


def conversation_title(session: ChatSession, jid: str) -> str:
    """``Chat with Bob <bob@localhost>`` or ``Room Sales Team <sales@conference.localhost>``."""
    room = session.rooms.by_jid.get(jid)
    if room is not None:
        return f"Room {room.display_name} <{jid}>"
    contact = session.contacts.get(jid)
    return f"Chat with {contact.display_name if contact else jid.split('@')[0]} <{jid}>"


def contact_names(session: ChatSession) -> dict[str, str]:
    """Bare JID -> how the contact is called."""
    return {c.jid: c.display_name for c in session.contacts.values()}


async def export_conversation(session: ChatSession, jid: str,
                              directory: Path | None = None) -> ExportedFiles:
    """Export everything known of ``jid``'s conversation (index and memory) to CSV and Markdown
    in ``directory`` (default: the export directory)."""
    from tui.settings import exports_dir

    conversation = session.conversations.get(jid)
    memory = [indexed(jid, m) for m in conversation.messages] if conversation else []
    try:
        stored = await session.search.history(jid)
    except Exception:  # a broken index still leaves what is in memory to export
        stored = []
    messages = merged(stored, memory)
    if not messages:
        raise ExportError("This conversation has no messages yet; nothing was written.")
    target = directory or exports_dir()
    try:
        return await asyncio.to_thread(export, target, jid, conversation_title(session, jid), messages,
                                       contact_names(session))
    except OSError as exc:
        raise ExportError(f"Cannot write into {target} ({exc.strerror or exc}); set "
                          "SWITCHBOARD_CLIENT_EXPORTS to a folder you can write to.") from None


def forward(session: ChatSession, source: str, message: ChatMessage,
            recipients: Iterable[str]) -> list[ChatMessage]:
    """Send ``message`` of the conversation ``source`` on to each of ``recipients`` (contacts or
    rooms I am in), saying who wrote it and when; returns the messages sent."""
    text = forwarded_text(indexed(source, message), contact_names(session))
    sent, failed = [], []
    for jid in recipients:
        try:
            sent.append(session.send_chat(jid, text))
        except Exception as exc:  # a room I left: the others still get it
            failed.append(f"{jid} ({exc})")
    if failed:
        raise ExportError(f"Forwarded to {len(sent)}, not to {', '.join(failed)}.")
    return sent


def _escape(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
