"""A real browser Jingle endpoint for interop tests: StanzaJS (npm ``stanza``) in Debian's headless
Chromium, driven through the DevTools protocol, logged in over ejabberd's WebSocket.

``tests/browser_peer`` holds the page (``peer.js``, ``peer.html``) and the pinned ``package.json`` /
``package-lock.json``; the fixture installs them with ``npm ci`` into ``.state/browser-peer`` (again
only when the lock file changes) and bundles the page with esbuild into the test's temp folder.
Chromium's microphone is a WAV file of a known tone, its camera Chromium's own fake one (a moving
green card). Its media goes relay-only through ejabberd's TURN over TCP on 127.0.0.1, so every
packet stays on loopback (see shared/INTEROP.md).

Chromium and Node.js/npm come from Debian (``scripts/install.sh``): if they are missing the fixture
fails with what to install, never skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from xmpp_components.stack.settings import StackSettings

from .conftest import Account

PAGE = Path(__file__).parent / "browser_peer"
CACHE = Path(__file__).parent.parent / ".state" / "browser-peer"
CHROMIUM = "/usr/bin/chromium"
SAMPLE_RATE = 48000
# flags for a headless Chromium on a machine with no outside network (and none wanted)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # keep WebRTC off the interfaces: no UDP socket outside a proxy/TURN (so none at all here), no
    # mDNS names for host candidates, no Cast discovery (mDNS/SSDP on the LAN)
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,DialMediaRouteProvider",
    "--allow-file-access-from-files", "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def _installed_page() -> Path:
    """``npm ci`` of the pinned packages into the cache (skipped when the lock is unchanged)."""
    lock = (PAGE / "package-lock.json").read_bytes()
    if not ((CACHE / "package-lock.json").exists()
            and (CACHE / "package-lock.json").read_bytes() == lock
            and (CACHE / "node_modules" / ".bin" / "esbuild").exists()):
        assert shutil.which("npm"), "npm is missing: run scripts/install.sh (Debian's nodejs and npm)"
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "package-lock.json").unlink(missing_ok=True)
        shutil.copy(PAGE / "package.json", CACHE)
        shutil.copy(PAGE / "package-lock.json", CACHE / "package-lock.tmp")
        (CACHE / "package-lock.tmp").rename(CACHE / "package-lock.json")
        npm = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CACHE,
                             capture_output=True, text=True, timeout=300)
        assert npm.returncode == 0, f"npm ci failed:\n{npm.stdout}\n{npm.stderr}"
    shutil.copy(PAGE / "peer.js", CACHE)  # bundled from where node_modules is
    return CACHE


@pytest.fixture(scope="session")
def browser_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page and its bundle (StanzaJS + peer.js) in a temp folder: the path of peer.html."""
    cache, folder = _installed_page(), tmp_path_factory.mktemp("browser-page")
    build = subprocess.run(
        [str(cache / "node_modules" / ".bin" / "esbuild"), "peer.js", "--bundle", "--format=iife",
         "--platform=browser", f"--outfile={folder / 'peer.bundle.js'}", "--log-level=warning"],
        cwd=cache, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, f"esbuild failed:\n{build.stderr}"
    shutil.copy(PAGE / "peer.html", folder)
    return folder / "peer.html"


def tone_wav(path: Path, hz: float, seconds: float = 2.0) -> Path:
    """A mono 16-bit WAV of a sine (a whole number of periods, so Chromium's loop is seamless)."""
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    samples = (0.5 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return path


class PageError(RuntimeError):
    """The page threw (the message is the browser's)."""


class BrowserPeer:
    """One Chromium with the peer page; :meth:`js` runs an expression there and awaits it."""

    def __init__(self, process: asyncio.subprocess.Process, socket: aiohttp.ClientWebSocketResponse,
                 session: aiohttp.ClientSession) -> None:
        self.process, self._socket, self._session = process, socket, session
        self._ids = 0
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.console: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            data = json.loads(message.data)
            if "id" in data:
                future = self._replies.pop(data["id"])
                if not future.done():
                    future.set_result(data)
            elif data.get("method") == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in data["params"]["args"]))
            else:
                self._events.setdefault(data.get("method", ""), asyncio.Queue()).put_nowait(data)
        for future in self._replies.values():
            if not future.done():
                future.set_exception(ConnectionError("Chromium closed DevTools"))

    async def command(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._ids += 1
        self._replies[self._ids] = reply = asyncio.get_running_loop().create_future()
        await self._socket.send_json({"id": self._ids, "method": method, "params": params})
        data = await asyncio.wait_for(reply, timeout)
        if "error" in data:
            raise PageError(f"{method}: {data['error']}")
        return data["result"]  # type: ignore[no-any-return]

    async def event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        return await asyncio.wait_for(self._events.setdefault(method, asyncio.Queue()).get(), timeout)

    async def js(self, expression: str, timeout: float = 30) -> Any:
        """The value of ``expression`` (awaited if it is a promise) in the page."""
        result = await self.command("Runtime.evaluate", timeout, expression=expression,
                                    awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise PageError(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    async def call(self, function: str, *args: Any, timeout: float = 30) -> Any:
        """``window.peer.<function>(*args)``, arguments passed as JSON."""
        return await self.js(f"peer.{function}({', '.join(json.dumps(a) for a in args)})", timeout)

    async def next(self, name: str, timeout: float = 15) -> dict[str, Any]:
        """The page's next event ``name`` ({name, ms since the page started, detail})."""
        return await self.call("next", name, int(timeout * 1000), timeout=timeout + 5)  # type: ignore[no-any-return]

    async def login(self, account: Account, settings: StackSettings) -> dict[str, Any]:
        url = f"ws://{settings.bind_ip}:{settings.http_port}/ws"
        return await self.call("login", url, str(account.jid.bare), account.password)  # type: ignore[no-any-return]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.command("Browser.close", timeout=5)
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._socket.close()
        await self._session.close()
        self._reader.cancel()


async def _devtools_url(process: asyncio.subprocess.Process, log: list[str]) -> str:
    """Read Chromium's stderr until it says where DevTools listens; keep draining it after."""
    assert process.stderr is not None
    while line := (await asyncio.wait_for(process.stderr.readline(), 30)).decode(errors="replace"):
        log.append(line.rstrip())
        if line.startswith("DevTools listening on "):
            async def drain() -> None:
                while line := await process.stderr.readline():  # type: ignore[union-attr]
                    log.append(line.decode(errors="replace").rstrip())
            asyncio.get_running_loop().create_task(drain())
            return line.split(" on ", 1)[1].strip()
    raise RuntimeError("Chromium exited before DevTools was up:\n" + "\n".join(log[-30:]))


@pytest.fixture
async def browser(browser_page: Path, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start headless Chromium on the peer page, its microphone a WAV of ``microphone_hz``."""
    peers: list[BrowserPeer] = []
    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/install.sh (Debian's chromium)"

    async def start(microphone_hz: float = 523) -> BrowserPeer:
        profile = Path(tempfile.mkdtemp(prefix="profile-", dir=tmp_path))
        wav = tone_wav(tmp_path / f"tone-{len(peers)}.wav", microphone_hz)
        process = await asyncio.create_subprocess_exec(
            CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
            f"--use-file-for-fake-audio-capture={wav}", "about:blank",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log: list[str] = []
        try:
            browser_url = await _devtools_url(process, log)
            session = aiohttp.ClientSession()
            port = browser_url.split("//", 1)[1].split("/", 1)[0]
            async with session.get(f"http://{port}/json/list") as listing:
                target = next(t for t in await listing.json() if t["type"] == "page")
            socket = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        except BaseException:
            process.kill()
            await process.wait()
            raise
        peer = BrowserPeer(process, socket, session)
        peers.append(peer)
        await peer.command("Runtime.enable")
        await peer.command("Page.enable")
        await peer.command("Page.navigate", url=browser_page.as_uri())
        await peer.event("Page.loadEventFired")
        await peer.next("ready")
        return peer

    yield start
    for peer in peers:
        print("\n".join(["browser console:", *peer.console]))
        await peer.close()
