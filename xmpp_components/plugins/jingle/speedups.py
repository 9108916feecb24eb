"""Cheaper audio in aiortc's media path, adapted from outside: same packets, same frames, less CPU.

aiortc hands every audio frame to a thread twice: the sender encodes it in the event loop's
default executor, and each receiver decodes in a thread of its own that hands every decoded frame
back with ``run_coroutine_threadsafe``. For 20 ms Opus frames (~0.15 ms to encode, ~0.04 ms to
decode) the hand-offs — thread wake-ups, the loop's self-pipe, a task per frame — cost more CPU
than the codec. The sender also computes the RFC 6465 audio level sample by sample in Python
(~0.07 ms a frame, half an Opus encode), and the Opus encoder puts every frame through an FFmpeg
filter graph even when it is already 48 kHz stereo s16 in 20 ms, the encoder's own format.

:func:`install` (called when ``xmpp_components.plugins.jingle`` is imported) changes, for audio
only and for peer connections created afterwards:

- the audio level is computed with numpy (the same integer result);
- audio senders encode at once on the event loop instead of in the executor;
- audio receivers decode at once as each frame leaves the jitter buffer, and put the frame
  straight into the track's queue; their decoder thread still starts but only waits to end the
  track when the receiver stops, as aiortc's does;
- the Opus encoder skips its resampler for frames already in its format, as long as the
  resampler holds nothing (a frame in another format afterwards goes through it as before).

Video keeps aiortc's threads: its frames are large and slow to code. :func:`removed` undoes the
changes for a while (the benchmarks' bare aiortc peers). The adaptation reads aiortc's private
attributes; checked against aiortc 1.16.0 and aioice 0.13.0, and
``tests/test_speedups.py`` fails if the internals it relies on change shape.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import av
import numpy as np
from aiortc import rtcrtpreceiver, rtcrtpsender, rtp
from aiortc.codecs import get_decoder
from aiortc.codecs.opus import SAMPLE_RATE, SAMPLES_PER_FRAME, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av import AudioFrame
from av.frame import Frame

log = logging.getLogger(__name__)

MIN_AUDIO_LEVEL = -127
MAX_SAMPLE = 32767


def audio_level_dbov(frame: AudioFrame) -> int:
    """RFC 6465 Appendix A level of ``frame`` in -dBov, as ``aiortc.rtp.compute_audio_level_dbov``
    computes it (every 16-bit sample of the first plane over ``frame.samples``), in numpy.

    The squares are summed exactly (int64) where aiortc sums them in a float, which is exact too
    for any frame under 2**23 samples, so the result is the same integer."""
    samples = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16).astype(np.int64)
    energy = float(np.dot(samples, samples))
    rms = math.sqrt(energy / (frame.samples * MAX_SAMPLE * MAX_SAMPLE))
    if rms <= 0:
        return MIN_AUDIO_LEVEL
    return round(min(max(20 * math.log10(rms), MIN_AUDIO_LEVEL), 0))


class _EncodeAtOnce:
    """Stands in for the event loop in an audio ``RTCRtpSender``, which uses it only to
    encode in the executor: the encoder runs at once and the future is already done."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run_in_executor(self, _executor: Any, func: Callable[..., Any], *args: Any
                        ) -> asyncio.Future[Any]:
        future = self.loop.create_future()
        try:
            future.set_result(func(*args))
        except Exception as error:
            future.set_exception(error)
        return future


class _DecodeAtOnce:
    """Stands in for an audio ``RTCRtpReceiver``'s decoder queue: frames are decoded as they are
    put and go straight into the track's queue, as aiortc's ``decoder_worker`` would hand them
    over, decode errors included. The end (``None``) goes to the decoder thread, which is
    waiting for it in :meth:`get`, so the track ends exactly as it does in aiortc."""

    def __init__(self, output: asyncio.Queue[Frame | None], decode_error: threading.Event) -> None:
        self._output = output
        self._decode_error = decode_error
        self._ending: queue.Queue[None] = queue.Queue()
        self._codec_name: str | None = None
        self._decoder: Any = None

    def put(self, task: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if task is None:
            self._ending.put(None)
            return
        codec, encoded = task
        if codec.name != self._codec_name:
            self._decoder, self._codec_name = get_decoder(codec), codec.name
        try:
            frames = self._decoder.decode(encoded)
        except av.FFmpegError as error:  # aiortc keeps the decoder's state and goes on
            log.warning("failed to decode %s audio frame: %s", codec.name, error)
            self._decode_error.set()
            return
        for frame in frames:
            self._output.put_nowait(frame)

    def get(self) -> None:
        return self._ending.get()


class _FittingFramesPassResampler:
    """The Opus encoder's resampler, skipped for frames already in the encoder's format
    (s16 stereo, 48 kHz, 960 samples) while it has never been used, so it holds no samples."""

    def __init__(self, resampler: av.AudioResampler) -> None:
        self.resampler = resampler
        self.used = False

    def resample(self, frame: AudioFrame | None) -> list[AudioFrame]:
        if (not self.used and frame is not None and frame.format.name == "s16"
                and frame.layout.name == "stereo" and frame.sample_rate == SAMPLE_RATE
                and frame.samples == SAMPLES_PER_FRAME):
            return [frame]
        self.used = True
        return self.resampler.resample(frame)


_AIORTC: dict[str, Any] = {  # aiortc's own, taken before install() replaces them
    "level": rtp.compute_audio_level_dbov,
    "sender_init": rtcrtpsender.RTCRtpSender.__init__,
    "receiver_receive": rtcrtpreceiver.RTCRtpReceiver.receive,
    "get_encoder": rtcrtpsender.get_encoder,
}
_installed = False


def _sender_init(self: rtcrtpsender.RTCRtpSender, *args: Any, **kwargs: Any) -> None:
    _AIORTC["sender_init"](self, *args, **kwargs)
    if self.kind == "audio":
        self._RTCRtpSender__loop = _EncodeAtOnce(self._RTCRtpSender__loop)  # type: ignore[attr-defined]


async def _receiver_receive(self: rtcrtpreceiver.RTCRtpReceiver, *args: Any, **kwargs: Any
                            ) -> None:
    if (self._RTCRtpReceiver__kind == "audio"  # type: ignore[attr-defined]
            and not self._RTCRtpReceiver__started  # type: ignore[attr-defined]
            and self._track is not None):
        self._RTCRtpReceiver__decoder_queue = _DecodeAtOnce(  # type: ignore[attr-defined]
            self._track._queue, self._RTCRtpReceiver__decoder_error)  # type: ignore[attr-defined]
    await _AIORTC["receiver_receive"](self, *args, **kwargs)


def _get_encoder(codec: RTCRtpCodecParameters) -> Any:
    encoder = _AIORTC["get_encoder"](codec)
    if isinstance(encoder, OpusEncoder):
        encoder.resampler = _FittingFramesPassResampler(encoder.resampler)  # type: ignore[assignment]
    return encoder


def _put(level: Any, sender_init: Any, receiver_receive: Any, get_encoder: Any) -> None:
    rtp.compute_audio_level_dbov = level
    rtcrtpsender.RTCRtpSender.__init__ = sender_init  # type: ignore[method-assign]
    rtcrtpreceiver.RTCRtpReceiver.receive = receiver_receive  # type: ignore[method-assign]
    rtcrtpsender.get_encoder = get_encoder


def install() -> None:
    """Put the cheaper audio path in place for peer connections created from now on."""
    global _installed
    _put(audio_level_dbov, _sender_init, _receiver_receive, _get_encoder)
    _installed = True


def uninstall() -> None:
    """Back to aiortc's own path for peer connections created from now on."""
    global _installed
    _put(**_AIORTC)
    _installed = False


def installed() -> bool:
    """Whether :func:`install` is in force."""
    return _installed


@contextmanager
def removed() -> Iterator[None]:
    """aiortc's own path inside the block, the speedups (if they were installed) after it."""
    was = installed()
    uninstall()
    try:
        yield
    finally:
        if was:
            install()
