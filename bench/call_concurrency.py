"""Concurrent audio calls in one process on 2 cores: are 20 ms frames still on time?

4 calls (8 phones, 4 caller/callee pairs, a tone each way), then 8 if 4 hold, all in this
process, pinned to 2 cores where the machine has more. Each sending track notes how late every
frame was produced against its 20 ms schedule (the sender asks for the next frame only after
encoding and sending the last, so a loop or encoder falling behind shows here); each receiving
end notes how long after its due time at the sender each decoded frame arrived (matched by pts),
less the quickest such delay (the path and jitter buffer every frame goes through). A stall of
more than 100 ms makes the source start afresh instead of sending its backlog; the frames of the
stall count as late, and later ones are due on the new schedule, not all late forever after.
*Peer*: one call alone, measured in the same run. A frame more than 20 ms late has missed its
deadline; the target is none at 4 calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from xmpp_components.plugins.jingle.media import FRAME_SAMPLES, SAMPLE_RATE, AudioProbe, ToneTrack
from xmpp_components.stack.ejabberd import EjabberdServer

from .common import Figure, Note, busy_seconds, met, p99, waited_for_core
from .phones import MEDIA_NOTE, Phone

SECONDS = 8.0
COUNTS = (4, 8)
CORES = 2
DEADLINE_MS = 20.0
FRAME_MS = 1000 * FRAME_SAMPLES / SAMPLE_RATE


class TimedTone(ToneTrack):
    """A tone that notes how many milliseconds late each frame is produced against the schedule
    in force when it was due (20 ms after the one before; after a stall of more than 100 ms the
    source starts afresh from now, see ``pace``, and later frames are due from there), and each
    frame's due time by its pts."""

    def __init__(self, frequency: float) -> None:
        super().__init__(frequency)
        self.lateness: list[float] = []
        self.due: dict[int, float] = {}

    async def recv(self) -> AudioFrame:
        """The tone's next frame, noting how late it was produced."""
        due = self.next_due
        frame = await super().recv()
        now = time.monotonic()
        self.lateness.append((now - due) * 1000 if due is not None else 0.0)
        self.due[frame.pts or 0] = due if due is not None else now
        return frame


class ArrivalClock(AudioProbe):
    """Reads a received track as a player would and notes, for each decoded frame, how long
    after its due time at the sender (matched by pts) it arrived."""

    def __init__(self, track: MediaStreamTrack, sender: TimedTone) -> None:
        self.sender = sender
        self.delays: list[float] = []
        super().__init__(track, keep_seconds=0.02)

    def consume(self, frame: AudioFrame | VideoFrame) -> None:
        """Keep the frame and note its delay."""
        super().consume(frame)
        due = self.sender.due.get(frame.pts or 0)
        if due is not None:
            self.delays.append(time.monotonic() - due)

    def lateness(self) -> list[float]:
        """Milliseconds each frame came later than the quickest one did (the path's delay,
        jitter buffer included, is the same for every frame on time)."""
        delays = np.array(self.delays)
        return list((delays - delays.min()) * 1000) if len(delays) else []


@dataclass
class Timing:
    """Frame lateness (ms) of some concurrent calls over the measured seconds."""

    calls: int
    sent: list[float]
    received: list[float]
    expected: int
    """Frames due from the senders, both directions of every call."""
    own_share: float
    """Share of the pinned cores this process used meanwhile."""
    others_share: float
    """Share of the pinned cores everything else used meanwhile (other processes, ejabberd)."""
    loop_waited: float
    """Seconds the event loop's thread was ready to run but waited for a core meanwhile."""


def late(samples: list[float]) -> int:
    """How many frames missed their deadline."""
    return sum(1 for ms in samples if ms > DEADLINE_MS)


@contextlib.contextmanager
def pinned_cores(count: int) -> Iterator[set[int]]:
    """Run every thread of this process (and the threads they start) on ``count`` cores, the first
    it may use; yields them. The affinity before is restored afterwards."""
    before = os.sched_getaffinity(0)

    def apply(cores: set[int]) -> None:
        for thread in os.listdir("/proc/self/task"):
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(int(thread), cores)

    apply(set(sorted(before)[:count]))
    try:
        yield os.sched_getaffinity(0)
    finally:
        apply(before)


async def _timing(phones: list[Phone], calls: int, cores: set[int]) -> Timing:
    """Run ``calls`` concurrent calls between pairs of ``phones`` and time their frames; note
    how busy ``cores`` were meanwhile, with this process and with everything else."""
    tones = [TimedTone(440 + 20 * i) for i in range(2 * calls)]
    established = await asyncio.gather(*(
        phones[2 * i].call(phones[2 * i + 1], audio=tones[2 * i], answer_with=tones[2 * i + 1])
        for i in range(calls)))
    clocks = [ArrivalClock(await call.wait_remote_track("audio"), tones[2 * i + 1 - end])
              for i, pair in enumerate(established) for end, call in enumerate(pair)]
    await asyncio.gather(*(clock.wait_frames(50) for clock in clocks))
    for record in (*[t.lateness for t in tones], *[c.delays for c in clocks]):
        record.clear()
    busy, own, waited = busy_seconds(cores), time.process_time(), waited_for_core()
    await asyncio.sleep(SECONDS)
    busy, own = busy_seconds(cores) - busy, time.process_time() - own
    waited = waited_for_core() - waited
    capacity = SECONDS * len(cores)
    timing = Timing(calls, [ms for t in tones for ms in t.lateness],
                    [ms for c in clocks for ms in c.lateness()],
                    int(SECONDS * 1000 / FRAME_MS) * 2 * calls,
                    own / capacity, max(0.0, busy - own) / capacity, waited)
    for clock in clocks:
        await clock.stop()
    for outgoing, _incoming in established:
        await outgoing.hangup()
    for pair in established:
        for call in pair:
            await call.closed()
    return timing


def _figures(many: Timing, alone: Timing) -> list[Figure | Note]:
    name = f"{many.calls} concurrent calls"
    figures: list[Figure | Note] = []
    for what, ours, peer in (("sender frame lateness", many.sent, alone.sent),
                             ("received frame lateness", many.received, alone.received)):
        missed = late(ours)
        figures.append(Figure(f"{name}: {what}, p99", "ms", p99(ours), p99(peer),
                              "1 call alone", met(f"no frame > {DEADLINE_MS:.0f} ms late; "
                                                  f"{missed} of {len(ours)}", missed == 0)))
    figures.append(Note(f"{name}: frames due in {SECONDS:.0f} s {many.expected}, produced "
                        f"{len(many.sent)}, decoded {len(many.received)} (1 call alone: "
                        f"{alone.expected}, {len(alone.sent)}, {len(alone.received)}; late alone: "
                        f"{late(alone.sent)} produced, {late(alone.received)} decoded)"))
    figures.append(Note(f"{name}: the pinned cores were busy {many.own_share:.0%} with this process "
                        f"and {many.others_share:.0%} with everything else, and the event loop "
                        f"waited {many.loop_waited * 1000:.0f} ms for a core (1 call alone: "
                        f"{alone.own_share:.0%}, {alone.others_share:.0%}, "
                        f"{alone.loop_waited * 1000:.0f} ms)"))
    return figures


async def run(server: EjabberdServer) -> list[Figure | Note]:
    """One call alone, then 4 at once, then 8 if 4 kept every deadline."""
    phones = [await Phone.connect(server, f"phone{i}") for i in range(2 * max(COUNTS))]
    results: list[Figure | Note] = []
    try:
        with pinned_cores(CORES) as cores:
            alone = await _timing(phones, 1, cores)
            for count in COUNTS:
                many = await _timing(phones, count, cores)
                results += _figures(many, alone)
                if late(many.sent) or late(many.received):
                    break
            results.append(Note(
                f"this process on cores {sorted(cores)} of {os.cpu_count()} (sched_setaffinity); "
                f"ejabberd runs beside it, unpinned; load average {os.getloadavg()[0]:.2f}; "
                f"{MEDIA_NOTE}"))
    finally:
        for phone in phones:
            await phone.stop()
    return results
