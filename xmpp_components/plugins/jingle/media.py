"""Media sources and sinks that need no hardware: tones, clicks, a test pattern, and probes that
measure what arrives (spectral peak, level, frame counts).

They let calls run on machines without a sound card or camera, and they are what the tests and
benchmarks send and measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms
VIDEO_CLOCK = 90000
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


async def pace(start: float | None, due: float) -> float:
    """Wait until ``due`` seconds after ``start`` (now, for the first frame); returns the start.

    A source nobody read for a while — its sender paused for hold or mute — starts afresh
    instead of handing over everything it missed at once, which would flood the peer."""
    now = time.monotonic()
    if start is None:
        return now
    late = now - (start + due)
    if late > 0.1:
        return now - due
    await asyncio.sleep(max(0.0, -late))
    return start


class _PacedAudio(MediaStreamTrack):
    """A 48 kHz audio track paced in real time, 20 ms per frame.

    Its frames are 16-bit stereo, the same signal in both channels: the format aiortc's Opus
    encoder takes, so they need no conversion on the way (see :mod:`.speedups`)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._sent = 0

    def samples(self, first: int, count: int) -> np.ndarray:
        """Samples ``first`` … ``first + count`` as int16 (one channel)."""
        raise NotImplementedError

    @property
    def next_due(self) -> float | None:
        """When (``time.monotonic``) the next frame is due; ``None`` before the first."""
        return None if self._start is None else self._start + self._sent / SAMPLE_RATE

    def stereo(self, first: int, count: int) -> bytes:
        """The same samples in both channels, as the frame's s16 stereo bytes."""
        return np.repeat(self.samples(first, count), 2).tobytes()

    async def recv(self) -> AudioFrame:
        """The next frame, due 20 ms after the previous one."""
        if self.readyState != "live":
            raise MediaStreamError
        self._start = await pace(self._start, self._sent / SAMPLE_RATE)
        frame = stereo_frame(self.stereo(self._sent, FRAME_SAMPLES), self._sent)
        self._sent += FRAME_SAMPLES
        return frame


def stereo_frame(data: bytes, pts: int) -> AudioFrame:
    """A 48 kHz frame of s16 stereo ``data`` (interleaved), at ``pts``."""
    frame = AudioFrame(format="s16", layout="stereo", samples=len(data) // 4)
    frame.planes[0].update(data)
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


class ToneTrack(_PacedAudio):
    """A sine tone, e.g. 440 Hz, as a microphone would send it."""

    def __init__(self, frequency: float = 440.0, level: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self.level = level
        # A whole number of hertz repeats after SAMPLE_RATE / gcd samples (1,200 for 440 Hz):
        # keep that period plus a frame, also as stereo bytes, and slice instead of computing.
        self._period = (SAMPLE_RATE // math.gcd(SAMPLE_RATE, int(frequency))
                        if float(frequency).is_integer() and frequency > 0 else 0)
        self._table = self._compute(0, self._period + FRAME_SAMPLES) if self._period else None
        self._stereo_table = np.repeat(self._table, 2).tobytes() if self._table is not None else b""

    def _compute(self, first: int, count: int) -> np.ndarray:
        t = (np.arange(first, first + count) / SAMPLE_RATE)
        return (np.sin(2 * math.pi * self.frequency * t) * self.level * 32767).astype(np.int16)

    def samples(self, first: int, count: int) -> np.ndarray:
        """The tone's samples."""
        if self._table is None or count > FRAME_SAMPLES:
            return self._compute(first, count)
        start = first % self._period
        return self._table[start:start + count].copy()

    def stereo(self, first: int, count: int) -> bytes:
        """The tone in both channels, as s16 stereo bytes."""
        if self._table is None or count > FRAME_SAMPLES:
            return super().stereo(first, count)
        start = first % self._period * 4
        return self._stereo_table[start:start + count * 4]


class ClickTrack(_PacedAudio):
    """Silence with a short click whenever :meth:`click` is called; for latency measurements.

    :attr:`sent_at` lists, click by click, the monotonic time at which the frame carrying it was
    produced (just before it goes to the encoder)."""

    def __init__(self) -> None:
        super().__init__()
        self._armed = False
        self.sent_at: list[float] = []

    def click(self) -> None:
        """Put a click into the next frame."""
        self._armed = True

    def samples(self, first: int, count: int) -> np.ndarray:
        """Silence, or a 5 ms full-scale burst of 2 kHz after :meth:`click`."""
        data = np.zeros(count, dtype=np.int16)
        if self._armed:
            self._armed = False
            burst = np.arange(240) / SAMPLE_RATE
            data[:240] = (np.sin(2 * math.pi * 2000 * burst) * 30000).astype(np.int16)
            self.sent_at.append(time.monotonic())
        return data


class TestPatternTrack(MediaStreamTrack):
    """A moving colour-bar video source (a camera stand-in), 320×240 at 15 frames per second."""

    kind = "video"
    __test__ = False  # not a pytest class

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._start: float | None = None
        self._count = 0
        bars = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
                         [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]], dtype=np.uint8)
        columns = np.repeat(bars, -(-width // len(bars)), axis=0)[:width]
        self._pattern = np.broadcast_to(columns, (height, width, 3)).copy()

    async def recv(self) -> VideoFrame:
        """The next frame, shifted one column per frame so the encoder sees motion."""
        if self.readyState != "live":
            raise MediaStreamError
        self._start = await pace(self._start, self._count / self.fps)
        frame = VideoFrame.from_ndarray(np.roll(self._pattern, self._count, axis=1), format="rgb24")
        frame.pts = int(self._count * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class TrackReader:
    """Reads a received track in a task and counts frames; subclasses keep what they need."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track
        self.frames = 0
        self.last_frame_at: float | None = None
        """``time.monotonic()`` when the last frame came."""
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def consume(self, frame: AudioFrame | VideoFrame) -> None:
        """Keep what matters of ``frame``."""
        raise NotImplementedError

    async def _run(self) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await self.track.recv()
                assert isinstance(frame, AudioFrame | VideoFrame)
                self.consume(frame)
                self.frames += 1
                self.last_frame_at = time.monotonic()
                self._changed.set()

    async def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` more frames have arrived."""
        target = self.frames + count

        async def reached() -> None:
            while self.frames < target:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), timeout)

    async def stop(self) -> None:
        """Stop reading."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class AudioProbe(TrackReader):
    """Keeps the last seconds of a received audio track, mixed to mono at 48 kHz.

    Frames are kept as they came and mixed when first read (by :meth:`recent` or for
    ``on_frame``), so a probe nobody reads costs little more than the reading."""

    def __init__(self, track: MediaStreamTrack, keep_seconds: float = 3.0,
                 on_frame: Callable[[np.ndarray], None] | None = None) -> None:
        self._keep = max(1, int(keep_seconds * SAMPLE_RATE))
        self._kept: deque[list[Any]] = deque()  # [frame, its mono samples once mixed]
        self._held = 0  # samples in _kept
        self._on_frame = on_frame
        super().__init__(track)

    def consume(self, frame: AudioFrame | VideoFrame) -> None:
        """Keep the frame (and hand its samples to ``on_frame``)."""
        assert isinstance(frame, AudioFrame)
        entry: list[Any] = [frame, None]
        self._kept.append(entry)
        self._held += frame.samples
        while self._held - self._kept[0][0].samples >= self._keep:
            self._held -= self._kept.popleft()[0].samples
        if self._on_frame is not None:
            entry[1] = mono(frame)
            self._on_frame(entry[1])

    def recent(self, seconds: float) -> np.ndarray:
        """The last ``seconds`` of audio (at most what the probe keeps)."""
        count = min(self._held, self._keep, int(seconds * SAMPLE_RATE))
        if count <= 0:
            return np.zeros(0, dtype=np.int16)
        for entry in self._kept:
            if entry[1] is None:
                entry[1] = mono(entry[0])
        data = np.concatenate([entry[1] for entry in self._kept])
        return data[data.size - count:]

    def peak_frequency(self, seconds: float = 1.0) -> float:
        """The frequency with the most energy in the last ``seconds``, interpolated between bins."""
        data = self.recent(seconds).astype(np.float64)
        if data.size < 2:
            return 0.0
        spectrum = np.abs(np.fft.rfft(data * np.hanning(data.size)))
        spectrum[0] = 0.0
        i = int(np.argmax(spectrum))
        shift = 0.0
        if 0 < i < spectrum.size - 1:
            a, b, c = np.log(spectrum[i - 1: i + 2] + 1e-12)
            denominator = a - 2 * b + c
            shift = 0.5 * (a - c) / denominator if denominator else 0.0
        return float((i + shift) * SAMPLE_RATE / data.size)

    def level(self, seconds: float = 0.2) -> float:
        """RMS level of the last ``seconds``, 0 … 1 of full scale; 0 when no frame came in that
        time (the call is on hold, the peer stopped sending), not the level before."""
        if self.last_frame_at is None or time.monotonic() - self.last_frame_at > seconds:
            return 0.0
        data = self.recent(seconds).astype(np.float64)
        return float(np.sqrt(np.mean(data ** 2)) / 32768) if data.size else 0.0


def mono(frame: AudioFrame) -> np.ndarray:
    """``frame``'s samples, its channels averaged; 16-bit packed frames (as aiortc decodes them)
    the quick way."""
    channels = len(frame.layout.channels)
    data: np.ndarray
    if frame.format.name == "s16":  # packed: one plane, channels interleaved
        data = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16)[:frame.samples * channels]
        if channels == 2:
            return ((data[0::2].astype(np.int32) + data[1::2]) >> 1).astype(np.int16)
    else:
        data = frame.to_ndarray().reshape(-1)
    if channels > 1:
        return data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return data


class VideoProbe(TrackReader):
    """Keeps the newest frame of a received video track."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.last: VideoFrame | None = None
        super().__init__(track)

    def consume(self, frame: AudioFrame | VideoFrame) -> None:
        """Keep the frame."""
        assert isinstance(frame, VideoFrame)
        self.last = frame
