"""``sb_jingle``: audio/video calls for any slixmpp stream — Jingle RTP over ICE-UDP and
DTLS-SRTP (XEP-0166/0167/0176/0320), started with Jingle Message Initiation (XEP-0353), with
STUN/TURN from the server (XEP-0215) and media by aiortc.

Stanzas are routed by one IQ handler and one message handler (plus carbons), not one per
action. Calls are :class:`~.call.Call` objects; the stream fires ``jingle_call_incoming`` with a
new incoming call (it rings until answered, declined or cancelled) and ``jingle_call_ended`` with
each call that ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from aiortc import RTCIceServer
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from slixmpp import JID, Iq, Message, Presence
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins import BasePlugin
from slixmpp.xmlstream import register_stanza_plugin
from slixmpp.xmlstream.handler import Callback, CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath
from slixmpp.xmlstream.matcher.base import MatcherBase

from .call import Call, CallState
from .hostaddresses import restrict_host_addresses
from .model import (
    NS_DTLS,
    NS_ERRORS,
    NS_GROUPING,
    NS_HDREXT,
    NS_ICE,
    NS_JINGLE,
    NS_MEDIA_CONTENT,
    NS_RTCP_FB,
    NS_RTP,
    NS_RTP_INFO,
    NS_SSMA,
    SLIDES,
    Content,
    JingleError,
    JingleFormatError,
    Reason,
    content_to_xml,
    contents_from_jingle,
    group_from_jingle,
    reason_from_jingle,
    reason_from_xml,
    reason_to_xml,
)
from .stanza import NS_JMI, Jingle, jmi_element, jmi_of, store_hint

log = logging.getLogger(__name__)

NS_EXTDISCO = "urn:xmpp:extdisco:2"
AUDIO_CALLS = "urn:xmpp:jingle:apps:rtp:audio"
"""What a device that takes audio calls announces (XEP-0167 §11)."""
FEATURES = (NS_JINGLE, NS_RTP, AUDIO_CALLS, "urn:xmpp:jingle:apps:rtp:video",
            NS_ICE, NS_DTLS, NS_JMI, NS_RTCP_FB, NS_HDREXT, NS_GROUPING, NS_SSMA, NS_RTP_INFO)


class _JmiMatcher(MatcherBase):  # type: ignore[misc]
    """Messages that carry a XEP-0353 element directly (not forwarded by carbons or MAM)."""

    def __init__(self) -> None:
        super().__init__("jmi")

    def match(self, stanza: Any) -> bool:
        return isinstance(stanza, Message) and jmi_of(stanza.xml) is not None


class JinglePlugin(BasePlugin):  # type: ignore[misc]
    """Audio/video calls: see the module docstring."""

    name = "sb_jingle"
    description = "Jingle RTP calls on aiortc with Jingle Message Initiation"
    dependencies = {"xep_0030", "xep_0280", "xep_0334"}
    default_config = {
        #: gather host candidates only on these addresses (e.g. ["127.0.0.1"]); None: all
        "host_addresses": None,
        #: ask the server for STUN/TURN (XEP-0215) before each call
        "use_server_ice": True,
        #: "all" or "relay" (TURN only)
        "ice_transport_policy": "all",
        #: seconds an outgoing call rings before it is withdrawn as unanswered
        "ring_timeout": 45.0,
        #: seconds to wait for the answer to a Jingle IQ
        "iq_timeout": 10.0,
        #: seconds an answered call may take to connect before it is given up
        "connect_timeout": 30.0,
        #: send session-initiate/-accept before gathering, our candidates after it in
        #: transport-info (XEP-0176 trickle); False: gather first, all candidates inside
        "trickle": True,
    }

    def plugin_init(self) -> None:
        self.calls: dict[str, Call] = {}
        register_stanza_plugin(Iq, Jingle)
        if self.host_addresses is not None:
            restrict_host_addresses(self.host_addresses)
        self.xmpp.register_handler(CoroutineCallback(
            "Jingle", StanzaPath("iq@type=set/jingle"), self._on_jingle_iq))
        self.xmpp.register_handler(Callback("Jingle Message Initiation", _JmiMatcher(),
                                            self._on_jmi_message))
        self.xmpp.add_event_handler("carbon_sent", self._on_carbon)
        self.xmpp.add_event_handler("carbon_received", self._on_carbon)
        self.xmpp.add_event_handler("presence_unavailable", self._on_unavailable)
        self.xmpp.add_event_handler("session_start", self._on_session_start)

    def plugin_end(self) -> None:
        self.xmpp.remove_handler("Jingle")
        self.xmpp.remove_handler("Jingle Message Initiation")
        self.xmpp.del_event_handler("carbon_sent", self._on_carbon)
        self.xmpp.del_event_handler("carbon_received", self._on_carbon)
        self.xmpp.del_event_handler("presence_unavailable", self._on_unavailable)
        self.xmpp.del_event_handler("session_start", self._on_session_start)
        for feature in FEATURES:
            self.xmpp.plugin["xep_0030"].del_feature(feature=feature)

    def session_bind(self, jid: JID) -> None:
        for feature in FEATURES:
            self.xmpp.plugin["xep_0030"].add_feature(feature)

    async def _on_session_start(self, _event: Any) -> None:
        # other devices of ours must see our proceed / reject to stop ringing
        with contextlib.suppress(IqError, IqTimeout):
            await self.xmpp.plugin["xep_0280"].enable()

    # ------------------------------------------------------------------ public API

    async def call(self, peer: JID | str, *, audio: MediaStreamTrack | None = None,
                   video: MediaStreamTrack | None = None, media: tuple[str, ...] | None = None,
                   jmi: bool = True, screen: bool = False) -> Call:
        """Call ``peer``: with JMI every device of a bare JID rings; without, ``peer`` must be a
        full JID and the session starts at once. ``media`` defaults to the kinds of the tracks
        given (at least audio); ``screen`` marks the video as a shared screen."""
        peer = JID(peer)
        kinds = media or tuple(k for k, t in (("audio", audio), ("video", video)) if t) or ("audio",)
        if not jmi and not peer.resource:
            raise ValueError("a call without JMI needs the full JID of one device")
        call = Call(self, uuid.uuid4().hex, JID(peer.bare) if jmi else peer, outgoing=True,
                    media=kinds, jmi=jmi)
        call.screen = screen and "video" in kinds
        self.calls[call.sid] = call
        if jmi:
            self.send_jmi(call.peer, "propose", call.sid, media=kinds, screen=call.screen)
            call._spawn(self._ring_timeout(call))
        try:
            await call.prepare_offer(audio, video)
        except Exception:
            await call.hangup()
            raise
        if not jmi:
            await call.initiate()
        return call

    async def devices_for_calls(self, peer: JID | str, *, timeout: float = 5.0
                                ) -> tuple[list[JID], list[JID]]:
        """``(online, taking)``: the devices of ``peer`` online now, and those of them that take
        audio calls — they announce ``urn:xmpp:jingle:apps:rtp:audio`` (XEP-0167), as
        Conversations decides before it offers a call. Features come from the entity-caps cache
        (XEP-0115) or a disco#info query; a device that does not answer that within ``timeout``
        counts as taking calls, so only devices known not to can stop a call."""
        bare = JID(peer).bare
        roster = getattr(self.xmpp, "client_roster", None)
        resources = roster.presence(bare) if roster is not None and bare in roster else {}
        online = [JID(f"{bare}/{resource}") for resource in resources if resource]
        disco = self.xmpp.plugin["xep_0030"]

        async def takes_calls(device: JID) -> bool:
            try:
                info = await disco.get_info(jid=device, cached=True, timeout=timeout)
            except (IqError, IqTimeout):
                return True
            return AUDIO_CALLS in info["disco_info"]["features"]

        answers = await asyncio.gather(*(takes_calls(device) for device in online))
        return online, [device for device, yes in zip(online, answers, strict=True) if yes]

    async def ice_configuration(self) -> tuple[list[RTCIceServer], RTCIceTransportPolicy]:
        """STUN/TURN servers for a new call (XEP-0215, fetched per call) and the ICE policy."""
        servers = await self.server_ice_servers() if self.use_server_ice else []
        policy = RTCIceTransportPolicy.RELAY if self.ice_transport_policy == "relay" \
            else RTCIceTransportPolicy.ALL
        return servers, policy

    async def server_ice_servers(self) -> list[RTCIceServer]:
        """The server's STUN and TURN services with fresh credentials; empty if it has none."""
        iq = self.xmpp.make_iq_get(ito=JID(self.xmpp.boundjid.domain))
        iq.append(ET.Element(f"{{{NS_EXTDISCO}}}services"))
        try:
            result = await iq.send(timeout=self.iq_timeout)
        except (IqError, IqTimeout):
            return []
        servers = []
        for service in result.xml.iter(f"{{{NS_EXTDISCO}}}service"):
            kind = service.get("type")
            if kind not in ("stun", "turn", "turns"):
                continue
            host, port = service.get("host"), service.get("port")
            transport = service.get("transport", "udp")
            url = f"{kind}:{host}:{port}" if port else f"{kind}:{host}"
            if kind != "stun":
                url += f"?transport={transport}"
            servers.append(RTCIceServer(urls=url, username=service.get("username"),
                                        credential=service.get("password")))
        return servers

    # ------------------------------------------------------------------ sending

    def send_jmi(self, to: JID, action: str, sid: str, *, media: tuple[str, ...] = (),
                 reason: Reason | None = None, screen: bool = False) -> None:
        """Send a XEP-0353 message, with ``<store/>`` so MAM and carbons keep the call record."""
        message = self.xmpp.make_message(mto=to, mtype="chat")
        element = jmi_element(action, sid, media, screen=screen)
        if reason is not None:
            element.append(reason_to_xml(reason))
        message.append(element)
        message.append(store_hint())
        message.send()

    def send_jingle(self, call: Call, action: str, contents: list[Content],
                    extra: list[ET.Element], reason: Reason | None = None) -> asyncio.Future[Any]:
        """Send a Jingle IQ of ``call`` now (stanzas leave in the order of these calls); the
        future is its answer (IqError if refused)."""
        if call.screen and action in ("session-initiate", "session-accept"):
            for content in contents:
                content.media_content = SLIDES if content.media == "video" else None
        iq = self.xmpp.make_iq_set(ito=call.peer)
        jingle = iq["jingle"]
        jingle["action"], jingle["sid"] = action, call.sid
        me = str(self.xmpp.boundjid)
        if action == "session-initiate":
            jingle["initiator"] = me
        elif action == "session-accept":
            jingle["responder"] = me
        for content in contents:
            jingle.xml.append(content_to_xml(content, with_description=action != "transport-info"))
        for element in extra:
            jingle.xml.append(element)
        if reason is not None:
            jingle.xml.append(reason_to_xml(reason))
        answer: asyncio.Future[Any] = iq.send(timeout=self.iq_timeout)
        return answer

    # ------------------------------------------------------------------ receiving

    def forget(self, call: Call) -> None:
        """Called by a call that ended."""
        if self.calls.get(call.sid) is call:
            del self.calls[call.sid]
        self.xmpp.event("jingle_call_ended", call)

    async def _ring_timeout(self, call: Call) -> None:
        await asyncio.sleep(self.ring_timeout)  # the deadline itself, not a stand-in for an event
        if call.state in (CallState.PROPOSING, CallState.RINGING):
            self.send_jmi(call.peer, "retract", call.sid, reason=Reason("timeout"))
            call._end("timeout", "nobody answered", "local")

    def _is_own(self, jid: JID) -> bool:
        return JID(jid).bare == self.xmpp.boundjid.bare

    def _on_jmi_message(self, message: Any) -> None:
        found = jmi_of(message.xml)
        assert found is not None
        action, element = found
        sid = element.get("id", "")
        sender = JID(message["from"])
        reason_element = element.find(f"{{{NS_JINGLE}}}reason")
        reason = reason_from_xml(reason_element) if reason_element is not None else None
        call = self.calls.get(sid)
        if action == "propose":
            if call is not None or self._is_own(sender) or not sid:
                return
            if message.xml.find("{urn:xmpp:delay}delay") is not None:
                return  # a proposal kept by offline storage: the call is long over
            media = tuple(d.get("media", "audio")
                          for d in element.findall(f"{{{NS_RTP}}}description")) or ("audio",)
            call = Call(self, sid, sender, outgoing=False, media=media, jmi=True)
            call.screen = any(c.get("value") == SLIDES for c in element.iter(
                f"{{{NS_MEDIA_CONTENT}}}content"))
            self.calls[sid] = call
            self.send_jmi(sender, "ringing", sid)
            self.xmpp.event("jingle_call_incoming", call)
        elif call is not None:
            own_device = self._is_own(sender) and sender != self.xmpp.boundjid
            call.on_jmi(action, reason, sender, own_device=own_device)

    def _on_carbon(self, wrapper: Message) -> None:
        sent = wrapper.xml.find("{urn:xmpp:carbons:2}sent") is not None
        inner = wrapper["carbon_sent"] if sent else wrapper["carbon_received"]
        found = jmi_of(inner.xml)
        if found is None:
            return
        action, element = found
        call = self.calls.get(element.get("id", ""))
        if call is not None and self._is_own(inner["from"]):
            call.on_jmi(action, None, JID(inner["from"]), own_device=True)

    def _on_unavailable(self, presence: Presence) -> None:
        sender = JID(presence["from"])
        for call in list(self.calls.values()):
            if call.peer == sender and call.peer.resource:
                call.on_peer_gone()

    async def _on_jingle_iq(self, iq: Any) -> None:
        try:
            await self._dispatch(iq)
        except JingleError as error:
            self._reply_error(iq, error)
        except JingleFormatError as error:
            self._reply_error(iq, JingleError("bad-request", str(error)))

    def _reply_error(self, iq: Iq, error: JingleError) -> None:
        reply = iq.reply(clear=True)
        reply["type"] = "error"
        reply["error"]["type"] = "cancel" if error.condition != "bad-request" else "modify"
        reply["error"]["condition"] = error.condition
        reply["error"]["text"] = error.text
        if error.jingle_condition:
            reply["error"].xml.append(ET.Element(f"{{{NS_ERRORS}}}{error.jingle_condition}"))
        reply.send()

    async def _dispatch(self, iq: Iq) -> None:
        jingle = iq["jingle"]
        action, sid = jingle["action"], jingle["sid"]
        sender = JID(iq["from"])
        if not action or not sid:
            raise JingleError("bad-request", "a <jingle/> needs an action and a sid")
        call = self.calls.get(sid)
        if action == "session-initiate":
            contents = contents_from_jingle(jingle.xml)
            group = group_from_jingle(jingle.xml)
            if not contents:
                raise JingleError("bad-request", "session-initiate without any <content/>")
            if call is None:
                media = tuple(c.media for c in contents)
                call = Call(self, sid, sender, outgoing=False, media=media, jmi=False)
                self.calls[sid] = call
                iq.reply().send()
                call.on_session_initiate(contents, group)
                self.xmpp.event("jingle_call_incoming", call)
                # without JMI, session-info is the only way the caller learns that we ring
                call._spawn(call._send_info(ET.Element(f"{{{NS_RTP_INFO}}}ringing")))
                return
            if call.outgoing or call.peer != sender:
                raise JingleError("item-not-found", "no session with this id for you",
                                  "unknown-session")
            iq.reply().send()
            call.on_session_initiate(contents, group)
            return
        if call is None or call.peer != sender:
            raise JingleError("item-not-found", f"there is no session {sid} with {sender}",
                              "unknown-session")
        if action == "session-accept":
            contents = contents_from_jingle(jingle.xml)
            iq.reply().send()
            try:
                await call.on_session_accept(contents, group_from_jingle(jingle.xml))
            except (JingleFormatError, ValueError) as error:
                await call._terminate(Reason("failed-application", f"cannot use the answer: {error}"))
                call._end("failed-application", str(error), "local")
        elif action == "transport-info":
            contents = contents_from_jingle(jingle.xml)
            iq.reply().send()
            await call.on_transport_info(contents)
        elif action == "session-info":
            iq.reply().send()
            await call.on_session_info([child for child in jingle.xml
                                        if child.tag.startswith(f"{{{NS_RTP_INFO}}}")])
        elif action == "session-terminate":
            iq.reply().send()
            call.on_session_terminate(reason_from_jingle(jingle.xml))
        elif action == "content-add":
            call.videos.on_add(contents_from_jingle(jingle.xml))
            iq.reply().send()
        elif action in ("content-accept", "content-reject"):
            contents = contents_from_jingle(jingle.xml)
            video = call.videos.answered(contents, action)
            iq.reply().send()
            if action == "content-accept":
                await call.videos.on_accept(video, contents[0])
            else:
                call.videos.on_reject(video, reason_from_jingle(jingle.xml))
        elif action == "content-remove":
            call.videos.on_remove(contents_from_jingle(jingle.xml), reason_from_jingle(jingle.xml))
            iq.reply().send()
        else:
            raise JingleError("feature-not-implemented",
                              f"{action} is not supported; the session continues",
                              "unsupported-info" if action.endswith("-info") else None)
