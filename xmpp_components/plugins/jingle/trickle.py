"""Trickle ICE towards the peer (XEP-0176): our candidates in ``transport-info`` as they are found.

A call sends its ``session-initiate`` or ``session-accept`` as soon as aiortc has written the offer
or answer — codecs, ICE ufrag and pwd, DTLS fingerprint — which needs no gathering. A
:class:`Trickle` then sets that description as the local one (aiortc gathers there) and sends
each candidate that :mod:`.gathering` reports in a ``transport-info`` of its own, and at the end a
``transport-info`` whose transports carry ``<gathering-complete/>`` (the end-of-candidates
indication of XEP-0371 and browsers). Candidates found before the session-initiate or -accept is
sent travel in it; nothing is sent before it, and no candidate twice. Every ``transport-info``
repeats the content's ufrag and pwd: Conversations takes other or missing credentials for an ICE
restart. A peer that refuses a ``transport-info`` does not end the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from aiortc import RTCIceCandidate, RTCIceGatherer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from slixmpp.exceptions import IqError

from .gathering import watch_gathering
from .model import Candidate, Content, Transport
from .sdp import candidate_from_aiortc

log = logging.getLogger(__name__)

SendTransportInfo = Callable[[list[Content]], "asyncio.Future[Any]"]
"""Queues a ``transport-info`` with these contents on the stream at once; the future is its answer."""


def _gatherer(transceiver: RTCRtpTransceiver) -> RTCIceGatherer:
    return transceiver.receiver.transport.transport.iceGatherer


class Trickle:
    """Our candidates of one call, told to the peer as they are found, each once."""

    def __init__(self, pc: RTCPeerConnection, creators: dict[str, str],
                 send: SendTransportInfo) -> None:
        self.pc = pc
        self._creators = creators  # the call's own map, filled once the contents are known
        self._send = send
        self._told: set[tuple[str, tuple[object, ...]]] = set()
        self._waiting: list[list[tuple[str, Transport]]] = []
        self._open = False

    async def gather(self, description: RTCSessionDescription) -> None:
        """Make ``description`` our local one, telling the peer each candidate as it is found and
        then the end of candidates."""
        gatherers = list(dict.fromkeys(_gatherer(t) for t in self.pc.getTransceivers()))
        stops = [watch_gathering(g, partial(self._found, g)) for g in gatherers]
        try:
            await self.pc.setLocalDescription(description)
        finally:
            for stop in stops:
                stop()
        ends = []
        for gatherer in gatherers:
            for candidate in gatherer.getLocalCandidates():  # those found without a report
                self._found(gatherer, candidate)
            parameters = gatherer.getLocalParameters()
            end = Transport(ufrag=parameters.usernameFragment, pwd=parameters.password,
                            gathering_complete=True)
            ends += [(mid, end) for mid in self._mids(gatherer)]
        self._tell(ends)

    def include_found(self, contents: list[Content]) -> None:
        """Put the candidates found so far into ``contents`` of the session-initiate or -accept
        about to be sent, instead of sending them apart."""
        by_name = {c.name: c.transport for c in contents if c.transport is not None}
        for name, transport in by_name.items():
            self._told.update((name, _key(c)) for c in transport.candidates)
        waiting, self._waiting = self._waiting, []
        for entry in waiting:
            if all(t.candidates and name in by_name for name, t in entry):
                for name, t in entry:
                    by_name[name].candidates += t.candidates
            else:
                self._waiting.append(entry)

    def open(self) -> None:
        """The session-initiate or -accept is on its way: what waited may follow it now."""
        self._open = True
        waiting, self._waiting = self._waiting, []
        for entry in waiting:
            self._transport_info(entry)

    def _mids(self, gatherer: RTCIceGatherer) -> list[str]:
        return [t.mid for t in self.pc.getTransceivers()
                if t.mid is not None and _gatherer(t) is gatherer]

    def _found(self, gatherer: RTCIceGatherer, found: RTCIceCandidate) -> None:
        candidate = candidate_from_aiortc(found)
        fresh = [mid for mid in self._mids(gatherer) if (mid, _key(candidate)) not in self._told]
        if not fresh:
            return
        self._told.update((mid, _key(candidate)) for mid in fresh)
        parameters = gatherer.getLocalParameters()
        transport = Transport(ufrag=parameters.usernameFragment, pwd=parameters.password,
                              candidates=[candidate])
        self._tell([(mid, transport) for mid in fresh])

    def _tell(self, entry: list[tuple[str, Transport]]) -> None:
        if not entry:
            return
        if self._open:
            self._transport_info(entry)
        else:
            self._waiting.append(entry)

    def _transport_info(self, entry: list[tuple[str, Transport]]) -> None:
        contents = [Content(name=mid, creator=self._creators.get(mid, "initiator"), transport=t)
                    for mid, t in entry]
        self._send(contents).add_done_callback(_answered)


def _key(candidate: Candidate) -> tuple[object, ...]:
    return (candidate.component, candidate.ip, candidate.port, candidate.protocol, candidate.type)


def _answered(answer: asyncio.Future[Any]) -> None:
    error = None if answer.cancelled() else answer.exception()
    if isinstance(error, IqError):
        log.info("the peer refused a transport-info (%s); the call goes on",
                 error.iq["error"]["condition"])
    elif error is not None:
        log.info("a transport-info got no answer (%s); the call goes on", type(error).__name__)
