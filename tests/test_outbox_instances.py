"""Two clients of one account on one machine: each has its own outbox, so neither sends what the
other queued; a restarted client finds its own queued messages; what a client that no longer runs
left behind goes out from the next one. Locks are real ``flock`` locks, one client a real second
process; the end-to-end test runs against the real ejabberd."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import pytest

from tui.session import ChatSession, Delivery
from tui.session.instance import InstanceLock, instance_folder
from tui.session.outbox import (
    Outbox,
    OutgoingMessage,
    claim_outbox,
    legacy_outbox_path,
    outbox_path,
)

from .clients import RawClient
from .conftest import Account, session_account
from .netcut import Relay
from .watch import SessionWatcher

ALICE = "alice@example.org"
WHEN = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)


def row(message_id: str) -> OutgoingMessage:
    return OutgoingMessage(message_id, "bob@example.org", f"<message id='{message_id}'/>", WHEN)


def ids(box: Outbox) -> list[str]:
    return [r.message_id for r in box.waiting()]


def client() -> InstanceLock:
    """What a starting client of alice claims."""
    return InstanceLock.claim(instance_folder(ALICE))


def test_two_running_clients_have_two_outboxes_and_resources_and_a_restart_gets_its_own_back(
        ) -> None:
    one, two = client(), client()
    first, second = claim_outbox(ALICE, one), claim_outbox(ALICE, two)
    assert (first.path, second.path) == (outbox_path(ALICE, 0), outbox_path(ALICE, 1))
    assert one.resource() != two.resource() and one.resource().startswith("switchboard.")
    first.put(row("a1"))
    second.put(row("b1"))
    first.close()
    resource = one.resource()
    one.release()  # the first client quits with a1 still queued

    again = client()  # and starts again while the second runs
    assert again.number == 0 and again.resource() == resource
    assert ids(claim_outbox(ALICE, again)) == ["a1"]
    assert ids(second) == ["b1"]  # the running client's own message stayed its own
    again.release()
    two.release()


def test_what_a_closed_client_left_moves_to_the_next_one_but_never_a_running_ones() -> None:
    running = client()
    claim_outbox(ALICE, running).put(row("r1"))
    left = Outbox(outbox_path(ALICE, 3))  # client number 3 quit with two messages queued
    left.put(row("l1"))
    left.put(row("l2"))
    left.close()

    starting = client()
    mine = claim_outbox(ALICE, starting)
    assert mine.path == outbox_path(ALICE, 1)
    assert ids(mine) == ["l1", "l2"] and ids(Outbox(outbox_path(ALICE, 3))) == []
    assert ids(Outbox(outbox_path(ALICE, 0))) == ["r1"]
    assert InstanceLock.take(instance_folder(ALICE), 3) is not None  # let go of after moving
    starting.release()
    running.release()


def test_a_client_in_another_process_keeps_its_number_until_it_dies() -> None:
    other_client = "\n".join([
        "import datetime as dt, sys",
        "from tui.session.instance import InstanceLock, instance_folder",
        "from tui.session.outbox import OutgoingMessage, claim_outbox",
        f"box = claim_outbox({ALICE!r}, InstanceLock.claim(instance_folder({ALICE!r})))",
        "box.put(OutgoingMessage('other', 'bob@example.org', '<message/>', dt.datetime.now(dt.UTC)))",
        "print(box.path, flush=True)",
        "sys.stdin.read()"])
    holder = subprocess.Popen([sys.executable, "-c", other_client], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == str(outbox_path(ALICE, 0))
        here = client()
        assert here.number == 1 and ids(claim_outbox(ALICE, here)) == []  # not the other's
        here.release()
    finally:
        holder.kill()  # a crash: the lock goes with the process
        holder.wait()
    after = client()
    assert after.number == 0 and ids(claim_outbox(ALICE, after)) == ["other"]
    after.release()


@pytest.fixture
async def relay(stack_settings) -> AsyncIterator[Relay]:
    """The network between the first client and the server."""
    link = Relay(stack_settings.bind_ip, stack_settings.c2s_port)
    await link.start()
    yield link
    await link.close()


@pytest.fixture
async def clients_of(stack_settings, relay) -> AsyncIterator[Callable[..., ChatSession]]:
    """Our client sessions; ``through_relay`` ones connect through the relay. Stopped afterwards."""
    sessions: list[ChatSession] = []

    def make(account: Account, through_relay: bool = False) -> ChatSession:
        login = session_account(account, stack_settings)
        if through_relay:
            login = type(login)(**{**login.__dict__, "port": relay.port})
        session = ChatSession(login)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.stop()


async def bodies(client: RawClient, until: str) -> list[str]:
    got: list[str] = []
    while not got or got[-1] != until:
        stanza = await asyncio.wait_for(client.inbox.get(), 20)
        if stanza["body"]:
            got.append(stanza["body"])
    return got


async def test_two_clients_of_one_account_never_send_each_others_queued_messages(
        pair, raw_client, relay, clients_of) -> None:
    alice, bob = pair
    peer = await raw_client(bob)
    laptop = clients_of(alice, through_relay=True)
    watch = SessionWatcher(laptop)
    await laptop.start()
    desktop = clients_of(alice)
    await desktop.start()
    logins: list[object] = []
    for session in (laptop, desktop):
        session.stream.add_event_handler("session_start", logins.append)
    assert laptop.stream.boundjid.resource != desktop.stream.boundjid.resource
    await desktop.stream.plugin["xep_0199"].ping(alice.jid.domain, timeout=10)
    await laptop.stream.plugin["xep_0199"].ping(alice.jid.domain, timeout=10)
    assert not logins  # neither logs the other out (same resource: the server would, in turn)

    await relay.go_down()
    await watch.until(lambda: laptop.state == "connecting", what="the laptop's network gone")
    queued = laptop.send_chat(bob.jid.bare, "from the laptop, offline")
    assert queued.delivery is Delivery.QUEUED

    await desktop.stop()  # the desktop's client restarts while the laptop's waits to send
    desktop = clients_of(alice)
    assert desktop.outbox.restore() == 0
    await desktop.start()
    desktop.send_chat(bob.jid.bare, "from the desktop")
    assert await bodies(peer, "from the desktop") == ["from the desktop"]
    assert queued.id not in ids(desktop.outbox.store)

    await relay.come_back()  # the laptop sends its own
    assert await bodies(peer, "from the laptop, offline") == ["from the laptop, offline"]
    await watch.until(lambda: queued.delivery >= Delivery.SENT, what="acknowledged")

    await relay.go_down()  # the laptop's client quits offline and is started again
    await watch.until(lambda: laptop.state == "connecting", what="the network gone again")
    laptop.send_chat(bob.jid.bare, "from the laptop before quitting")
    laptop_resource = laptop.stream.boundjid.resource
    await laptop.stop()
    await relay.come_back()
    laptop = clients_of(alice, through_relay=True)
    assert laptop.outbox.restore() == 1  # its own message, found again before connecting
    await laptop.start()
    assert laptop.stream.boundjid.resource == laptop_resource
    laptop.send_chat(bob.jid.bare, "end")  # after its queued one, on the same stream
    assert await bodies(peer, "end") == ["from the laptop before quitting", "end"]
    assert desktop.state == "online" and laptop.state == "online"  # both stayed in


def test_the_single_outbox_of_an_older_client_moves_into_the_first_client_that_starts() -> None:
    legacy = Outbox(legacy_outbox_path(ALICE))  # what the client before numbered outboxes kept
    legacy.put(row("old1"))
    legacy.put(row("old2"))
    legacy.close()

    starting = client()
    mine = claim_outbox(ALICE, starting)
    assert ids(mine) == ["old1", "old2"]
    assert not legacy_outbox_path(ALICE).exists()
    mine.close()
    starting.release()
