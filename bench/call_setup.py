"""How long a call takes to set up with STUN/TURN configured: trickle ICE against gathering first.

*Ours*: phones with ``sb_jingle`` as configured by default (``trickle=True``): session-initiate
and session-accept leave as soon as aiortc has written the offer or answer, and the candidates
follow in ``transport-info``. *Peer*: the same phones with ``trickle=False``: each side gathers
every candidate first — host, server-reflexive from ejabberd's STUN, relayed from its TURN
(XEP-0215 credentials asked per call) — and sends them inside its session-initiate or -accept.
Calls alternate between the two, :data:`CALLS` each. The callers run here, the callees in a
process of their own (``bench.callee_process``), as two devices would; a callee answers the
moment its call rings. Times are counted from ``jingle.call()`` being called:

- *without JMI* (a call to one device's full JID): until the callee's plugin has the
  session-initiate and rings; and until both ends are connected (ICE and DTLS done);
- *with JMI* (the usual call, every device rings on ``<propose/>``): until both ends are
  connected.

Twice: with ejabberd's STUN/TURN as it is, on loopback (gathering then takes a few ms), and
:data:`DISTANCE` away — every datagram between the phones and the STUN/TURN port passes a relay
that delays it, as a server in another city would (the phones are pointed at the relay instead of
the port XEP-0215 names). Media stays on loopback: host candidates pinned to 127.0.0.1, and
ejabberd's relayed candidates are 127.0.0.1 addresses.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from aiortc import RTCIceServer

from xmpp_components.plugins.jingle import Call, CallState, JinglePlugin
from xmpp_components.plugins.jingle.media import ToneTrack
from xmpp_components.stack.ejabberd import EjabberdServer

from .common import Figure, Note, account, p50
from .phones import JINGLE_CONFIG, LOOPBACK, Phone

CALLS = 20
DISTANCE = 0.025
"""Seconds each way between the phones and the distant STUN/TURN server (50 ms round trip)."""


class DelayingRelay(asyncio.DatagramProtocol):
    """UDP on a free loopback port, passed on to ``server`` and back ``delay`` seconds later;
    each client gets its own upstream socket, so the TURN server tells allocations apart."""

    def __init__(self, server: tuple[str, int], delay: float) -> None:
        self.server, self.delay = server, delay
        self.transport: asyncio.DatagramTransport | None = None
        self._upstreams: dict[Any, asyncio.Future[asyncio.DatagramTransport]] = {}

    async def start(self) -> int:
        """Listen; returns the port."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, client: Any) -> None:
        if client not in self._upstreams:
            self._upstreams[client] = asyncio.ensure_future(self._upstream(client))
        upstream = self._upstreams[client]
        asyncio.get_running_loop().call_later(  # the distance itself, not a wait for an event
            self.delay, lambda: upstream.add_done_callback(lambda u: u.result().sendto(data)))

    async def _upstream(self, client: Any) -> asyncio.DatagramTransport:
        relay = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _server: Any) -> None:
                asyncio.get_running_loop().call_later(
                    relay.delay, lambda: relay.transport and relay.transport.sendto(data, client))

        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            Back, remote_addr=self.server)
        return transport

    def close(self) -> None:
        for upstream in self._upstreams.values():
            if upstream.done():
                upstream.result().close()
        if self.transport is not None:
            self.transport.close()


def through(phone: Any, server_port: int, relay_port: int) -> None:
    """Point a phone's STUN/TURN (as XEP-0215 names it) at the relay in front of it."""
    jingle: JinglePlugin = phone.jingle
    ask_server = jingle.server_ice_servers

    async def relayed() -> list[RTCIceServer]:
        return [RTCIceServer(urls=str(s.urls).replace(f":{server_port}", f":{relay_port}"),
                             username=s.username, credential=s.credential)
                for s in await ask_server()]

    jingle.server_ice_servers = relayed  # type: ignore[method-assign]


class Callees:
    """The callee phones' process and what it reports about each call."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: dict[str, dict[str, float]] = {}
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, server: EjabberdServer, phones: list[dict[str, Any]],
                    relay: int | None) -> Callees:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.callee_process",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert process.stdin is not None and process.stdout is not None
        order = {"settings": server.settings.model_dump(mode="json"), "phones": phones,
                 "relay": relay}
        process.stdin.write(json.dumps(order).encode() + b"\n")
        await process.stdin.drain()
        if await asyncio.wait_for(process.stdout.readline(), 30) != b"ready\n":
            raise RuntimeError("the callee process did not start")
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            event = json.loads(line)
            self.events.setdefault(event.pop("sid"), {}).update(event)
            self._changed.set()

    async def when(self, sid: str, what: str) -> float:
        """The time the callee reported ``what`` (rang, connected) for call ``sid``."""
        async def reported() -> float:
            while what not in self.events.get(sid, {}):
                self._changed.clear()
                await self._changed.wait()
            return self.events[sid][what]

        return await asyncio.wait_for(reported(), 10)

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), 10)
        self._reader.cancel()


async def _setup(caller: Phone, callee: str, callees: Callees, jmi: bool) -> tuple[float, float]:
    """One call, answered at once and hung up: seconds until the callee rang, until both ends
    were connected."""
    start = time.time()
    outgoing = await caller.jingle.call(callee.split("/")[0] if jmi else callee,
                                        audio=ToneTrack(440), jmi=jmi)
    rang = await callees.when(outgoing.sid, "rang")
    if await outgoing.wait_state(CallState.ACTIVE) is not CallState.ACTIVE:
        raise RuntimeError(f"the benchmark call ended while connecting: {outgoing.end}")
    connected = await callees.when(outgoing.sid, "connected")
    _check_candidates(outgoing)
    assert outgoing.answered_at is not None
    connected = max(connected, outgoing.answered_at)
    await outgoing.hangup()
    await outgoing.closed()
    return rang - start, connected - start


def _check_candidates(call: Call) -> None:
    """The call gathered through ejabberd's TURN and kept its media on loopback."""
    assert call.pc is not None and call.pc.localDescription is not None
    lines = [line.split() for line in call.pc.localDescription.sdp.splitlines()
             if line.startswith("a=candidate:")]
    if not {line[4] for line in lines} <= set(LOOPBACK):
        raise RuntimeError("media would leave loopback")
    if "relay" not in {line[7] for line in lines}:
        raise RuntimeError("no relayed candidate: ejabberd's TURN was not used")


async def run(server: EjabberdServer) -> list[Figure | Note]:
    """Both distances of the STUN/TURN server."""
    return [*await _run(server, 0.0), *await _run(server, DISTANCE)]


async def _run(server: EjabberdServer, distance: float) -> list[Figure | Note]:
    """Alternate trickled and gather-first calls, with and without JMI."""
    kinds = {"ours": {"use_server_ice": True}, "peer": {"use_server_ice": True, "trickle": False}}
    relay = DelayingRelay((server.settings.bind_ip, server.settings.stun_port), distance)
    relay_port = await relay.start() if distance else None
    callers: dict[str, Phone] = {}
    callee_jids: dict[str, str] = {}
    wanted = []
    for kind, config in kinds.items():
        callers[kind] = await Phone.connect(server, f"{kind}-caller", **config)
        if relay_port:
            through(callers[kind], server.settings.stun_port, relay_port)
        jid, password = account(server, f"{kind}-callee")
        callee_jids[kind] = jid + "/phone"
        wanted.append({"jid": jid, "password": password, "config": {**JINGLE_CONFIG, **config}})
    callees = await Callees.start(server, wanted, relay_port)
    times: dict[tuple[str, bool], list[tuple[float, float]]] = {
        (kind, jmi): [] for kind in kinds for jmi in (False, True)}
    try:
        for _ in range(CALLS):
            for jmi in (False, True):
                for kind in kinds:
                    times[kind, jmi].append(
                        await _setup(callers[kind], callee_jids[kind], callees, jmi))
    finally:
        await callees.stop()
        relay.close()
        for phone in callers.values():
            await phone.stop()
    where = f"STUN/TURN {distance * 2000:.0f} ms away" if distance else "STUN/TURN on loopback"

    def ms(kind: str, jmi: bool, which: int) -> list[float]:
        return [t[which] * 1000 for t in times[kind, jmi]]

    def figure(name: str, jmi: bool, which: int) -> Figure:
        return Figure(name, "ms", p50(ms("ours", jmi, which)), p50(ms("peer", jmi, which)),
                      "gather first")

    def spread(kind: str, jmi: bool, which: int) -> str:
        samples = ms(kind, jmi, which)
        return f"{min(samples):.0f}–{max(samples):.0f}"

    return [
        figure(f"setup, {where}, no JMI: callee rings", False, 0),
        figure(f"setup, {where}, no JMI: connected", False, 1),
        figure(f"setup, {where}, JMI: connected", True, 1),
        Note(f"{where}: p50 of {CALLS} calls of each kind, alternating. Spread (min–max, ms) "
             f"ours / gather first: rings {spread('ours', False, 0)} / {spread('peer', False, 0)}, "
             f"connected {spread('ours', False, 1)} / {spread('peer', False, 1)}, with JMI "
             f"{spread('ours', True, 1)} / {spread('peer', True, 1)}"),
    ]
