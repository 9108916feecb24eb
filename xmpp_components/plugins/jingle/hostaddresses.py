"""Which local addresses ICE gathers host candidates on.

aioice (under aiortc) gathers on every interface address and always skips 127.0.0.1, so a call
between two processes on one machine would leave loopback, and a machine with only ``lo`` would
have no candidate at all. :func:`restrict_host_addresses` pins gathering to the given addresses
(``["127.0.0.1"]`` in tests and on single-machine setups); ``None`` restores aioice's choice.
The setting is process-wide, as aioice's gathering is.
"""

from __future__ import annotations

import aioice.ice

_aioice_choice = aioice.ice.get_host_addresses
_pinned: list[str] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _pinned is None:
        return _aioice_choice(use_ipv4, use_ipv6)
    return [a for a in _pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def restrict_host_addresses(addresses: list[str] | None) -> None:
    """Gather host candidates only on ``addresses`` (``None``: on every interface, as aioice)."""
    global _pinned
    _pinned = list(addresses) if addresses is not None else None
    aioice.ice.get_host_addresses = _host_addresses
