"""From a chat message sent to its journal entry showing up in a subscribed client.

Bob (a bare slixmpp client) writes to alice; alice's client is subscribed to her journal. *Ours*
is the time from bob sending to the journal's push arriving at alice; *peer* is the time the
message itself takes to reach her, measured on the same messages (target: ours ≤ 50 ms p50).

Then a writer the component does not know of (the call switch's ``JournalStore.record`` on the
shared database) records calls for alice at random moments: *ours* is the time from the write's
commit to the push arriving, beside the chat path's own push time (target: ours ≤ 50 ms p50).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time

from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from schema import create_engine
from schema.migrate import upgrade_async
from tests.clients import RawClient
from xmpp_components.journal import JournalComponent
from xmpp_components.journal.component import CHANGE_POLL
from xmpp_components.journal.protocol import NS
from xmpp_components.journal.store import JournalStore

from .common import Figure, account, p50

MESSAGES = 100


async def run(server) -> list[Figure]:
    settings = server.settings
    await upgrade_async(settings.effective_database_url)
    journal = JournalComponent(settings)
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    journal.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(None))
    journal.start()
    await ready
    await journal.catch_up()
    (alice_jid, alice_pw), (bob_jid, bob_pw) = account(server, "alice"), account(server, "bob")
    alice = RawClient(alice_jid + "/bench", alice_pw, settings)
    bob = RawClient(bob_jid + "/bench", bob_pw, settings)
    await alice.start()
    await bob.start()
    pushes: asyncio.Queue[float] = asyncio.Queue()
    alice.register_handler(Callback("push", MatchXPath(f"{{jabber:client}}message/{{{NS}}}entries"),
                                    lambda _m: pushes.put_nowait(time.perf_counter())))
    iq = alice.Iq(stype="set", sto=journal.boundjid.bare)
    iq.append(ET.Element(f"{{{NS}}}subscribe"))
    await iq.send(timeout=10)
    ours, delivery, recorded = [], [], []
    switch = JournalStore(create_engine(settings.effective_database_url), settings.domain)
    try:
        for index in range(MESSAGES):
            start = time.perf_counter()
            bob.send_message(mto=alice_jid, mbody=f"message {index}", mtype="chat")
            await asyncio.wait_for(alice.inbox.get(), 10)
            delivery.append((time.perf_counter() - start) * 1000)
            ours.append((await asyncio.wait_for(pushes.get(), 10) - start) * 1000)
            while not pushes.empty():  # one message may touch the entry twice; keep the first
                pushes.get_nowait()
        rng = random.Random(3)
        for index in range(MESSAGES // 2):
            # other processes write at moments unrelated to the component's revision poll; right
            # after a push, every write would wait a whole poll interval
            await asyncio.sleep(rng.uniform(0, CHANGE_POLL))
            await switch.record(alice_jid, "call", "in", "+4930555", "missed", dt.datetime.now(dt.UTC),
                                source=f"bench-call:{index}")
            start = time.perf_counter()
            recorded.append((await asyncio.wait_for(pushes.get(), 10) - start) * 1000)
    finally:
        await alice.stop()
        await bob.stop()
        await journal.stop()
        await switch.engine.dispose()
    return [Figure("journal: message sent → entry pushed, p50", "ms", p50(ours), p50(delivery),
                   "message itself", target="ours ≤ 50 ms"),
            Figure("journal: other process wrote → pushed, p50", "ms", p50(recorded), p50(ours),
                   "chat's push", target="ours ≤ 50 ms")]
