"""Chat rooms (CH3) in the client-session layer, against the real ejabberd; the other party is a bare
slixmpp client (not our code) that joins, talks, invites and reads like Gajim or Conversations would."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from slixmpp import JID
from slixmpp.exceptions import PresenceError
from slixmpp.plugins.xep_0402.stanza import Conference
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from tui.session import Delivery, Direction, Show
from tui.session.bookmarks import BOOKMARKS
from tui.session.rooms import RoomError, room_slug

ROOM_PLUGINS = ("xep_0045", "xep_0249", "xep_0060", "xep_0402")


def queue_of(client: Any, event: str) -> asyncio.Queue[Any]:
    """Every ``event`` the client raises, queued."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    client.add_event_handler(event, queue.put_nowait)
    return queue


async def next_matching(queue: asyncio.Queue[Any], match: Any, timeout: float = 10.0) -> Any:
    """The next queued item for which ``match`` is true."""

    async def take() -> Any:
        while not match(item := await queue.get()):
            pass
        return item

    return await asyncio.wait_for(take(), timeout)


async def peer_joins(peer: Any, room: str, nick: str = "bob") -> None:
    await peer.plugin["xep_0045"].join_muc_wait(JID(room), nick, maxstanzas=0, timeout=10)


async def peer_room(peer: Any, name: str, *, members_only: bool = False) -> JID:
    """A room the peer creates and configures itself, as any client does."""
    room = JID(f"{room_slug(name)}-{uuid.uuid4().hex[:6]}@conference.{peer.boundjid.domain}")
    muc = peer.plugin["xep_0045"]
    await peer_joins(peer, room.bare)
    form = await muc.get_room_config(room, timeout=10)
    fields = form.get_fields()
    fields["muc#roomconfig_roomname"]["value"] = name
    fields["muc#roomconfig_membersonly"]["value"] = members_only
    await muc.set_room_config(room, form, timeout=10)
    return room


async def room_with_peer(session: Any, watch: Any, peer: Any, name: str) -> Any:
    """A room we create with the peer (nick bob) made a member, invited and present."""
    room = await session.rooms.create(name, [peer.boundjid.bare])
    await peer_joins(peer, room.jid)
    await watch.until(lambda: "bob" in room.occupants, what="bob in the room")
    return room


async def bookmarks_of(session: Any) -> dict[str, Any]:
    """The account's XEP-0402 bookmarks, by room JID."""
    result = await session.stream.plugin["xep_0060"].get_items(session.jid.bare, BOOKMARKS, timeout=10)
    return {item["id"]: item["conference"] for item in result["pubsub"]["items"]}


async def test_create_room_invite_and_chat_both_ways_with_room_ticks(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    invites = queue_of(peer, "groupchat_direct_invite")
    said = queue_of(peer, "groupchat_message")
    markers = queue_of(peer, "marker_displayed")
    session, watch = await session_for(alice)

    room = await session.rooms.create("Sales Team", [bob.jid.bare])
    assert room.jid.startswith("sales-team-") and room.jid.endswith(f"@conference.{bob.jid.domain}")
    assert room.joined and room.my_affiliation == "owner" and room.members[bob.jid.bare] == "member"
    invite = await next_matching(invites, lambda m: True)
    assert invite["groupchat_invite"]["jid"] == room.jid
    assert invite["from"].bare == alice.jid.bare

    info = await peer.plugin["xep_0030"].get_info(jid=room.jid, timeout=10)
    features = set(info["disco_info"]["features"])
    assert {"muc_membersonly", "muc_persistent", "muc_nonanonymous", "muc_hidden"} <= features
    assert [i[3] for i in info["disco_info"]["identities"]] == ["Sales Team"]
    assert (await bookmarks_of(session))[room.jid]["autojoin"]

    await peer_joins(peer, room.jid)  # allowed: the room made bob a member
    await watch.until(lambda: "bob" in room.occupants, what="bob in the room")
    assert room.occupants["bob"].jid == bob.jid.bare

    message = session.send_chat(room.jid, "Hello team")
    assert message.delivery is Delivery.PENDING and message.in_room
    heard = await next_matching(said, lambda m: m["body"] == "Hello team")
    assert heard["from"].resource == room.nick
    await watch.until(lambda: message.delivery is Delivery.SENT, what="sent to room (reflected)")
    assert message.room_id == heard["stanza_id"]["id"]

    reply = peer.make_message(mto=JID(room.jid), mbody="Hi Alice", mtype="groupchat")
    reply.enable("markable")
    reply.send()
    conversation = session.conversation(room.jid)
    await watch.until(lambda: len(conversation.messages) == 2, what="bob's reply")
    incoming = conversation.messages[-1]
    assert (incoming.direction, incoming.nick, incoming.sender, incoming.body) == (
        Direction.INCOMING, "bob", bob.jid.bare, "Hi Alice")
    assert conversation.unread == 1

    # bob's client displays alice's message (XEP-0333 with the room's stanza-id)
    peer.plugin["xep_0333"].send_marker(JID(room.jid), heard["stanza_id"]["id"], "displayed",
                                        mtype="groupchat")
    await watch.until(lambda: message.read_by == ["bob"], what="read by bob")
    assert message.delivery is Delivery.READ

    session.mark_read(room.jid)
    marker = await next_matching(markers, lambda m: m["from"].resource == room.nick)
    assert marker["displayed"]["id"] == incoming.room_id
    assert conversation.unread == 0


async def test_room_from_a_contact_group_in_one_step(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    invites = queue_of(peer, "groupchat_direct_invite")
    session, _watch = await session_for(alice)
    room = await session.rooms.create_from_group("Team")
    assert room.name == "Team" and bob.jid.bare in room.members
    invite = await next_matching(invites, lambda m: True)
    assert invite["groupchat_invite"]["jid"] == room.jid
    with pytest.raises(RoomError, match="no contacts"):
        await session.rooms.create_from_group("Nobody here")


async def test_invitations_from_a_foreign_client_direct_and_mediated(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    session, watch = await session_for(alice)
    arrivals = queue_of(peer, "groupchat_presence")

    # direct (XEP-0249), into an open room
    planning = await peer_room(peer, "Planning")
    peer.plugin["xep_0249"].send_invitation(JID(alice.jid.bare), planning, reason="weekly plan")
    await watch.until(lambda: planning.bare in session.rooms.invitations, what="direct invitation")
    invitation = session.rooms.invitations[planning.bare]
    assert (invitation.inviter, invitation.reason, invitation.mediated) == (
        bob.jid.bare, "weekly plan", False)
    room = await session.rooms.accept(planning.bare)
    assert room.joined and room.name == "Planning" and not session.rooms.invitations
    await next_matching(arrivals, lambda p: p["from"].bare == planning.bare
                        and p["muc"]["jid"].bare == alice.jid.bare)
    assert (await bookmarks_of(session))[planning.bare]["name"] == "Planning"

    # mediated (XEP-0045 through the room), into a members-only room: the room makes alice a member
    secret = await peer_room(peer, "Secret", members_only=True)
    peer.plugin["xep_0045"].invite(secret, alice.jid.bare, reason="between us")
    await watch.until(lambda: secret.bare in session.rooms.invitations, what="mediated invitation")
    invitation = session.rooms.invitations[secret.bare]
    assert (invitation.inviter, invitation.mediated) == (bob.jid.bare, True)
    # the room's invitation text is not shown as a chat message from the room
    assert not session.conversation(secret.bare).messages
    assert (await session.rooms.accept(secret.bare)).joined

    # declining a mediated invitation tells the inviter through the room
    declines: asyncio.Queue[Any] = asyncio.Queue()
    peer.register_handler(Callback("decline", StanzaPath("message/muc/decline"), declines.put_nowait))
    later = await peer_room(peer, "Later", members_only=True)
    peer.plugin["xep_0045"].invite(later, alice.jid.bare)
    await watch.until(lambda: later.bare in session.rooms.invitations, what="third invitation")
    session.rooms.decline(later.bare)
    decline = await asyncio.wait_for(declines.get(), 10)
    assert JID(decline["muc"]["decline"]["from"]).bare == alice.jid.bare
    assert later.bare not in session.rooms


async def test_joining_a_members_only_room_uninvited_says_what_to_do(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    closed = await peer_room(peer, "Board", members_only=True)
    session, _watch = await session_for(alice)
    with pytest.raises(RoomError, match="members only; ask"):
        await session.rooms.join(closed.bare)
    with pytest.raises(RoomError, match="name"):
        await session.rooms.create("   ")


async def test_rename_remove_participant_and_leave(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    presences = queue_of(peer, "groupchat_presence")
    config = queue_of(peer, "groupchat_config_status")
    session, watch = await session_for(alice)
    room = await room_with_peer(session, watch, peer, "Ops")

    await session.rooms.rename(room.jid, "Operations")
    changed = await next_matching(config, lambda m: m["from"].bare == room.jid)
    assert 104 in changed["muc"]["status_codes"]
    info = await peer.plugin["xep_0030"].get_info(jid=room.jid, timeout=10)
    assert [i[3] for i in info["disco_info"]["identities"]] == ["Operations"]
    assert (await bookmarks_of(session))[room.jid]["name"] == "Operations"

    await session.rooms.remove(room.jid, bob.jid.bare)
    gone = await next_matching(presences, lambda p: p["type"] == "unavailable"
                               and 110 in p["muc"]["status_codes"])
    assert gone["muc"]["affiliation"] == "none"
    await watch.until(lambda: "bob" not in room.occupants, what="bob out")
    assert bob.jid.bare not in room.members
    with pytest.raises(PresenceError):  # no longer a member of a members-only room
        await peer_joins(peer, room.jid)

    await session.rooms.leave(room.jid)
    assert room.jid not in session.rooms and room.jid not in session.conversations
    assert room.jid not in await bookmarks_of(session)


async def test_others_see_me_leave(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    session, watch = await session_for(alice)
    room = await room_with_peer(session, watch, peer, "Lunch")
    presences = queue_of(peer, "groupchat_presence")
    await session.rooms.leave(room.jid)
    await next_matching(presences, lambda p: p["type"] == "unavailable"
                        and p["from"].resource == room.nick)


async def test_rooms_come_back_after_a_restart_with_their_history(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    session, watch = await session_for(alice)
    room = await session.rooms.create("Standup", [bob.jid.bare])
    mine = session.send_chat(room.jid, "before the restart")
    await watch.until(lambda: mine.delivery is Delivery.SENT, what="sent to room")
    await session.stop()

    await peer_joins(peer, room.jid)
    peer.send_message(mto=JID(room.jid), mbody="while you were away", mtype="groupchat")

    again, watch = await session_for(alice)
    await watch.until(lambda: room.jid in again.rooms and again.rooms.by_jid[room.jid].joined,
                      what="autojoined from the bookmark")
    back = again.rooms.by_jid[room.jid]
    assert back.name == "Standup" and back.nick == room.nick
    conversation = again.conversation(room.jid)
    await watch.until(lambda: [m.body for m in conversation.messages]
                      == ["before the restart", "while you were away"], what="history from MAM")
    first, second = conversation.messages
    assert first.direction is Direction.OUTGOING and first.delivery is Delivery.SENT
    assert (second.direction, second.nick, second.sender) == (Direction.INCOMING, "bob", bob.jid.bare)

    # live messages keep coming, without duplicates
    peer.send_message(mto=JID(room.jid), mbody="welcome back", mtype="groupchat")
    await watch.until(lambda: len(conversation.messages) == 3, what="live after history")
    assert conversation.unread == 1


async def test_a_room_bookmarked_on_another_device_comes_and_goes_here(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    room = await peer_room(peer, "Phone Room")
    session, watch = await session_for(alice)
    phone = await raw_client(alice, resource="phone", plugins=ROOM_PLUGINS)

    conference = Conference()
    conference["name"] = "Phone Room"
    conference["autojoin"] = True
    conference["nick"] = "alice-phone"
    await phone.plugin["xep_0060"].publish(alice.jid.bare, BOOKMARKS, id=room.bare, payload=conference,
                                           timeout=10)
    await watch.until(lambda: room.bare in session.rooms and session.rooms.by_jid[room.bare].joined,
                      what="joined from the other device's bookmark")
    assert session.rooms.by_jid[room.bare].nick == "alice-phone"

    await phone.plugin["xep_0060"].retract(alice.jid.bare, BOOKMARKS, room.bare, notify=True, timeout=10)
    await watch.until(lambda: room.bare not in session.rooms, what="left with the other device")


async def test_going_offline_leaves_rooms_and_coming_back_rejoins_them(pair, session_for, raw_client):
    alice, bob = pair
    peer = await raw_client(bob, plugins=ROOM_PLUGINS)
    session, watch = await session_for(alice)
    room = await room_with_peer(session, watch, peer, "Night Shift")
    presences = queue_of(peer, "groupchat_presence")

    session.set_presence(Show.AWAY, "back soon")  # the room sees my state
    away = await next_matching(presences, lambda p: p["from"].resource == room.nick)
    assert (away["show"], away["status"]) == ("away", "back soon")

    session.set_presence(Show.OFFLINE)
    await next_matching(presences, lambda p: p["from"].resource == room.nick
                        and p["type"] == "unavailable")
    await watch.until(lambda: not room.joined, what="out of the room")

    session.set_presence(Show.AVAILABLE)
    await watch.until(lambda: room.joined, what="back in the room")
    await next_matching(presences, lambda p: p["from"].resource == room.nick
                        and p["type"] == "available")
