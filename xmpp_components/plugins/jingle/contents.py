"""Video added to a running call — a shared screen, or a request for the peer's — with Jingle's
``content-add``, ``content-accept``, ``content-reject`` and ``content-remove`` (XEP-0166 §7.2).

aiortc renegotiates on the call's peer connection: the proposer adds a transceiver and makes an
offer; it is applied only when the peer accepts (aiortc has no rollback), so a refused proposal
leaves a spare transceiver that the next proposal reuses. The peer rebuilds the proposer's whole
description from its last one plus the added content (:func:`~.sdp.renegotiated_sdp`). Every
added content is bundled onto the call's transport, so no new ICE or DTLS handshake happens; a
``content-add`` carries the bundle's credentials and fingerprints, no candidates.

One change at a time: while a proposal waits for its answer, another ``content-add`` is refused
with ``<conflict/>`` and ``<tie-break/>`` (both sides proposing at once both fail and may try
again). A removed content stays in the session as an inactive m-line; its name is never reused.

A screen share (a video marked RFC 4796 ``slides``) is also told to the message archive in
XEP-0353's words, in our namespace :data:`~.stanza.NS_JINGLE_CONTENT` (see docs/protocol.md),
so the journal files it as its own entry.
"""

from __future__ import annotations

import contextlib
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from aiortc import RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from slixmpp.exceptions import IqError, IqTimeout

from .model import SLIDES, Content, JingleError, Reason, content_to_xml, reason_to_xml
from .sdp import bundle_transport, dtls_role, renegotiated_sdp, sdp_to_jingle
from .stanza import NS_JINGLE_CONTENT, jmi_element, store_hint

if TYPE_CHECKING:
    from .call import Call

log = logging.getLogger(__name__)


class VideoState(StrEnum):
    """Where an added video is."""

    PROPOSED = "proposed"  # content-add sent or received, no answer yet
    ACTIVE = "active"      # accepted: media flows
    REJECTED = "rejected"  # refused (content-reject, or an error answering the content-add)
    REMOVED = "removed"    # content-remove, or the call ended


@dataclass
class AddedVideo:
    """A video content added to a running call."""

    name: str
    creator: str
    """Jingle role of the side that proposed it."""
    senders: str
    """Jingle ``senders``: the role that sends (``initiator``, ``responder`` or ``both``)."""
    screen: bool
    proposed_by: str
    """``local`` or ``peer``."""
    sending: bool
    """We send this video (our screen); else we receive it."""
    state: VideoState = VideoState.PROPOSED
    reason: Reason | None = None
    """Why it was refused or removed."""
    track: MediaStreamTrack | None = None
    """What we send (a screen capture), while we do."""
    remote_track: MediaStreamTrack | None = None
    """What we receive, once it arrived."""
    record_id: str = ""
    """Its id in the archive records (see :meth:`AddedVideos._record`)."""
    _offer: RTCSessionDescription | None = field(default=None, repr=False)
    _transceiver: RTCRtpTransceiver | None = field(default=None, repr=False)
    _content: Content | None = field(default=None, repr=False)

    @property
    def waiting_for_us(self) -> bool:
        """The peer proposed it and our user has not answered yet."""
        return self.state is VideoState.PROPOSED and self.proposed_by == "peer"


def _named(video: AddedVideo) -> ET.Element:
    """``<content creator name/>`` alone, as content-reject and content-remove carry it."""
    return content_to_xml(Content(video.name, creator=video.creator), with_description=False)


class AddedVideos:
    """The added videos of one call and the renegotiations behind them."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.videos: dict[str, AddedVideo] = {}
        self._removed: set[str] = set()
        self._declined: dict[str, int] = {}
        """Content names whose proposal was declined, and how often: such a name is free again
        (nothing was applied), but its next share needs another archive record id."""

    # ----------------------------------------------------------------- roles

    @property
    def own_role(self) -> str:
        """Our Jingle role in the call."""
        return "initiator" if self.call.outgoing else "responder"

    @property
    def peer_role(self) -> str:
        """The peer's Jingle role."""
        return "responder" if self.call.outgoing else "initiator"

    def _pending(self) -> AddedVideo | None:
        return next((v for v in self.videos.values() if v.state is VideoState.PROPOSED), None)

    def _check_ready(self) -> None:
        from .call import CallState

        if self.call.state is not CallState.ACTIVE or self.call.pc is None:
            raise RuntimeError("video can be added only to a connected call")
        pending = self._pending()
        if pending is not None:
            raise RuntimeError("another added video waits for an answer: "
                               + ("answer it first" if pending.waiting_for_us else "wait for it"))

    # ----------------------------------------------------------------- what the user does

    async def propose(self, track: MediaStreamTrack | None, *, screen: bool) -> AddedVideo:
        """Send ``track`` to the peer as an added video (``track=None``: ask the peer to send
        one, e.g. its screen). Returns once the peer acknowledged the ``content-add``; the
        video becomes active or rejected when the peer's user answers."""
        self._check_ready()
        pc = self.call.pc
        assert pc is not None and pc.remoteDescription is not None
        transceiver = next((t for t in pc.getTransceivers() if t.mid is None and not t.stopped
                            and t.kind == "video"), None)
        direction = "sendonly" if track is not None else "recvonly"
        if transceiver is None:
            transceiver = pc.addTransceiver(track or "video", direction=direction)
        else:  # left by a refused proposal
            transceiver.direction = direction
            transceiver.sender.replaceTrack(track)
        offer = await pc.createOffer()
        known = {t.mid for t in pc.getTransceivers() if t.mid is not None}
        contents, _group = sdp_to_jingle(offer.sdp, author_is_initiator=self.call.outgoing)
        content = next(c for c in contents if c.name not in known)
        content.creator = self.own_role
        content.media_content = SLIDES if screen else None
        content.transport = bundle_transport(offer.sdp)
        video = AddedVideo(content.name, self.own_role, content.senders, screen, "local",
                           sending=track is not None, track=track, _offer=offer,
                           _transceiver=transceiver, _content=content)
        self._keep(video)
        try:
            await self.call.plugin.send_jingle(self.call, "content-add", [content], [])
        except (IqError, IqTimeout) as error:
            text = error.iq["error"]["text"] if isinstance(error, IqError) else "no answer"
            self._close(video, VideoState.REJECTED, Reason("failed-application",
                                                           f"the peer refused: {text}"))
            raise RuntimeError(f"the other side refused the video: {text}") from None
        return video

    async def accept(self, name: str, track: MediaStreamTrack | None = None) -> None:
        """Accept the peer's proposal ``name``; ``track`` is what we send when it asked for our
        video (our screen)."""
        video = self.videos.get(name)
        if video is None or not video.waiting_for_us or video._content is None:
            raise RuntimeError(f"no proposal {name!r} waits for an answer")
        if video.sending and track is None:
            raise ValueError("the other side asked for our video: give the track to send")
        pc = self.call.pc
        assert pc is not None and pc.remoteDescription is not None
        order = [m for m in self._mids()] + [name]
        try:
            offer = renegotiated_sdp(pc.remoteDescription.sdp, [video._content], order,
                                     author_is_initiator=not self.call.outgoing,
                                     inactive=self._removed)
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            transceiver = next(t for t in pc.getTransceivers() if t.mid == name)
            transceiver.direction = "sendonly" if video.sending else "recvonly"
            transceiver.sender.replaceTrack(track if video.sending else None)
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as error:  # aiortc refuses what it cannot do with several errors
            log.warning("cannot take video %s of call %s: %s", name, self.call.sid, error)
            await self.reject(name, Reason("failed-application", f"cannot use the video: {error}"))
            raise RuntimeError(f"the video could not be set up: {error}") from None
        video._transceiver, video.track = transceiver, track if video.sending else None
        answer, _ = sdp_to_jingle(pc.localDescription.sdp, author_is_initiator=self.call.outgoing)
        content = next(c for c in answer if c.name == name)
        content.creator, content.media_content = video.creator, video._content.media_content
        content.transport = bundle_transport(pc.localDescription.sdp)
        video.state = VideoState.ACTIVE
        self._take_remote_track(video)
        self.call._notify()
        await self.call.plugin.send_jingle(self.call, "content-accept", [content], [])

    async def reject(self, name: str, reason: Reason | None = None) -> None:
        """Refuse the peer's proposal ``name``."""
        video = self.videos.get(name)
        if video is None or not video.waiting_for_us:
            raise RuntimeError(f"no proposal {name!r} waits for an answer")
        reason = reason or Reason("decline")
        self._declined[name] = self._declined.get(name, 0) + 1
        self._close(video, VideoState.REJECTED, reason)
        with contextlib.suppress(IqError, IqTimeout):
            await self.call.plugin.send_jingle(self.call, "content-reject", [],
                                               [_named(video)], reason=reason)

    async def remove(self, name: str, reason: Reason | None = None) -> None:
        """Stop an added video (ours or the peer's), or withdraw our proposal; the call goes on."""
        video = self.videos.get(name)
        if video is None or video.state not in (VideoState.PROPOSED, VideoState.ACTIVE) \
                or video.waiting_for_us:
            raise RuntimeError(f"there is no running video {name!r} to stop")
        reason = reason or Reason("success")
        if video.state is VideoState.ACTIVE:
            self._record(video, "finish", reason)
        self._close(video, VideoState.REMOVED, reason)
        with contextlib.suppress(IqError, IqTimeout):
            await self.call.plugin.send_jingle(self.call, "content-remove", [],
                                               [_named(video)], reason=reason)

    def end_all(self, *, record: bool) -> None:
        """The call ended: every added video ends with it (recorded when ``record``)."""
        for video in self.videos.values():
            if video.state in (VideoState.PROPOSED, VideoState.ACTIVE):
                if record and video.state is VideoState.ACTIVE:
                    self._record(video, "finish", Reason("success"))
                self._close(video, VideoState.REMOVED, Reason("success", "the call ended"))

    # ----------------------------------------------------------------- what the peer does

    def on_add(self, contents: list[Content]) -> AddedVideo:
        """A ``content-add``: checked here (:class:`~.model.JingleError` says what is wrong), then
        kept until our user accepts or rejects it."""
        from .call import CallState

        if self.call.state is not CallState.ACTIVE or self.call.pc is None:
            raise JingleError("unexpected-request", "content-add is possible only once the "
                                 "call is connected", "out-of-order")
        if len(contents) != 1:
            raise JingleError("bad-request", "add one content at a time")
        content = contents[0]
        if content.media != "video":
            raise JingleError("feature-not-implemented",
                                 f"only video can be added to a call, not {content.media}")
        earlier = self.videos.get(content.name)
        if content.name in self._mids() or (earlier and earlier.state is not VideoState.REJECTED):
            raise JingleError("conflict", f"there is a content named {content.name!r} already; "
                                 "choose a new name")
        if content.creator != self.peer_role:
            raise JingleError("bad-request", f"a content you add has creator={self.peer_role}")
        if content.senders not in ("initiator", "responder", "both"):
            raise JingleError("bad-request", "senders must say who sends the added video")
        if not content.payload_types:
            raise JingleError("bad-request", "the added video has no payload-type")
        if self._pending() is not None:
            raise JingleError("conflict", "another content change waits for its answer; try "
                                 "again after it", "tie-break")
        assert self.call.pc is not None and self.call.pc.remoteDescription is not None
        if content.transport is None or not content.transport.ufrag \
                or not content.transport.fingerprints:
            content.transport = bundle_transport(self.call.pc.remoteDescription.sdp)
        sending = content.senders in (self.own_role, "both")
        video = AddedVideo(content.name, content.creator, content.senders, content.screen, "peer",
                           sending=sending, _content=content)
        self._keep(video)
        self.call._notify()
        return video

    def answered(self, contents: list[Content], action: str) -> AddedVideo:
        """Our proposal that a ``content-accept`` or ``content-reject`` answers."""
        names = [c.name for c in contents]
        video = self.videos.get(names[0]) if len(names) == 1 else None
        if video is None or video.proposed_by != "local" or video.state is not VideoState.PROPOSED:
            raise JingleError("item-not-found", f"{action} names no content we proposed "
                                 f"and that waits for an answer ({', '.join(names) or 'none'})",
                                 "out-of-order")
        # recorded by the proposer, before the answer is acknowledged: the records of one share
        # then reach both archives in order, whoever ends it
        self._record(video, "propose")
        self._record(video, "accept" if action == "content-accept" else "reject")
        return video

    async def on_accept(self, video: AddedVideo, accepted: Content) -> None:
        """The peer's ``content-accept`` of ``video``: apply our offer and its answer."""
        pc = self.call.pc
        assert pc is not None and pc.remoteDescription is not None and video._offer is not None
        if accepted.transport is None or not accepted.transport.ufrag \
                or not accepted.transport.fingerprints:
            accepted.transport = bundle_transport(pc.remoteDescription.sdp)
        try:
            previous = pc.remoteDescription.sdp
            await pc.setLocalDescription(video._offer)
            order = list(self._mids())
            answer = renegotiated_sdp(previous, [accepted], order,
                                      author_is_initiator=not self.call.outgoing,
                                      inactive=self._removed,
                                      answer_to_role=dtls_role(pc.localDescription.sdp))
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as error:
            log.warning("cannot apply the accepted video %s of call %s: %s", video.name,
                        self.call.sid, error)
            self.call._spawn(self.remove(video.name, Reason("failed-application",
                                                            f"cannot use the answer: {error}")))
            return
        video.state = VideoState.ACTIVE
        self._take_remote_track(video)
        self.call._notify()

    def on_reject(self, video: AddedVideo, reason: Reason | None) -> None:
        """The peer's ``content-reject`` of our proposal ``video``."""
        self._declined[video.name] = self._declined.get(video.name, 0) + 1
        self._close(video, VideoState.REJECTED, reason or Reason("decline"))

    def on_remove(self, contents: list[Content], reason: Reason | None) -> None:
        """The peer's ``content-remove``: the video stops, the call goes on."""
        for content in contents:
            video = self.videos.get(content.name)
            if video is None or video.state not in (VideoState.PROPOSED, VideoState.ACTIVE):
                raise JingleError("item-not-found", f"there is no added content "
                                     f"{content.name!r} to remove; the call's own contents stay "
                                     "until session-terminate")
        if not contents:
            raise JingleError("bad-request", "content-remove names no <content/>")
        for content in contents:
            self._close(self.videos[content.name], VideoState.REMOVED, reason or Reason("success"))

    def on_track(self, track: MediaStreamTrack) -> bool:
        """A received track: True if it belongs to an added video (then it is kept there)."""
        assert self.call.pc is not None
        mid = next((t.mid for t in self.call.pc.getTransceivers() if t.receiver.track is track),
                   None)
        video = self.videos.get(mid or "")
        if video is None:
            return False
        video.remote_track = track if not video.sending else None
        return True

    # ----------------------------------------------------------------- internals

    def _keep(self, video: AddedVideo) -> None:
        declined = self._declined.get(video.name, 0)
        video.record_id = f"{self.call.sid}/{video.name}" + (f".{declined}" if declined else "")
        self.videos[video.name] = video

    def _mids(self) -> list[str]:
        """The session's content names, in m-line order."""
        assert self.call.pc is not None
        transceivers = [t for t in self.call.pc.getTransceivers() if t.mid is not None]
        return [t.mid for t in sorted(transceivers, key=lambda t: t._get_mline_index() or 0)
                if t.mid is not None]

    def _take_remote_track(self, video: AddedVideo) -> None:
        if video.sending or video._transceiver is None:
            return
        track = video._transceiver.receiver.track
        if track is not None:
            video.remote_track = track

    def _close(self, video: AddedVideo, state: VideoState, reason: Reason) -> None:
        """End ``video`` here: no more sending, its transceiver inactive (or spare)."""
        video.state, video.reason = state, reason
        transceiver = video._transceiver
        if transceiver is not None and not transceiver.stopped:
            transceiver.sender.replaceTrack(None)
            if transceiver.mid is not None:
                transceiver.direction = "inactive"
                self._removed.add(transceiver.mid)
        if video.track is not None:
            video.track.stop()
        video.track = video.remote_track = None
        video._offer = None
        self.call._notify()

    def _record(self, video: AddedVideo, action: str, reason: Reason | None = None) -> None:
        """Tell the message archive about a screen share, as XEP-0353 tells it about calls.

        The proposer records ``propose`` and the answer (``accept``/``reject``) once the answer
        arrives; whoever stops a running share records ``finish``, and whoever ends the call
        for shares still running. Proposals refused or withdrawn before an answer leave none."""
        if not video.screen:
            return
        with contextlib.suppress(Exception):  # the record must never break the share itself
            element = jmi_element(action, video.record_id,
                                  ("video",) if action == "propose" else (), screen=True,
                                  namespace=NS_JINGLE_CONTENT)
            if reason is not None:
                element.append(reason_to_xml(reason))
            xmpp = self.call.plugin.xmpp
            message = xmpp.make_message(mto=self.call.peer, mtype="chat")
            message.append(element)
            message.append(store_hint())
            message.send()

