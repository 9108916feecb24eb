"""Rooms (CH3) in the terminal client, driven by keys through the Pilot against the real ejabberd;
the other party is a bare slixmpp client (not our code). Snapshots of a room view use fixed data."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

from slixmpp import JID
from textual.app import App, ComposeResult
from textual.widgets import Input

from tui.app import SwitchboardApp
from tui.messages import SessionUpdate
from tui.screens.room_dialogs import PeopleDialog, Question
from tui.session import ChatMessage, Delivery, Direction, Show, events
from tui.session.model import Contact, Invitation, Occupant, ResourcePresence, Room
from tui.widgets.chat import MessageLog
from tui.widgets.rooms import ParticipantList
from tui.widgets.roster import RosterList

from .conftest import session_account
from .test_rooms import ROOM_PLUGINS, bookmarks_of, next_matching, peer_joins, peer_room, queue_of
from .test_snapshots import T0, demo_app, populate, utc  # noqa: F401  (utc: the fixed time zone)
from .test_tui_skeleton import screen_lines
from .watch import SessionWatcher


def online_app(account, stack_settings) -> tuple[SwitchboardApp, SessionWatcher]:
    app = SwitchboardApp(session_account(account, stack_settings))
    return app, SessionWatcher(app.session)


def shown(app: SwitchboardApp) -> str:
    return "\n".join(screen_lines(app.main_screen.query_one(MessageLog)))


async def test_new_room_by_keys_chat_rename_remove_and_leave(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    invites = queue_of(peer, "groupchat_direct_invite")
    said = queue_of(peer, "groupchat_message")
    presences = queue_of(peer, "groupchat_presence")
    app, watch = online_app(alice, stack_settings)
    rooms = app.session.rooms
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await pilot.pause()
        app.main_screen.query_one(RosterList).focus()
        await pilot.press("n")
        assert isinstance(app.screen, PeopleDialog)
        await pilot.press(*"Sales Team", "enter", "space", "ctrl+s")  # name, bob picked, create
        await watch.until(lambda: rooms.by_jid and next(iter(rooms.by_jid.values())).joined,
                          what="room created")
        room = next(iter(rooms.by_jid.values()))
        await pilot.pause()
        assert app.main_screen.open_jid == room.jid
        assert str(app.main_screen.query_one("#conversation-title").render()).startswith(
            "Room # Sales Team")
        assert room.jid in [o.id for o in app.main_screen.query_one(RosterList).options]
        invite = await next_matching(invites, lambda m: True)
        assert invite["groupchat_invite"]["jid"] == room.jid

        await peer_joins(peer, room.jid)
        await watch.until(lambda: "bob" in room.occupants, what="bob in the room")
        await pilot.press(*"Hello team", "enter")
        await next_matching(said, lambda m: m["body"] == "Hello team")
        mine = app.session.conversation(room.jid).messages[-1]
        await watch.until(lambda: mine.delivery is Delivery.SENT, what="sent to room")
        await pilot.pause()
        assert "sent to room" in shown(app)

        peer.send_message(mto=JID(room.jid), mbody="Hi all", mtype="groupchat")
        await watch.until(lambda: len(app.session.conversation(room.jid).messages) == 2, what="reply")
        await pilot.pause()
        assert "bob" in shown(app) and "Hi all" in shown(app)

        # the room panel: who is there, then rename, remove bob, leave
        await pilot.press("f5")
        panel = app.main_screen.query_one(ParticipantList)
        assert panel.display and panel.has_focus
        assert bob.jid.bare in [o.id for o in panel.options]
        await pilot.press("r")
        app.screen.query_one(Input).value = ""
        await pilot.press(*"Sales EMEA", "enter")
        await watch.until(lambda: room.name == "Sales EMEA", what="renamed")
        await pilot.pause()
        assert "Sales EMEA" in str(app.main_screen.query_one("#conversation-title").render())

        panel.highlighted = panel.get_option_index(bob.jid.bare)
        await pilot.press("x")
        assert isinstance(app.screen, Question)
        await pilot.press("enter")
        await next_matching(presences, lambda p: p["type"] == "unavailable"
                            and 110 in p["muc"]["status_codes"])
        await watch.until(lambda: bob.jid.bare not in room.members, what="bob removed")

        await pilot.press("l", "enter")
        await watch.until(lambda: room.jid not in rooms, what="left")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.main_screen.open_jid is None
        assert room.jid not in [o.id for o in app.main_screen.query_one(RosterList).options]
        assert room.jid not in await bookmarks_of(app.session)


async def test_invitations_toast_then_answer_from_the_rooms_list(pair, raw_client, stack_settings):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    app, watch = online_app(alice, stack_settings)
    rooms = app.session.rooms
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        planning = await peer_room(peer, "Planning")
        peer.plugin["xep_0249"].send_invitation(JID(alice.jid.bare), planning, reason="weekly plan")
        await watch.until(lambda: planning.bare in rooms.invitations, what="invitation")
        await pilot.pause()
        assert any(n.title == "Room invitation" and "weekly plan" in n.message
                   for n in app._notifications)
        roster = app.main_screen.query_one(RosterList)
        roster.focus()
        roster.highlighted = roster.get_option_index(planning.bare)
        await pilot.press("enter")
        assert isinstance(app.screen, Question)
        await pilot.press("enter")  # join
        await watch.until(lambda: planning.bare in rooms and rooms.by_jid[planning.bare].joined,
                          what="joined")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.main_screen.open_jid == planning.bare
        peer.send_message(mto=planning, mbody="Agenda: budget", mtype="groupchat")
        await watch.until(lambda: app.session.conversation(planning.bare).messages, what="message")
        await pilot.pause()
        assert "Agenda: budget" in shown(app)

        # a mediated invitation, declined with D
        declined: asyncio.Queue = asyncio.Queue()
        peer.add_event_handler("message", lambda m: m["muc"]["decline"]["from"]
                               and declined.put_nowait(m))
        secret = await peer_room(peer, "Secret", members_only=True)
        peer.plugin["xep_0045"].invite(secret, alice.jid.bare, reason="between us")
        await watch.until(lambda: secret.bare in rooms.invitations, what="mediated invitation")
        await pilot.pause()
        app.main_screen.action_focus_roster()
        roster.highlighted = roster.get_option_index(secret.bare)
        await pilot.press("enter", "d")
        assert secret.bare not in rooms.invitations
        await pilot.pause()
        assert secret.bare not in [o.id for o in roster.options]


async def test_bookmarked_rooms_are_back_in_the_list_after_a_restart(pair, raw_client, stack_settings,
                                                                      session_for):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    session, _watch = await session_for(alice)
    room = await session.rooms.create("Standup", [bob.jid.bare])
    await session.stop()
    await peer_joins(peer, room.jid)
    peer.send_message(mto=JID(room.jid), mbody="while you were away", mtype="groupchat")

    app, watch = online_app(alice, stack_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await watch.until(lambda: room.jid in app.session.rooms
                          and app.session.rooms.by_jid[room.jid].joined
                          and app.session.conversation(room.jid).messages, what="autojoined")
        await pilot.pause()
        roster = app.main_screen.query_one(RosterList)
        roster.focus()
        roster.highlighted = roster.get_option_index(room.jid)
        await pilot.press("enter")
        await pilot.pause()
        assert "while you were away" in shown(app)


async def test_room_actions_are_in_the_command_palette():
    app = room_demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_room(pilot)
        app.session.state = "online"  # the dialogs open; nothing is sent in this test
        await pilot.press("ctrl+p", *"Rename room")
        await app.workers.wait_for_complete()  # the palette's search
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "NamePrompt"
        await pilot.press("escape", "ctrl+p", *"New room")
        await app.workers.wait_for_complete()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PeopleDialog)


# --- snapshots ------------------------------------------------------------------------------------

ROOM = "sales-team-1a2b3c@conference.localhost"


def room_demo_app() -> SwitchboardApp:
    """The snapshot demo with a room open: alice, bob and carol there, dave a member who is away."""
    app = demo_app()
    rooms = app.session.rooms
    room = Room(ROOM, "Sales Team", "alice", "Q4 numbers", joined=True)
    room.occupants = {
        "alice": Occupant("alice", "alice@localhost", "moderator", "owner"),
        "bob": Occupant("bob", "bob@localhost", "participant", "member", Show.AWAY, "Sales meeting"),
        "carol": Occupant("carol", "carol@localhost", "participant", "member"),
    }
    room.members = {"alice@localhost": "owner", "bob@localhost": "member",
                    "carol@localhost": "member", "dave@localhost": "member"}
    rooms.by_jid[ROOM] = room
    rooms.by_jid["support-4d5e6f@conference.localhost"] = Room(
        "support-4d5e6f@conference.localhost", "Support")
    rooms.invitations["planning-9f8e7d@conference.localhost"] = Invitation(
        "planning-9f8e7d@conference.localhost", "dave@localhost", "weekly plan")
    conversation = app.session.conversation(ROOM)
    first = ChatMessage("r1", Direction.OUTGOING, "alice@localhost",
                        "Morning all — the Q4 numbers are in the shared folder.", T0, nick="alice",
                        room_id="1001")
    first.advance(Delivery.SENT, T0 + dt.timedelta(seconds=1))
    first.read_by = ["bob", "carol"]
    first.advance(Delivery.READ, T0 + dt.timedelta(seconds=30))
    conversation.add(first)
    conversation.add(ChatMessage("1002", Direction.INCOMING, "bob@localhost",
                                 "Thanks! I'll go through them after the meeting.",
                                 T0 + dt.timedelta(minutes=1), nick="bob", room_id="1002"))
    conversation.add(ChatMessage("1003", Direction.INCOMING, "carol@localhost", "Looks good to me.",
                                 T0 + dt.timedelta(minutes=2), nick="carol", room_id="1003"))
    last = ChatMessage("r2", Direction.OUTGOING, "alice@localhost", "Great, let's meet at 11.",
                       T0 + dt.timedelta(minutes=3), nick="alice", room_id="1004")
    last.advance(Delivery.SENT, T0 + dt.timedelta(minutes=3, seconds=1))
    conversation.add(last)
    app.session.conversation("support-4d5e6f@conference.localhost").unread = 3
    return app


async def open_room(pilot) -> None:
    await populate(pilot)
    pilot.app.main_screen.post_message(SessionUpdate(events.RoomsChanged()))
    pilot.app.main_screen.post_message(SessionUpdate(events.UnreadChanged(
        "support-4d5e6f@conference.localhost", 3)))
    await pilot.pause()
    pilot.app.main_screen.open_conversation(ROOM)
    await pilot.pause()


def test_room_view(snap_compare):
    assert snap_compare(room_demo_app(), terminal_size=(100, 30), run_before=open_room)


def test_room_panel_at_80x24(snap_compare):
    async def open_panel(pilot) -> None:
        await open_room(pilot)
        await pilot.press("f5")
        await pilot.pause()

    assert snap_compare(room_demo_app(), terminal_size=(80, 24), run_before=open_panel)


def test_room_panel_with_its_picture_at_80x24(snap_compare, monkeypatch):
    from tui.session.room_avatars import RoomAvatar

    from .test_files_snapshots import chart

    monkeypatch.setenv("COLORTERM", "truecolor")  # a terminal that shows pictures
    app = room_demo_app()
    picture = chart()
    picture = dataclasses.replace(picture, width=12, pixels=[row[:12] for row in picture.pixels[:10]],
                                  height=10)
    app.session.room_avatars.by_room[ROOM] = RoomAvatar("0" * 40, picture)

    async def open_panel(pilot) -> None:
        await open_room(pilot)
        await pilot.press("f5")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_panel)


def test_new_room_dialog_at_80x24(snap_compare):
    async def open_dialog(pilot) -> None:
        await populate(pilot)
        pilot.app.session.state = "online"  # the dialog opens; nothing is sent
        await pilot.press("n", *"Sales Team", "enter", "space")
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=open_dialog)


def test_room_addresses_are_readable():
    from tui.session.rooms import room_slug

    assert room_slug("Sales Team Ü!") == "sales-team-u"
    assert room_slug("  ") == "room"
    assert len(room_slug("x" * 100)) == 24


class RosterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RosterList()


async def test_a_room_whose_address_slipped_into_the_roster_is_listed_once_as_the_room():
    # slixmpp keeps a roster item for whoever sent presence: a room that still had this resource
    # as an occupant when the client restarted becomes a "contact" until the roster is read again
    team = "team@conference.localhost"
    app = RosterApp()
    async with app.run_test(size=(40, 20)) as pilot:
        roster = app.query_one(RosterList)
        roster.set_contacts([Contact(team), Contact("bob@localhost", "Bob")])
        roster.set_rooms([Room(team, "Team")])
        roster.update_contact(Contact(team, resources={"r": ResourcePresence(Show.AVAILABLE)}))
        roster.set_unread({team: 2})
        await pilot.pause()
        ids = [o.id for o in roster.options if o.id is not None]
        assert ids == [team, "bob@localhost"]
        assert str(roster.get_option(team).prompt).startswith("# Team")
        roster.set_rooms([])  # left the room: the roster's entry is all that is left of it
        assert [o.id for o in roster.options if o.id is not None] == ["bob@localhost", team]
