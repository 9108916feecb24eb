"""A chat message to a peer and its XEP-0184 receipt back: our session layer vs bare slixmpp.

Both senders talk to the same peer (a bare slixmpp client that answers receipts) through the same
private ejabberd, one message at a time, so the figure is the latency the user sees between Enter
and the *delivered* tick; the peer figure is the same exchange done with slixmpp alone.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from tests.clients import RawClient
from tui.session import Account, ChatSession, Delivery, events

from .common import Figure, account, p50, p95

MESSAGES = 300


async def _ours(settings, sender: tuple[str, str], peer_jid: str) -> list[float]:
    session = ChatSession(Account(sender[0], sender[1], settings.bind_ip, settings.c2s_port,
                                  settings.ca_file))
    delivered = asyncio.Event()

    def on_event(event: events.SessionEvent) -> None:
        if isinstance(event, events.MessageChanged) and event.message.delivery >= Delivery.DELIVERED:
            delivered.set()

    session.subscribe(on_event)
    await session.start()
    samples = []
    try:
        for index in range(MESSAGES):
            delivered.clear()
            start = time.perf_counter()
            session.send_chat(peer_jid, f"benchmark message {index}")
            await asyncio.wait_for(delivered.wait(), 10)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        await session.stop()
    return samples


async def _bare(settings, sender: tuple[str, str], peer_jid: str) -> list[float]:
    client = RawClient(sender[0] + "/bench", sender[1], settings)
    await client.start()
    receipt: asyncio.Future[str] | None = None

    def on_receipt(message) -> None:
        if receipt is not None and not receipt.done():
            receipt.set_result(message["receipt"])

    client.add_event_handler("receipt_received", on_receipt)
    samples = []
    try:
        for index in range(MESSAGES):
            receipt = asyncio.get_running_loop().create_future()
            start = time.perf_counter()
            message = client.make_message(mto=peer_jid, mbody=f"benchmark message {index}",
                                          mtype="chat")
            message["id"] = str(uuid.uuid4())
            message["request_receipt"] = True
            message.send()
            await asyncio.wait_for(receipt, 10)
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        await client.stop()
    return samples


async def run(server) -> list[Figure]:
    settings = server.settings
    peer_account = account(server, "peer")
    peer = RawClient(peer_account[0] + "/bench", peer_account[1], settings)
    await peer.start()
    try:
        ours = await _ours(settings, account(server, "ours"), peer_account[0])
        bare = await _bare(settings, account(server, "bare"), peer_account[0])
    finally:
        await peer.stop()
    return [
        Figure("send → delivered tick, p50", "ms", p50(ours), p50(bare), "bare slixmpp"),
        Figure("send → delivered tick, p95", "ms", p95(ours), p95(bare), "bare slixmpp"),
    ]
