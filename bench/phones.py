"""Phones for the call benchmarks: bare slixmpp clients with ``sb_jingle`` on the private ejabberd.

Media stays on loopback: host candidates are pinned to 127.0.0.1 (aioice would skip it and use the
interface address) and no STUN/TURN server is asked for (``use_server_ice=False``), so ICE pairs
the two 127.0.0.1 host candidates directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from tests.clients import RawClient
from tests.phones import PHONE_PLUGINS
from tests.phones import Phone as TestPhone
from xmpp_components.plugins.jingle import Call, CallState, JinglePlugin, speedups
from xmpp_components.plugins.jingle.hostaddresses import restrict_host_addresses
from xmpp_components.stack.ejabberd import EjabberdServer

from .common import account

LOOPBACK = ["127.0.0.1"]
JINGLE_CONFIG = {"host_addresses": LOOPBACK, "use_server_ice": False}
MEDIA_NOTE = "media: ICE host candidates pinned to 127.0.0.1, no STUN/TURN (use_server_ice=False)"


class Phone(TestPhone):
    """The tests' phone, connecting itself to the benchmark's server and placing answered calls."""

    jingle: JinglePlugin

    @classmethod
    async def connect(cls, server: EjabberdServer, prefix: str, **config: object) -> Phone:
        """A fresh account on ``server``, logged in with calls enabled; ``config`` overrides
        :data:`JINGLE_CONFIG`."""
        jid, password = account(server, prefix)
        client = RawClient(jid + "/phone", password, server.settings, plugins=PHONE_PLUGINS,
                           plugin_config={"sb_jingle": {**JINGLE_CONFIG, **config}})
        await client.start()
        return cls(client)

    async def call(self, callee: Phone, audio: MediaStreamTrack,
                   answer_with: MediaStreamTrack) -> tuple[Call, Call]:
        """Call ``callee`` (JMI to its bare JID), let it answer; both calls active."""
        outgoing = await self.jingle.call(callee.client.boundjid.bare, audio=audio)
        incoming = await callee.ringing()
        await incoming.accept(audio=answer_with)
        for call in (outgoing, incoming):
            if await call.wait_state(CallState.ACTIVE) is not CallState.ACTIVE:
                raise RuntimeError(f"the benchmark call ended while connecting: {call.end}")
            assert call.pc is not None and call.pc.localDescription is not None
            addresses = {line.split()[4] for line in call.pc.localDescription.sdp.splitlines()
                         if line.startswith("a=candidate:")}
            if not addresses <= set(LOOPBACK):
                raise RuntimeError(f"media would leave loopback through {addresses - set(LOOPBACK)}")
        return outgoing, incoming

    async def stop(self) -> None:
        """Hang up whatever still runs and disconnect."""
        for call in list(self.jingle.calls.values()):
            await call.hangup()
            await call.closed()
        await self.client.stop()


@asynccontextmanager
async def bare_aiortc_call(caller_audio: MediaStreamTrack, callee_audio: MediaStreamTrack
                           ) -> AsyncIterator[tuple[MediaStreamTrack, MediaStreamTrack]]:
    """The same audio call between two bare aiortc ``RTCPeerConnection`` s in this process, the
    SDP handed over in memory (no XMPP) and aiortc's own media path (our speedups removed while it
    runs); yields (what the caller hears, what the callee hears)."""
    with speedups.removed():
        async with _bare_call(caller_audio, callee_audio) as received:
            yield received


@asynccontextmanager
async def _bare_call(caller_audio: MediaStreamTrack, callee_audio: MediaStreamTrack
                     ) -> AsyncIterator[tuple[MediaStreamTrack, MediaStreamTrack]]:
    restrict_host_addresses(LOOPBACK)  # process-wide, as the plugin sets it
    no_servers = RTCConfiguration(iceServers=[])  # aiortc's default would ask Google's STUN
    caller, callee = RTCPeerConnection(no_servers), RTCPeerConnection(no_servers)
    loop = asyncio.get_running_loop()
    at_caller: asyncio.Future[MediaStreamTrack] = loop.create_future()
    at_callee: asyncio.Future[MediaStreamTrack] = loop.create_future()
    caller.on("track", at_caller.set_result)
    callee.on("track", at_callee.set_result)
    try:
        caller.addTrack(caller_audio)
        callee.addTrack(callee_audio)
        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await caller.setRemoteDescription(callee.localDescription)
        yield await asyncio.wait_for(at_caller, 10), await asyncio.wait_for(at_callee, 10)
    finally:
        await caller.close()
        await callee.close()
