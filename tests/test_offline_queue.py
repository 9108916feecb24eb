"""Never lose a message: the offline queue, stream resumption and the catch-up after a server
restart, against a real ejabberd of this module's own (it is stopped and started here), with bare
slixmpp clients as the other side and a relay that takes the network away from our client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slixmpp import JID, ClientXMPP
from slixmpp.plugins.xep_0402.stanza import Conference

from tui.app import SwitchboardApp
from tui.session import Account as SessionAccount
from tui.session import ChatMessage, ChatSession, Delivery, Direction, events, history, rooms
from tui.session.bookmarks import BOOKMARKS
from tui.session.message_actions import (
    PLUGINS,
    REACTIONS,
    REPLACE,
    RETRACT,
    RETRACTED_FALLBACK,
    MessageActions,
)
from tui.session.model import Room
from tui.session.outbox import Outbox, OutboxUnusable, OutgoingMessage, outbox_path
from tui.widgets.chat import Composer, MessageLog, delivery_label
from xmpp_components.stack.ejabberd import EjabberdServer
from xmpp_components.stack.settings import private_settings

from .clients import RawClient
from .conftest import Account
from .netcut import Relay
from .test_rooms import ROOM_PLUGINS, peer_room
from .watch import SessionWatcher


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EjabberdServer]:
    """An ejabberd only these tests use, so stopping it breaks no other test."""
    own = EjabberdServer(private_settings(tmp_path_factory.mktemp("restartable")))
    own.start()
    yield own
    own.stop()


@pytest.fixture
async def up(server: EjabberdServer) -> AsyncIterator[EjabberdServer]:
    """The module's ejabberd, running again after the test whatever the test did to it."""
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.start)


@pytest.fixture
def pair(up: EjabberdServer) -> tuple[Account, Account]:
    """Alice and Bob, fresh accounts of the module's server."""
    accounts = []
    for prefix in ("alice", "bob"):
        user, password = f"{prefix}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        up.register(user, password)
        accounts.append(Account(JID(f"{user}@{up.settings.domain}"), password))
    return accounts[0], accounts[1]


@pytest.fixture
async def relay(up: EjabberdServer) -> AsyncIterator[Relay]:
    """The network between our client and the server."""
    link = Relay(up.settings.bind_ip, up.settings.c2s_port)
    await link.start()
    yield link
    await link.close()


@pytest.fixture
async def clients(up: EjabberdServer) -> AsyncIterator[Callable[..., Awaitable[RawClient]]]:
    """Connect bare slixmpp clients to the module's server (directly, not through the relay)."""
    started: list[RawClient] = []

    async def connect(account: Account, resource: str = "raw", **options: Any) -> RawClient:
        client = RawClient(f"{account.jid.bare}/{resource}", account.password, up.settings, **options)
        started.append(client)
        await client.start()
        return client

    yield connect
    await asyncio.gather(*(c.stop() for c in started), return_exceptions=True)


@pytest.fixture
async def ours(up: EjabberdServer, relay: Relay) -> AsyncIterator[Callable[..., ChatSession]]:
    """Our client's sessions, connecting through the relay; stopped afterwards."""
    sessions: list[ChatSession] = []

    def make(account: Account) -> ChatSession:
        s = up.settings
        session = ChatSession(SessionAccount(str(account.jid), account.password, s.bind_ip,
                                             relay.port, s.ca_file))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.stop()


async def bodies(client: RawClient, until: str, timeout: float = 20.0) -> list[str]:
    """Bodies of the chat messages ``client`` receives, up to and including ``until``."""
    got: list[str] = []
    while not got or got[-1] != until:
        stanza = await asyncio.wait_for(client.inbox.get(), timeout)
        if stanza["body"]:
            got.append(stanza["body"])
    return got


def connection(session: ChatSession) -> Callable[[], str]:
    """The session's connection state, for :meth:`SessionWatcher.until`."""
    return lambda: session.state


def shown(session: ChatSession, jid: str) -> list[str]:
    """The texts of a conversation as the client shows them, in order."""
    return [m.body for m in session.conversation(jid).messages]


async def test_written_offline_is_queued_then_delivered_once_in_order(
        up: EjabberdServer, pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]]) -> None:
    alice, bob = pair
    session = ours(alice)
    watch = SessionWatcher(session)
    await session.start()
    await asyncio.to_thread(up.stop)
    await watch.until(lambda: session.state == "connecting", what="connection lost")

    queued = [session.send_chat(bob.jid.bare, text) for text in ("first", "second", "third")]
    assert [m.delivery for m in queued] == [Delivery.QUEUED] * 3
    assert all(isinstance(e, events.MessageAdded) for e in watch.events[-3:])
    on_disk = Outbox(outbox_path(alice.jid.bare)).waiting()
    assert [(row.message_id, row.peer) for row in on_disk] == [(m.id, bob.jid.bare) for m in queued]
    assert all(f'<ns1:origin-id id="{row.message_id}"' in row.stanza for row in on_disk)

    await asyncio.to_thread(up.start)
    peer = await clients(bob)
    await watch.until(lambda: session.state == "online", timeout=30, what="online again")
    await watch.until(lambda: all(m.delivery >= Delivery.DELIVERED for m in queued),
                      what="delivered ticks for the queued messages")
    assert all(m.sent_at and m.delivered_at for m in queued)
    session.send_chat(bob.jid.bare, "fourth, sent online")
    assert await bodies(peer, "fourth, sent online") == [
        "first", "second", "third", "fourth, sent online"]
    assert shown(session, bob.jid.bare) == ["first", "second", "third", "fourth, sent online"]
    await watch.until(lambda: not Outbox(outbox_path(alice.jid.bare)).waiting(),
                      what="outbox empty once acknowledged")


async def test_queue_survives_a_client_restart(
        up: EjabberdServer, pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, bob = pair
    first_run = ours(alice)
    watch = SessionWatcher(first_run)
    await first_run.start()
    await relay.go_down()
    await watch.until(lambda: first_run.state == "connecting", what="network gone")
    written = [first_run.send_chat(bob.jid.bare, text) for text in ("before quitting", "me too")]
    await first_run.stop()  # the user quits while offline

    await relay.come_back()
    peer = await clients(bob)
    second_run = ours(alice)
    seen: list[tuple[str, Delivery]] = []
    second_run.subscribe(lambda e: isinstance(e, events.MessageAdded) and bool(
        seen.append((e.message.id, e.message.delivery))))
    assert second_run.outbox.restore() == 2  # shown as queued before the client is connected
    assert seen == [(m.id, Delivery.QUEUED) for m in written]
    watch = SessionWatcher(second_run)
    await second_run.start()
    restored = second_run.conversation(bob.jid.bare).messages
    assert [(m.id, m.body) for m in restored] == [(m.id, m.body) for m in written]
    await watch.until(lambda: all(m.delivery >= Delivery.DELIVERED for m in restored),
                      what="delivered after the restart")
    second_run.send_chat(bob.jid.bare, "end")
    assert await bodies(peer, "end") == ["before quitting", "me too", "end"]


async def test_server_restart_catches_up_from_the_archive_without_duplicates(
        up: EjabberdServer, pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, bob = pair
    session = ours(alice)
    watch = SessionWatcher(session)
    await session.start()
    peer = await clients(bob)
    peer.send_message(mto=alice.jid.bare, mbody="bob 1, live", mtype="chat")
    await watch.until(lambda: shown(session, bob.jid.bare) == ["bob 1, live"], what="live message")

    await relay.go_down()  # alice stays away until the others have written
    await asyncio.to_thread(up.stop)
    await watch.until(lambda: session.state == "connecting", what="server gone")
    await asyncio.to_thread(up.start)
    peer = await clients(bob, "raw2")
    other_device = await clients(alice, "phone")
    away = [f"bob {n}, while away" for n in range(2, 2 + history.PAGE + 5)]  # more than a page
    for text in away:
        peer.send_message(mto=alice.jid.bare, mbody=text, mtype="chat")
    await peer.plugin["xep_0199"].ping(up.settings.domain, timeout=10)  # bob's are in, in order
    # only in the archive: sent from another device while this one was away, after a page of bob's
    other_device.send_message(mto=bob.jid.bare, mbody="alice from her phone", mtype="chat")
    assert await bodies(peer, "alice from her phone") == ["alice from her phone"]

    await relay.come_back()
    await watch.until(lambda: session.state == "online", timeout=30, what="new login")
    expected = ["bob 1, live", *away, "alice from her phone"]
    await watch.until(lambda: sorted(shown(session, bob.jid.bare)) == sorted(expected),
                      what="every message once, caught up")
    peer.send_message(mto=alice.jid.bare, mbody="bob 4, after", mtype="chat")
    await watch.until(lambda: shown(session, bob.jid.bare)[-1:] == ["bob 4, after"], what="bob 4")
    conversation = session.conversation(bob.jid.bare)
    assert shown(session, bob.jid.bare) == [*expected, "bob 4, after"]
    mine = [m for m in conversation.messages if m.direction is Direction.OUTGOING]
    assert [m.body for m in mine] == ["alice from her phone"]
    assert conversation.unread == len(away) + 2  # bob's: none of them was read yet


async def test_short_network_loss_resumes_the_stream_and_shows_nothing_twice(
        pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, bob = pair
    session = ours(alice)
    watch = SessionWatcher(session)
    await session.start()
    resumed: list[Any] = []
    session.stream.add_event_handler("session_resumed", resumed.append)
    logins: list[Any] = []
    session.stream.add_event_handler("session_start", logins.append)
    peer = await clients(bob)
    peer.send_message(mto=alice.jid.bare, mbody="bob 1", mtype="chat")
    await watch.until(lambda: shown(session, bob.jid.bare) == ["bob 1"], what="bob 1")

    relay.stall()  # what alice sends now never reaches the server: it stays unacknowledged
    unacked = session.send_chat(bob.jid.bare, "alice 1, lost in the network")
    await relay.go_down()
    await watch.until(lambda: session.state == "connecting", what="network gone")
    peer.send_message(mto=alice.jid.bare, mbody="bob 2, during the loss", mtype="chat")
    queued = session.send_chat(bob.jid.bare, "alice 2, queued")
    assert queued.delivery is Delivery.QUEUED

    await relay.come_back()
    await watch.until(lambda: resumed and session.state == "online", timeout=30, what="resumed")
    assert not logins, "the stream was resumed, not logged in anew"
    await watch.until(lambda: "bob 2, during the loss" in shown(session, bob.jid.bare),
                      what="what came during the loss")
    session.send_chat(bob.jid.bare, "alice 3, end")
    assert await bodies(peer, "alice 3, end") == [
        "alice 1, lost in the network", "alice 2, queued", "alice 3, end"]
    await watch.until(lambda: unacked.delivery >= Delivery.SENT and queued.delivery >= Delivery.SENT,
                      what="acknowledged after resumption")
    peer.send_message(mto=alice.jid.bare, mbody="bob 3, end", mtype="chat")
    await watch.until(lambda: shown(session, bob.jid.bare)[-1:] == ["bob 3, end"], what="bob 3")
    texts = shown(session, bob.jid.bare)
    assert sorted(texts) == sorted(["bob 1", "alice 1, lost in the network", "bob 2, during the loss",
                                    "alice 2, queued", "alice 3, end", "bob 3, end"])
    assert len({m.id for m in session.conversation(bob.jid.bare).messages}) == len(texts)


async def test_enter_while_offline_queues_the_message_and_shows_it_so(
        up: EjabberdServer, pair: tuple[Account, Account], relay: Relay,
        clients: Callable[..., Awaitable[RawClient]]) -> None:
    alice, bob = pair
    s = up.settings
    app = SwitchboardApp(SessionAccount(str(alice.jid), alice.password, s.bind_ip, relay.port,
                                        s.ca_file))
    session = app.session
    watch = SessionWatcher(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: session.state == "online", what="online")
        app.main_screen.open_conversation(bob.jid.bare)
        await relay.go_down()
        await watch.until(lambda: session.state == "connecting", what="network gone")
        composer = app.main_screen.query_one(Composer)
        composer.focus()
        await pilot.press(*"Written offline")
        await pilot.press("enter")
        await pilot.pause()
        message = session.conversation(bob.jid.bare).messages[-1]
        assert (message.body, message.delivery) == ("Written offline", Delivery.QUEUED)
        assert composer.text == ""  # it left the box: it is queued, not lost
        assert "queued, sent when online" in on_screen(app)

        peer = await clients(bob)
        await relay.come_back()
        await watch.until(lambda: message.delivery >= Delivery.DELIVERED, timeout=30,
                          what="delivered once online")
        await pilot.pause()
        assert "queued" not in on_screen(app)
        assert message.delivered_at is not None
        assert f"delivered {message.delivered_at.astimezone():%H:%M:%S}" in on_screen(app)
        assert await bodies(peer, "Written offline") == ["Written offline"]


async def listener(clients: Callable[..., Awaitable[RawClient]], account: Account) -> RawClient:
    """A bare client with rooms, corrections, retractions and reactions whose :attr:`inbox` also
    gets the stanzas without a body (slixmpp's ``message`` event only has those with one)."""
    client = await clients(account, plugins=("xep_0045", "xep_0308", "xep_0424", "xep_0444"))
    client.add_event_handler("reactions", client.inbox.put_nowait)
    client.add_event_handler("marker_displayed", client.inbox.put_nowait)
    return client


async def said(client: RawClient, count: int, timeout: float = 20.0) -> list[Any]:
    """The next ``count`` message stanzas ``client`` receives that carry something (a body, a
    reaction, a correction, a retraction or a read marker), in order; not its own coming back
    from a room (where it is ``bob``)."""
    got: list[Any] = []
    while len(got) < count:
        try:
            stanza = await asyncio.wait_for(client.inbox.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"only {[what(s) for s in got]} arrived") from None
        if stanza["type"] == "groupchat" and stanza["from"].resource == "bob":
            continue
        if stanza["body"] or any(stanza.xml.find(tag) is not None for tag in (
                REACTIONS, REPLACE, RETRACT, "{urn:xmpp:chat-markers:0}displayed")):
            got.append(stanza)
    return got


def what(stanza: Any) -> tuple[str, ...]:
    """A received stanza in short: its kind and what it says."""
    if stanza.xml.find(REACTIONS) is not None:
        return ("reactions", stanza["reactions"]["id"],
                *(r["value"] for r in stanza["reactions"]))
    if stanza.xml.find(REPLACE) is not None:
        return ("correction", stanza["replace"]["id"], stanza["body"])
    if stanza.xml.find(RETRACT) is not None:
        return ("retraction", stanza["retract"]["id"])
    if stanza.xml.find("{urn:xmpp:chat-markers:0}displayed") is not None:
        return ("displayed", stanza["displayed"]["id"])
    return ("message", stanza["body"])


def markable(client: RawClient, to: str, body: str, mtype: str) -> Any:
    """Send ``body`` asking for chat markers, as a person's client does; returns the stanza."""
    stanza = client.make_message(mto=JID(to), mbody=body, mtype=mtype)
    stanza.enable("markable")
    stanza.send()
    return stanza


async def in_room_together(pair: tuple[Account, Account], ours: Callable[..., ChatSession],
                           clients: Callable[..., Awaitable[RawClient]],
                           ) -> tuple[ChatSession, SessionWatcher, RawClient, Room]:
    """Alice online in our client, bob on a :func:`listener`, both in a room of alice's (bob as
    ``bob``), with bob's invitation read."""
    alice, bob = pair
    session = ours(alice)
    watch = SessionWatcher(session)
    await session.start()
    peer = await listener(clients, bob)
    room = await session.rooms.create("Offline team", [bob.jid.bare])
    (invitation,) = await said(peer, 1)
    assert invitation["groupchat_invite"]["jid"] == room.jid
    await peer.plugin["xep_0045"].join_muc_wait(JID(room.jid), "bob", maxstanzas=0, timeout=15)
    await watch.until(lambda: "bob" in room.occupants, what="bob in the room")
    return session, watch, peer, room


async def test_what_is_done_offline_in_chats_and_rooms_waits_and_goes_out_in_order(
        pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, bob = pair
    session, watch, peer, room = await in_room_together(pair, ours, clients)
    chat, group = session.conversation(bob.jid.bare), session.conversation(room.jid)
    asked = markable(peer, alice.jid.bare, "bob: lunch?", "chat")
    markable(peer, room.jid, "bob: agenda?", "groupchat")
    await watch.until(lambda: chat.messages and len(group.messages) == 1, what="bob's messages")
    his, his_in_room = chat.messages[-1], group.messages[-1]
    to_fix = session.send_chat(bob.jid.bare, "alice: at noon")
    to_take_back = session.send_chat(room.jid, "alice: budget first")
    await watch.until(lambda: to_fix.delivery >= Delivery.DELIVERED and to_take_back.room_id,
                      what="alice's messages out")
    assert [what(s) for s in await said(peer, 2)] == [("message", "alice: at noon"),
                                                      ("message", "alice: budget first")]

    await relay.go_down()
    await watch.until(lambda: session.state == "connecting", what="network gone")
    session.actions.react(bob.jid.bare, his, "👍")
    session.actions.correct(bob.jid.bare, to_fix, "alice: at 12:30")
    assert session.mark_read(bob.jid.bare) is his
    written = session.send_chat(room.jid, "alice: the offsite")
    session.actions.correct(room.jid, written, "alice: the offsite in May")  # still queued: rewritten
    session.actions.react(room.jid, his_in_room, "🎉")
    session.actions.retract(room.jid, to_take_back)
    session.mark_read(room.jid)
    gone = session.send_chat(bob.jid.bare, "alice: never mind")
    session.actions.retract(bob.jid.bare, gone)  # still queued: it never goes out
    assert gone.retracted and delivery_label(gone).plain == "⊘ never sent"
    assert (his.queued, to_fix.queued, his_in_room.queued, to_take_back.queued) == (
        ["reaction"], ["correction"], ["reaction"], ["retraction"])
    assert (written.delivery, written.body, written.corrected) == (
        Delivery.QUEUED, "alice: the offsite in May", False)
    assert (to_fix.body, to_take_back.retracted, his.reactions) == (
        "alice: at 12:30", True, {alice.jid.bare: ("👍",)})
    assert delivery_label(his).plain == "⏳ reaction queued"
    assert len(Outbox(outbox_path(alice.jid.bare)).waiting()) == 7

    await relay.come_back()
    await watch.until(lambda: session.state == "online", timeout=30, what="online again")
    got = await said(peer, 7)  # in order in each conversation; the two may interleave
    assert [what(s) for s in got if s["type"] == "chat"] == [
        ("reactions", asked["id"], "👍"), ("correction", to_fix.id, "alice: at 12:30"),
        ("displayed", asked["id"])]
    assert [what(s) for s in got if s["type"] == "groupchat"] == [
        ("message", "alice: the offsite in May"), ("reactions", his_in_room.room_id, "🎉"),
        ("retraction", to_take_back.room_id), ("displayed", his_in_room.room_id)]
    await watch.until(lambda: written.delivery is Delivery.SENT, what="the room passed it on")
    assert not (his.queued or to_fix.queued or his_in_room.queued or to_take_back.queued)
    await watch.until(lambda: not Outbox(outbox_path(alice.jid.bare)).waiting(),
                      what="outbox empty once acknowledged")


async def test_room_queue_survives_a_restart_and_waits_until_the_room_is_joined_again(
        pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, _bob = pair
    first_run, watch, peer, room = await in_room_together(pair, ours, clients)
    question = markable(peer, room.jid, "bob: who takes notes?", "groupchat")
    group = first_run.conversation(room.jid)
    await watch.until(lambda: group.messages, what="bob's question")
    await relay.go_down()
    await watch.until(lambda: first_run.state == "connecting", what="network gone")
    first_run.actions.react(room.jid, group.messages[-1], "🙏")
    first_run.send_chat(room.jid, "alice: I do")
    first_run.send_chat(room.jid, "alice: typed before quitting")
    first_run.mark_read(room.jid)
    await first_run.stop()

    await relay.come_back()
    second_run = ours(alice)
    assert second_run.outbox.restore() == 2  # the two messages; the reaction waits for its message
    queued = list(second_run.conversation(room.jid).messages)
    assert [(m.body, m.delivery, m.in_room) for m in queued] == [
        ("alice: I do", Delivery.QUEUED, True), ("alice: typed before quitting", Delivery.QUEUED, True)]
    watch = SessionWatcher(second_run)
    await second_run.start()
    await watch.until(lambda: all(m.delivery is Delivery.SENT for m in queued), timeout=30,
                      what="sent to the room once rejoined")
    got = [what(s) for s in await said(peer, 4)]
    room_id = next(m.room_id for m in second_run.conversation(room.jid).messages
                   if m.body == "bob: who takes notes?")
    assert got == [("reactions", room_id, "🙏"), ("message", "alice: I do"),
                   ("message", "alice: typed before quitting"), ("displayed", room_id)]
    assert question["id"] != room_id  # reactions and markers in rooms name the room's id
    rejoined = second_run.rooms.by_jid[room.jid]
    assert [m.nick for m in queued] == [rejoined.nick] * 2
    shown = next(m for m in second_run.conversation(room.jid).messages if m.room_id == room_id)
    assert shown.reactions == {alice.jid.bare: ("🙏",)}


def our_app(up: EjabberdServer, relay: Relay, account: Account,
            autoconnect: bool = True) -> SwitchboardApp:
    """Our terminal client for ``account``, connecting through the relay."""
    s = up.settings
    return SwitchboardApp(SessionAccount(str(account.jid), account.password, s.bind_ip, relay.port,
                                         s.ca_file), autoconnect=autoconnect)


async def test_after_a_restart_what_waits_says_so_on_its_message_once_shown_until_it_goes_out(
        up: EjabberdServer, pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, _bob = pair
    first_run, watch, peer, room = await in_room_together(pair, ours, clients)
    group = first_run.conversation(room.jid)
    markable(peer, room.jid, "bob: old question", "groupchat")
    for n in range(rooms.HISTORY):  # the old question stays out of the page loaded on joining
        peer.send_message(mto=JID(room.jid), mbody=f"bob: filler {n}", mtype="groupchat")
    await watch.until(lambda: len(group.messages) == 1 + rooms.HISTORY, what="bob's messages")
    mine = first_run.send_chat(room.jid, "alice: minutes at 5")
    markable(peer, room.jid, "bob: new question", "groupchat")
    await watch.until(lambda: group.messages[-1].body == "bob: new question"
                      and mine.delivery is Delivery.SENT, timeout=20, what="the room's messages")
    old, new = group.messages[0], group.messages[-1]
    assert old.body == "bob: old question"
    assert [what(s) for s in await said(peer, 1)] == [("message", "alice: minutes at 5")]
    await relay.go_down()
    await watch.until(lambda: first_run.state == "connecting", what="network gone")
    first_run.actions.react(room.jid, new, "🙏")
    first_run.actions.correct(room.jid, mine, "alice: minutes at 6")
    first_run.actions.react(room.jid, old, "👀")
    assert [delivery_label(m).plain for m in (new, mine, old)] == [
        "⏳ reaction queued", "⏳ correction queued", "⏳ reaction queued"]
    await first_run.stop()

    await relay.come_back()
    app = our_app(up, relay, alice, autoconnect=False)
    second_run = app.session
    conversation = second_run.conversation(room.jid)
    shown: dict[str, tuple[str, tuple[str, ...]]] = {}  # as the room's history shows them

    def on_history(event: events.SessionEvent) -> None:
        if isinstance(event, events.HistoryLoaded) and event.jid == room.jid and not shown:
            shown.update({m.body: (delivery_label(m).plain, m.reactions.get(alice.jid.bare, ()))
                          for m in conversation.messages})

    second_run.subscribe(on_history)
    watch = SessionWatcher(second_run)
    async with app.run_test(size=(100, 30)) as pilot:
        app.main_screen.open_conversation(room.jid)
        await second_run.start()
        got = [what(s) for s in await said(peer, 3)]
        assert got == [("reactions", new.room_id, "🙏"), ("correction", mine.id, "alice: minutes at 6"),
                       ("reactions", old.room_id, "👀")]
        assert shown["bob: new question"] == ("⏳ reaction queued", ("🙏",))
        assert shown["alice: minutes at 6"] == ("⏳ correction queued", ())
        assert "bob: old question" not in shown and "alice: minutes at 5" not in shown

        back = {m.body: m for m in conversation.messages}
        await watch.until(lambda: not back["bob: new question"].queued
                          and not back["alice: minutes at 6"].queued, what="labels gone once sent")
        await pilot.pause()
        screen = on_screen(app)
        assert "queued" not in screen
        assert "alice: minutes at 6" in screen and "🙏" in screen

        log = app.main_screen.query_one(MessageLog)  # scrolling brings the old question in
        log.focus()
        await pilot.press("home")
        await watch.until(lambda: conversation.find(old.room_id), timeout=15, what="older page")
        earlier = conversation.find(old.room_id)
        assert earlier is not None
        assert (earlier.queued, earlier.reactions) == ([], {alice.jid.bare: ("👀",)})
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        screen = on_screen(app)
        assert "bob: old question" in screen and "👀" in screen and "queued" not in screen
    await watch.until(lambda: not Outbox(outbox_path(alice.jid.bare)).waiting(),
                      what="outbox empty once acknowledged")


NICK = "Alice W"
"""Alice's nick in the rooms of the tests below, as her bookmark (XEP-0402) names it."""


async def bookmarked_room(clients: Callable[..., Awaitable[RawClient]], pair: tuple[Account, Account],
                          autojoin: bool) -> tuple[RawClient, str]:
    """A room bob (on a :func:`listener`, as ``bob``) made, which alice's phone bookmarks with her
    nick :data:`NICK` there."""
    alice, bob = pair
    peer = await listener(clients, bob)
    room = (await peer_room(peer, "Bake Sale")).bare
    phone = await clients(alice, "phone", plugins=ROOM_PLUGINS)
    conference = Conference()
    conference["name"], conference["nick"], conference["autojoin"] = "Bake Sale", NICK, autojoin
    await phone.plugin["xep_0060"].publish(alice.jid.bare, BOOKMARKS, id=room, payload=conference,
                                           timeout=10)
    return peer, room


async def test_after_a_restart_a_queued_room_message_shows_my_nick_in_that_room(
        up: EjabberdServer, pair: tuple[Account, Account], ours: Callable[..., ChatSession],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, _bob = pair
    peer, room = await bookmarked_room(clients, pair, autojoin=True)
    first_run = ours(alice)
    watch = SessionWatcher(first_run)
    await first_run.start()
    await watch.until(lambda: room in first_run.rooms and first_run.rooms.by_jid[room].joined,
                      what="in the bookmarked room")
    assert first_run.rooms.by_jid[room].nick == NICK
    await relay.go_down()
    await watch.until(lambda: first_run.state == "connecting", what="network gone")
    assert first_run.send_chat(room, "/me brings the cake").nick == NICK
    await first_run.stop()

    app = our_app(up, relay, alice, autoconnect=False)
    second_run = app.session
    watch = SessionWatcher(second_run)
    async with app.run_test(size=(100, 30)) as pilot:
        assert second_run.outbox.restore() == 1  # offline: only what the outbox kept is known
        (queued,) = second_run.conversation(room).messages
        app.main_screen.open_conversation(room)
        await pilot.pause()
        screen = on_screen(app)
        assert f"* {NICK} brings the cake" in screen and "⏳ queued" in screen

        await relay.come_back()
        await second_run.start()
        (heard,) = await said(peer, 1)
        assert (heard["from"].resource, heard["body"]) == (NICK, "/me brings the cake")
        await watch.until(lambda: queued.delivery is Delivery.SENT, what="the room passed it on")
        await pilot.pause()
        screen = on_screen(app)
        assert f"* {NICK} brings the cake" in screen and "sent to room" in screen
        assert "queued" not in screen


OUTBOX_V1 = """
CREATE TABLE outgoing (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    stanza TEXT NOT NULL,
    written REAL NOT NULL,
    CONSTRAINT uq_outgoing_message_id UNIQUE (message_id)
);
PRAGMA user_version = 1;
"""
"""The outbox as clients before version 2 wrote it: no nick with a room message."""


def old_outbox(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Write an outbox of version 1 at ``path`` holding ``rows`` (message id, peer, stanza)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(OUTBOX_V1)
        db.executemany("INSERT INTO outgoing (message_id, peer, stanza, written) VALUES (?, ?, ?, ?)",
                       [(*row, 1_790_000_000.0 + n) for n, row in enumerate(rows)])
        db.commit()


def room_message(room: str, message_id: str, body: str) -> str:
    """A room message as the outbox keeps it."""
    return (f'<message xmlns="jabber:client" to="{room}" type="groupchat" id="{message_id}">'
            f'<body>{body}</body><origin-id xmlns="urn:xmpp:sid:0" id="{message_id}"/></message>')


async def test_a_room_message_an_older_client_queued_shows_my_bookmarked_nick_then_goes_out(
        up: EjabberdServer, pair: tuple[Account, Account],
        clients: Callable[..., Awaitable[RawClient]], relay: Relay) -> None:
    alice, _bob = pair
    peer, room = await bookmarked_room(clients, pair, autojoin=False)  # rows wait until I join
    path = outbox_path(alice.jid.bare)
    old_outbox(path, [("old-1", room, room_message(room, "old-1", "/me brings the cake"))])

    app = our_app(up, relay, alice, autoconnect=False)
    session = app.session
    watch = SessionWatcher(session)
    async with app.run_test(size=(100, 30)) as pilot:
        assert session.outbox.restore() == 1
        (queued,) = session.conversation(room).messages
        assert queued.nick == alice.jid.user  # offline nothing tells more: the default nick
        app.main_screen.open_conversation(room)
        await session.start()
        await watch.until(lambda: queued.nick == NICK, what="the nick of the bookmark")
        await pilot.pause()
        screen = on_screen(app)
        assert f"* {NICK} brings the cake" in screen and "⏳ queued" in screen
        assert not session.rooms.by_jid[room].joined and queued.delivery is Delivery.QUEUED

        await session.rooms.join(room)
        (heard,) = await said(peer, 1)
        assert (heard["from"].resource, heard["body"]) == (NICK, "/me brings the cake")
        await watch.until(lambda: queued.delivery is Delivery.SENT, what="the room passed it on")
        await pilot.pause()
        assert "queued" not in on_screen(app)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2


def test_outbox_of_an_older_client_gains_the_nick_and_keeps_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "0.sqlite3"
    stanza = room_message("r@muc.example.org", "q-1", "hi")
    old_outbox(path, [("q-1", "r@muc.example.org", stanza), ("q-2", "b@example.org", "<message/>")])
    box = Outbox(path)
    assert [(r.message_id, r.peer, r.stanza, r.nick) for r in box.waiting()] == [
        ("q-1", "r@muc.example.org", stanza, ""), ("q-2", "b@example.org", "<message/>", "")]
    when = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)
    box.put(OutgoingMessage("q-3", "r@muc.example.org", "<message/>", when, "Alice W"))
    box.close()
    assert [r.nick for r in Outbox(path).waiting()] == ["", "", "Alice W"]
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2


def on_screen(app: SwitchboardApp) -> str:
    """What the message view shows now."""
    log = app.main_screen.query_one(MessageLog)
    return "\n".join(log.render_line(y).text.rstrip() for y in range(log.size.height))


def test_outbox_keeps_messages_in_the_order_written_and_once(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox" / "a@example.org.sqlite3")
    when = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)
    rows = [OutgoingMessage(f"id-{n}", "b@example.org", f"<message id='id-{n}'/>", when)
            for n in (3, 1, 2)]
    for row in [*rows, rows[0]]:
        box.put(row)
    assert box.waiting() == rows
    assert box.remove("id-1") and not box.remove("id-1")
    box.close()
    assert [r.message_id for r in Outbox(box.path).waiting()] == ["id-3", "id-2"]


def test_outbox_of_a_newer_client_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(OutboxUnusable, match="update this one"):
        Outbox(path).waiting()


def test_queued_tick_reads_queued() -> None:
    message = ChatMessage("m", Direction.OUTGOING, "a@example.org", "hi",
                          dt.datetime(2026, 11, 26, tzinfo=dt.UTC), delivery=Delivery.QUEUED)
    assert delivery_label(message).plain == "⏳ queued, sent when online"
    assert delivery_label(message, compact=True).plain == "⏳ queued"
    assert message.advance(Delivery.SENT, message.time) and message.sent_at == message.time


def test_what_an_action_acts_on_is_read_without_changing_the_action() -> None:
    # slixmpp adds the element of a plugin to a stanza when it is asked for: reading the reactions
    # of a correction made it a reaction (to nothing) when its message came with history
    stream = ClientXMPP("alice@localhost", "unused")  # never connected: builds stanzas only
    for plugin in PLUGINS:
        stream.register_plugin(plugin)
    correction = stream.plugin["xep_0308"].build_correction(
        id_to_replace="m1", mto=JID("bob@localhost"), mbody="fixed")
    retraction = stream.make_message(mto=JID("bob@localhost"), mbody=RETRACTED_FALLBACK)
    retraction["retract"]["id"] = "m2"
    reaction = stream.make_message(mto=JID("bob@localhost"))
    stream.plugin["xep_0444"].set_reactions(reaction, "m3", ["👍"])
    for stanza, ref, kind in ((correction, "m1", "correction"), (retraction, "m2", "retraction"),
                              (reaction, "m3", "reaction")):
        assert [MessageActions.ref(stanza), MessageActions.ref(stanza)] == [ref, ref]
        assert MessageActions.label(stanza) == kind
