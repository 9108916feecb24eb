"""A loopback TCP relay in front of ejabberd whose link a test can cut, stall or refuse.

Our client connects through it, so a test can take the network away from one client while the
server and every other client carry on: :meth:`Relay.cut` drops every connection at once (as a
lost Wi-Fi does), :meth:`Relay.stall` swallows what the client sends (the server never sees it,
so it is never acknowledged), :meth:`Relay.hold` stops passing bytes on after a given number
(so the sender blocks once the buffers are full, as on a link that stopped moving) until
:meth:`Relay.flow`, and :meth:`Relay.go_down` refuses new connections until :meth:`Relay.come_back`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket


class Relay:
    """Forwards connections on a free loopback port to ``host``:``port``."""

    def __init__(self, host: str, port: int, buffer: int | None = None) -> None:
        """``buffer``: the receive buffer of the relay's sockets, in bytes (the system's, growing
        with the traffic, when None); small, it bounds what a held sender can still write."""
        self.host = host
        self.target_port = port
        self.buffer = buffer
        self.stalled = False
        """While True, what clients send is dropped instead of forwarded."""
        self.connections = 0
        """How many connections were forwarded so far."""
        self._server: asyncio.Server | None = None
        self._port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._allowance = 0
        self._pipes = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def port(self) -> int:
        """The port clients connect to."""
        if not self._port:
            raise RuntimeError("relay not started")
        return self._port

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port the first time, the same port again later)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self._port)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def go_down(self) -> None:
        """Drop every connection and refuse new ones (connection refused), as without network."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.cut()

    async def come_back(self) -> None:
        """Accept connections again, on the same port."""
        if self._server is None:
            await self.start()

    def cut(self) -> None:
        """Drop every open connection both ways, as a network loss does; new ones work again."""
        self.stalled = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def hold(self, after: int = 0) -> None:
        """From now on pass at most ``after`` more bytes each way of each connection, then stop
        reading until :meth:`flow`: the sender's writes block once the buffers between are full."""
        self._allowance = after
        self._flowing.clear()

    def flow(self) -> None:
        """Pass bytes on again after :meth:`hold`."""
        self._flowing.set()

    async def until_idle(self, timeout: float = 15.0) -> None:
        """Return once every connection so far has ended (all it carried passed on)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    def stall(self) -> None:
        """From now on drop what clients send (until :meth:`cut`)."""
        self.stalled = True

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        await self.go_down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        if self.buffer is not None:
            for end in (writer, up_writer):
                end.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                                        self.buffer)
        self._writers.update((writer, up_writer))
        for task in (self._pipe(reader, up_writer, upstream=True),
                     self._pipe(up_reader, writer, upstream=False)):
            running = asyncio.ensure_future(task)
            self._tasks.add(running)
            running.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    upstream: bool) -> None:
        self._pipes += 1
        self._idle.clear()
        try:
            await self._carry(source, sink, upstream)
        finally:
            self._pipes -= 1
            if not self._pipes:
                self._idle.set()

    async def _carry(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                     upstream: bool) -> None:
        allowed: int | None = None  # bytes left to pass while held
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                if self._flowing.is_set():
                    allowed = None
                elif allowed is None:
                    allowed = self._allowance
                if allowed is not None and allowed <= 0:
                    await self._flowing.wait()
                    continue
                data = await source.read(65536 if allowed is None else min(65536, allowed))
                if not data:
                    break
                if allowed is not None:
                    allowed -= len(data)
                if upstream and self.stalled:
                    continue
                sink.write(data)
                await sink.drain()
        sink.transport.abort()
        self._writers.discard(sink)
