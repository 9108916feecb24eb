"""The main screen's tools, driven by their keys: message search (Ctrl+F) jumping to a hit, the
search field (/) with the server directory on Enter, pin (p) and mute (m), export (x), forward (f),
copy (c), move to group (o); snapshots of the search screen and of pinned and muted entries."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from slixmpp import JID
from textual.widgets import Input, OptionList

from tui.app import SwitchboardApp
from tui.messages import SessionUpdate
from tui.screens.contact_dialogs import DirectoryResults, ForwardDialog, GroupChooser
from tui.screens.search import SearchScreen
from tui.session import roster_edit
from tui.session.message_index import IndexedMessage, MessageIndex
from tui.session.model import Direction, Show
from tui.session.pins import Marks, PinsChanged
from tui.session.search import index_path
from tui.widgets.chat import MessageLog
from tui.widgets.roster import RosterList

from .conftest import session_account
from .test_snapshots import T0, demo_app, populate, utc  # noqa: F401  (utc: fixed time zone)
from .watch import SessionWatcher

# --- snapshots (no server) -------------------------------------------------------------------------


def fill_demo_index() -> None:
    """Three messages in alice's index, as if read from the archive."""
    index = MessageIndex(index_path("alice@localhost"))
    index.add([
        IndexedMessage("bob@localhost", "a1", "bob@localhost", Direction.INCOMING,
                       T0 - dt.timedelta(days=30),
                       "The quarterly numbers for Berlin look better than planned."),
        IndexedMessage("carol@localhost", "a2", "alice@localhost", Direction.OUTGOING,
                       T0 - dt.timedelta(days=2),
                       "Carol, can you send Bob the quarterly report before the meeting on Thursday?"),
        IndexedMessage("bob@localhost", "a3", "bob@localhost", Direction.INCOMING, T0,
                       "Yes — the numbers come after the meeting."),
    ])
    index.close()


def test_search_screen(snap_compare):
    fill_demo_index()

    async def search(pilot) -> None:
        await populate(pilot)
        await pilot.press("ctrl+f", *"quarterly")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(100, 30), run_before=search)


def test_pinned_first_and_muted_dimmed(snap_compare):
    async def marked(pilot) -> None:
        await populate(pilot)
        pilot.app.session.pins.marks.update({"dave@localhost": Marks(pinned=True),
                                             "bob@localhost": Marks(notify="never")})
        pilot.app.main_screen.post_message(SessionUpdate(PinsChanged()))
        await pilot.pause()

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=marked)


async def test_search_screen_keys_choose_a_hit_or_go_back():
    fill_demo_index()
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await populate(pilot)
        await pilot.press("ctrl+f", *"numbers")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        assert [h.message.message_id for h in screen.hits] == ["a3", "a1"]
        await pilot.press("escape")
        assert app.screen is app.main_screen and app.main_screen.open_jid is None
        await pilot.press("ctrl+f", *"berlin")
        await app.workers.wait_for_complete()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.screen is app.main_screen and app.main_screen.open_jid == "bob@localhost"


async def test_search_field_filters_the_list_as_you_type():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await populate(pilot)
        roster = app.main_screen.query_one(RosterList)
        ids = lambda: [o.id for o in roster.options if o.id]  # noqa: E731
        await pilot.press("slash", *"ar")
        assert ids() == ["carol@localhost"]
        await pilot.press("backspace", "backspace", *"zz")
        assert ids() == [] and "No match" in str(roster.get_option_at_index(0).prompt)
        await pilot.press("escape")  # clears the field
        assert len(ids()) == 4
        await pilot.press("escape")  # back to the list
        assert roster.has_focus


async def with_bob_open(pilot) -> None:
    """The demo with bob's conversation open; "online", so dialogs open (nothing is sent)."""
    await populate(pilot)
    pilot.app.main_screen.open_conversation("bob@localhost")
    await pilot.pause()
    pilot.app.session.state = "online"


async def test_the_tools_are_in_the_command_palette():
    fill_demo_index()
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await with_bob_open(pilot)
        for title, screen in (("Search messages", SearchScreen), ("Move contact to group", GroupChooser),
                              ("Rename contact group", GroupChooser), ("Forward message", ForwardDialog)):
            await pilot.press("ctrl+p", *title)
            await app.workers.wait_for_complete()  # the palette's search
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, screen), title
            await pilot.press("escape")
        await pilot.press("ctrl+p", *"Copy message")
        await app.workers.wait_for_complete()
        await pilot.press("enter")
        await pilot.pause()
        assert app.clipboard == "Great, thanks!"


async def test_copy_and_forward_act_on_the_picked_message():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await with_bob_open(pilot)
        await pilot.press("shift+tab", "up", "up")  # pick the oldest of the three
        assert app.main_screen.query_one(MessageLog).selected.id == "1"
        await pilot.press("c")
        assert app.clipboard == "Hello Bob, do you have the quarterly numbers?"
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, ForwardDialog)
        assert "Hello Bob, do you have the quarterly numbers?" in app.screen.title_text


# --- against the server -------------------------------------------------------------------------------


def highlight(app: SwitchboardApp, jid: str) -> RosterList:
    """Put the focus on the list, on ``jid``'s entry."""
    roster = app.main_screen.query_one(RosterList)
    roster.focus()
    roster.highlighted = roster.get_option_index(jid)
    return roster


async def online_app(account, settings) -> tuple[SwitchboardApp, SessionWatcher]:
    app = SwitchboardApp(session_account(account, settings))
    return app, SessionWatcher(app.session)


async def test_ctrl_f_finds_an_archived_message_and_opens_it(pair, raw_client, stack_settings):
    alice, bob = pair
    phone = await raw_client(alice, resource="phone")
    peer = await raw_client(bob)
    peer.send_message(mto=JID(alice.jid.bare), mbody="Invoice 4711 is paid", mtype="chat")
    await asyncio.wait_for(phone.inbox.get(), 10)  # alice's client was not there: only archived
    app, watch = await online_app(alice, stack_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await app.session.search.wait_read()
        await pilot.press("ctrl+f", *"invoice 47")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [h.message.body for h in app.screen.hits] == ["Invoice 4711 is paid"]
        await pilot.press("enter")  # into the hits
        await pilot.press("enter")  # open it
        await pilot.pause()
        assert app.screen is app.main_screen and app.main_screen.open_jid == bob.jid.bare


async def test_p_and_m_pin_and_mute_the_highlighted_contact(pair, stack_settings):
    alice, bob = pair
    app, watch = await online_app(alice, stack_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await pilot.pause()
        roster = highlight(app, bob.jid.bare)
        await pilot.press("p", "m")
        await watch.until(lambda: app.session.pins.is_pinned(bob.jid.bare)
                          and app.session.pins.is_muted(bob.jid.bare), what="pinned and muted")
        await app.workers.wait_for_complete()
        await pilot.pause()
        first = roster.get_option_at_index(0)
        assert str(first.prompt) == "Pinned" and roster.get_option_at_index(1).id == bob.jid.bare
        assert "(muted)" in str(roster.get_option(bob.jid.bare).prompt)
        await pilot.press("p", "m")
        await watch.until(lambda: not app.session.pins.marks, what="unpinned and unmuted")


async def test_x_f_c_export_forward_and_copy_the_newest_message(ejabberd, make_account, raw_client,
                                                                stack_settings, tmp_path):
    alice, bob, carol = make_account("alice"), make_account("bob"), make_account("carol")
    ejabberd.ensure_group(f"team-{uuid.uuid4().hex[:6]}", "Team",
                          [alice.jid.user, bob.jid.user, carol.jid.user])
    peer, reader = await raw_client(bob), await raw_client(carol)
    app, watch = await online_app(alice, stack_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online" and carol.jid.bare in app.session.contacts
                          and app.session.contacts[bob.jid.bare].show is not Show.OFFLINE,
                          what="online, bob too")
        await pilot.pause()
        app.main_screen.open_conversation(bob.jid.bare)
        peer.send_message(mto=JID(alice.jid.bare), mbody="Price list 2027 attached", mtype="chat")
        await watch.until(lambda: app.session.conversation(bob.jid.bare).messages, what="bob's message")
        await pilot.pause()
        app.main_screen.query_one(RosterList).focus()

        await pilot.press("c")
        assert app.clipboard == "Price list 2027 attached"

        await pilot.press("x")
        await app.workers.wait_for_complete()
        exported = sorted((tmp_path / "exports").iterdir())
        assert [p.suffix for p in exported] == [".csv", ".md"]
        assert "Price list 2027 attached" in exported[0].read_text(encoding="utf-8-sig")
        assert any(n.title == "Exported" and str(exported[0]) in n.message for n in app._notifications)

        await pilot.press("f")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ForwardDialog)
        assert [jid for _, jid in dialog.choices] == [carol.jid.bare]  # not bob, whose message it is
        await pilot.press("space", "ctrl+s")
        received = await asyncio.wait_for(reader.inbox.get(), 10)
        assert received["body"].endswith("> Price list 2027 attached")


async def test_search_field_enter_finds_people_in_the_directory_and_adds_one(make_account, raw_client,
                                                                            stack_settings):
    alice, frank = make_account("alice"), make_account("frank")
    peer = await raw_client(frank, plugins=("xep_0054",))
    vcard = peer.plugin["xep_0054"].make_vcard()
    vcard["FN"] = f"Frank Quellenberg {frank.jid.user[-8:]}"
    await peer.plugin["xep_0054"].publish_vcard(vcard, timeout=10)
    app, watch = await online_app(alice, stack_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await pilot.press("slash", *f"frank quellenberg {frank.jid.user[-8:]}", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DirectoryResults)
        await app.workers.wait_for_complete()
        await pilot.pause()
        people = app.screen.query_one(OptionList)
        assert [o.id for o in people.options] == [frank.jid.bare]
        await pilot.press("enter")
        await watch.until(lambda: frank.jid.bare in app.session.contacts, what="frank added")
        assert app.session.contacts[frank.jid.bare].name == vcard["FN"]


async def test_o_moves_the_highlighted_contact_into_a_new_group(make_account, session_for,
                                                                stack_settings):
    alice, dave = make_account("alice"), make_account("dave")
    app, watch = await online_app(alice, stack_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await roster_edit.add_contact(app.session, dave.jid.bare, "Dave", "Suppliers")
        await watch.until(lambda: dave.jid.bare in app.session.contacts, what="dave")
        await pilot.pause()
        highlight(app, dave.jid.bare)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, GroupChooser)
        app.screen.query_one(Input).focus()
        await pilot.press(*"Customers", "enter")
        await watch.until(lambda: app.session.contacts[dave.jid.bare].groups == ("Customers",),
                          what="dave moved")
        laptop, laptop_watch = await session_for(alice)  # another device of alice sees it too
        assert laptop.contacts[dave.jid.bare].groups == ("Customers",)


async def test_a_hit_older_than_the_loaded_history_is_paged_in(pair, raw_client, stack_settings,
                                                               monkeypatch):
    from tui.session import history

    monkeypatch.setattr(history, "PAGE", 4)  # the hit is three pages back
    alice, bob = pair
    phone = await raw_client(alice, resource="phone")
    peer = await raw_client(bob)
    for text in ["The old contract number is K-2231", *(f"later message {n}" for n in range(9))]:
        peer.send_message(mto=JID(alice.jid.bare), mbody=text, mtype="chat")
        await asyncio.wait_for(phone.inbox.get(), 10)
    app, watch = await online_app(alice, stack_settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        await app.session.search.wait_read()
        await pilot.press("ctrl+f", *"contract", "enter", "enter")
        conversation = app.session.conversation(bob.jid.bare)
        await watch.until(lambda: any(m.body.startswith("The old contract") for m in conversation.messages),
                          what="the hit paged in")
        await app.workers.wait_for_complete()
        await pilot.pause()
        hit = next(m for m in conversation.messages if m.body.startswith("The old contract"))
        assert app.main_screen.open_jid == bob.jid.bare
        assert len(conversation.messages) == 10
        log = app.main_screen.query_one(MessageLog)
        assert log.selected is hit and log.has_focus  # the hit is picked in the message view
