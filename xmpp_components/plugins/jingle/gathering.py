"""Our ICE candidates one by one, as aioice finds them (for trickle ICE).

aiortc's ``setLocalDescription`` returns only when every candidate is gathered, and aioice
publishes a connection's candidates only once all are in: neither has a per-candidate event
(aioice issue #4). aioice finds server-reflexive and relayed candidates through two module-level
coroutines, ``server_reflexive_candidate`` (called for each host candidate, right after its socket
is bound) and ``relayed_candidate``; :func:`watch_gathering` wraps them, so a watcher learns of a
host candidate when aioice starts asking the STUN server about it, and of a server-reflexive or
relayed candidate when the server's answer arrives. Without a STUN server aioice never calls the
first, so host candidates are only known when gathering ends. Connections nobody watches are
untouched. This is the only place that adapts aioice's gathering; checked against aioice 0.13.0
under aiortc 1.16.0. ``tests/test_jingle_trickle.py`` fails if aioice stops calling these two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aioice.ice
from aioice import Candidate, Connection
from aiortc import RTCIceCandidate, RTCIceGatherer
from aiortc.rtcicetransport import candidate_from_aioice

log = logging.getLogger(__name__)

Found = Callable[[RTCIceCandidate], None]
_watchers: dict[tuple[str | None, str | None], Found] = {}
_aioice_server_reflexive = aioice.ice.server_reflexive_candidate
_aioice_relayed = aioice.ice.relayed_candidate


def watch_gathering(gatherer: RTCIceGatherer, found: Found) -> Callable[[], None]:
    """Call ``found`` with each candidate ``gatherer`` finds from now on (a candidate may be
    reported again when gathering ends); returns the function that stops watching."""
    aioice.ice.server_reflexive_candidate = _server_reflexive_candidate
    aioice.ice.relayed_candidate = _relayed_candidate
    parameters = gatherer.getLocalParameters()
    key = (parameters.usernameFragment, parameters.password)
    _watchers[key] = found

    def stop() -> None:
        _watchers.pop(key, None)

    return stop


def _report(connection: Connection, candidate: Candidate) -> None:
    found = _watchers.get((connection.local_username, connection.local_password))
    if found is not None:
        try:
            found(candidate_from_aioice(candidate))
        except Exception:  # a watcher's bug must not stop aioice's gathering
            log.exception("candidate watcher failed")


def _server_reflexive_candidate(protocol: Any, stun_server: tuple[str, int]
                                ) -> Coroutine[Any, Any, tuple[Candidate, None]]:
    _report(protocol.receiver, protocol.local_candidate)  # the host candidate, bound just now
    return _reported(_aioice_server_reflexive(protocol, stun_server), protocol.receiver)


def _relayed_candidate(**arguments: Any) -> Coroutine[Any, Any, tuple[Candidate, Any]]:
    return _reported(_aioice_relayed(**arguments), None)


async def _reported(finding: Coroutine[Any, Any, tuple[Candidate, Any]],
                    connection: Connection | None) -> tuple[Candidate, Any]:
    candidate, protocol = await finding
    _report(connection or protocol.receiver, candidate)
    return candidate, protocol
