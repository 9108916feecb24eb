"""Export a conversation to CSV and Markdown, forward a message to several people (CH9), against the
real ejabberd; the other parties are bare slixmpp clients."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt

from slixmpp import JID

from tui.session.export import export_conversation, forward, markdown
from tui.session.message_index import IndexedMessage
from tui.session.model import Direction, Show


def test_markdown_keeps_lines_and_escapes_markup():
    when = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)
    text = markdown("Chat with Bob <bob@x>", [
        IndexedMessage("bob@x", "1", "bob@x", Direction.INCOMING, when, "Numbers *final*\nsee #3")],
        {"bob@x": "Bob"}, when)
    assert "# Chat with Bob \\<bob@x\\>" in text
    assert "Numbers \\*final\\*  \nsee \\#3  " in text
    assert "· **Bob**" in text
    gone = markdown("x", [IndexedMessage("bob@x", "2", "bob@x", Direction.INCOMING, when, "")], {}, when)
    assert "(message retracted)" in gone


async def test_export_writes_the_whole_conversation_to_csv_and_markdown(pair, session_for, raw_client,
                                                                        tmp_path):
    alice, bob = pair
    phone = await raw_client(alice, resource="phone")
    peer = await raw_client(bob)
    peer.send_message(mto=JID(alice.jid.bare), mbody="Archived: Grüße aus Köln", mtype="chat")
    await asyncio.wait_for(phone.inbox.get(), 10)  # only in the archive for alice's client

    session, watch = await session_for(alice)
    await session.search.wait_read()
    session.send_chat(bob.jid.bare, 'Line one, with "quotes"\nline two')
    await asyncio.wait_for(peer.inbox.get(), 10)
    peer.send_message(mto=JID(alice.jid.bare), mbody="Live answer", mtype="chat")
    await watch.until(lambda: len(session.conversation(bob.jid.bare).messages) == 2, what="answer")

    files = await export_conversation(session, bob.jid.bare)
    assert files.count == 3
    assert files.csv.parent == tmp_path / "exports" and files.csv.name.startswith("chat-bob-")
    raw = files.csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # spreadsheets then read UTF-8
    with files.csv.open(encoding="utf-8-sig", newline="") as table:
        rows = list(csv.DictReader(table))
    assert [(r["direction"], r["text"]) for r in rows] == [
        ("in", "Archived: Grüße aus Köln"), ("out", 'Line one, with "quotes"\nline two'),
        ("in", "Live answer")]
    assert rows[0]["address"] == bob.jid.bare and rows[1]["sender"] == "me"
    assert dt.datetime.fromisoformat(rows[0]["time"]).tzinfo is not None

    text = files.markdown.read_text(encoding="utf-8")
    assert text.startswith(f"# Chat with {bob.jid.user} \\<{bob.jid.bare}\\>")
    assert "Archived: Grüße aus Köln" in text and "Line one, with \"quotes\"  \nline two" in text
    assert "3 messages" in text


async def test_forward_reaches_two_people_and_says_who_wrote_it(pair, make_account, session_for,
                                                                raw_client):
    alice, bob = pair
    carol, dave = make_account("carol"), make_account("dave")
    peer = await raw_client(bob)
    readers = [await raw_client(carol), await raw_client(dave)]
    session, watch = await session_for(alice)
    # bob's presence reaching alice shows the server took alice's: a message now is delivered live
    await watch.until(lambda: session.contacts[bob.jid.bare].show is not Show.OFFLINE, what="bob online")
    peer.send_message(mto=JID(alice.jid.bare), mbody="Offer: 12 % off\nuntil Friday", mtype="chat")
    conversation = session.conversation(bob.jid.bare)
    await watch.until(lambda: conversation.messages, what="bob's offer")

    sent = forward(session, bob.jid.bare, conversation.messages[0], [carol.jid.bare, dave.jid.bare])
    assert len(sent) == 2
    for reader in readers:
        received = await asyncio.wait_for(reader.inbox.get(), 10)
        body = received["body"]
        assert body.startswith(f"Forwarded from {bob.jid.user},")
        assert body.endswith("> Offer: 12 % off\n> until Friday")
        assert received["from"].bare == alice.jid.bare
