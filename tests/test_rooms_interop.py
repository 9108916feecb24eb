"""Rooms with Debian's go-sendxmpp, a client we did not write, through the real ejabberd: it joins the
members-only room we created (as the member we made it) and talks and listens there."""

from __future__ import annotations

import asyncio

from tui.session import Delivery, Direction

from .test_interop import go_sendxmpp_env


async def go_sendxmpp(account, settings, home, *args: str) -> asyncio.subprocess.Process:
    """go-sendxmpp as ``account`` on the private stack, its pipes open."""
    return await asyncio.create_subprocess_exec(
        "go-sendxmpp", "-u", str(account.jid), "-p", account.password,
        "-j", f"{settings.bind_ip}:{settings.c2s_port}", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=go_sendxmpp_env(settings, home))


async def test_go_sendxmpp_speaks_in_our_room(pair, session_for, stack_settings, tmp_path):
    alice, bob = pair
    session, watch = await session_for(alice)
    room = await session.rooms.create("Interop", [bob.jid.bare])
    proc = await go_sendxmpp(bob, stack_settings, tmp_path, "-c", "-a", "bobby", room.jid)
    _out, err = await asyncio.wait_for(proc.communicate(b"Hello from go-sendxmpp"), 30)
    assert proc.returncode == 0, err.decode()
    conversation = session.conversation(room.jid)
    await watch.until(lambda: conversation.messages, what="go-sendxmpp's message in the room")
    message = conversation.messages[-1]
    assert (message.direction, message.nick, message.sender, message.body) == (
        Direction.INCOMING, "bobby", bob.jid.bare, "Hello from go-sendxmpp")
    assert conversation.unread == 1


async def test_go_sendxmpp_hears_us_in_our_room(pair, session_for, stack_settings, tmp_path):
    alice, bob = pair
    session, watch = await session_for(alice)
    room = await session.rooms.create("Interop", [bob.jid.bare])
    listener = await go_sendxmpp(bob, stack_settings, tmp_path, "-l", "-c", "-a", "bobby", room.jid)
    try:
        await watch.until(lambda: "bobby" in room.occupants, what="go-sendxmpp in the room", timeout=20)
        assert room.occupants["bobby"].jid == bob.jid.bare
        message = session.send_chat(room.jid, "Minutes are online")

        async def read_until_body() -> str:
            assert listener.stdout is not None
            while line := await listener.stdout.readline():
                if b"Minutes are online" in line:
                    return line.decode()
            raise AssertionError("go-sendxmpp ended without printing the message")

        await asyncio.wait_for(read_until_body(), 15)
        await watch.until(lambda: message.delivery is Delivery.SENT, what="sent to room")
        assert not message.read_by  # go-sendxmpp sends no read markers: nobody is said to have read it
    finally:
        listener.terminate()
        await listener.wait()
