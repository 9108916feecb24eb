"""Interop with Debian's go-sendxmpp, a client we did not write, through the real ejabberd."""

from __future__ import annotations

import asyncio
import os

from tui.session import Delivery, Direction


def go_sendxmpp_env(stack_settings, home) -> dict[str, str]:
    """go-sendxmpp trusts the stack's certificate through Go's SSL_CERT_FILE; its state files
    (newer versions keep some under ~/.local) go to the test's own folder."""
    return dict(os.environ, SSL_CERT_FILE=str(stack_settings.ca_file), HOME=str(home))


async def test_message_from_go_sendxmpp_appears_live(pair, session_for, stack_settings, tmp_path):
    alice, bob = pair
    session, watch = await session_for(alice)
    proc = await asyncio.create_subprocess_exec(
        "go-sendxmpp", "-u", str(bob.jid), "-p", bob.password,
        "-j", f"{stack_settings.bind_ip}:{stack_settings.c2s_port}", alice.jid.bare,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=go_sendxmpp_env(stack_settings, tmp_path))
    out, err = await asyncio.wait_for(proc.communicate(b"Hello from go-sendxmpp"), 30)
    assert proc.returncode == 0, err.decode()
    conversation = session.conversation(bob.jid.bare)
    await watch.until(lambda: conversation.messages, what="message from go-sendxmpp")
    message = conversation.messages[0]
    assert (message.direction, message.body) == (Direction.INCOMING, "Hello from go-sendxmpp")


async def test_go_sendxmpp_receives_ours_and_ticks_do_not_lie(pair, session_for, stack_settings,
                                                              tmp_path):
    alice, bob = pair
    listener = await asyncio.create_subprocess_exec(
        "go-sendxmpp", "-l", "-u", str(bob.jid), "-p", bob.password,
        "-j", f"{stack_settings.bind_ip}:{stack_settings.c2s_port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=go_sendxmpp_env(stack_settings, tmp_path))
    try:
        session, watch = await session_for(alice)
        # wait until bob's go-sendxmpp session is online before sending
        await watch.until(lambda: session.contacts[bob.jid.bare].resources, what="bob online")
        message = session.send_chat(bob.jid.bare, "Meeting moved to 11:00")

        async def read_until_body() -> str:
            assert listener.stdout is not None
            while line := await listener.stdout.readline():
                if b"Meeting moved to 11:00" in line:
                    return line.decode()
            raise AssertionError("go-sendxmpp ended without printing the message")

        printed = await asyncio.wait_for(read_until_body(), 15)
        assert alice.jid.bare in printed
        await watch.until(lambda: message.delivery is Delivery.SENT, what="sent tick")
        # go-sendxmpp sends neither receipts nor markers: our ticks must not claim more
        assert message.delivered_at is None and message.read_at is None
    finally:
        listener.terminate()
        await listener.wait()
