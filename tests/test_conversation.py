"""The conversation features of the client-session layer against the real ejabberd — history from the
archive, reactions, replies, corrections, retractions, typing, mentions — with a bare slixmpp client
(not our code) as the other party; we check the stanzas it gets and show what it sends."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from slixmpp import JID

from tui.session import Direction, events
from tui.session.mentions import completions, find
from tui.session.message_actions import RETRACTED_FALLBACK, MessageActionError

from .test_rooms import ROOM_PLUGINS, next_matching, queue_of, room_with_peer

T = TypeVar("T")

PEER_PLUGINS = ("xep_0308", "xep_0334", "xep_0424", "xep_0428", "xep_0444", "xep_0461")
"""What a current client (Conversations, Gajim, Dino) understands of these features."""


async def chatting(pair, session_for, raw_client, **peer: Any) -> tuple[Any, Any, Any, str]:
    """Alice in our session, bob in a foreign client, each with the other online."""
    alice, bob = pair
    client = await raw_client(bob, plugins=(*PEER_PLUGINS, *peer.pop("plugins", ())), **peer)
    session, watch = await session_for(alice)
    await watch.until(lambda: session.contacts[bob.jid.bare].resources, what="bob online")
    return session, watch, client, bob.jid.bare


def say(client: Any, to: str, body: str, **extra: Any) -> Any:
    """The foreign client sends ``body`` and returns the stanza (its id names the message)."""
    message = client.make_message(mto=JID(to), mbody=body, mtype="chat")
    for key, value in extra.items():
        message[key] = value
    message.send()
    return message


async def test_we_react_and_see_their_reactions(pair, session_for, raw_client):
    session, watch, peer, bob = await chatting(pair, session_for, raw_client)
    reactions = queue_of(peer, "reactions")
    mine = session.send_chat(bob, "Lunch at noon?")
    theirs = say(peer, session.jid.bare, "Sure")
    conversation = session.conversation(bob)
    await watch.until(lambda: len(conversation.messages) == 2, what="bob's answer")
    received = conversation.messages[1]

    assert session.actions.react(bob, received, "👍") == ("👍",)
    stanza = await next_matching(reactions, lambda m: True)
    assert stanza["reactions"]["id"] == theirs["id"]
    assert [r["value"] for r in stanza["reactions"]] == ["👍"]
    assert stanza["type"] == "chat" and stanza.xml.find("{urn:xmpp:hints}store") is not None
    assert received.reactions == {session.jid.bare: ("👍",)}

    session.actions.react(bob, received, "👍")  # the same key again takes it back
    stanza = await next_matching(reactions, lambda m: True)
    assert stanza["reactions"]["id"] == theirs["id"] and list(stanza["reactions"]) == []
    assert received.reactions == {}

    # bob reacts to my message the way his client does it
    await watch.until(lambda: mine.sent_at, what="sent")
    peer.plugin["xep_0444"].send_reactions(JID(session.jid.bare), mine.id, ["🎉", "👏"])
    await watch.until(lambda: mine.reactions.get(bob) == ("🎉", "👏"), what="bob's reactions")
    peer.plugin["xep_0444"].send_reactions(JID(session.jid.bare), mine.id, ["👏"])
    await watch.until(lambda: mine.reactions.get(bob) == ("👏",), what="bob changed his reactions")
    assert len(conversation.messages) == 2  # reactions are not messages


async def test_replies_both_ways_with_the_quote_for_older_clients(pair, session_for, raw_client):
    session, watch, peer, bob = await chatting(pair, session_for, raw_client)
    question = say(peer, session.jid.bare, "Who has the key\nto room 3?")
    conversation = session.conversation(bob)
    await watch.until(lambda: conversation.messages, what="bob's question")
    asked = conversation.messages[0]

    answer = session.send_chat(bob, "I do", reply_to=asked)
    got = await asyncio.wait_for(peer.inbox.get(), 10)
    assert got["reply"]["id"] == question["id"] and JID(got["reply"]["to"]).bare == bob
    assert got["body"] == "> Bob:\n> Who has the key\n> to room 3?\nI do".replace(
        "Bob", bob.split("@")[0])
    assert got["reply"].strip_fallback_content() == "I do"  # what XEP-0461 clients show
    assert answer.body == "I do" and answer.reply_to == question["id"]

    # bob answers my message with his client's reply, quote included
    await watch.until(lambda: answer.sent_at, what="sent")
    reply = peer.plugin["xep_0461"].make_reply(
        JID(session.jid.bare), answer.id, fallback="I do", quoted_nick="alice",
        mto=JID(session.jid.bare), mbody="Great, thanks", mtype="chat")
    reply.send()
    await watch.until(lambda: len(conversation.messages) == 3, what="bob's reply")
    shown = conversation.messages[2]
    assert (shown.body, shown.reply_to, shown.quote) == ("Great, thanks", answer.id, "I do")


async def test_corrections_both_ways(pair, session_for, raw_client):
    session, watch, peer, bob = await chatting(pair, session_for, raw_client)
    corrections = queue_of(peer, "message_correction")
    mine = session.send_chat(bob, "See you at 3")
    first = await asyncio.wait_for(peer.inbox.get(), 10)
    last = session.actions.last_own(session.conversation(bob))
    assert last is mine

    session.actions.correct(bob, mine, "See you at 4")
    fixed = await next_matching(corrections, lambda m: True)
    assert fixed["replace"]["id"] == first["id"] and fixed["body"] == "See you at 4"
    assert fixed["id"] != first["id"] and fixed["type"] == "chat"
    assert (mine.body, mine.corrected) == ("See you at 4", True)

    original = say(peer, session.jid.bare, "Teh numbers")
    conversation = session.conversation(bob)
    await watch.until(lambda: len(conversation.messages) == 2, what="bob's message")
    peer.plugin["xep_0308"].build_correction(original["id"], JID(session.jid.bare),
                                             mbody="The numbers").send()
    theirs = conversation.messages[1]
    await watch.until(lambda: theirs.body == "The numbers", what="bob's correction")
    assert theirs.corrected and len(conversation.messages) == 2

    try:
        session.actions.correct(bob, theirs, "mine now")
    except MessageActionError as error:
        assert "your own" in str(error)
    else:
        raise AssertionError("corrected someone else's message")


async def test_retractions_both_ways(pair, session_for, raw_client):
    session, watch, peer, bob = await chatting(pair, session_for, raw_client)
    retractions = queue_of(peer, "message_retract")
    mine = session.send_chat(bob, "wrong chat, sorry")
    sent = await asyncio.wait_for(peer.inbox.get(), 10)

    session.actions.retract(bob, mine)
    stanza = await next_matching(retractions, lambda m: True)
    assert stanza["retract"]["id"] == sent["origin_id"]["id"] == mine.id
    assert stanza["body"] == RETRACTED_FALLBACK  # what clients without XEP-0424 show
    assert stanza.xml.find("{urn:xmpp:fallback:0}fallback") is not None
    assert stanza.xml.find("{urn:xmpp:hints}store") is not None
    assert mine.retracted and mine.body == ""

    theirs = say(peer, session.jid.bare, "my password is hunter2")
    conversation = session.conversation(bob)
    await watch.until(lambda: len(conversation.messages) == 2, what="bob's message")
    peer.plugin["xep_0424"].send_retraction(JID(session.jid.bare), theirs["id"])
    received = conversation.messages[1]
    await watch.until(lambda: received.retracted, what="bob's retraction")
    assert received.body == "" and len(conversation.messages) == 2  # the fallback is not shown


async def test_typing_both_ways(pair, session_for, raw_client):
    session, watch, peer, bob = await chatting(pair, session_for, raw_client)
    states = queue_of(peer, "chatstate")
    session.typing.pause_after = 0.3

    composing = peer.make_message(mto=JID(session.jid.bare), mtype="chat")
    composing["chat_state"] = "composing"
    composing.send()
    await watch.until(lambda: session.typing.typing_in(bob) == {bob: "composing"}, what="bob typing")
    assert any(isinstance(e, events.ChatStateChanged) for e in watch.events)
    paused = peer.make_message(mto=JID(session.jid.bare), mtype="chat")
    paused["chat_state"] = "paused"
    paused.send()
    await watch.until(lambda: session.typing.typing_in(bob) == {bob: "paused"}, what="bob paused")
    say(peer, session.jid.bare, "done typing")
    await watch.until(lambda: session.typing.typing_in(bob) == {}, what="bob's message ends it")

    session.typing.typed(bob)
    session.typing.typed(bob)  # once per state, not per key
    assert (await next_matching(states, lambda m: True))["chat_state"] == "composing"
    assert (await next_matching(states, lambda m: True))["chat_state"] == "paused"
    session.typing.typed(bob)
    assert (await next_matching(states, lambda m: True))["chat_state"] == "composing"
    session.send_chat(bob, "hello")
    sent = await next_matching(states, lambda m: True)
    assert (sent["chat_state"], sent["body"]) == ("active", "hello")


def last_of(watch: Any, kind: type[T]) -> T | None:
    """The newest event of ``kind`` the session emitted (others, like the search index's, may
    follow it)."""
    return next((e for e in reversed(watch.events) if isinstance(e, kind)), None)


async def archive_between(alice_raw: Any, bob_raw: Any, count: int) -> list[Any]:
    """``count`` messages alternately from bob and alice, through the server's archive."""
    said = []
    for index in range(count):
        sender, receiver = (bob_raw, alice_raw) if index % 2 == 0 else (alice_raw, bob_raw)
        said.append(say(sender, receiver.boundjid.bare, f"message {index:03d}"))
        got = await asyncio.wait_for(receiver.inbox.get(), 10)
        assert got["body"] == f"message {index:03d}"
    return said


async def test_history_pages_back_without_duplicates(pair, session_for, raw_client):
    alice, bob = pair
    alice_phone = await raw_client(alice, resource="phone", plugins=PEER_PLUGINS)
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    said = await archive_between(alice_phone, peer, 120)
    # bob reacts to an old message, alice's phone takes one of hers back
    peer.plugin["xep_0444"].send_reactions(JID(alice.jid.bare), said[3]["id"], ["👍"])
    alice_phone.plugin["xep_0424"].send_retraction(JID(bob.jid.bare), said[5]["id"])
    await asyncio.wait_for(peer.inbox.get(), 10)  # the retraction's fallback body reached bob
    await alice_phone.stop()

    session, watch = await session_for(alice)
    # comes live and is in the archive (to this device: the phone's session may still be closing)
    live = say(peer, session.stream.boundjid.full, "while you were away")
    conversation = session.conversation(bob.jid.bare)
    await watch.until(lambda: conversation.messages, what="the live message")

    # the newest page: the live message is not there twice; reactions and retractions in it
    # name messages of older pages
    first = await session.history.open(bob.jid.bare)
    assert 40 <= first < 50 and last_of(watch, events.HistoryLoaded)
    bodies = [m.body for m in conversation.messages]
    assert bodies == [f"message {i:03d}" for i in range(120 - first, 120)] + ["while you were away"]
    assert conversation.messages[-1].id == live["id"]
    newest_mine = conversation.messages[-2]  # message 119, from alice's phone
    assert newest_mine.direction is Direction.OUTGOING and newest_mine.sent_at is not None

    pages = []
    while session.history.has_older(bob.jid.bare):
        pages.append(await session.history.older(bob.jid.bare))
        prepended = last_of(watch, events.HistoryPrepended)
        assert prepended is not None and prepended.count == pages[-1]
    assert pages[0] == 50 and first + sum(pages) == 119
    assert await session.history.older(bob.jid.bare) == 0
    # ejabberd drops a retracted message from the archive (XEP-0424 in mod_mam): 005 is gone
    expected = [f"message {i:03d}" for i in range(120) if i != 5]
    bodies = [m.body for m in conversation.messages]
    assert bodies == [*expected, "while you were away"]
    assert len({m.id for m in conversation.messages}) == 120
    # the reaction in the newest page waited for its message, two pages older
    assert conversation.messages[3].reactions == {bob.jid.bare: ("👍",)}
    assert "This person attempted to retract" not in bodies


async def in_a_room(pair, session_for, raw_client, name: str) -> tuple[Any, Any, Any, Any]:
    """Alice in our session and bob in a foreign client, both in a new room of hers."""
    peer = await raw_client(pair[1], plugins=(*ROOM_PLUGINS, *PEER_PLUGINS))
    session, watch = await session_for(pair[0])
    return session, watch, peer, await room_with_peer(session, watch, peer, name)


async def test_mentions_in_a_room_are_sent_as_references_and_highlighted(pair, session_for, raw_client):
    alice = pair[0]
    session, watch, peer, room = await in_a_room(pair, session_for, raw_client, "Mentions")
    said = queue_of(peer, "groupchat_message")

    start, options = completions("@b", room.occupants)
    assert (start, options) == (0, ["@bob "])
    session.send_chat(room.jid, "@bob can you check?")
    got = await next_matching(said, lambda m: m["body"] == "@bob can you check?")
    reference = got.xml.find("{urn:xmpp:reference:0}reference")
    assert reference is not None
    assert dict(reference.attrib) == {"type": "mention", "uri": f"xmpp:{room.jid}/bob",
                                      "begin": "0", "end": "4"}

    conversation = session.conversation(room.jid)
    peer.send_message(mto=JID(room.jid), mbody=f"{room.nick}: done", mtype="groupchat")
    peer.send_message(mto=JID(room.jid), mbody="nothing for you", mtype="groupchat")
    await watch.until(lambda: len(conversation.messages) == 3, what="bob's answers")
    assert [m.mentions_me for m in conversation.messages[1:]] == [True, False]

    # a reaction and a retraction in the room name the room's ids
    reactions = queue_of(peer, "reactions")
    answer = conversation.messages[1]
    session.actions.react(room.jid, answer, "👍")
    stanza = await next_matching(reactions, lambda m: m["from"].resource == room.nick)
    assert stanza["reactions"]["id"] == answer.room_id and stanza["type"] == "groupchat"
    await watch.until(lambda: answer.reactions == {alice.jid.bare: ("👍",)}, what="reflected")


def test_nick_completion_and_mention_spans():
    nicks = ["bob", "Bobby", "carol"]
    assert completions("hello @Bo", nicks) == (6, ["@bob ", "@Bobby "])
    assert completions("ca", nicks) == (0, ["carol: "])
    assert completions("ask ca", nicks) == (4, ["carol "])
    assert completions("hello ", nicks) is None and completions("@zed", nicks) is None
    assert find("bob, @Bobby and carol's mail bobcat", nicks) == [
        (0, 3, "bob"), (5, 11, "Bobby"), (16, 21, "carol")]


async def test_what_i_do_on_another_device_shows_here(pair, session_for, raw_client):
    session, watch, peer, bob = await chatting(pair, session_for, raw_client)
    alice = pair[0]
    phone = await raw_client(alice, resource="phone", plugins=PEER_PLUGINS)
    question = say(peer, alice.jid.bare, "Coffee?")  # both of alice's devices get it
    conversation = session.conversation(bob)
    await watch.until(lambda: conversation.messages, what="bob's question")
    await asyncio.wait_for(phone.inbox.get(), 10)

    reaction = phone.make_message(mto=JID(bob), mtype="chat")  # as Conversations sends it: chat,
    phone.plugin["xep_0444"].set_reactions(reaction, question["id"], ["☕"])  # so it is carbon-copied
    reaction.send()
    mine = conversation.messages[0]
    await watch.until(lambda: mine.reactions == {alice.jid.bare: ("☕",)}, what="my reaction, as a carbon")


async def test_typing_in_a_room(pair, session_for, raw_client):
    session, watch, peer, room = await in_a_room(pair, session_for, raw_client, "Typing")
    states = queue_of(peer, "chatstate")

    composing = peer.make_message(mto=JID(room.jid), mtype="groupchat")
    composing["chat_state"] = "composing"
    composing.send()
    await watch.until(lambda: session.typing.typing_in(room.jid) == {"bob": "composing"},
                      what="bob typing in the room")
    session.typing.typed(room.jid)
    mine = await next_matching(states, lambda m: m["from"].resource == room.nick)
    assert (mine["type"], mine["chat_state"]) == ("groupchat", "composing")
    assert session.typing.typing_in(room.jid) == {"bob": "composing"}  # my own echo is not "typing"
