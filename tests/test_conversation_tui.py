"""The conversation view driven by keys through the Pilot against the real ejabberd, the other side a
bare slixmpp client (not our code): pick a message, react, reply, correct, retract, page back through
history, see the other side typing, complete a nick. Snapshots of a conversation use fixed data."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from slixmpp import JID

from tui.app import SwitchboardApp
from tui.screens.message_dialogs import ReactionPicker
from tui.screens.room_dialogs import Question
from tui.session import ChatMessage, Delivery, Direction, events
from tui.widgets.chat import Composer, MessageLog
from tui.widgets.chat.compose_bar import ComposeBar
from tui.widgets.roster import RosterList

from .test_conversation import PEER_PLUGINS, archive_between, say
from .test_rooms import ROOM_PLUGINS, next_matching, queue_of, room_with_peer
from .test_rooms_tui import online_app, shown
from .test_snapshots import T0, demo_app, populate, utc  # noqa: F401  (utc: the fixed time zone)
from .watch import SessionWatcher


async def open_chat(app: SwitchboardApp, pilot, jid: str) -> None:
    """Open the conversation with ``jid`` from the contact list, as a user does."""
    roster = app.main_screen.query_one(RosterList)
    roster.focus()
    roster.highlighted = roster.get_option_index(jid)
    await pilot.press("enter")
    assert app.main_screen.open_jid == jid


@contextlib.asynccontextmanager
async def chatting_with(account, stack_settings, peer: str, size: tuple[int, int] = (100, 30)
                        ) -> AsyncIterator[tuple[SwitchboardApp, SessionWatcher, Any]]:
    """Our client logged in as ``account``, online, with the conversation with ``peer`` open."""
    app, watch = online_app(account, stack_settings)
    async with app.run_test(size=size) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await pilot.pause()
        await open_chat(app, pilot, peer)
        yield app, watch, pilot


async def test_pick_react_reply_correct_and_retract_by_keys(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    reactions = queue_of(peer, "reactions")
    corrections = queue_of(peer, "message_correction")
    retractions = queue_of(peer, "message_retract")
    async with chatting_with(alice, stack_settings, bob.jid.bare) as (app, watch, pilot):
        session = app.session
        conversation = session.conversation(bob.jid.bare)
        question = say(peer, alice.jid.bare, "Budget approved?")
        await watch.until(lambda: conversation.messages, what="bob's question")
        await pilot.pause()

        # Shift+Tab from the composer picks the newest message; + and a digit react
        await pilot.press("shift+tab")
        log = app.main_screen.query_one(MessageLog)
        assert log.has_focus and log.selected is conversation.messages[0]
        await pilot.press("plus")
        assert isinstance(app.screen, ReactionPicker)
        await pilot.press("1")
        stanza = await next_matching(reactions, lambda m: True)
        assert stanza["reactions"]["id"] == question["id"]
        assert [r["value"] for r in stanza["reactions"]] == ["👍"]
        await pilot.pause()
        assert "👍 1 me" in shown(app)

        # r answers it: the bar says so, Enter sends the reply with its quote
        await pilot.press("r")
        composer = app.main_screen.query_one(Composer)
        assert composer.has_focus
        assert "Replying to" in str(app.main_screen.query_one(ComposeBar).render())
        await pilot.press(*"Yes, 5k", "enter")
        reply = await asyncio.wait_for(peer.inbox.get(), 10)
        assert reply["reply"]["id"] == question["id"] and reply["body"].endswith("Yes, 5k")
        await pilot.pause()
        assert "↱ bob" in shown(app) and "Budget approved?" in shown(app)

        # ↑ in the empty box corrects it
        await pilot.press("up")
        assert composer.text == "Yes, 5k"
        assert "Correcting" in str(app.main_screen.query_one(ComposeBar).render())
        await pilot.press("backspace", "backspace", *"10k", "enter")
        fixed = await next_matching(corrections, lambda m: True)
        assert fixed["replace"]["id"] == reply["id"] and fixed["body"] == "Yes, 10k"
        await pilot.pause()
        assert "Yes, 10k" in shown(app) and "✎" in shown(app)

        # pick my message and retract it, after saying yes
        await pilot.press("shift+tab")
        assert log.selected is conversation.messages[-1]
        await pilot.press("delete")
        assert isinstance(app.screen, Question)
        await pilot.press("enter")
        retraction = await next_matching(retractions, lambda m: True)
        assert retraction["retract"]["id"] == reply["id"]
        await pilot.pause()
        assert "message retracted" in shown(app) and "Yes, 10k" not in shown(app)

        # and bob's retraction shows the same way
        peer.plugin["xep_0424"].send_retraction(JID(alice.jid.bare), question["id"])
        await watch.until(lambda: conversation.messages[0].retracted, what="bob retracts")
        await pilot.pause()
        assert "Budget approved?" not in shown(app)
        assert shown(app).count("message retracted") >= 2


async def test_history_pages_back_when_scrolled_to_the_top(pair, raw_client, stack_settings):
    alice, bob = pair
    alice_phone = await raw_client(alice, resource="phone", plugins=PEER_PLUGINS)
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    await archive_between(alice_phone, peer, 120)
    await alice_phone.stop()
    async with chatting_with(alice, stack_settings, bob.jid.bare) as (app, watch, pilot):
        session = app.session
        conversation = session.conversation(bob.jid.bare)
        await watch.until(lambda: len(conversation.messages) == 50, what="the newest page")
        await pilot.pause()
        log = app.main_screen.query_one(MessageLog)
        assert "message 119" in shown(app) and not list(log.children)  # lines, not widgets

        log.scroll_home(animate=False, immediate=True)  # the user scrolls to the top
        await watch.until(lambda: len(conversation.messages) == 100, what="an older page")
        await pilot.pause()
        top = shown(app)
        assert "message 070" in top and "message 069" not in top  # the view stayed where it was
        assert log.scroll_y > 0

        await pilot.press("shift+tab", "home")  # Home on the messages: the oldest, and older history
        await watch.until(lambda: len(conversation.messages) == 120, what="the first page")
        await pilot.press("home")
        await pilot.pause()
        assert log.selected is conversation.messages[0] and "message 000" in shown(app)
        assert [m.body for m in conversation.messages] == [f"message {i:03d}" for i in range(120)]


async def test_a_conversation_opened_before_login_gets_its_history_once_online(pair, raw_client,
                                                                              stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    say(peer, alice.jid.bare, "left while you were out")  # kept offline and in the archive
    app, watch = online_app(alice, stack_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        app.main_screen.open_conversation(bob.jid.bare)  # before the session is online
        conversation = app.session.conversation(bob.jid.bare)
        await watch.until(lambda: any(isinstance(e, events.HistoryLoaded) for e in watch.events),
                          what="the history, once online")
        await pilot.pause()
        assert [m.body for m in conversation.messages] == ["left while you were out"]
        assert "left while you were out" in shown(app)


async def test_typing_shows_both_ways(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=PEER_PLUGINS)
    states = queue_of(peer, "chatstate")
    async with chatting_with(alice, stack_settings, bob.jid.bare, (80, 24)) as (app, watch, pilot):
        session = app.session
        bar = app.main_screen.query_one(ComposeBar)
        assert not bar.display

        composing = peer.make_message(mto=JID(alice.jid.bare), mtype="chat")
        composing["chat_state"] = "composing"
        composing.send()
        await watch.until(lambda: session.typing.typing_in(bob.jid.bare), what="bob typing")
        await pilot.pause()
        assert bar.display and "bob" in str(bar.render()) and "is typing…" in str(bar.render())

        await pilot.press(*"Hel")  # three keys, one state
        assert (await next_matching(states, lambda m: True))["chat_state"] == "composing"
        await pilot.press("enter")
        sent = await next_matching(states, lambda m: True)
        assert (sent["chat_state"], sent["body"]) == ("active", "Hel")

        say(peer, alice.jid.bare, "hi")
        await watch.until(lambda: not session.typing.typing_in(bob.jid.bare), what="bob done")
        await pilot.pause()
        assert not bar.display


async def test_tab_completes_a_nick_and_mentions_are_highlighted(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=(*ROOM_PLUGINS, *PEER_PLUGINS))
    said = queue_of(peer, "groupchat_message")
    app, watch = online_app(alice, stack_settings)
    session = app.session
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: session.state == "online", what="online")
        room = await room_with_peer(session, watch, peer, "Mentions")
        app.main_screen.open_conversation(room.jid)
        await pilot.pause()
        await pilot.press("@", "b", "tab")
        composer = app.main_screen.query_one(Composer)
        assert composer.text == "@bob "
        await pilot.press(*"ready?", "enter")
        got = await next_matching(said, lambda m: m["body"] == "@bob ready?")
        assert got.xml.find("{urn:xmpp:reference:0}reference").get("uri") == f"xmpp:{room.jid}/bob"

        peer.send_message(mto=JID(room.jid), mbody=f"yes {room.nick}, go ahead", mtype="groupchat")
        conversation = session.conversation(room.jid)
        await watch.until(lambda: len(conversation.messages) == 2, what="bob answers")
        assert conversation.messages[1].mentions_me
        await pilot.pause()
        log = app.main_screen.query_one(MessageLog)
        mention = log.lines_of(conversation.messages[1]).index(f"  yes {room.nick}, go ahead")
        line = log._strips(1)[mention]
        assert any(segment.style and segment.style.bold and room.nick in segment.text
                   for segment in line)  # a message that names me stands out


def conversation_app() -> SwitchboardApp:
    """The demo conversation with bob, with a reaction, a reply, a correction and a retraction."""
    app = demo_app()
    conversation = app.session.conversation("bob@localhost")
    first, answer, mine = conversation.messages
    answer.reactions = {"alice@localhost": ("👍",), "carol@localhost": ("👍", "🎉")}
    mine.body, mine.corrected = "Great, thanks a lot!", True
    mine.reply_to = answer.id
    late = ChatMessage("4", Direction.INCOMING, "bob@localhost", "", T0 + dt.timedelta(minutes=3),
                       retracted=True)
    conversation.add(late)
    action = ChatMessage("5", Direction.INCOMING, "bob@localhost", "/me waves", T0 + dt.timedelta(minutes=4))
    conversation.add(action)
    own = ChatMessage("6", Direction.OUTGOING, "alice@localhost", "@carol see above",
                      T0 + dt.timedelta(minutes=5))
    own.advance(Delivery.SENT, T0 + dt.timedelta(minutes=5, seconds=1))
    conversation.add(own)
    return app


async def open_and_pick(pilot) -> None:
    await populate(pilot)
    screen = pilot.app.main_screen
    screen.open_conversation("bob@localhost")
    await pilot.pause()
    await pilot.press("shift+tab", "up", "up", "up", "up")  # the answer with its reactions
    await pilot.pause()


def test_conversation_with_reaction_reply_correction_retraction(snap_compare):
    assert snap_compare(conversation_app(), terminal_size=(100, 30), run_before=open_and_pick)


def test_conversation_at_80x24(snap_compare):
    assert snap_compare(conversation_app(), terminal_size=(80, 24), run_before=open_and_pick)


async def test_message_actions_are_in_the_command_palette():
    app = conversation_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await populate(pilot)
        app.main_screen.open_conversation("bob@localhost")
        await pilot.pause()
        titles = [title for title, _help, _do in app.main_screen.message_commands()]
        assert titles == ["Pick a message", "Reply to message", "React to message",
                          "Correct my last message", "Retract my last message", "Load older messages"]
        await pilot.press("ctrl+p", *"Correct my last")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.main_screen.query_one(Composer).text == "@carol see above"
        assert "Correcting" in str(app.main_screen.query_one(ComposeBar).render())
        await pilot.press("escape")  # drops the correction and its text
        assert app.main_screen.query_one(Composer).text == ""
        assert not app.main_screen.query_one(ComposeBar).display


async def test_open_conversation_shows_no_unread_count_while_messages_pour_in(
        pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob)
    async with chatting_with(alice, stack_settings, bob.jid.bare) as (app, watch, pilot):
        roster = app.main_screen.query_one(RosterList)
        shown_counts: list[int] = []
        set_unread = roster.set_unread

        def recording(unread: dict[str, int]) -> None:  # what the list is told to show
            shown_counts.append(unread.get(bob.jid.bare, 0))
            set_unread(unread)

        roster.set_unread = recording  # type: ignore[method-assign]
        conversation = app.session.conversation(bob.jid.bare)
        for index in range(300):
            peer.send_message(mto=alice.jid.bare, mbody=f"news {index}", mtype="chat")
        await watch.until(lambda: len(conversation.messages) == 300, what="300 messages")
        await pilot.pause()
        assert shown_counts and set(shown_counts) == {0}
        assert conversation.unread == 0
        assert [m.body for m in conversation.messages] == [f"news {i}" for i in range(300)]
