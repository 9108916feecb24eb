"""Contact groups (CO1) and the user directory (XEP-0055) against the real ejabberd: roster changes
reach my other device by roster push; the directory finds a user by name and by user name."""

from __future__ import annotations

from tui.session import directory, roster_edit

from .test_pins import second_session


async def test_groups_created_moved_renamed_reach_my_other_device(make_account, session_for,
                                                                  stack_settings):
    alice, carol, dave = make_account("alice"), make_account("carol"), make_account("dave")
    desk, desk_watch = await session_for(alice)
    laptop, watch = await second_session(alice, stack_settings, "laptop")
    try:
        await roster_edit.add_contact(desk, carol.jid.bare, "Carol", "Customers")
        await roster_edit.add_contact(desk, dave.jid.bare, "Dave")
        await watch.until(lambda: laptop.contacts.get(carol.jid.bare) is not None
                          and laptop.contacts[carol.jid.bare].groups == ("Customers",)
                          and dave.jid.bare in laptop.contacts, what="contacts on the laptop")
        assert laptop.contacts[carol.jid.bare].name == "Carol"
        await desk_watch.until(lambda: dave.jid.bare in desk.contacts, what="dave on the desk")

        await roster_edit.move(desk, carol.jid.bare, "Partners")
        await watch.until(lambda: laptop.contacts[carol.jid.bare].groups == ("Partners",),
                          what="carol moved")
        await roster_edit.create(desk, "Friends", [carol.jid.bare, dave.jid.bare])
        await watch.until(lambda: set(laptop.contacts[carol.jid.bare].groups) == {"Friends", "Partners"}
                          and laptop.contacts[dave.jid.bare].groups == ("Friends",),
                          what="new group")
        await desk_watch.until(lambda: desk.contacts[dave.jid.bare].groups == ("Friends",),
                               what="new group on the desk")
        await roster_edit.rename(desk, "Friends", "Lunch club")
        await watch.until(lambda: set(laptop.contacts[carol.jid.bare].groups) == {"Lunch club", "Partners"}
                          and laptop.contacts[dave.jid.bare].groups == ("Lunch club",),
                          what="renamed group")
        assert roster_edit.groups_of(laptop.contacts.values()) == {"Lunch club": 2, "Partners": 1}
    finally:
        await laptop.stop()


async def test_directory_finds_a_user_by_name_and_by_user_name(make_account, session_for, raw_client):
    alice, erin = make_account("alice"), make_account("erin")
    peer = await raw_client(erin, plugins=("xep_0054",))
    vcard = peer.plugin["xep_0054"].make_vcard()
    vcard["FN"] = f"Erin Zwiebelmann {erin.jid.user[-8:]}"
    vcard["NICKNAME"] = "Erin"
    await peer.plugin["xep_0054"].publish_vcard(vcard, timeout=10)

    session, _ = await session_for(alice)
    service = await directory.find_service(session.stream, session.jid.domain)
    assert service.startswith("vjud.")
    by_name = await directory.search(session.stream, service, "erin ZWIEBEL")
    assert erin.jid.bare in [e.jid for e in by_name]
    entry = next(e for e in by_name if e.jid == erin.jid.bare)
    assert entry.display_name == vcard["FN"]
    by_user = await directory.search(session.stream, service, erin.jid.user)
    assert [e.jid for e in by_user] == [erin.jid.bare]
    assert await directory.search(session.stream, service, "nobody-by-this-name") == []
