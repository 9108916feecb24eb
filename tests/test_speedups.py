"""The cheaper audio path (``jingle.speedups``): aiortc's internals it relies on still have the
shape it was written against, and it changes no packet, level or frame."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, rtcrtpreceiver, rtcrtpsender, rtp
from aiortc.codecs import opus
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from xmpp_components.plugins.jingle import speedups
from xmpp_components.plugins.jingle.hostaddresses import restrict_host_addresses
from xmpp_components.plugins.jingle.media import (
    AudioProbe,
    TestPatternTrack,
    ToneTrack,
    VideoProbe,
    stereo_frame,
)


def test_aiortc_internals_have_the_shape_the_speedups_rely_on() -> None:
    with speedups.removed():  # read aiortc's own methods, not ours in their place
        _check_aiortc_shape()


def _check_aiortc_shape() -> None:
    sender_init = inspect.getsource(rtcrtpsender.RTCRtpSender.__init__)
    assert "self.__loop = asyncio.get_event_loop()" in sender_init
    encoded = inspect.getsource(rtcrtpsender.RTCRtpSender._next_encoded_frame)
    assert "audio_level = rtp.compute_audio_level_dbov(data)" in encoded
    assert "await self.__loop.run_in_executor(" in encoded
    assert "self.__encoder = get_encoder(codec)" in encoded
    assert inspect.getsource(rtcrtpsender.RTCRtpSender).count("self.__loop") == 2, \
        "the sender uses its loop for something else than encoding now"

    receiver_init = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver.__init__)
    for line in ("self.__decoder_error = threading.Event()",
                 "self.__decoder_queue: queue.Queue = queue.Queue()", "self.__kind = kind",
                 "self.__started = False"):
        assert line in receiver_init
    receive = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver.receive)
    assert "target=decoder_worker" in receive and "self.__decoder_queue," in receive
    assert "self._track._queue," in receive and "self.__decoder_error," in receive
    handle = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet)
    assert "self.__decoder_queue.put((codec, encoded_frame))" in handle
    stop = inspect.getsource(rtcrtpreceiver.RTCRtpReceiver)
    assert "self.__decoder_queue.put(None)" in stop
    worker = inspect.getsource(rtcrtpreceiver.decoder_worker)
    assert list(inspect.signature(rtcrtpreceiver.decoder_worker).parameters) == [
        "loop", "input_q", "output_q", "decode_error"]
    for line in ("task = input_q.get()", "asyncio.run_coroutine_threadsafe(output_q.put(None), loop)",
                 "decoder = get_decoder(codec)", "frames = decoder.decode(encoded_frame)",
                 "decode_error.set()", "asyncio.run_coroutine_threadsafe(output_q.put(frame), loop)"):
        assert line in worker

    opus_encode = inspect.getsource(opus.OpusEncoder.encode)
    assert "for frame in self.resampler.resample(frame):" in opus_encode
    opus_init = inspect.getsource(opus.OpusEncoder.__init__)
    for setting in ('format="s16"', 'layout="stereo"', "rate=SAMPLE_RATE",
                    "frame_size=SAMPLES_PER_FRAME"):
        assert setting in opus_init


def _frames(samples: list[np.ndarray], layout: str) -> list[AudioFrame]:
    frames = []
    for index, data in enumerate(samples):
        if layout == "stereo":
            frames.append(stereo_frame(np.repeat(data, 2).tobytes(), index * 960))
        else:
            frame = AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, index * 960
            frames.append(frame)
    return frames


@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_audio_level_is_aiortc_s_to_the_integer(layout: str) -> None:
    rng = np.random.default_rng(7)
    signals = [np.zeros(960, dtype=np.int16), np.full(960, 32767, dtype=np.int16),
               np.full(960, -32768, dtype=np.int16), np.array([1] + [0] * 959, dtype=np.int16),
               *(rng.integers(-scale, scale, 960, dtype=np.int16)
                 for scale in (2, 30, 300, 3000, 30000)),
               ToneTrack(440).samples(0, 960)]
    frames = _frames(signals, layout)
    ours = [rtp.compute_audio_level_dbov(frame) for frame in frames]
    with speedups.removed():
        assert rtp.compute_audio_level_dbov is not speedups.audio_level_dbov
        assert ours == [rtp.compute_audio_level_dbov(frame) for frame in frames]
    assert len(set(ours)) > 5  # the signals span many levels


def test_opus_encoder_skips_the_resampler_only_for_frames_in_its_format() -> None:
    tone = ToneTrack(440)
    stereo = _frames([tone.samples(i * 960, 960) for i in range(40)], "stereo")
    theirs = opus.OpusEncoder()
    with speedups.removed():
        assert not hasattr(rtcrtpsender.get_encoder(_opus()).resampler, "used")
    ours = rtcrtpsender.get_encoder(_opus())
    assert [ours.encode(f) for f in stereo] == [theirs.encode(f) for f in stereo]
    assert isinstance(ours.resampler, speedups._FittingFramesPassResampler)
    assert not ours.resampler.used

    mono = _frames([tone.samples(i * 960, 960) for i in range(40)], "mono")
    ours, theirs = rtcrtpsender.get_encoder(_opus()), opus.OpusEncoder()
    assert [ours.encode(f) for f in mono] == [theirs.encode(f) for f in mono]
    assert isinstance(ours.resampler, speedups._FittingFramesPassResampler)
    assert ours.resampler.used


def _opus() -> rtcrtpsender.RTCRtpCodecParameters:
    return rtcrtpsender.RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2,
                                              payloadType=111)


@asynccontextmanager
async def _connected(caller_tracks: list[MediaStreamTrack], callee_tracks: list[MediaStreamTrack]
                     ) -> AsyncIterator[tuple[RTCPeerConnection, RTCPeerConnection,
                                              dict[str, MediaStreamTrack]]]:
    """Two peer connections in this process on 127.0.0.1; yields them and what the callee gets."""
    restrict_host_addresses(["127.0.0.1"])
    caller, callee = (RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2))
    received: dict[str, MediaStreamTrack] = {}
    callee.on("track", lambda track: received.__setitem__(track.kind, track))
    try:
        for track in caller_tracks:
            caller.addTrack(track)
        for track in callee_tracks:
            callee.addTrack(track)
        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await caller.setRemoteDescription(callee.localDescription)
        yield caller, callee, received
    finally:
        await caller.close()
        await callee.close()


def _audio(pc: RTCPeerConnection) -> tuple[rtcrtpsender.RTCRtpSender, rtcrtpreceiver.RTCRtpReceiver]:
    transceiver = next(t for t in pc.getTransceivers() if t.kind == "audio")
    return transceiver.sender, transceiver.receiver


async def test_audio_is_coded_on_the_loop_and_video_in_aiortc_s_threads() -> None:
    assert speedups.installed()  # importing the plugin puts them in place
    async with _connected([ToneTrack(440), TestPatternTrack()], [ToneTrack(660)]) as (
            caller, callee, received):
        heard = AudioProbe(received["audio"])
        seen = VideoProbe(received["video"])
        await heard.wait_frames(75)
        await seen.wait_frames(5)
        assert abs(heard.peak_frequency(1.0) - 440) <= 5

        sender, _ = _audio(caller)
        _, receiver = _audio(callee)
        assert isinstance(sender._RTCRtpSender__loop, speedups._EncodeAtOnce)  # type: ignore[attr-defined]
        assert not sender._RTCRtpSender__encoder.resampler.used  # type: ignore[attr-defined]
        decoding = receiver._RTCRtpReceiver__decoder_queue  # type: ignore[attr-defined]
        assert isinstance(decoding, speedups._DecodeAtOnce) and decoding._codec_name == "opus"
        video = next(t for t in callee.getTransceivers() if t.kind == "video").receiver
        assert type(video._RTCRtpReceiver__decoder_queue).__name__ == "Queue"  # type: ignore[attr-defined]
        video_sender = next(t for t in caller.getTransceivers() if t.kind == "video").sender
        assert isinstance(video_sender._RTCRtpSender__loop, asyncio.AbstractEventLoop)  # type: ignore[attr-defined]
        decoders = [t for t in threading.enumerate() if t.name == "audio-decoder"]
        assert decoders and all(t.is_alive() for t in decoders)  # waiting for the end only
        await seen.stop()
    await asyncio.wait_for(heard._task, 10)  # the track ended with the call, as in aiortc
    with pytest.raises(MediaStreamError):
        await received["audio"].recv()
    assert not any(t.is_alive() for t in decoders)


async def test_removed_gives_aiortc_s_own_path() -> None:
    with speedups.removed():
        assert not speedups.installed()
        async with _connected([ToneTrack(440)], []) as (caller, callee, received):
            heard = AudioProbe(received["audio"])
            await heard.wait_frames(10)
            sender, _ = _audio(caller)
            _, receiver = _audio(callee)
            assert isinstance(sender._RTCRtpSender__loop, asyncio.AbstractEventLoop)  # type: ignore[attr-defined]
            assert type(receiver._RTCRtpReceiver__decoder_queue).__name__ == "Queue"  # type: ignore[attr-defined]
            await heard.stop()
    assert speedups.installed()
