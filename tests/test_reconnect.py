"""Reconnecting without a tight loop when a server accepts connections and drops them at once."""

from __future__ import annotations

import asyncio
import time

from slixmpp import ClientXMPP

from xmpp_components.base.reconnect import Reconnector


async def test_connections_dropped_before_any_session_back_off() -> None:
    accepted: list[float] = []
    fourth = asyncio.Event()

    def drop(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(time.monotonic())
        writer.close()  # like a proxy whose server is not there yet
        if len(accepted) == 4:
            fourth.set()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stream = ClientXMPP("nobody@localhost/test", "secret")
    stream.enable_direct_tls = False
    reconnector = Reconnector(stream, ("127.0.0.1", port))
    try:
        reconnector.start()
        await asyncio.wait_for(fourth.wait(), 15)
    finally:
        await reconnector.stop()
        server.close()
        await server.wait_closed()
    gaps = [b - a for a, b in zip(accepted, accepted[1:], strict=False)]
    assert gaps[1] >= 0.45 and gaps[2] >= 0.9, gaps  # 0.5 s, then 1 s: not a tight loop
    assert reconnector.drops_without_session >= 3
