"""A loopback TCP relay in front of ejabberd whose link a test can cut, stall or refuse.

Our client connects through it, so a test can take the network away from one client while the
server and every other client carry on: :meth:`Relay.cut` drops every connection at once (as a
lost Wi-Fi does), :meth:`Relay.stall` swallows what the client sends (the server never sees it,
so it is never acknowledged), and :meth:`Relay.go_down` refuses new connections until
:meth:`Relay.come_back`.
"""

from __future__ import annotations

import asyncio
import contextlib


class Relay:
    """Forwards connections on a free loopback port to ``host``:``port``."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.target_port = port
        self.stalled = False
        """While True, what clients send is dropped instead of forwarded."""
        self.connections = 0
        """How many connections were forwarded so far."""
        self._server: asyncio.Server | None = None
        self._port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

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
        self._writers.update((writer, up_writer))
        for task in (self._pipe(reader, up_writer, upstream=True),
                     self._pipe(up_reader, writer, upstream=False)):
            running = asyncio.ensure_future(task)
            self._tasks.add(running)
            running.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    upstream: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if upstream and self.stalled:
                    continue
                sink.write(data)
                await sink.drain()
        sink.transport.abort()
        self._writers.discard(sink)
