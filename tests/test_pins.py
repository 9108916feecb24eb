"""Pinned and muted conversations (CH10) through PEP, against the real ejabberd: a second session of
the same account sees them, live and at login; a room's marks are in its XEP-0402 bookmark, where
another client reads them."""

from __future__ import annotations

import dataclasses

from tui.session import ChatSession
from tui.session.bookmarks import BOOKMARKS
from tui.session.pins import NEVER, ON_MENTION

from .conftest import session_account
from .watch import SessionWatcher


async def second_session(account, settings, resource: str) -> tuple[ChatSession, SessionWatcher]:
    """Another device of the same account (its own resource)."""
    session = ChatSession(dataclasses.replace(session_account(account, settings), resource=resource))
    watch = SessionWatcher(session)
    await session.start()
    return session, watch


async def test_pin_and_mute_a_chat_reach_my_other_device_live_and_at_login(
        pair, session_for, stack_settings):
    alice, bob = pair
    desk, _ = await session_for(alice)
    laptop, laptop_watch = await second_session(alice, stack_settings, "laptop")
    try:
        await desk.pins.set_pinned(bob.jid.bare, True)
        await desk.pins.set_muted(bob.jid.bare, True)
        await laptop_watch.until(lambda: laptop.pins.is_pinned(bob.jid.bare)
                                 and laptop.pins.is_muted(bob.jid.bare), what="pin and mute on laptop")
        assert laptop.pins.marks[bob.jid.bare].notify == NEVER
        assert not laptop.pins.should_notify(bob.jid.bare)

        phone, phone_watch = await second_session(alice, stack_settings, "phone")
        try:
            await phone_watch.until(lambda: phone.pins.is_pinned(bob.jid.bare), what="pin at login")
            assert phone.pins.is_muted(bob.jid.bare)

            await desk.pins.set_muted(bob.jid.bare, False)
            await desk.pins.set_pinned(bob.jid.bare, False)
            await phone_watch.until(lambda: not phone.pins.marks, what="unpinned and unmuted on phone")
            assert phone.pins.should_notify(bob.jid.bare)
        finally:
            await phone.stop()
    finally:
        await laptop.stop()


async def test_a_rooms_pin_and_mute_live_in_its_bookmark(pair, session_for, stack_settings, raw_client):
    alice, _bob = pair
    desk, _ = await session_for(alice)
    room = await desk.rooms.create("Pinned planning")
    await desk.pins.set_pinned(room.jid, True)
    await desk.pins.set_muted(room.jid, True)
    assert desk.pins.marks[room.jid].notify == ON_MENTION
    assert desk.pins.should_notify(room.jid, mentions_me=True)
    assert not desk.pins.should_notify(room.jid)
    await desk.rooms.rename(room.jid, "Planning (pinned)")  # republishing keeps the marks

    laptop, watch = await second_session(alice, stack_settings, "laptop")
    try:
        await watch.until(lambda: laptop.pins.is_pinned(room.jid) and laptop.pins.is_muted(room.jid),
                          what="room pinned and muted on the laptop")
        assert laptop.rooms.by_jid[room.jid].name == "Planning (pinned)"
    finally:
        await laptop.stop()

    # any XEP-0402 client finds the XEP-0469 and XEP-0492 elements in the bookmark
    other = await raw_client(alice, resource="other", plugins=("xep_0060",))
    result = await other.plugin["xep_0060"].get_item(alice.jid.bare, BOOKMARKS, room.jid, timeout=10)
    xml = result["pubsub"]["items"].xml
    assert xml.find(".//{urn:xmpp:bookmarks-pinning:0}pinned") is not None
    assert xml.find(".//{urn:xmpp:notification-settings:0}notify/"
                    "{urn:xmpp:notification-settings:0}on-mention") is not None
