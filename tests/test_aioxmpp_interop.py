"""Interop with aioxmpp, a client we did not write, through the real ejabberd: alice is our session,
bob is aioxmpp (see :mod:`tests.aioxmpp_peer`). Ticks, receipts and markers both ways; reactions,
replies, corrections and retractions both ways, checked in the XML the other side parses; a room
bob joins after our invitation; files both ways (XEP-0363 upload shared with XEP-0066 OOB)."""

from __future__ import annotations

import asyncio
import os
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable

import aioxmpp
import aioxmpp.httpupload
import aioxmpp.tracking
import pytest

from tui.session import ChatSession, Delivery, Direction
from tui.session.message_actions import RETRACTED_FALLBACK

from .aioxmpp_peer import AioxmppPeer, Fallback, FallbackBody, Reactions, Reply, Retract
from .conftest import Account
from .test_files import downloads, fetch  # noqa: F401  (downloads: the fixture)
from .watch import SessionWatcher

TRACKER_DELIVERED = aioxmpp.tracking.MessageState.DELIVERED_TO_RECIPIENT


@pytest.fixture
async def aioxmpp_peer(stack_settings) -> AsyncIterator[Callable[[Account], Awaitable[AioxmppPeer]]]:
    """Log accounts in with aioxmpp; all go offline afterwards."""
    peers: list[AioxmppPeer] = []

    async def connect(account: Account) -> AioxmppPeer:
        peer = AioxmppPeer(f"{account.jid.bare}/aioxmpp", account.password, stack_settings)
        peers.append(peer)
        await peer.start()
        return peer

    yield connect
    for peer in peers:
        await peer.stop()


async def online_with(pair, session_for, aioxmpp_peer) -> tuple[ChatSession, SessionWatcher, AioxmppPeer]:
    """Alice in our session, bob on aioxmpp, each seeing the other online."""
    alice, bob = pair
    session, watch = await session_for(alice)
    peer = await aioxmpp_peer(bob)
    await watch.until(lambda: session.contacts[bob.jid.bare].resources, what="bob online on aioxmpp")
    return session, watch, peer


def from_alice(session: ChatSession) -> Callable[[aioxmpp.Message], bool]:
    return lambda stanza: stanza.from_ == aioxmpp.JID.fromstr(str(session.stream.boundjid))


async def test_aioxmpp_gets_our_message_and_its_receipt_and_marker_tick_it(
        pair, session_for, aioxmpp_peer):
    session, watch, peer = await online_with(pair, session_for, aioxmpp_peer)
    bob = pair[1].jid.bare
    message = session.send_chat(bob, "Budget approved")
    got = await peer.next(lambda s: s.body and s.body.any() == "Budget approved")
    assert got.type_ == aioxmpp.MessageType.CHAT
    assert str(got.from_) == str(session.stream.boundjid)
    assert got.id_ == message.id
    assert got.xep0359_origin_id is not None and got.xep0359_origin_id.id_ == message.id
    assert got.xep0184_request_receipt and got.xep0333_markable
    await watch.until(lambda: message.delivery is Delivery.SENT, what="sent tick")
    assert message.delivered_at is None and message.read_at is None  # bob has not answered yet

    peer.acknowledge(got)
    await watch.until(lambda: message.delivery is Delivery.READ, what="read tick from aioxmpp")
    assert message.delivered_at is not None and message.read_at is not None
    assert message.sent_at <= message.delivered_at <= message.read_at


async def test_our_receipt_and_marker_reach_aioxmpp_with_its_ids(pair, session_for, aioxmpp_peer):
    session, watch, peer = await online_with(pair, session_for, aioxmpp_peer)
    bob = pair[1].jid.bare
    sent, tracker = peer.say(str(session.stream.boundjid), "Can you call me?")
    conversation = session.conversation(bob)
    await watch.until(lambda: conversation.messages, what="bob's message")
    shown = conversation.messages[-1]
    assert (shown.direction, shown.sender, shown.body, shown.id) == (
        Direction.INCOMING, bob, "Can you call me?", sent.id_)
    assert conversation.unread == 1

    receipt = await peer.next(lambda s: s.xep0184_received is not None)
    assert receipt.xep0184_received.message_id == sent.id_
    assert receipt.from_ == aioxmpp.JID.fromstr(str(session.stream.boundjid))
    assert not receipt.body  # a receipt is no message to show
    assert tracker.state == TRACKER_DELIVERED  # aioxmpp's own tracking took our receipt

    assert session.mark_read(bob) is shown
    marker = await peer.next(lambda s: s.xep0333_marker is not None)
    assert isinstance(marker.xep0333_marker, aioxmpp.misc.DisplayedMarker)
    assert marker.xep0333_marker.id_ == sent.id_
    assert marker.type_ == aioxmpp.MessageType.CHAT
    assert conversation.unread == 0
    session.mark_read(bob)  # again: nothing new was displayed, so no second marker
    later, _ = peer.say(str(session.stream.boundjid), "thanks")
    await watch.until(lambda: conversation.messages[-1].body == "thanks", what="second message")
    session.mark_read(bob)
    second = await peer.next(lambda s: s.xep0333_marker is not None)
    assert second.xep0333_marker.id_ == later.id_


async def test_aioxmpp_sees_our_reaction_reply_correction_and_retraction(
        pair, session_for, aioxmpp_peer):
    session, watch, peer = await online_with(pair, session_for, aioxmpp_peer)
    alice, bob = pair[0].jid.bare, pair[1].jid.bare
    sent, _ = peer.say(str(session.stream.boundjid), "Lunch at noon?")
    conversation = session.conversation(bob)
    await watch.until(lambda: conversation.messages, what="bob's message")
    his = conversation.messages[-1]
    is_alice = from_alice(session)

    session.actions.react(bob, his, "👍")
    got = await peer.next(lambda s: is_alice(s) and s.xep0444_reactions is not None)
    assert got.type_ == aioxmpp.MessageType.CHAT
    assert (got.xep0444_reactions.id_, got.xep0444_reactions.emojis) == (sent.id_, ["👍"])
    assert got.xep0334_store and not got.body
    session.actions.react(bob, his, "👍")  # taken back: an empty set of reactions
    got = await peer.next(lambda s: is_alice(s) and s.xep0444_reactions is not None)
    assert (got.xep0444_reactions.id_, got.xep0444_reactions.emojis) == (sent.id_, [])

    answer = session.send_chat(bob, "Yes, see you there", reply_to=his)
    got = await peer.next(lambda s: is_alice(s) and s.xep0461_reply is not None)
    assert (got.xep0461_reply.id_, got.xep0461_reply.to.bare()) == (sent.id_, aioxmpp.JID.fromstr(bob))
    body = got.body.any()
    (fallback,) = got.xep0428_fallbacks
    assert fallback.for_ == "urn:xmpp:reply:0"
    (span,) = fallback.bodies
    quote, rest = body[span.start:span.end], body[span.end:]
    assert quote.startswith("> ") and "Lunch at noon?" in quote  # a quote for clients without replies
    assert rest == "Yes, see you there"
    assert got.id_ == answer.id

    session.actions.correct(bob, answer, "Yes, see you at 12:15")
    got = await peer.next(lambda s: is_alice(s) and s.xep0308_replace is not None)
    assert got.xep0308_replace.id_ == answer.id  # names the id the message was sent with
    assert got.body.any() == "Yes, see you at 12:15"
    assert got.id_ != answer.id

    session.actions.retract(bob, answer)
    got = await peer.next(lambda s: is_alice(s) and s.xep0424_retract is not None)
    assert got.xep0424_retract.id_ == answer.id
    assert got.xep0334_store
    assert got.body.any() == RETRACTED_FALLBACK
    assert [f.for_ for f in got.xep0428_fallbacks] == ["urn:xmpp:message-retract:1"]
    assert alice not in (his.reactions or {})


async def test_we_show_aioxmpp_reactions_replies_corrections_and_retractions(
        pair, session_for, aioxmpp_peer):
    session, watch, peer = await online_with(pair, session_for, aioxmpp_peer)
    alice, bob = pair[0].jid.bare, pair[1].jid.bare
    to_alice = str(session.stream.boundjid)
    mine = session.send_chat(bob, "Draft is in the shared folder")
    await peer.next(lambda s: s.body and s.body.any() == "Draft is in the shared folder")
    conversation = session.conversation(bob)

    reaction = aioxmpp.Message(type_=aioxmpp.MessageType.CHAT, to=aioxmpp.JID.fromstr(to_alice))
    reaction.xep0444_reactions = Reactions(mine.id, ("🎉", "👍"))
    reaction.xep0334_store = True
    peer.send(reaction)
    await watch.until(lambda: mine.reactions.get(bob) == ("🎉", "👍"), what="bob's reactions")

    quote = "> Draft is in the shared folder\n"

    def as_reply(stanza: aioxmpp.Message) -> None:
        stanza.body[None] = quote + "Reading it now"
        stanza.xep0461_reply = Reply(aioxmpp.JID.fromstr(alice), mine.id)
        stanza.xep0428_fallbacks.append(Fallback("urn:xmpp:reply:0", (FallbackBody(0, len(quote)),)))

    answer, _ = peer.say(to_alice, "", extend=as_reply)
    await watch.until(lambda: conversation.messages[-1].id == answer.id_, what="bob's reply")
    reply = conversation.messages[-1]
    assert (reply.body, reply.reply_to, reply.quote) == (
        "Reading it now", mine.id, "Draft is in the shared folder")

    typo, _ = peer.say(to_alice, "Looks god")
    await watch.until(lambda: conversation.messages[-1].id == typo.id_, what="the typo")
    fixed = aioxmpp.Message(type_=aioxmpp.MessageType.CHAT, to=aioxmpp.JID.fromstr(to_alice))
    fixed.body[None] = "Looks good"
    fixed.xep0308_replace = aioxmpp.misc.Replace()
    fixed.xep0308_replace.id_ = typo.id_
    peer.send(fixed)
    shown = conversation.messages[-1]
    await watch.until(lambda: shown.body == "Looks good", what="bob's correction")
    assert shown.corrected and len(conversation.messages) == 3  # replaced, not added

    retraction = aioxmpp.Message(type_=aioxmpp.MessageType.CHAT, to=aioxmpp.JID.fromstr(to_alice))
    retraction.body[None] = "This message was retracted."
    retraction.xep0424_retract = Retract(typo.id_)
    retraction.xep0428_fallbacks.append(Fallback("urn:xmpp:message-retract:1"))
    retraction.xep0334_store = True
    peer.send(retraction)
    await watch.until(lambda: shown.retracted, what="bob's retraction")
    assert shown.body == "" and len(conversation.messages) == 3

    forged = aioxmpp.Message(type_=aioxmpp.MessageType.CHAT, to=aioxmpp.JID.fromstr(to_alice))
    forged.body[None] = "Alice never wrote this"
    forged.xep0308_replace = aioxmpp.misc.Replace()
    forged.xep0308_replace.id_ = mine.id  # bob may not correct alice's words
    peer.send(forged)
    await watch.until(lambda: conversation.messages[-1].body == "Alice never wrote this",
                      what="the forged correction, shown as bob's own message")
    assert mine.body == "Draft is in the shared folder" and not mine.corrected
    assert conversation.messages[-1].direction is Direction.INCOMING


async def test_aioxmpp_joins_our_room_after_our_invitation_and_chats(pair, session_for, aioxmpp_peer):
    session, watch, peer = await online_with(pair, session_for, aioxmpp_peer)
    alice, bob = pair[0].jid.bare, pair[1].jid.bare
    room = await session.rooms.create("Planning", [bob])
    room_jid, inviter, reason = await asyncio.wait_for(peer.invitations.get(), 15)
    assert (str(room_jid), inviter.bare(), reason) == (room.jid, aioxmpp.JID.fromstr(alice),
                                                      f"{alice} invites you to Planning")

    heard: asyncio.Queue[tuple[aioxmpp.Message, str]] = asyncio.Queue()
    theirs, joined = peer.muc.join(room_jid, "bobby")
    theirs.on_message.connect(lambda message, member, _source, **_kw: heard.put_nowait(
        (message, member.nick)))
    await asyncio.wait_for(joined, 15)
    await watch.until(lambda: "bobby" in room.occupants, what="bob in the room")
    assert (room.occupants["bobby"].jid, room.members[bob]) == (bob, "member")

    said = session.send_chat(room.jid, "Agenda: budget, hiring")
    got, nick = await asyncio.wait_for(heard.get(), 15)
    while got.body.any() != "Agenda: budget, hiring":
        got, nick = await asyncio.wait_for(heard.get(), 15)
    assert (nick, got.type_) == (room.nick, aioxmpp.MessageType.GROUPCHAT)
    assert got.xep0359_origin_id.id_ == said.id and got.xep0333_markable
    await watch.until(lambda: said.room_id, what="the room's id for our message")

    answer = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT)
    answer.body[None] = "Add the offsite, please"
    theirs.send_message(answer)
    conversation = session.conversation(room.jid)
    await watch.until(lambda: conversation.messages[-1].body == "Add the offsite, please",
                      what="bob's room message")
    shown = conversation.messages[-1]
    assert (shown.direction, shown.nick, shown.sender) == (Direction.INCOMING, "bobby", bob)

    marker = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT)
    marker.xep0333_marker = aioxmpp.misc.DisplayedMarker()
    marker.xep0333_marker.id_ = said.room_id  # XEP-0333 in rooms: the id the room gave
    theirs.send_message(marker)
    await watch.until(lambda: said.read_by == ["bobby"], what="read by bob")
    assert said.delivery is Delivery.READ


async def upload_service(peer: AioxmppPeer, domain: str) -> aioxmpp.JID:
    """The server's XEP-0363 service, found with aioxmpp's own service discovery."""
    disco = peer.client.summon(aioxmpp.DiscoClient)
    items = await disco.query_items(aioxmpp.JID.fromstr(domain))
    for item in items.items:
        info = await disco.query_info(item.jid)
        if "urn:xmpp:http:upload:0" in info.features:
            return item.jid
    raise AssertionError("no upload service found by aioxmpp")


def put(url: str, headers: dict[str, str], content: bytes, content_type: str) -> int:
    """PUT ``content`` to an upload slot on the stack's own HTTP listener (loopback only)."""
    assert url.startswith("http://127.0.0.1:"), url
    request = urllib.request.Request(url, data=content, method="PUT", headers={
        **headers, "Content-Type": content_type, "Content-Length": str(len(content))})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


async def test_files_both_ways_with_aioxmpp(pair, session_for, aioxmpp_peer, downloads, tmp_path):  # noqa: F811
    session, watch, peer = await online_with(pair, session_for, aioxmpp_peer)
    bob = pair[1].jid.bare
    ours = os.urandom(200_000)
    agenda = tmp_path / "agenda.pdf"
    agenda.write_bytes(ours)
    message = await session.files.send(bob, agenda)
    got = await peer.next(lambda s: s.xep0066_oob is not None)
    assert got.body.any() == got.xep0066_oob.url == message.body  # XEP-0066: shown as a file
    assert got.xep0066_oob.url.endswith("/agenda.pdf")
    assert await asyncio.to_thread(fetch, got.xep0066_oob.url) == ours

    theirs = os.urandom(150_000)
    slot = await aioxmpp.httpupload.request_slot(
        peer.client, await upload_service(peer, pair[1].jid.domain), "minutes.txt", len(theirs),
        "text/plain")
    headers = {name: value for name, value in slot.put.headers.items()}
    assert await asyncio.to_thread(put, slot.put.url, headers, theirs, "text/plain") in (200, 201)

    def share(stanza: aioxmpp.Message) -> None:
        stanza.body[None] = slot.get.url
        stanza.xep0066_oob = aioxmpp.misc.OOBExtension()
        stanza.xep0066_oob.url = slot.get.url

    peer.say(str(session.stream.boundjid), "", extend=share)
    conversation = session.conversation(bob)
    await watch.until(lambda: conversation.messages[-1].attachment is not None
                      and conversation.messages[-1].attachment.size == len(theirs),
                      what="aioxmpp's file with its size")
    shared = conversation.messages[-1]
    assert shared.direction is Direction.INCOMING and shared.attachment.name == "minutes.txt"
    saved = await session.files.download(bob, shared)
    assert saved == downloads / "minutes.txt" and saved.read_bytes() == theirs
