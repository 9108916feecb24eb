"""The client-session layer against the real ejabberd, with a bare slixmpp client as the peer."""

from __future__ import annotations

import asyncio

import pytest
from slixmpp import JID

from tui.session import ChatSession, Delivery, Direction, Show, events

from .conftest import session_account


async def test_roster_shows_peer_presence_and_note(pair, session_for, raw_client):
    alice, bob = pair
    session, watch = await session_for(alice)
    bob_jid = bob.jid.bare
    assert bob_jid in session.contacts
    assert session.contacts[bob_jid].show is Show.OFFLINE

    peer = await raw_client(bob, presence=False)
    peer.send_presence(pshow="away", pstatus="Sales meeting until 10:30")
    await watch.until(lambda: session.contacts[bob_jid].show is Show.AWAY, what="bob away")
    assert session.contacts[bob_jid].status == "Sales meeting until 10:30"

    peer.send_presence(pshow="dnd", pstatus="")
    await watch.until(lambda: session.contacts[bob_jid].show is Show.DND, what="bob busy")

    await peer.stop()
    await watch.until(lambda: session.contacts[bob_jid].show is Show.OFFLINE, what="bob offline")


async def test_ticks_sent_delivered_read_with_times(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob)
    session, watch = await session_for(alice)

    message = session.send_chat(bob.jid.bare, "Hello Bob")
    assert message.delivery is Delivery.PENDING

    received = await asyncio.wait_for(peer.inbox.get(), 10)
    assert received["body"] == "Hello Bob"
    assert received["request_receipt"]
    assert received.xml.find("{urn:xmpp:chat-markers:0}markable") is not None
    assert received["origin_id"]["id"] == message.id

    # the peer's slixmpp answers the receipt request by itself
    await watch.until(lambda: message.delivery >= Delivery.DELIVERED, what="delivered tick")
    assert message.sent_at is not None and message.delivered_at is not None
    assert message.read_at is None

    peer.plugin["xep_0333"].send_marker(received["from"], received["id"], "displayed", mtype="chat")
    await watch.until(lambda: message.delivery is Delivery.READ, what="read tick")
    assert message.sent_at <= message.delivered_at <= message.read_at


async def test_sent_tick_comes_from_server_ack_and_delivery_follows_offline_storage(
        pair, session_for, raw_client):
    alice, bob = pair
    session, watch = await session_for(alice)

    message = session.send_chat(bob.jid.bare, "Are you there?")
    await watch.until(lambda: message.delivery is Delivery.SENT, what="sent tick (XEP-0198 ack)")
    assert message.delivered_at is None  # bob is offline: the server keeps it

    peer = await raw_client(bob)  # logs in, gets the offline message, returns a receipt
    stored = await asyncio.wait_for(peer.inbox.get(), 10)
    assert stored["body"] == "Are you there?"
    assert stored["delay"]["stamp"] is not None
    await watch.until(lambda: message.delivery is Delivery.DELIVERED, what="delivered after login")


async def test_displayed_marker_reads_every_earlier_message(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob)
    session, watch = await session_for(alice)
    first = session.send_chat(bob.jid.bare, "one")
    second = session.send_chat(bob.jid.bare, "two")
    await asyncio.wait_for(peer.inbox.get(), 10)
    latest = await asyncio.wait_for(peer.inbox.get(), 10)
    assert latest["body"] == "two"
    peer.plugin["xep_0333"].send_marker(latest["from"], latest["id"], "displayed", mtype="chat")
    await watch.until(lambda: first.delivery is Delivery.READ and second.delivery is Delivery.READ,
                      what="both read")


async def test_incoming_message_live_and_read_marker_back(pair, session_for, raw_client):
    alice, bob = pair
    session, watch = await session_for(alice)
    peer = await raw_client(bob)
    markers: asyncio.Queue = asyncio.Queue()
    peer.add_event_handler("marker_displayed", markers.put_nowait)

    outgoing = peer.make_message(mto=alice.jid.bare, mbody="Lunch at noon?", mtype="chat")
    outgoing.enable("markable")
    outgoing.send()

    conversation = session.conversation(bob.jid.bare)
    await watch.until(lambda: conversation.messages, what="bob's message")
    message = conversation.messages[-1]
    assert (message.direction, message.body, message.sender) == (
        Direction.INCOMING, "Lunch at noon?", bob.jid.bare)
    assert conversation.unread == 1
    assert any(isinstance(e, events.MessageAdded) and e.message is message for e in watch.events)

    session.mark_read(bob.jid.bare)
    marker = await asyncio.wait_for(markers.get(), 10)
    assert marker["displayed"]["id"] == outgoing["id"]
    assert conversation.unread == 0
    # marking again sends nothing new
    assert session.mark_read(bob.jid.bare) is message
    assert markers.empty()


async def test_undeliverable_message_fails_with_reason(pair, session_for):
    alice, _bob = pair
    session, watch = await session_for(alice)
    message = session.send_chat("someone@elsewhere.invalid", "hello?")
    await watch.until(lambda: message.delivery is Delivery.FAILED, what="failed state")
    assert message.error


async def test_wrong_password_is_a_clear_error(make_account, stack_settings):
    account = make_account("pw")
    wrong = session_account(account, stack_settings)
    session = ChatSession(type(wrong)(wrong.jid, "wrong", wrong.host, wrong.port, wrong.ca_file))
    with pytest.raises(ConnectionError, match="refused the password"):
        await session.start()
    assert session.state == "offline"


async def test_corrections_replace_the_senders_message(pair, session_for, raw_client):
    alice, bob = pair
    session, watch = await session_for(alice)
    peer = await raw_client(bob, plugins=("xep_0308",))
    original = peer.make_message(mto=alice.jid.bare, mbody="Meeting at 10", mtype="chat")
    original.send()
    conversation = session.conversation(bob.jid.bare)
    await watch.until(lambda: conversation.messages, what="original")
    correction = peer.plugin["xep_0308"].build_correction(original["id"], JID(alice.jid.bare),
                                                          mbody="Meeting at 11")
    correction.send()
    await watch.until(lambda: conversation.messages[0].body == "Meeting at 11", what="correction")
    assert len(conversation.messages) == 1 and conversation.messages[0].corrected

    # nobody may correct someone else's message: alice's own message stays as it is
    mine = session.send_chat(bob.jid.bare, "My text")
    forged = peer.plugin["xep_0308"].build_correction(mine.id, JID(alice.jid.bare), mbody="forged")
    forged.send()
    await watch.until(lambda: len(conversation.messages) == 3, what="forged shown as new message")
    assert mine.body == "My text" and conversation.messages[-1].body == "forged"
