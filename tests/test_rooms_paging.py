"""Room history paged back on scroll (CH1 for rooms) against the real ejabberd: the room and its 120
archived messages come from a bare slixmpp client (not our code); our client shows the newest page
on joining and pages older ones in from the room's archive when the view reaches the top."""

from __future__ import annotations

from slixmpp import JID

from tui.app import SwitchboardApp
from tui.session import events
from tui.widgets.chat import MessageLog

from .conftest import session_account
from .test_rooms import ROOM_PLUGINS, next_matching, peer_room, queue_of
from .test_tui_skeleton import screen_lines
from .watch import SessionWatcher

COUNT = 120


def body(n: int) -> str:
    return f"room message {n:03d}"


async def test_scrolling_to_the_top_pages_older_room_messages_in(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    reflected = queue_of(peer, "groupchat_message")
    room = (await peer_room(peer, "History")).bare
    for n in range(1, COUNT + 1):
        peer.send_message(mto=JID(room), mbody=body(n), mtype="groupchat")
    await next_matching(reflected, lambda m: m["body"] == body(COUNT), timeout=30)  # all archived

    app = SwitchboardApp(session_account(alice, stack_settings))
    session = app.session
    watch = SessionWatcher(session)
    conversation = session.conversation(room)
    bodies = lambda: [m.body for m in conversation.messages]  # noqa: E731
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: session.state == "online", what="online")
        await session.rooms.join(room)
        assert bodies() == [body(n) for n in range(COUNT - 49, COUNT + 1)]  # the newest page
        assert session.rooms.has_older(room)
        app.main_screen.open_conversation(room)
        await pilot.pause()
        log = app.main_screen.query_one(MessageLog)

        # Home in the message view: the oldest message here, at the top, asks for older ones
        log.focus()
        await pilot.press("home")
        await watch.until(lambda: len(conversation.messages) == 100, what="second page", timeout=15)
        await pilot.pause()
        assert bodies() == [body(n) for n in range(COUNT - 99, COUNT + 1)]
        assert any(isinstance(e, events.HistoryPrepended) and e.count == 50 for e in watch.events)
        top = "\n".join(screen_lines(log)[:4])
        assert body(COUNT - 49) in top  # the view stayed on the message it showed
        assert body(COUNT - 50) not in "\n".join(screen_lines(log))

        # scrolling to the top brings the rest, and then nothing more
        log.scroll_home(animate=False, immediate=True)
        await watch.until(lambda: len(conversation.messages) == COUNT, what="last page", timeout=15)
        await pilot.pause()
        assert bodies() == [body(n) for n in range(1, COUNT + 1)]  # in order, no duplicates
        assert len({m.id for m in conversation.messages}) == COUNT
        assert not session.rooms.has_older(room)
        assert await session.rooms.older(room) == 0

        # live messages still come after the paged history
        peer.send_message(mto=JID(room), mbody="live after paging", mtype="groupchat")
        await watch.until(lambda: bodies()[-1] == "live after paging", what="live message")
        assert len(conversation.messages) == COUNT + 1
