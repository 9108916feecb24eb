"""CPU per audio call against the Opus encode+decode floor measured in the same run.

*Ours*: both ends of one established audio call run in this process (a 440 Hz tone each way,
the received audio read as a player would); the process's CPU time over :data:`SECONDS` of the
call, minus an idle baseline of the same length with the same two phones connected and no call.
Both ends in one process make it one call counted at both ends, so the *floor* is the same
seconds of the same audio put through Opus both ways: two encodes and two decodes per 20 ms, as
fast as they go, with aiortc's Opus settings (libopus through PyAV, 48 kHz stereo, 96 kbit/s,
``voip``) on exactly the frames the call's tracks hand to the encoder — codec only, no
resampler, no RTP. Target: ours ≤ 1.5 × floor.

*Bare aiortc*: the same call between two ``RTCPeerConnection`` s in this process with no
Switchboard code in between — and without :mod:`~xmpp_components.plugins.jingle.speedups`, so
it is aiortc's own media path.

CPU time is ``time.process_time()``: every thread of the process, so aiortc's encoder pool and
decoder threads count too. ejabberd runs in its own process and is not counted.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, CodecContext

from xmpp_components.plugins.jingle.media import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioProbe,
    ToneTrack,
    pace,
    stereo_frame,
)
from xmpp_components.stack.ejabberd import EjabberdServer

from .common import Figure, Note, met
from .phones import MEDIA_NOTE, Phone, bare_aiortc_call

SECONDS = 10.0
TARGET_RATIO = 1.5
TONES = (440.0, 660.0)


def _frames(tone: ToneTrack, count: int) -> list[AudioFrame]:
    """The first ``count`` 20 ms frames of ``tone``, as its track hands them to the encoder."""
    return [stereo_frame(tone.stereo(index * FRAME_SAMPLES, FRAME_SAMPLES), index * FRAME_SAMPLES)
            for index in range(count)]


Coding = list[tuple[list[AudioFrame], CodecContext, OpusDecoder]]


def _coding(seconds: float) -> Coding:
    """Both directions' frames for ``seconds``, each with an Opus encoder and decoder as aiortc
    sets them up."""
    count = int(seconds * SAMPLE_RATE / FRAME_SAMPLES)
    return [(_frames(ToneTrack(hz), count), OpusEncoder().codec, OpusDecoder()) for hz in TONES]


def _code(directions: Coding, index: int) -> None:
    """Frame ``index`` encoded and decoded both ways."""
    for frames, encoder, decoder in directions:
        for packet in encoder.encode(frames[index]):
            decoder.decode(JitterFrame(bytes(packet), packet.pts))


def opus_floor(seconds: float) -> float:
    """CPU seconds Opus needs for ``seconds`` of one call both ways (aiortc's codec settings),
    frame after frame as fast as it goes."""
    directions = _coding(seconds)
    start = time.process_time()
    for index in range(len(directions[0][0])):
        _code(directions, index)
    return time.process_time() - start


async def opus_paced(seconds: float) -> float:
    """CPU seconds of the same coding done as a call does it, one frame each way every 20 ms;
    only the coding is timed (this thread's CPU), not the waiting between frames."""
    directions = _coding(seconds)
    start: float | None = None
    busy = 0.0
    for index in range(len(directions[0][0])):
        start = await pace(start, index * FRAME_SAMPLES / SAMPLE_RATE)
        before = time.thread_time()
        _code(directions, index)
        busy += time.thread_time() - before
    return busy


async def _cpu_while(seconds: float) -> float:
    """CPU seconds this process uses while the event loop runs on for ``seconds``."""
    start = time.process_time()
    await asyncio.sleep(seconds)
    return time.process_time() - start


async def _call_cpu(received: tuple[MediaStreamTrack, MediaStreamTrack]) -> tuple[float, list[int]]:
    """CPU seconds over :data:`SECONDS` of an established call whose ends receive ``received``
    (read as a player would), and the frames each end heard meanwhile."""
    ears = [AudioProbe(track, keep_seconds=0.02) for track in received]
    try:
        for ear in ears:
            await ear.wait_frames(50)
        before = [ear.frames for ear in ears]
        busy = await _cpu_while(SECONDS)
        return busy, [ear.frames - count for ear, count in zip(ears, before, strict=True)]
    finally:
        for ear in ears:
            await ear.stop()


async def _ours(server: EjabberdServer) -> tuple[float, float, list[int]]:
    """(CPU seconds of the call, of the idle baseline, frames heard at each end)."""
    caller, callee = await Phone.connect(server, "caller"), await Phone.connect(server, "callee")
    try:
        idle = await _cpu_while(SECONDS)
        outgoing, incoming = await caller.call(callee, audio=ToneTrack(TONES[0]),
                                               answer_with=ToneTrack(TONES[1]))
        busy, heard = await _call_cpu((await outgoing.wait_remote_track("audio"),
                                       await incoming.wait_remote_track("audio")))
        await outgoing.hangup()
    finally:
        await caller.stop()
        await callee.stop()
    return busy, idle, heard


async def _bare_aiortc() -> float:
    """CPU seconds of the same call between two bare aiortc peers, minus an idle baseline of the
    same length taken just before (the phones are gone by then)."""
    idle = await _cpu_while(SECONDS)
    async with bare_aiortc_call(ToneTrack(TONES[0]), ToneTrack(TONES[1])) as received:
        busy, _heard = await _call_cpu(received)
    return busy - idle


async def run(server: EjabberdServer) -> list[Figure | Note]:
    """The call's CPU, the bare aiortc call's, then the floor for the same seconds (median of
    three) and the same coding paced as in a call."""
    busy, idle, heard = await _ours(server)
    bare = await _bare_aiortc()
    floor = statistics.median(opus_floor(SECONDS) for _ in range(3))
    paced = await opus_paced(SECONDS)
    ours = busy - idle
    per_second = 1000 / SECONDS
    target = f"≤ {TARGET_RATIO}× floor"
    name = "CPU of one audio call, both ends"
    return [
        Figure(name, "ms/s", ours * per_second, floor * per_second, "Opus enc+dec floor",
               met(target, ours <= TARGET_RATIO * floor)),
        Figure(name, "ms/s", ours * per_second, bare * per_second, "bare aiortc call"),
        Figure(name, "ms/s", ours * per_second, paced * per_second, "Opus paced as a call"),
        Note(f"ms of CPU per second of call over {SECONDS:.0f} s, minus the idle baseline "
             f"({idle * per_second:.1f} ms/s, phones connected, no call); frames heard {heard[0]} "
             f"and {heard[1]} of {SECONDS * SAMPLE_RATE / FRAME_SAMPLES:.0f} each way; the bare "
             f"aiortc call minus its own idle baseline, on aiortc's own media path (no speedups); "
             f"the floor is the codec alone, back to back, median of 3; paced, the same coding "
             f"costs {paced / floor:.2f} × the floor when each frame comes 20 ms after the last "
             f"(caches gone cold between frames, as in any call); {MEDIA_NOTE}"),
    ]
