"""Audio/video calls of the client session, on the ``sb_jingle`` plugin.

:class:`CallService` turns the plugin's :class:`~xmpp_components.plugins.jingle.Call` objects into
plain :class:`CallInfo` snapshots and :class:`CallChanged` events for the widgets, picks the media
sources (a microphone and camera where they exist, else a test tone and a test pattern — and says
so), keeps the last received video frame for the video panel, and writes call events (missed,
declined, duration) into the conversation with the peer.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from slixmpp import JID

from tui.settings import NO_SPEAKER, TEST_TONE, CallSettings, ClientSettings
from xmpp_components.base.background import Background
from xmpp_components.plugins.jingle import Call, CallState
from xmpp_components.plugins.jingle.contents import AddedVideo, VideoState
from xmpp_components.plugins.jingle.media import AudioProbe, TestPatternTrack, ToneTrack, VideoProbe
from xmpp_components.plugins.jingle.screen import Screen, ScreenTrack, list_screens

from .audio import AudioBackend, MicrophoneTrack, Speaker
from .callinfo import CallChanged, CallInfo, CannotTakeCalls
from .events import MessageAdded, SessionEvent
from .model import ChatMessage, Direction

if TYPE_CHECKING:
    from .client import ChatSession

log = logging.getLogger(__name__)


def _describe_end(call: Call) -> str:
    end = call.end
    if end is None:
        return ""
    if end.by == "elsewhere":
        return end.text or "handled on another device"
    if end.answered:
        minutes, seconds = divmod(int(call.duration), 60)
        return f"ended after {minutes}:{seconds:02d}"
    if end.condition == "decline":
        return "declined"
    if end.missed:
        return "missed" if not call.outgoing else "not answered"
    if end.condition == "busy":
        return "busy"
    return f"failed: {end.text or end.condition}"


class MediaSources:
    """Where a call's sound and picture come from and where the other side's voice goes, from
    the saved settings (AV4) and what this machine has; each choice comes with a note saying what
    stands in for a missing device."""

    def __init__(self, backend: AudioBackend | None = None,
                 settings: Callable[[], CallSettings] | None = None) -> None:
        self.backend = backend or AudioBackend()
        self._settings = settings or (lambda: ClientSettings.load().calls)

    def microphone(self) -> tuple[MediaStreamTrack, str]:
        """A microphone track and a note; a 440 Hz test tone where there is no usable input."""
        if not self.backend.available:
            return ToneTrack(440.0), f"no microphone ({self.backend.reason}): sending a test tone"
        wanted = self._settings().microphone
        if wanted == TEST_TONE:
            return ToneTrack(440.0), "sending a test tone (chosen in the audio settings)"
        device = self.backend.find(wanted, output=False) or next(iter(self.backend.inputs()), None)
        if device is None:
            return ToneTrack(440.0), "no microphone on this machine: sending a test tone"
        try:
            track = MicrophoneTrack(self.backend, device)
        except Exception as error:  # PortAudio refuses devices with many different errors
            return ToneTrack(440.0), f"microphone {device.name} unusable ({error}): sending a test tone"
        moved = f"microphone {wanted} is gone: using {device.name}" if wanted and \
            wanted != device.name else ""
        return track, moved

    def speaker(self, track: MediaStreamTrack) -> tuple[Speaker | None, str]:
        """Play ``track`` on the chosen output; None and a note where there is none."""
        if not self.backend.available:
            return None, "no speaker: the other side's sound is measured, not played"
        wanted = self._settings().speaker
        if wanted == NO_SPEAKER:
            return None, ""
        device = self.backend.find(wanted, output=True) or next(iter(self.backend.outputs()), None)
        if device is None:
            return None, "no speaker on this machine: the other side's sound is measured, not played"
        try:
            return Speaker(self.backend, device, track), ""
        except Exception as error:
            return None, f"speaker {device.name} unusable ({error})"

    def camera(self) -> tuple[MediaStreamTrack, str]:
        """A camera track and a note; a moving test pattern where there is no camera."""
        device = self._settings().camera or "/dev/video0"
        if os.path.exists(device):
            try:
                from aiortc.contrib.media import MediaPlayer

                player = MediaPlayer(device, format="v4l2", options={"video_size": "320x240"})
                if player.video is not None:
                    return player.video, ""
            except Exception as error:
                return TestPatternTrack(), f"camera unusable ({error}): sending a test pattern"
        return TestPatternTrack(), "no camera on this machine: sending a test pattern"

    def screens(self) -> list[Screen]:
        """The screens this machine can share; ``CaptureUnavailable`` says why there are none."""
        return list_screens()


class CallService:
    """The calls of one session."""

    def __init__(self, session: ChatSession, emit: Callable[[SessionEvent], None],
                 sources: MediaSources | None = None) -> None:
        self.session = session
        self._emit = emit
        self.sources = sources or MediaSources()
        self.calls: dict[str, Call] = {}
        self._notes: dict[str, str] = {}
        self._audio: dict[str, AudioProbe] = {}
        self._video: dict[str, VideoProbe] = {}
        self._quality: dict[str, Any] = {}
        self._speakers: dict[str, Speaker] = {}
        self._screens: dict[str, VideoProbe] = {}
        """The shared screen we see, per call."""
        self._shares: dict[tuple[str, str], tuple[VideoState, float]] = {}
        """Each added screen of a call as last seen, and since when it was in that state."""
        self._closing = Background()

    def attach(self, stream: Any) -> None:
        """Listen to the plugin of a freshly built stream."""
        stream.add_event_handler("jingle_call_incoming", self._on_incoming)
        stream.add_event_handler("jingle_call_ended", self._on_ended)

    @property
    def _jingle(self) -> Any:
        plugins: Any = self.session.stream.plugin
        return plugins["sb_jingle"]

    # ------------------------------------------------------------------ queries

    @property
    def current(self) -> CallInfo | None:
        """The call that F8/F9 act on: one that rings here first, else the running one."""
        ringing = [c for c in self.calls.values() if not c.outgoing and c.state is CallState.RINGING]
        chosen = ringing[0] if ringing else next(iter(self.calls.values()), None)
        return self.info(chosen) if chosen else None

    def info(self, call: Call) -> CallInfo:
        """A snapshot of ``call`` for the widgets."""
        quality = self._quality.get(call.sid)
        audio = self._audio.get(call.sid)
        screens = [v for v in call.videos.videos.values() if v.screen]
        offered = next((v for v in screens if v.waiting_for_us), None)
        return CallInfo(
            sid=call.sid, peer=JID(call.peer).bare, device=str(call.peer), outgoing=call.outgoing,
            video="video" in call.media, state=call.state.value, remote_ringing=call.remote_ringing,
            duration=call.duration, answered=call.answered_at is not None,
            on_hold=call.local_hold or call.remote_hold, held_by_peer=call.remote_hold,
            muted="audio" in call.local_muted, camera_off="video" in call.local_muted
            or ("video" in call.media and "video" not in call.local_tracks
                and (call.outgoing or call.state is not CallState.RINGING)),  # none yet: not off
            peer_muted="audio" in call.remote_muted, ended=_describe_end(call),
            round_trip_ms=quality.round_trip_ms if quality else None,
            loss=quality.loss if quality else 0.0, codecs=dict(call.codecs),
            peer_level=audio.level() if audio else 0.0, media_note=self._notes.get(call.sid, ""),
            sharing=any(v.sending and v.state is VideoState.ACTIVE for v in screens),
            viewing=any(not v.sending and v.state is VideoState.ACTIVE for v in screens),
            share_waiting=any(v.proposed_by == "local" and v.state is VideoState.PROPOSED
                              for v in screens),
            share_offered="" if offered is None else "request" if offered.sending else "show",
            share_offered_name=offered.name if offered else "")

    def video_frame(self, sid: str, width: int, height: int) -> np.ndarray | None:
        """The newest received video frame of call ``sid`` scaled to ``width``×``height`` RGB."""
        probe = self._video.get(sid)
        if probe is None or probe.last is None:
            return None
        return probe.last.reformat(width=width, height=height, format="rgb24").to_ndarray()

    def screen_frame(self, sid: str, width: int, height: int) -> np.ndarray | None:
        """The newest frame of the peer's screen shared in call ``sid``, scaled like
        :meth:`video_frame`."""
        probe = self._screens.get(sid)
        if probe is None or probe.last is None:
            return None
        return probe.last.reformat(width=width, height=height, format="rgb24").to_ndarray()

    # ------------------------------------------------------------------ actions

    async def call(self, jid: str, *, video: bool = False) -> CallInfo:
        """Call every device of ``jid``; :class:`CannotTakeCalls` when each of its devices
        online is known not to take calls (an offline contact is called: its devices ring if
        they come online while the call rings)."""
        online, taking = await self._jingle.devices_for_calls(JID(jid).bare)
        if online and not taking:
            raise CannotTakeCalls(JID(jid).bare, [device.resource for device in online])
        audio, note = self.sources.microphone()
        camera = None
        if video:
            camera, camera_note = self.sources.camera()
            note = "; ".join(n for n in (note, camera_note) if n)
        contact = self.session.contacts.get(JID(jid).bare)  # "offline" only where we see their
        if not online and contact is not None and contact.subscription in ("both", "to"):  # presence
            offline = (f"{JID(jid).user or jid} is offline: a device of theirs rings if it comes "
                       f"online within {self._jingle.ring_timeout:.0f} s")
            note = "; ".join(n for n in (offline, note) if n)
        call = await self._jingle.call(JID(jid).bare, audio=audio, video=camera,
                                       media=("audio", "video") if video else ("audio",))
        self._notes[call.sid] = note
        self._track(call)
        return self.info(call)

    async def answer(self, *, video: bool | None = None) -> CallInfo | None:
        """Answer the call that rings here (with the camera if it is a video call)."""
        call = self._ringing()
        if call is None:
            return None
        audio, note = self.sources.microphone()
        camera = None
        if video if video is not None else "video" in call.media:
            camera, camera_note = self.sources.camera()
            note = "; ".join(n for n in (note, camera_note) if n)
        self._notes[call.sid] = note
        await call.accept(audio=audio, video=camera)
        return self.info(call)

    async def hangup(self) -> CallInfo | None:
        """Decline the ringing call, or end the running one."""
        call = self._ringing() or next(iter(self.calls.values()), None)
        if call is None:
            return None
        await call.hangup()
        return self.info(call)

    async def toggle_mute(self) -> None:
        """Microphone off / on in the running call."""
        call = self._running()
        if call is not None:
            await (call.unmute("audio") if "audio" in call.local_muted else call.mute("audio"))

    async def toggle_hold(self) -> None:
        """Hold / resume the running call."""
        call = self._running()
        if call is not None:
            await (call.unhold() if call.local_hold else call.hold())

    async def toggle_camera(self) -> None:
        """Camera off / on in a running video call."""
        call = self._running()
        if call is not None and "video" in call.local_tracks:
            await (call.unmute("video") if "video" in call.local_muted else call.mute("video"))

    async def share_screen(self, screen: Screen) -> None:
        """Show the peer ``screen`` in the running call (it is asked to accept)."""
        call = self._connected()
        await call.share_screen(ScreenTrack(screen))

    async def request_screen(self) -> None:
        """Ask the peer of the running call to show us a screen."""
        await self._connected().request_screen()

    async def stop_sharing(self) -> bool:
        """Stop every screen shown or seen in the running call, and withdraw our proposals;
        False when there was none."""
        call = self._running()
        videos = [] if call is None else [
            v for v in call.videos.videos.values() if v.screen and (
                v.state is VideoState.ACTIVE or (v.state is VideoState.PROPOSED
                                                 and v.proposed_by == "local"))]
        for video in videos:
            assert call is not None
            await call.remove_video(video.name)
        return bool(videos)

    async def answer_share(self, name: str, screen: Screen | None, *, accept: bool) -> None:
        """Answer the peer's screen proposal ``name``: view its screen, or show it ``screen``
        when it asked for ours; or decline."""
        call = self._running()
        if call is None:
            return
        if not accept:
            await call.reject_video(name)
            return
        await call.accept_video(name, ScreenTrack(screen) if screen is not None else None)

    async def refresh_quality(self) -> None:
        """Read fresh statistics of running calls and tell the widgets."""
        for call in list(self.calls.values()):
            if call.state is CallState.ACTIVE:
                self._quality[call.sid] = await call.quality()
                self._emit(CallChanged(self.info(call)))

    # ------------------------------------------------------------------ internals

    def _ringing(self) -> Call | None:
        return next((c for c in self.calls.values()
                     if not c.outgoing and c.state is CallState.RINGING), None)

    def _running(self) -> Call | None:
        return next((c for c in self.calls.values()
                     if c.state in (CallState.CONNECTING, CallState.ACTIVE)), None)

    def _connected(self) -> Call:
        call = self._running()
        if call is None or call.state is not CallState.ACTIVE:
            raise RuntimeError("screens are shared in a connected call: call first (F8)")
        return call

    def _track(self, call: Call) -> None:
        self.calls[call.sid] = call
        call.listeners.append(self._on_change)
        self._emit(CallChanged(self.info(call)))

    def _on_incoming(self, call: Call) -> None:
        self._track(call)

    def _on_change(self, call: Call) -> None:
        for kind, track in call.remote_tracks.items():
            if kind == "audio" and call.sid not in self._audio:
                relay = MediaRelay()  # one reader for the level meter, one for the speaker
                self._audio[call.sid] = AudioProbe(relay.subscribe(track), keep_seconds=0.5)
                speaker, note = self.sources.speaker(relay.subscribe(track))
                if speaker is not None:
                    self._speakers[call.sid] = speaker
                if note:
                    self._notes[call.sid] = "; ".join(n for n in (self._notes.get(call.sid), note) if n)
            elif kind == "video" and call.sid not in self._video:
                self._video[call.sid] = VideoProbe(track)
        for video in call.videos.videos.values():
            if video.screen:
                self._follow_share(call, video)
        if call.state is not CallState.ENDED:
            self._emit(CallChanged(self.info(call)))

    def _on_ended(self, call: Call) -> None:
        if self.calls.pop(call.sid, None) is None:
            return
        readers = (self._audio.pop(call.sid, None), self._video.pop(call.sid, None),
                   self._speakers.pop(call.sid, None), self._screens.pop(call.sid, None))
        for reader in readers:
            if reader is not None:  # stopped in the background: the call has ended already
                self._stop_later(reader)
        self._quality.pop(call.sid, None)
        for key in [k for k in self._shares if k[0] == call.sid]:
            del self._shares[key]
        info = self.info(call)
        self._notes.pop(call.sid, None)
        self._record(call, info)
        self._emit(CallChanged(info))

    def _stop_later(self, reader: AudioProbe | VideoProbe | Speaker) -> None:
        self._closing.spawn(reader.close() if isinstance(reader, Speaker) else reader.stop())

    def _follow_share(self, call: Call, video: AddedVideo) -> None:
        """Show the peer's screen while it is shared; a line in the conversation when a share
        ends or is declined."""
        key = (call.sid, video.name)
        seen, since = self._shares.get(key, (None, 0.0))
        if video.state is VideoState.ACTIVE and not video.sending and video.remote_track is not None \
                and call.sid not in self._screens:
            self._screens[call.sid] = VideoProbe(video.remote_track)
        if seen is video.state:
            return
        self._shares[key] = (video.state, time.time())
        if video.state in (VideoState.REMOVED, VideoState.REJECTED) and not video.sending:
            probe = self._screens.pop(call.sid, None)
            if probe is not None:
                self._stop_later(probe)
        kind = "Outgoing" if video.sending else "Incoming"
        if seen is VideoState.ACTIVE and video.state is VideoState.REMOVED:
            minutes, seconds = divmod(int(time.time() - since), 60)
            self._note(call, f"🖥 {kind} screen share — ended after {minutes}:{seconds:02d}")
        elif seen is VideoState.PROPOSED and video.state is VideoState.REJECTED:
            declined = video.reason is not None and video.reason.condition == "decline"
            what = "declined" if declined else f"failed: {video.reason.text if video.reason else ''}"
            self._note(call, f"🖥 {kind} screen share — {what}")

    def _record(self, call: Call, info: CallInfo) -> None:
        """A line in the conversation with the peer: what kind of call, and how it ended."""
        kind = "video call" if info.video else "call"
        self._note(call, f"📞 {'Outgoing' if call.outgoing else 'Incoming'} {kind} — {info.ended}",
                   dt.datetime.fromtimestamp(call.created_at, dt.UTC))

    def _note(self, call: Call, body: str, when: dt.datetime | None = None) -> None:
        """Add a call-event line to the conversation with the call's peer."""
        peer = JID(call.peer).bare
        conversation = self.session.conversation(peer)
        # a note, not a chat message: no ticks to track, so it is filed as incoming either way
        message = ChatMessage(f"call-{call.sid}-{uuid.uuid4().hex[:6]}", Direction.INCOMING,
                              self.session.jid.bare if call.outgoing else peer, body,
                              when or dt.datetime.now(dt.UTC))
        index = conversation.add(message)
        self._emit(MessageAdded(conversation.jid, message, index))
