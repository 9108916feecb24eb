"""Audio/video calls between two XMPP sessions through the real ejabberd, media on loopback.

Each side is a bare slixmpp client with the ``sb_jingle`` plugin; STUN/TURN credentials come from
ejabberd (XEP-0215); host candidates are pinned to 127.0.0.1 so media never leaves loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import xmpp_components.plugins.jingle  # noqa: F401  (registers sb_jingle)
from xmpp_components.plugins.jingle import Call, CallState
from xmpp_components.plugins.jingle.media import AudioProbe, TestPatternTrack, ToneTrack, VideoProbe

from .clients import RawClient
from .conftest import Account

PHONE_PLUGINS = ("xep_0280", "xep_0334", "sb_jingle")
LOOPBACK = {"sb_jingle": {"host_addresses": ["127.0.0.1"]}}


class Phone:
    """A client with calls: incoming calls are queued on :attr:`incoming`."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.jingle = client.plugin["sb_jingle"]
        self.incoming: asyncio.Queue[Call] = asyncio.Queue()
        self.ended: asyncio.Queue[Call] = asyncio.Queue()
        client.add_event_handler("jingle_call_incoming", self.incoming.put_nowait)
        client.add_event_handler("jingle_call_ended", self.ended.put_nowait)

    @property
    def jid(self) -> Any:
        return self.client.boundjid

    async def ringing(self, timeout: float = 10) -> Call:
        """The next incoming call."""
        return await asyncio.wait_for(self.incoming.get(), timeout)


@pytest.fixture
async def phone(raw_client: Callable[..., Awaitable[RawClient]]
                ) -> AsyncIterator[Callable[..., Awaitable[Phone]]]:
    """Connect a phone for an account; calls still running at the end are hung up."""
    phones: list[Phone] = []

    async def connect(account: Account, resource: str = "phone", **config: Any) -> Phone:
        plugin_config = {"sb_jingle": {"host_addresses": ["127.0.0.1"], **config}}
        client = await raw_client(account, resource, plugins=PHONE_PLUGINS,
                                  plugin_config=plugin_config)
        phones.append(Phone(client))
        return phones[-1]

    yield connect
    for p in phones:
        for call in list(p.jingle.calls.values()):
            await call.hangup()
            await call.closed()


async def established(caller: Phone, callee: Phone, audio_hz: tuple[float, float] = (440, 660),
                      video: bool = False) -> tuple[Call, Call]:
    """Alice calls bob's bare JID with JMI, bob answers; both calls are active."""
    outgoing = await caller.jingle.call(
        callee.jid.bare, audio=ToneTrack(audio_hz[0]), video=TestPatternTrack() if video else None)
    incoming = await callee.ringing()
    assert incoming.state is CallState.RINGING
    await incoming.accept(audio=ToneTrack(audio_hz[1]), video=TestPatternTrack() if video else None)
    assert await outgoing.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    assert await incoming.wait_state(CallState.ACTIVE) is CallState.ACTIVE
    return outgoing, incoming


async def test_audio_call_carries_each_side_s_tone(pair, phone) -> None:
    alice_account, bob_account = pair
    alice, bob = await phone(alice_account), await phone(bob_account)
    outgoing, incoming = await established(alice, bob)

    at_bob = AudioProbe(await incoming.wait_remote_track("audio"))
    at_alice = AudioProbe(await outgoing.wait_remote_track("audio"))
    await at_bob.wait_frames(75)  # 1.5 s of audio, so a 1 s window holds only the steady tone
    await at_alice.wait_frames(75)
    assert abs(at_bob.peak_frequency(1.0) - 440) <= 5
    assert abs(at_alice.peak_frequency(1.0) - 660) <= 5
    assert outgoing.codecs["audio"].lower().startswith("opus")
    quality = await outgoing.quality()
    assert quality.packets_received > 0
    for call in (outgoing, incoming):
        assert call.pc is not None and call.pc.localDescription is not None
        addresses = {line.split()[4] for line in call.pc.localDescription.sdp.splitlines()
                     if line.startswith("a=candidate:")}
        assert addresses == {"127.0.0.1"}, "media must stay on loopback"

    await outgoing.hangup()
    assert await incoming.wait_state(CallState.ENDED) is CallState.ENDED
    assert incoming.end is not None and incoming.end.by == "peer" and incoming.end.answered
    await at_bob.stop()
    await at_alice.stop()
