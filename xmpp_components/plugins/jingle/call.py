"""One audio/video call: a Jingle RTP session (XEP-0166/0167) carried by an aiortc peer connection.

A :class:`Call` is created by :class:`~.plugin.JinglePlugin` — by :meth:`JinglePlugin.call` for an
outgoing call, or when a JMI ``<propose/>`` or a ``session-initiate`` arrives. Its user answers,
rejects, holds, mutes and hangs up through it; everything the peer does arrives through the
plugin's handlers (``on_*`` methods). Listeners get the call after every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from slixmpp import JID

from .contents import AddedVideo, AddedVideos, VideoState
from .model import (
    NS_RTP_INFO,
    Candidate,
    Content,
    Group,
    Reason,
    group_to_xml,
)
from .sdp import candidate_to_aiortc, jingle_to_sdp, sdp_to_jingle
from .trickle import Trickle

if TYPE_CHECKING:
    from .plugin import JinglePlugin

log = logging.getLogger(__name__)


class CallState(StrEnum):
    """Where a call is."""

    PROPOSING = "proposing"    # outgoing: JMI propose sent, no device rings yet
    RINGING = "ringing"        # incoming: rings here; outgoing: a device of the callee rings
    CONNECTING = "connecting"  # answered: offer/answer and ICE/DTLS under way
    ACTIVE = "active"          # media flows (or may: hold is a flag, not a state)
    ENDED = "ended"


@dataclass(frozen=True)
class CallEnd:
    """How a call ended: a Jingle reason condition, its text, and who ended it."""

    condition: str
    text: str | None
    by: str  # "local", "peer" or "elsewhere" (another device of ours answered or declined)
    answered: bool

    @property
    def missed(self) -> bool:
        """An incoming or outgoing call that nobody answered and nobody declined."""
        return not self.answered and self.condition in ("cancel", "timeout", "gone")


@dataclass(frozen=True)
class CallQuality:
    """What the connection looks like now, from aiortc's statistics."""

    round_trip_ms: float | None
    packets_received: int
    packets_lost: int
    codecs: dict[str, str]

    @property
    def loss(self) -> float:
        """Fraction of packets lost, 0 … 1."""
        total = self.packets_received + self.packets_lost
        return self.packets_lost / total if total else 0.0


class Call:
    """An audio or video call with one peer device."""

    def __init__(self, plugin: JinglePlugin, sid: str, peer: JID, *, outgoing: bool,
                 media: tuple[str, ...], jmi: bool) -> None:
        self.plugin = plugin
        self.sid = sid
        self.peer = peer
        self.outgoing = outgoing
        self.media = media
        self.jmi = jmi
        self.screen = False
        """The call's own video is a shared screen (RFC 4796 ``slides``)."""
        self.videos = AddedVideos(self)
        self.state = CallState.PROPOSING if outgoing else CallState.RINGING
        self.created_at = time.time()
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.end: CallEnd | None = None
        self.remote_ringing = False
        self.local_hold = False
        self.remote_hold = False
        self.local_muted: set[str] = set()
        self.remote_muted: set[str] = set()
        self.local_tracks: dict[str, MediaStreamTrack] = {}
        self.remote_tracks: dict[str, MediaStreamTrack] = {}
        self.codecs: dict[str, str] = {}
        self.listeners: list[Callable[[Call], None]] = []
        self.pc: RTCPeerConnection | None = None
        self._description: RTCSessionDescription | None = None  # our offer, once written
        self._prepared = asyncio.Event()
        self._trickle: Trickle | None = None
        self._gathered: asyncio.Task[None] | None = None
        self._offer: tuple[list[Content], Group | None] | None = None
        self._content_index: dict[str, int] = {}
        self._content_kinds: dict[str, str] = {}
        self._creators: dict[str, str] = {}
        self._pending: list[tuple[str, Candidate | None]] = []
        self._remote_described = False
        self._accepted = False
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------- what the user does

    @property
    def duration(self) -> float:
        """Seconds since the call was answered (0 before), frozen at its end."""
        if self.answered_at is None:
            return 0.0
        return (self.ended_at or time.time()) - self.answered_at

    async def accept(self, audio: MediaStreamTrack | None = None,
                     video: MediaStreamTrack | None = None) -> None:
        """Answer an incoming call, sending ``audio`` / ``video`` (either may be absent)."""
        if self.outgoing or self.state is not CallState.RINGING or self._accepted:
            raise RuntimeError(f"cannot answer a call that is {self.state}")
        self._accepted = True
        self._keep_tracks(audio, video)
        self._set_state(CallState.CONNECTING)
        self._spawn(self._connect_deadline())
        if self.jmi:
            self.plugin.send_jmi(JID(self.plugin.xmpp.boundjid.bare), "accept", self.sid)
            self.plugin.send_jmi(self.peer, "proceed", self.sid)
        if self._offer is not None:
            await self._answer()

    async def _connect_deadline(self) -> None:
        """An answered call that never connects (no session-initiate, ICE never completes)."""
        await asyncio.sleep(self.plugin.connect_timeout)  # the deadline itself
        if self.state is CallState.CONNECTING:
            await self._terminate(Reason("timeout", "the call did not connect"))
            self._end("timeout", "the call did not connect", "local")

    async def reject(self, condition: str = "decline") -> None:
        """Decline an incoming call that rings here."""
        if self.state is CallState.ENDED:
            return
        if self.jmi and self._offer is None:
            self.plugin.send_jmi(self.peer, "reject", self.sid, reason=Reason(condition))
        else:
            await self._terminate(Reason(condition))
        self._end(condition, None, "local")

    async def hangup(self) -> None:
        """End the call whatever its state: retract a proposal, decline, or terminate."""
        if self.state is CallState.ENDED:
            return
        if not self.outgoing and self.state is CallState.RINGING:
            await self.reject()
        elif self.outgoing and self.state in (CallState.PROPOSING, CallState.RINGING) \
                and self.jmi and not self.peer.resource:
            self.plugin.send_jmi(self.peer, "retract", self.sid, reason=Reason("cancel"))
            self._end("cancel", None, "local")
        else:
            await self._terminate(Reason("success"))
            self._end("success", None, "local")

    async def hold(self) -> None:
        """Put the peer on hold: media stops both ways (XEP-0167 §7.1)."""
        self.local_hold = True
        await self._send_info(ET.Element(f"{{{NS_RTP_INFO}}}hold"))
        await self._apply_senders()

    async def unhold(self) -> None:
        """Resume from hold."""
        self.local_hold = False
        await self._send_info(ET.Element(f"{{{NS_RTP_INFO}}}unhold"))
        await self._apply_senders()

    async def mute(self, kind: str = "audio") -> None:
        """Stop sending ``kind`` (microphone mute, camera off) and tell the peer."""
        self.local_muted.add(kind)
        await self._send_mute("mute", kind)
        await self._apply_senders()

    async def unmute(self, kind: str = "audio") -> None:
        """Send ``kind`` again."""
        self.local_muted.discard(kind)
        await self._send_mute("unmute", kind)
        await self._apply_senders()

    async def share_screen(self, track: MediaStreamTrack) -> AddedVideo:
        """Show the peer ``track`` (a screen capture) as an added video (``content-add``); it
        is active once the peer accepts (see :meth:`wait_video`)."""
        return await self.videos.propose(track, screen=True)

    async def request_screen(self) -> AddedVideo:
        """Ask the peer to share a screen with us; its user chooses one or declines."""
        return await self.videos.propose(None, screen=True)

    async def accept_video(self, name: str, track: MediaStreamTrack | None = None) -> None:
        """Accept the peer's added video ``name``, sending ``track`` when it asked for ours."""
        await self.videos.accept(name, track)

    async def reject_video(self, name: str) -> None:
        """Decline the peer's added video ``name`` (or its request for ours)."""
        await self.videos.reject(name)

    async def remove_video(self, name: str) -> None:
        """Stop an added video, or withdraw our proposal; the call goes on."""
        await self.videos.remove(name)

    async def wait_video(self, name: str | None, *states: VideoState,
                         timeout: float = 15.0) -> AddedVideo:
        """Wait until the added video ``name`` (None: the newest) is in one of ``states``."""
        async def reached() -> AddedVideo:
            while True:
                video = self.videos.videos.get(name) if name is not None else \
                    next(reversed(self.videos.videos.values()), None)
                if video is not None and video.state in states:
                    return video
                if self.state is CallState.ENDED:
                    raise RuntimeError("the call ended")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(reached(), timeout)

    async def wait_state(self, *states: CallState, timeout: float = 15.0) -> CallState:
        """Wait until the call is in one of ``states`` (or ended); return the state."""
        async def reached() -> CallState:
            while self.state not in states and self.state is not CallState.ENDED:
                self._changed.clear()
                await self._changed.wait()
            return self.state

        return await asyncio.wait_for(reached(), timeout)

    async def wait_remote_track(self, kind: str, timeout: float = 15.0) -> MediaStreamTrack:
        """The peer's ``kind`` track, once it arrived."""
        async def arrived() -> MediaStreamTrack:
            while kind not in self.remote_tracks:
                if self.state is CallState.ENDED:
                    raise RuntimeError(f"call ended before a {kind} track arrived")
                self._changed.clear()
                await self._changed.wait()
            return self.remote_tracks[kind]

        return await asyncio.wait_for(arrived(), timeout)

    async def quality(self) -> CallQuality:
        """Round-trip time, packets and codecs now."""
        rtt: float | None = None
        received = lost = 0
        if self.pc is not None:
            for stat in (await self.pc.getStats()).values():
                if stat.type == "remote-inbound-rtp" and stat.roundTripTime is not None:
                    rtt = stat.roundTripTime * 1000
                elif stat.type == "inbound-rtp":
                    received += stat.packetsReceived
                    lost += max(0, stat.packetsLost)
        return CallQuality(rtt, received, lost, dict(self.codecs))

    # ----------------------------------------------------------------- internals

    def _notify(self) -> None:
        self._changed.set()
        for listener in list(self.listeners):
            try:
                listener(self)
            except Exception:
                log.exception("call listener failed")

    def _set_state(self, state: CallState) -> None:
        if self.state is not CallState.ENDED and state is not self.state:
            self.state = state
            self._notify()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep_tracks(self, audio: MediaStreamTrack | None, video: MediaStreamTrack | None) -> None:
        for track in (audio, video):
            if track is not None:
                self.local_tracks[track.kind] = track

    async def _new_pc(self) -> RTCPeerConnection:
        servers, policy = await self.plugin.ice_configuration()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        self.pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if not self.videos.on_track(track):
                self.remote_tracks[track.kind] = track
            self._notify()

        @pc.on("connectionstatechange")
        async def on_connection_state() -> None:
            if pc.connectionState == "connected":
                if self.answered_at is None:
                    self.answered_at = time.time()
                self._set_state(CallState.ACTIVE)
            elif pc.connectionState == "failed" and self.state is not CallState.ENDED:
                await self._terminate(Reason("failed-transport", "ICE or DTLS failed"))
                self._end("failed-transport", "the media connection failed", "local")

        return pc

    async def prepare_offer(self, audio: MediaStreamTrack | None,
                            video: MediaStreamTrack | None) -> None:
        """Build the offer while the callee's devices ring; candidates are gathered from here on
        (with trickle) or before this returns."""
        self._keep_tracks(audio, video)
        pc = await self._new_pc()
        for kind in self.media:
            track = self.local_tracks.get(kind)
            if track is not None:
                pc.addTrack(track)
            else:
                pc.addTransceiver(kind, direction="recvonly")
        offer = await pc.createOffer()
        if self.plugin.trickle:
            self._description = offer
            self._start_gathering(pc, offer)
        else:
            await pc.setLocalDescription(offer)
            self._description = pc.localDescription
        self._prepared.set()

    async def initiate(self) -> None:
        """Send ``session-initiate`` with the prepared offer to :attr:`peer`."""
        await self._prepared.wait()  # a device may answer before the offer is written
        assert self._description is not None
        contents, group = sdp_to_jingle(self._description.sdp, author_is_initiator=True)
        self._index_contents(contents)
        self._set_state(CallState.CONNECTING)
        extra = [group_to_xml(group)] if group else []
        await self._send_session("session-initiate", contents, extra)

    def _start_gathering(self, pc: RTCPeerConnection, description: RTCSessionDescription) -> None:
        self._trickle = Trickle(pc, self._creators,
                                lambda contents: self.plugin.send_jingle(
                                    self, "transport-info", contents, []))
        self._gathered = asyncio.create_task(self._gather(self._trickle, description))
        self._tasks.add(self._gathered)
        self._gathered.add_done_callback(self._tasks.discard)

    async def _gather(self, trickle: Trickle, description: RTCSessionDescription) -> None:
        try:
            await trickle.gather(description)
        except Exception as error:  # aiortc refused its own description, or a closed connection
            if self.state is not CallState.ENDED:
                log.warning("gathering for call %s failed: %s", self.sid, error)
                await self._terminate(Reason("failed-transport", "ICE gathering failed"))
                self._end("failed-transport", f"ICE gathering failed: {error}", "local")

    async def _send_session(self, action: str, contents: list[Content],
                            extra: list[ET.Element]) -> None:
        """Send session-initiate or -accept with the candidates found so far; the rest trickle
        after it (never before: the stream keeps the order in which stanzas are sent)."""
        if self._trickle is not None:
            self._trickle.include_found(contents)
        answer = self.plugin.send_jingle(self, action, contents, extra)
        if self._trickle is not None:
            self._trickle.open()
        await answer

    def _index_contents(self, contents: list[Content]) -> None:
        for i, content in enumerate(contents):
            self._content_index[content.name] = i
            self._content_kinds[content.name] = content.media
            self._creators[content.name] = content.creator

    async def _answer(self) -> None:
        assert self._offer is not None
        contents, group = self._offer
        try:
            sdp = jingle_to_sdp(contents, group, author_is_initiator=True)
            pc = await self._new_pc()
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            self._remote_described = True
            await self._flush_candidates()
            for track in self.local_tracks.values():
                pc.addTrack(track)
            description = await pc.createAnswer()
            if not self.plugin.trickle:
                await pc.setLocalDescription(description)
                description = pc.localDescription
        except Exception as error:  # aiortc refuses what it cannot do with ValueError and others
            log.warning("cannot answer call %s: %s", self.sid, error)
            await self._terminate(Reason("failed-application", f"cannot use the offer: {error}"))
            self._end("failed-application", str(error), "local")
            return
        answer, answer_group = sdp_to_jingle(description.sdp, author_is_initiator=False,
                                             creators=self._creators)
        self._remember_codecs(answer)
        if self.plugin.trickle:
            self._start_gathering(pc, description)
        await self._send_session("session-accept", answer,
                                 [group_to_xml(answer_group)] if answer_group else [])

    def _remember_codecs(self, contents: list[Content]) -> None:
        for content in contents:
            if content.payload_types:
                pt = content.payload_types[0]
                self.codecs[content.media] = f"{pt.name}/{pt.clockrate}"

    async def _flush_candidates(self) -> None:
        """Add the candidates that came before the remote description, in their order; those
        arriving meanwhile queue behind them (an end-of-candidates must not overtake them)."""
        while self._pending:
            try:
                await self._use_candidate(*self._pending[0])
            finally:
                self._pending.pop(0)

    async def _add_candidate(self, name: str, candidate: Candidate | None) -> None:
        if self.pc is None or not self._remote_described or self._pending:
            self._pending.append((name, candidate))
        else:
            await self._use_candidate(name, candidate)

    async def _use_candidate(self, name: str, candidate: Candidate | None) -> None:
        assert self.pc is not None
        if candidate is None:
            await self.pc.addIceCandidate(None)
        elif name in self._content_index:
            await self.pc.addIceCandidate(
                candidate_to_aiortc(candidate, name, self._content_index[name]))

    async def _apply_senders(self) -> None:
        if self.pc is None:
            return
        paused = self.local_hold or self.remote_hold
        added = {id(v._transceiver): v for v in self.videos.videos.values()}
        for transceiver in self.pc.getTransceivers():
            kind = transceiver.kind
            if id(transceiver) in added:  # an added video (a shared screen) follows hold only
                wanted = None if paused else added[id(transceiver)].track
            else:
                wanted = None if paused or kind in self.local_muted else self.local_tracks.get(kind)
            if transceiver.sender.track is not wanted:
                transceiver.sender.replaceTrack(wanted)
        self._notify()

    async def _send_info(self, payload: ET.Element) -> None:
        if self.state in (CallState.CONNECTING, CallState.ACTIVE) or self._offer is not None:
            await self.plugin.send_jingle(self, "session-info", [], [payload])

    async def _send_mute(self, action: str, kind: str) -> None:
        for name, media in self._content_kinds.items():
            if media == kind:
                creator = self._creators.get(name, "initiator")
                await self._send_info(ET.Element(f"{{{NS_RTP_INFO}}}{action}", creator=creator,
                                                 name=name))

    async def _terminate(self, reason: Reason) -> None:
        """Send ``session-terminate`` if a session was started, and the JMI ``<finish/>``."""
        if self.state in (CallState.CONNECTING, CallState.ACTIVE) or self._offer is not None:
            with contextlib.suppress(Exception):
                await self.plugin.send_jingle(self, "session-terminate", [], [], reason=reason)
        if self.jmi and self.state in (CallState.CONNECTING, CallState.ACTIVE):
            self.plugin.send_jmi(JID(self.peer.bare), "finish", self.sid, reason=reason)

    def _end(self, condition: str, text: str | None, by: str) -> None:
        if self.state is CallState.ENDED:
            return
        self.end = CallEnd(condition, text, by, self.answered_at is not None)
        self.ended_at = time.time()
        self.state = CallState.ENDED
        self.videos.end_all(record=by == "local" or condition == "gone")
        self.plugin.forget(self)
        self._spawn(self._close())
        self._notify()

    async def _close(self) -> None:
        for track in self.local_tracks.values():
            track.stop()
        if self.pc is not None:
            await self.pc.close()
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()

    async def closed(self) -> None:
        """Wait until the peer connection and every task of the call are gone."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ----------------------------------------------------------------- what the peer does

    def on_jmi(self, action: str, reason: Reason | None, sender: JID, *, own_device: bool) -> None:
        """A JMI message about this call from the peer, or from another device of ours."""
        if own_device:
            if not self.outgoing and self.state is CallState.RINGING and \
                    action in ("accept", "proceed", "reject"):
                text = "answered on another device" if action != "reject" else \
                    "declined on another device"
                self._end("cancel", text, "elsewhere")
            return
        if self.outgoing:
            if action == "ringing" and self.state is CallState.PROPOSING:
                self.remote_ringing = True
                self._set_state(CallState.RINGING)
            elif action in ("proceed", "accept") and not self.peer.resource and sender.resource:
                self.peer = sender
                self._spawn(self._initiate_safely())
            elif action == "proceed" and self.peer.resource and sender != self.peer:
                # a second device answered a moment after the first: tell it the call is taken
                self.plugin.send_jmi(sender, "finish", self.sid,
                                     reason=Reason("cancel", "answered on another device"))
            elif action == "reject" and not self.peer.resource:
                self._end((reason.condition if reason else "decline"), reason.text if reason else None,
                          "peer")
        elif action == "retract" and self.state is CallState.RINGING:
            self._end(reason.condition if reason and reason.condition != "success" else "cancel",
                      reason.text if reason else None, "peer")
        if action == "finish" and self.state is not CallState.ENDED:
            self._end(reason.condition if reason else "success", reason.text if reason else None,
                      "peer")

    async def _initiate_safely(self) -> None:
        try:
            await self.initiate()
        except Exception as error:
            log.warning("session-initiate for %s failed: %s", self.sid, error)
            self._end("failed-application", f"the peer refused the session: {error}", "local")

    def on_session_initiate(self, contents: list[Content], group: Group | None) -> None:
        """The peer's offer; answered now if the user already accepted, else when they do."""
        self._offer = (contents, group)
        self._index_contents(contents)
        self._remember_codecs(contents)
        if self._accepted:
            self._spawn(self._answer())

    async def on_session_accept(self, contents: list[Content], group: Group | None) -> None:
        """The peer's answer to our offer."""
        assert self.pc is not None
        sdp = jingle_to_sdp(contents, group, author_is_initiator=False)
        self._remember_codecs(contents)
        if self._gathered is not None:
            await self._gathered  # aiortc takes the answer only once our offer is set
            if self.state is CallState.ENDED:
                return
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        self._remote_described = True
        await self._flush_candidates()

    async def on_transport_info(self, contents: list[Content]) -> None:
        """Trickled candidates (and the end of them)."""
        for content in contents:
            if content.transport is None:
                continue
            for candidate in content.transport.candidates:
                await self._add_candidate(content.name, candidate)
            if content.transport.gathering_complete:
                await self._add_candidate(content.name, None)

    async def on_session_info(self, payloads: list[ET.Element]) -> None:
        """Ringing, active, hold, unhold, mute, unmute from the peer."""
        for payload in payloads:
            action = payload.tag.rsplit("}", 1)[-1]
            if action == "ringing":
                self.remote_ringing = True
                if self.state is CallState.PROPOSING:
                    self._set_state(CallState.RINGING)
                else:  # without JMI the session is already connecting
                    self._notify()
            elif action in ("hold", "unhold"):
                self.remote_hold = action == "hold"
                await self._apply_senders()
            elif action in ("mute", "unmute"):
                kind = self._content_kinds.get(payload.get("name", ""))
                kinds = [kind] if kind else list(self._content_kinds.values())
                for k in kinds:
                    (self.remote_muted.add if action == "mute" else self.remote_muted.discard)(k)
                self._notify()

    def on_session_terminate(self, reason: Reason | None) -> None:
        """The peer ended the session."""
        condition = reason.condition if reason else "success"
        self._end(condition, reason.text if reason else None, "peer")

    def on_peer_gone(self) -> None:
        """The peer's device went offline mid-call."""
        self._end("gone", "the other device went offline", "peer")
