"""Sound devices for calls (AV4): microphones and speakers through PortAudio (``sounddevice``).

Everything here degrades to a clear reason instead of failing: without PortAudio, or on a machine
without sound devices, :class:`AudioBackend` says so and calls run on a test tone. PortAudio offers
no echo cancellation, automatic gain or noise suppression, so those switches are reported as not
available with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler, VideoFrame

from xmpp_components.plugins.jingle.media import TrackReader

SAMPLE_RATE = 48000
BLOCK = 960  # 20 ms
PROCESSING = ("echo cancellation", "automatic gain", "noise suppression")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """ALSA reports every missing card on file descriptor 2 while PortAudio starts, straight
    over the terminal client's screen; send those lines to /dev/null."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class AudioDevice:
    """A PortAudio device: its index, name and channel counts."""

    index: int
    name: str
    inputs: int
    outputs: int
    host_api: str = ""

    @property
    def label(self) -> str:
        """How a settings list names it."""
        return f"{self.name} ({self.host_api})" if self.host_api else self.name


class AudioBackend:
    """PortAudio, if it can be loaded, and the devices it sees."""

    def __init__(self) -> None:
        self.reason = ""
        self._loaded: Any = None
        self._tried = False

    @property
    def _sd(self) -> Any:
        """The ``sounddevice`` module, loaded on first use (PortAudio starts then)."""
        if not self._tried:
            self._tried = True
            try:
                with _quiet_stderr():
                    import sounddevice

                self._loaded = sounddevice
            except OSError:  # the shared library is missing
                self.reason = "PortAudio is not installed (Debian: apt install libportaudio2)"
            except ImportError:
                self.reason = "the sounddevice package is missing (./switchboard install)"
        return self._loaded

    @property
    def available(self) -> bool:
        """Whether PortAudio is loaded."""
        return self._sd is not None

    def rescan(self) -> None:
        """Ask PortAudio again which devices exist (after plugging something in)."""
        if self._sd is not None:
            with _quiet_stderr():
                self._sd._terminate()
                self._sd._initialize()

    def devices(self) -> list[AudioDevice]:
        """Every device PortAudio knows."""
        if self._sd is None:
            return []
        apis = [api["name"] for api in self._sd.query_hostapis()]
        return [AudioDevice(i, d["name"], d["max_input_channels"], d["max_output_channels"],
                            apis[d["hostapi"]] if d["hostapi"] < len(apis) else "")
                for i, d in enumerate(self._sd.query_devices())]

    def inputs(self) -> list[AudioDevice]:
        """Devices that can record."""
        return [d for d in self.devices() if d.inputs > 0]

    def outputs(self) -> list[AudioDevice]:
        """Devices that can play."""
        return [d for d in self.devices() if d.outputs > 0]

    def find(self, name: str | None, *, output: bool) -> AudioDevice | None:
        """The device called ``name`` that can play (``output``) or record; None if it is gone."""
        if not name:
            return None
        return next((d for d in (self.outputs() if output else self.inputs()) if d.name == name),
                    None)

    def status(self) -> str:
        """One line for the settings screen."""
        if self._sd is None:
            return f"No audio: {self.reason}. Calls send a test tone."
        devices = self.devices()
        if not devices:
            return "PortAudio sees no sound devices on this machine: calls send a test tone."
        return (f"{self._sd.get_portaudio_version()[1].split(',')[0]}: {len(self.inputs())} "
                f"inputs, {len(self.outputs())} outputs")

    @staticmethod
    def processing() -> dict[str, str]:
        """Voice processing switches and why they cannot be turned on with this backend."""
        return {name: "not offered by PortAudio" for name in PROCESSING}

    def play_tone(self, device: AudioDevice, frequency: float = 440.0, seconds: float = 1.0) -> None:
        """Play a test tone on ``device`` and return when it has been played (blocking)."""
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        tone = (np.sin(2 * np.pi * frequency * t) * 0.3 * 32767).astype(np.int16)
        with self._sd.RawOutputStream(samplerate=SAMPLE_RATE, channels=1, dtype="int16",
                                      device=device.index) as stream:
            stream.write(tone.tobytes())


class LevelMeter:
    """The live level of an input device, for the settings screen's microphone meter."""

    def __init__(self, backend: AudioBackend, device: AudioDevice) -> None:
        self.level = 0.0
        self.blocks = 0
        loop = asyncio.get_running_loop()
        self._measured = asyncio.Event()

        def measure(data: Any, _frames: int, _time: Any, _status: Any) -> None:
            samples = np.frombuffer(data, dtype=np.int16).astype(np.float64)
            self.level = float(np.sqrt(np.mean(samples ** 2)) / 32768) if samples.size else 0.0
            self.blocks += 1
            loop.call_soon_threadsafe(self._measured.set)

        self._stream = backend._sd.RawInputStream(
            samplerate=SAMPLE_RATE, channels=1, dtype="int16", blocksize=BLOCK,
            device=device.index, callback=measure)
        self._stream.start()

    async def wait_measured(self, timeout: float = 5.0) -> None:
        """Wait for the next block from the device."""
        self._measured.clear()
        await asyncio.wait_for(self._measured.wait(), timeout)

    def close(self) -> None:
        """Stop measuring."""
        self._stream.stop()
        self._stream.close()


class MicrophoneTrack(MediaStreamTrack):
    """An input device as an aiortc audio track: 48 kHz mono, 20 ms frames."""

    kind = "audio"

    def __init__(self, backend: AudioBackend, device: AudioDevice) -> None:
        super().__init__()
        loop = asyncio.get_running_loop()
        self._blocks: asyncio.Queue[bytes] = asyncio.Queue(maxsize=50)
        self._pts = 0

        def captured(data: Any, _frames: int, _time: Any, _status: Any) -> None:
            block = bytes(data)
            loop.call_soon_threadsafe(self._offer, block)

        self._stream = backend._sd.RawInputStream(
            samplerate=SAMPLE_RATE, channels=1, dtype="int16", blocksize=BLOCK,
            device=device.index, callback=captured)
        self._stream.start()

    def _offer(self, block: bytes) -> None:
        if self._blocks.full():  # the encoder fell behind: drop the oldest, keep the latency
            self._blocks.get_nowait()
        self._blocks.put_nowait(block)

    async def recv(self) -> AudioFrame:
        """The next 20 ms the device recorded."""
        if self.readyState != "live":
            raise MediaStreamError
        block = await self._blocks.get()
        samples = np.frombuffer(block, dtype=np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = SAMPLE_RATE, self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += samples.shape[1]
        return frame

    def stop(self) -> None:
        """Stop recording."""
        super().stop()
        with contextlib.suppress(Exception):
            self._stream.stop()
            self._stream.close()


class Speaker(TrackReader):
    """Plays a received audio track on an output device until the track ends or :meth:`close`.

    Frames are queued for PortAudio's callback thread (at most half a second, so a stall never
    turns into lasting delay); the event loop never blocks on the device."""

    MAX_QUEUED = SAMPLE_RATE // 2 * 2  # bytes: half a second of 16-bit mono

    def __init__(self, backend: AudioBackend, device: AudioDevice, track: MediaStreamTrack) -> None:
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

        def play(outdata: Any, _frames: int, _time: Any, _status: Any) -> None:
            size = len(outdata)
            with self._lock:
                chunk = bytes(self._pending[:size])
                del self._pending[:size]
            outdata[:len(chunk)] = chunk
            outdata[len(chunk):] = bytes(size - len(chunk))

        self._stream = backend._sd.RawOutputStream(samplerate=SAMPLE_RATE, channels=1,
                                                   dtype="int16", blocksize=BLOCK,
                                                   device=device.index, callback=play)
        self._stream.start()
        super().__init__(track)

    def consume(self, frame: AudioFrame | VideoFrame) -> None:
        """Queue the frame's samples for the device."""
        assert isinstance(frame, AudioFrame)
        data = b"".join(out.to_ndarray().tobytes() for out in self._resampler.resample(frame))
        with self._lock:
            self._pending.extend(data)
            if len(self._pending) > self.MAX_QUEUED:
                del self._pending[:len(self._pending) - self.MAX_QUEUED]

    async def close(self) -> None:
        """Stop playing."""
        await self.stop()
        self._stream.stop()
        self._stream.close()
