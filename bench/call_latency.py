"""One-way audio latency of a call, measured with an injected click.

*Ours*: two phones in this process call each other through the private ejabberd (JMI, Jingle,
ICE-UDP, DTLS-SRTP, Opus); the caller sends a :class:`ClickTrack`, and the callee's
:class:`AudioProbe` hears each click in its decoded output. A click's latency is the time it
reached the callee's decoded output minus the time its frame was produced
(``ClickTrack.sent_at``). *Peer*: the same clicks through a bare aiortc ``RTCPeerConnection`` pair
in this process, its SDP exchanged in memory, no XMPP: the ratio is what our signalling and stack
add to the media path (~1.0 expected, since the media path is aiortc's either way).
Target: ≤ 120 ms.

Both sides pass through aiortc's audio jitter buffer, which holds 4 frames (80 ms) before it
releases the first: most of the figure is that buffer.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from xmpp_components.plugins.jingle.media import AudioProbe, ClickTrack
from xmpp_components.stack.ejabberd import EjabberdServer

from .common import Figure, Note, met, p50, p95
from .phones import MEDIA_NOTE, Phone, bare_aiortc_call

CLICKS = 30
GAP = 0.2
"""Seconds of silence after a click is heard, so its tail has decayed before the next one."""
THRESHOLD = 3000
"""Peak amplitude that counts as the click (full scale 32767; decoded silence stays near 0)."""
TARGET_MS = 120.0


async def click_latencies(source: ClickTrack, received: MediaStreamTrack) -> list[float]:
    """Click ``source`` :data:`CLICKS` times, one at a time, and return how many milliseconds each
    took from its frame being produced to its energy showing in ``received``'s decoded frames."""
    loop = asyncio.get_running_loop()
    heard: asyncio.Future[float] = loop.create_future()
    heard.set_result(0.0)  # nothing is listened for until the first click

    def on_frame(samples: np.ndarray) -> None:
        if not heard.done() and max(int(samples.max()), -int(samples.min())) > THRESHOLD:
            heard.set_result(time.monotonic())

    probe = AudioProbe(received, keep_seconds=0.1, on_frame=on_frame)
    latencies = []
    try:
        await probe.wait_frames(25)  # half a second of audio: ICE, DTLS and the jitter buffer settled
        for _ in range(CLICKS):
            heard = loop.create_future()
            clicked = len(source.sent_at)
            source.click()
            heard_at = await asyncio.wait_for(heard, 2)
            latencies.append((heard_at - source.sent_at[clicked]) * 1000)
            await asyncio.sleep(GAP)
    finally:
        await probe.stop()
    return latencies


async def _ours(server: EjabberdServer) -> list[float]:
    caller, callee = await Phone.connect(server, "caller"), await Phone.connect(server, "callee")
    clicks = ClickTrack()
    try:
        outgoing, incoming = await caller.call(callee, audio=clicks, answer_with=ClickTrack())
        back = AudioProbe(await outgoing.wait_remote_track("audio"), keep_seconds=0.1)
        latencies = await click_latencies(clicks, await incoming.wait_remote_track("audio"))
        await back.stop()
        await outgoing.hangup()
    finally:
        await caller.stop()
        await callee.stop()
    return latencies


async def _bare_aiortc() -> list[float]:
    clicks = ClickTrack()
    async with bare_aiortc_call(clicks, ClickTrack()) as (at_caller, at_callee):
        back = AudioProbe(at_caller, keep_seconds=0.1)
        latencies = await click_latencies(clicks, at_callee)
        await back.stop()
    return latencies


async def run(server: EjabberdServer) -> list[Figure | Note]:
    """Clicks through our call, then through the bare pair."""
    ours = await _ours(server)
    bare = await _bare_aiortc()
    target = f"≤ {TARGET_MS:.0f} ms"
    return [
        Figure("call audio one-way latency (click), p50", "ms", p50(ours), p50(bare),
               "bare aiortc", met(target, p50(ours) <= TARGET_MS)),
        Figure("call audio one-way latency (click), p95", "ms", p95(ours), p95(bare),
               "bare aiortc", met(target, p95(ours) <= TARGET_MS)),
        Note(f"{len(ours)} clicks through each, 48 kHz Opus; {MEDIA_NOTE}"),
    ]
