"""Sending and receiving files for the client session (CH7).

Sending is what Conversations does: ask the server's upload service for a slot (XEP-0363, through
slixmpp's ``xep_0363``), PUT the file there, then send a message whose body is the download URL and
which carries the same URL as XEP-0066 out-of-band data — any client shows that as a file. Received
files (OOB, or a body that is a bare file URL) get an :class:`~tui.session.attachment.Attachment`;
the server is asked (HEAD) for their size and type, images up to a limit are fetched for a small
preview, and :meth:`FileService.download` saves one to the download directory.

Progress is told with :class:`TransferChanged`; failures raise :class:`FileError`, whose text says
what went wrong and what to do next. A running upload or download can be cancelled
(:meth:`FileService.cancel`): an upload cancelled before it finished shares nothing (no message
names its address), a download leaves no partial file behind. File contents and message bodies
are never logged.
"""

from __future__ import annotations

import asyncio
import io
import logging
import mimetypes
import os
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import platformdirs
from slixmpp import JID, Message
from slixmpp.exceptions import IqError, IqTimeout

from . import events
from .attachment import Attachment, FileState, Preview, attachment_for, human_size, name_from_url
from .model import ChatMessage, Conversation, Direction

if TYPE_CHECKING:
    import aiohttp

    from tui.settings import FileSettings

    from .client import ChatSession

log = logging.getLogger(__name__)

TIMEOUT = 15.0
CHUNK = 64 * 1024
PREVIEW_COLUMNS = 32
"""Widest image preview, in terminal cells."""
PREVIEW_LINES = 8
"""Tallest image preview, in terminal lines (two pixel rows each)."""
UPLOAD_FORM = "urn:xmpp:http:upload:0"

_T = TypeVar("_T")


class FileError(Exception):
    """A file could not be sent or saved; the text says why and what to do next."""


class TransferCancelled(FileError):
    """The user cancelled the upload or download."""


@dataclass(frozen=True)
class UploadService:
    """The server's HTTP upload service (XEP-0363) and the largest file it takes."""

    jid: str
    max_size: int | None


@dataclass
class Transfer:
    """A file on its way to the upload service or to this device."""

    id: str
    upload: bool
    jid: str
    """The conversation it belongs to."""
    name: str
    total: int | None
    done: int = 0
    state: str = "running"
    """``running``, ``done``, ``failed`` or ``cancelled``."""
    error: str = ""
    path: Path | None = None
    """The local file: the one sent, or where the download goes."""
    url: str = ""
    """The file's address on the server (an upload's once the server gave it a place)."""
    _shown: int = field(default=-1, repr=False)  # last whole percent told to observers

    @property
    def progress(self) -> float | None:
        """0 … 1 when the size is known."""
        return min(1.0, self.done / self.total) if self.total else None


@dataclass(frozen=True)
class TransferChanged(events.SessionEvent):
    """An upload or download started, moved on, finished or failed."""

    transfer: Transfer


def download_dir(settings: FileSettings) -> Path:
    """Where downloads go: the configured folder, else the XDG download directory."""
    if settings.download_dir is not None:
        return settings.download_dir.expanduser()
    return Path(platformdirs.user_downloads_dir())


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name (1).ext`` … when that exists; never a path outside ``folder``."""
    safe = name.replace("/", "_").replace("\\", "_").lstrip(".") or "file"
    candidate = folder / safe
    stem, suffix = Path(safe).stem, Path(safe).suffix
    number = 1
    while candidate.exists() or candidate.with_name(candidate.name + ".part").exists():
        candidate = folder / f"{stem} ({number}){suffix}"
        number += 1
    return candidate


def decode_preview(data: bytes | Path, columns: int = PREVIEW_COLUMNS,
                   lines: int = PREVIEW_LINES) -> Preview:
    """A picture scaled to fit ``columns`` × ``lines`` cells (two pixel rows per line), keeping its
    shape. Slow (it decodes the image): call it in a thread. Raises ValueError for what is no
    picture PyAV can read."""
    import av  # with aiortc; imported here so start-up does not pay for it

    source: Any = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    try:
        with av.open(source) as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, IndexError, OSError) as error:
        raise ValueError(str(error) or type(error).__name__) from None
    scale = min(columns / frame.width, 2 * lines / frame.height, 1.0)
    width = max(1, round(frame.width * scale))
    height = max(2, round(frame.height * scale / 2) * 2)
    pixels = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    return Preview(width, height, [[(int(r), int(g), int(b)) for r, g, b in row] for row in pixels])


def _saved_settings() -> FileSettings:
    from tui.settings import ClientSettings  # pydantic: not at start-up

    return ClientSettings.load().files


class FileService:
    """The files of one session: upload and send, recognise, probe, preview and download."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None],
                 settings: Callable[[], FileSettings] | None = None) -> None:
        self.session = session
        self._emit = emit
        self._settings = settings or _saved_settings
        self.transfers: dict[str, Transfer] = {}
        """Every upload and download of this run, by id."""
        self._service: UploadService | None = None
        self._uploaded: dict[str, Attachment] = {}  # download URL -> the file I sent there
        self._oob: dict[str, tuple[str, str]] = {}  # message body -> (OOB URL, description)
        self._http: aiohttp.ClientSession | None = None
        self._moving: dict[str, asyncio.Task[Any]] = {}  # transfer id -> its network part
        session.subscribe(self._on_event)

    def attach(self, stream: Any) -> None:
        """Listen to a freshly built stream (before it connects)."""
        for plugin in ("xep_0066", "xep_0363"):
            stream.register_plugin(plugin)
        stream.add_filter("out", self._with_oob)
        stream.add_event_handler("message", self._remember_oob)
        stream.add_event_handler("carbon_received", lambda m: self._remember_oob(m["carbon_received"]))
        self._service = None

    async def close(self) -> None:
        """Close the HTTP connections (previews and probes ended with the session's background)."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- queries ---------------------------------------------------------------------------------

    @staticmethod
    def files_in(conversation: Conversation) -> list[ChatMessage]:
        """The messages of ``conversation`` that share a file, oldest first."""
        return [m for m in conversation.messages if attachment_for(m) is not None]

    @property
    def download_dir(self) -> Path:
        """Where :meth:`download` saves files."""
        return download_dir(self._settings())

    async def service(self) -> UploadService:
        """The server's upload service and its size limit, from service discovery (once)."""
        if self._service is not None:
            return self._service
        plugin = self.session.stream.plugin["xep_0363"]
        try:
            info = await plugin.find_upload_service(timeout=TIMEOUT)
        except (IqError, IqTimeout):
            info = None
        if info is None:
            raise FileError(f"{self.session.jid.domain} offers no file upload (XEP-0363), so files "
                            "cannot be sent; ask the administrator to enable mod_http_upload.")
        max_size: int | None = None
        for form in info["disco_info"].iterables:
            values = form["values"]
            if values.get("FORM_TYPE") == [UPLOAD_FORM] and values.get("max-file-size"):
                try:
                    max_size = int(values["max-file-size"])
                except (TypeError, ValueError):
                    max_size = None
        self._service = UploadService(str(info["from"]), max_size)
        return self._service

    # --- sending ---------------------------------------------------------------------------------

    @staticmethod
    def check(path: str | Path) -> Path:
        """The file ``path`` names, or a FileError saying what is wrong with it."""
        text = str(path).strip()
        if not text:
            raise FileError("Type the path of a file to send, e.g. ~/Documents/report.pdf.")
        file = Path(os.path.expandvars(text)).expanduser()
        if not file.exists():
            raise FileError(f"There is no file {file}. Check the path; Tab completes names in the "
                            "prompt.")
        if file.is_dir():
            raise FileError(f"{file} is a folder; choose a file in it (Tab completes names).")
        if not file.is_file() or not os.access(file, os.R_OK):
            raise FileError(f"{file} cannot be read; check its permissions (ls -l) and try again.")
        return file.resolve()

    async def send(self, to: str, path: str | Path) -> ChatMessage:
        """Upload the file at ``path`` and share it with ``to`` (a contact or a room): the message's
        body is its URL and it carries the URL as OOB. Progress comes as :class:`TransferChanged`."""
        file = self.check(path)
        jid = JID(to).bare
        room = self.session.rooms.by_jid.get(jid)
        if room is not None and not room.joined:
            raise FileError(f"You are not in {room.display_name} right now; open it again to rejoin, "
                            "then send the file.")
        size = file.stat().st_size
        service = await self.service()
        if service.max_size is not None and size > service.max_size:
            raise FileError(f"{file.name} is {human_size(size)}; the server takes files up to "
                            f"{human_size(service.max_size)}. Send a smaller file (compress or split "
                            "it), or share a link to it instead.")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        transfer = self._begin(Transfer(uuid.uuid4().hex, True, jid, file.name, size, path=file))
        try:
            url = await self._cancellable(transfer, self._upload(service, file, size, content_type,
                                                                 transfer))
        except TransferCancelled:
            raise
        except FileError as error:
            self._fail(transfer, str(error))
            raise
        transfer.url = url
        self._finish(transfer)
        attachment = Attachment(url, file.name, size, content_type, state=FileState.SAVED,
                                local_path=file, probed=True)
        self._uploaded[url] = attachment
        message = self.session.send_chat(jid, url)
        if attachment.is_image and self._settings().preview_images:
            self.session.background.spawn(self._preview(jid, message, attachment, file))
        return message

    async def _upload(self, service: UploadService, file: Path, size: int, content_type: str,
                      transfer: Transfer) -> str:
        import aiohttp

        plugin = self.session.stream.plugin["xep_0363"]
        try:
            slot_iq = await plugin.request_slot(JID(service.jid), file.name, size, content_type,
                                                timeout=TIMEOUT)
        except IqTimeout:
            raise FileError("The upload service did not answer; check the connection and send the "
                            "file again.") from None
        except IqError as error:
            text = error.iq["error"]["text"] or error.iq["error"]["condition"]
            raise FileError(f"The server refused to take {file.name}: {text}. Send a smaller file, or "
                            "ask the administrator about the upload quota.") from None
        slot = slot_iq["http_upload_slot"]
        transfer.url = str(slot["get"]["url"])
        headers = {"Content-Length": str(size), "Content-Type": content_type,
                   **{h["name"]: h["value"] for h in slot["put"]["headers"]}}
        try:
            async with self.http.put(slot["put"]["url"], data=self._read(file, transfer),
                                     headers=headers) as response:
                if response.status >= 400:
                    raise FileError(f"The upload of {file.name} failed: the server answered HTTP "
                                    f"{response.status} {response.reason or ''}".rstrip()
                                    + ". Try again; if it keeps failing, tell the administrator.")
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise FileError(f"The upload of {file.name} failed ({type(error).__name__}: {error}); "
                            "check the connection and send the file again.") from None
        return str(slot["get"]["url"])

    async def _read(self, file: Path, transfer: Transfer) -> AsyncIterator[bytes]:
        """The file in chunks; each one counts as sent once the connection asks for the next."""
        with file.open("rb") as handle:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
                transfer.done += len(chunk)
                self._moved(transfer)

    def _with_oob(self, stanza: Any) -> Any:
        """Outgoing filter: a message whose body is the URL of a file I uploaded carries that URL
        as XEP-0066 OOB, which is what makes other clients show it as a file."""
        if isinstance(stanza, Message) and stanza["body"] in self._uploaded:
            stanza["oob"]["url"] = stanza["body"]
        return stanza

    # --- receiving -------------------------------------------------------------------------------

    def _remember_oob(self, stanza: Message) -> None:
        oob = stanza.get_plugin("oob", check=True)  # without building one when absent
        if oob is not None and oob["url"] and stanza["body"]:
            self._oob[stanza["body"]] = (oob["url"], oob["desc"])

    def _on_event(self, event: events.SessionEvent) -> None:
        """Give new messages their file (before the widgets see them), and probe the ones announced
        as files (OOB) at once. A bare link is only fetched from once the user opens the files list:
        a link to anywhere must not tell its server who received it."""
        if not isinstance(event, events.MessageAdded) or event.message.attachment is not None:
            return
        message = event.message
        sent = self._uploaded.get(message.body) if message.direction is Direction.OUTGOING else None
        oob = self._oob.pop(message.body, None)
        if sent is not None:
            message.attachment = sent
        elif oob is not None:
            message.attachment = Attachment(oob[0], name_from_url(oob[0]), description=oob[1])
            self.probe(event.jid, message)

    def probe(self, jid: str, message: ChatMessage) -> None:
        """Ask the server for the size and type of a received file, in the background, and fetch
        a preview if it is a small image; the message changes when the answers come."""
        attachment = attachment_for(message)
        if attachment is None or attachment.probed:
            return
        attachment.probed = True
        self.session.background.spawn(self._probe(jid, message, attachment))

    async def _probe(self, jid: str, message: ChatMessage, attachment: Attachment) -> None:
        import aiohttp

        try:
            async with self.http.head(attachment.url, allow_redirects=True) as response:
                if response.status < 400:
                    if response.content_length is not None:
                        attachment.size = response.content_length
                    attachment.content_type = response.content_type or attachment.content_type
                else:
                    attachment.preview_note = (f"the server answered HTTP {response.status}; the "
                                               "file may have expired")
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.info("file not reachable for its size: %s", type(error).__name__)
            return
        finally:
            self._emit(events.MessageChanged(jid, message))
        settings = self._settings()
        if not attachment.is_image or not settings.preview_images or response.status >= 400:
            return
        if attachment.size is None or attachment.size > settings.preview_max_bytes:
            attachment.preview_note = (f"no preview for images over {human_size(settings.preview_max_bytes)}"
                                       "; download it to see it")
            self._emit(events.MessageChanged(jid, message))
            return
        try:
            async with self.http.get(attachment.url) as response:
                data = await response.content.read(settings.preview_max_bytes + 1)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            log.info("image not fetched for its preview: %s", type(error).__name__)
            return
        await self._preview(jid, message, attachment, data)

    async def _preview(self, jid: str, message: ChatMessage, attachment: Attachment,
                       source: bytes | Path) -> None:
        try:
            attachment.preview = await asyncio.to_thread(decode_preview, source)
            attachment.preview_note = ""
        except ValueError:
            attachment.preview_note = "not a picture this client can show"
        self._emit(events.MessageChanged(jid, message))

    # --- downloading -----------------------------------------------------------------------------

    async def download(self, jid: str, message: ChatMessage) -> Path:
        """Save the file of ``message`` in the download directory (a free name, never overwriting);
        returns where. Progress comes as :class:`TransferChanged`."""
        import aiohttp

        attachment = attachment_for(message)
        if attachment is None:
            raise FileError("That message shares no file.")
        if attachment.state is FileState.DOWNLOADING:
            raise FileError(f"{attachment.name} is being downloaded already.")
        from tui.settings import ClientSettings

        folder = self.download_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise FileError(f"Cannot create the download folder {folder} ({error.strerror}); set "
                            f"files.download_dir in {ClientSettings.path()} to a folder you can "
                            "write.") from None
        target = free_name(folder, attachment.name)
        part = target.with_name(target.name + ".part")
        transfer = self._begin(Transfer(uuid.uuid4().hex, False, jid, attachment.name, attachment.size,
                                        path=target, url=attachment.url))
        attachment.state, attachment.done, attachment.error = FileState.DOWNLOADING, 0, ""
        self._emit(events.MessageChanged(jid, message))
        try:
            await self._cancellable(transfer, self._fetch(jid, message, attachment, transfer, part))
            part.replace(target)
        except TransferCancelled:
            part.unlink(missing_ok=True)
            attachment.state, attachment.done = FileState.REMOTE, 0
            self._emit(events.MessageChanged(jid, message))
            raise
        except (FileError, aiohttp.ClientError, OSError, TimeoutError) as error:
            part.unlink(missing_ok=True)
            text = str(error) if isinstance(error, FileError) else (
                f"The download of {attachment.name} failed ({type(error).__name__}: {error}); check "
                "the connection and the free space, then press d to try again.")
            attachment.state, attachment.error = FileState.FAILED, text
            self._fail(transfer, text)
            self._emit(events.MessageChanged(jid, message))
            raise FileError(text) from None
        attachment.state, attachment.local_path, attachment.size = FileState.SAVED, target, transfer.done
        self._finish(transfer)
        if attachment.is_image and attachment.preview is None:
            await self._preview(jid, message, attachment, target)
        else:
            self._emit(events.MessageChanged(jid, message))
        return target

    async def _fetch(self, jid: str, message: ChatMessage, attachment: Attachment, transfer: Transfer,
                     part: Path) -> None:
        """GET the file into ``part``, telling progress."""
        async with self.http.get(attachment.url) as response:
            if response.status >= 400:
                raise FileError(f"{attachment.name} could not be downloaded: the server answered "
                                f"HTTP {response.status}. The file may have expired; ask the "
                                "sender to send it again.")
            total = response.content_length or attachment.size
            transfer.total = attachment.size = total
            with part.open("wb") as out:
                async for chunk in response.content.iter_chunked(CHUNK):
                    out.write(chunk)
                    transfer.done = attachment.done = transfer.done + len(chunk)
                    self._moved(transfer, jid, message)
        if total is not None and transfer.done != total:
            raise FileError(f"The download of {attachment.name} stopped at "
                            f"{human_size(transfer.done)} of {human_size(total)}; press d to try "
                            "again.")

    # --- cancelling ------------------------------------------------------------------------------

    def running(self, jid: str | None = None) -> list[Transfer]:
        """Uploads and downloads under way (of the conversation ``jid``, if given), oldest first."""
        return [t for t in self.transfers.values()
                if t.state == "running" and (jid is None or t.jid == jid)]

    def cancel(self, transfer_id: str) -> bool:
        """Stop the upload or download ``transfer_id``; True when it was running. Its ``send`` or
        ``download`` then raises :class:`TransferCancelled`."""
        transfer = self.transfers.get(transfer_id)
        task = self._moving.get(transfer_id)
        if transfer is None or transfer.state != "running" or task is None:
            return False
        transfer.state = "cancelled"
        self._emit(TransferChanged(transfer))
        task.cancel()
        return True

    async def _cancellable(self, transfer: Transfer, work: Coroutine[Any, Any, _T]) -> _T:
        """Run the network part of ``transfer`` so that :meth:`cancel` can stop it; cancelling
        the caller cancels it too."""
        task = asyncio.ensure_future(work)
        self._moving[transfer.id] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if transfer.state != "cancelled" or (current is not None and current.cancelling()):
                raise
            what = "upload" if transfer.upload else "download"
            raise TransferCancelled(f"The {what} of {transfer.name} was cancelled.") from None
        finally:
            self._moving.pop(transfer.id, None)

    # --- plumbing --------------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        """One HTTP client for uploads and downloads, trusting the account's CA file if it has one."""
        import aiohttp

        if self._http is None or self._http.closed:
            context = ssl.create_default_context()
            if self.session.account.ca_file is not None:
                context.load_verify_locations(cafile=str(self.session.account.ca_file))
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT, sock_read=60),
                headers={"User-Agent": "Switchboard"})
        return self._http

    def _begin(self, transfer: Transfer) -> Transfer:
        self.transfers[transfer.id] = transfer
        self._emit(TransferChanged(transfer))
        return transfer

    def _moved(self, transfer: Transfer, jid: str = "", message: ChatMessage | None = None) -> None:
        """Tell observers about progress, once per whole percent."""
        percent = int(100 * (transfer.progress or 0))
        if percent != transfer._shown:
            transfer._shown = percent
            self._emit(TransferChanged(transfer))
            if message is not None:
                self._emit(events.MessageChanged(jid, message))

    def _finish(self, transfer: Transfer) -> None:
        transfer.state = "done"
        self._emit(TransferChanged(transfer))

    def _fail(self, transfer: Transfer, error: str) -> None:
        transfer.state, transfer.error = "failed", error
        self._emit(TransferChanged(transfer))
