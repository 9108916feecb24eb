"""Room avatars (CH3, XEP-0486): the picture a room's owners put in the room's vCard (XEP-0054).

The room says in its service discovery (``muc#roominfo_avatarhash``, the SHA-1 of the picture)
whether it has one; the picture itself is the PHOTO of the vCard on the room's address. It is read
when I enter a room, when the room's configuration changes (status 104) and when the room panel
opens — ejabberd 24.12 tells occupants nothing when the vCard changes, so that is when a new
picture is noticed — and only when its hash differs from the one already shown. Owners set it from
a picture file; the room keeps it, so every client of every occupant can show it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slixmpp import JID, Message
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0054.stanza import VCardTemp

from . import events
from .attachment import Preview, human_size
from .rooms import RoomError

if TYPE_CHECKING:
    from .client import ChatSession

log = logging.getLogger(__name__)

ROOMINFO = "http://jabber.org/protocol/muc#roominfo"
HASH_FIELD = "muc#roominfo_avatarhash"
AVATAR_COLUMNS = 12
AVATAR_LINES = 5
"""The size of a room's picture in the room panel, in cells (two pixel rows per line)."""
MOST_BYTES = 128 * 1024
"""The largest picture accepted as a room avatar (it travels in one stanza, base64-encoded)."""
TIMEOUT = 15


@dataclass(frozen=True)
class RoomAvatar:
    """What a room shows as its picture."""

    hash: str
    """The SHA-1 (hex) of the picture, as the room advertises it; empty: the room has none."""
    preview: Preview | None = None
    """The picture at panel size; None when there is none or it cannot be shown."""
    note: str = ""
    """Why a picture the room has cannot be shown (empty otherwise)."""


def advertised_hash(info: Any) -> str:
    """The avatar hash in a disco#info result's ``muc#roominfo`` form; empty when there is none."""
    for form in info["disco_info"].xml.findall("{jabber:x:data}x"):
        fields = {f.get("var"): [v.text or "" for v in f.findall("{jabber:x:data}value")]
                  for f in form.findall("{jabber:x:data}field")}
        if fields.get("FORM_TYPE") == [ROOMINFO]:
            return next((value for value in fields.get(HASH_FIELD, []) if value), "")
    return ""


class RoomAvatars:
    """The pictures of the session's rooms, and setting one as an owner."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self.by_room: dict[str, RoomAvatar] = {}
        """What is known of each room's picture, by room JID (absent: not looked at yet)."""
        self._looked: set[str] = set()  # rooms looked at since I entered them
        self._reading: dict[str, asyncio.Lock] = {}  # one look at a room's picture at a time
        session.subscribe(self._on_event)

    def attach(self, stream: Any) -> None:
        """Listen to a freshly built stream (before it connects)."""
        stream.add_event_handler("groupchat_config_status", self._on_config_status)
        stream.add_event_handler("session_start", lambda _e: self._looked.clear())  # in no room

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        async def reported() -> None:
            try:
                await work
            except RoomError as exc:
                log.info("room picture not read: %s", exc)

        self.session.background.spawn(reported())

    def _on_event(self, event: events.SessionEvent) -> None:
        if isinstance(event, events.RoomChanged):
            room = self.session.rooms.by_jid.get(event.jid)
            if room is None or not room.joined:
                self._looked.discard(event.jid)
            elif event.jid not in self._looked:  # just entered
                self._looked.add(event.jid)
                self._spawn(self.refresh(event.jid))
        elif isinstance(event, events.RoomsChanged):
            for gone in set(self.by_room) - set(self.session.rooms.by_jid):
                del self.by_room[gone]
                self._looked.discard(gone)

    def _on_config_status(self, stanza: Message) -> None:
        jid = stanza["from"].bare
        if jid in self.session.rooms and 104 in stanza["muc"]["status_codes"]:
            self._spawn(self.refresh(jid))

    async def refresh(self, jid: str) -> RoomAvatar:
        """Ask the room whether its picture changed, and read it if it did (RoomChanged then).
        Raises :class:`~tui.session.rooms.RoomError` when the room does not answer."""
        if self.session.state != "online":
            raise RoomError("Not connected: the room's picture is looked at once online again.")
        # A look started by the room's notice and one by the panel would both read the picture
        # and the later would replace the earlier's: one after the other, the second finds the
        # picture known.
        async with self._reading.setdefault(jid, asyncio.Lock()):
            return await self._refresh(jid)

    async def _refresh(self, jid: str) -> RoomAvatar:
        stream = self.session.stream
        try:
            info = await stream.plugin["xep_0030"].get_info(jid=JID(jid), timeout=TIMEOUT)
        except (IqError, IqTimeout) as exc:
            raise RoomError(f"The room {jid} did not say whether it has a picture "
                            f"({type(exc).__name__}).") from None
        digest = advertised_hash(info)
        known = self.by_room.get(jid)
        if known is not None and known.hash == digest:
            return known
        avatar = RoomAvatar("")
        if digest:
            try:
                result = await stream.plugin["xep_0054"].get_vcard(JID(jid), timeout=TIMEOUT)
            except (IqError, IqTimeout) as exc:
                raise RoomError(f"The picture of the room {jid} could not be read "
                                f"({type(exc).__name__}).") from None
            avatar = await self._decoded(digest, result["vcard_temp"]["PHOTO"]["BINVAL"] or b"")
        self.by_room[jid] = avatar
        self._emit(events.RoomChanged(jid))
        return avatar

    @staticmethod
    async def _decoded(digest: str, data: bytes) -> RoomAvatar:
        from .files import decode_preview  # PyAV: only once a picture is there

        if not data:
            return RoomAvatar(digest, note="the room's vCard has no picture data")
        try:
            preview = await asyncio.to_thread(decode_preview, data, AVATAR_COLUMNS, AVATAR_LINES)
        except ValueError:
            return RoomAvatar(digest, note="the room's picture is in a format this client cannot read")
        return RoomAvatar(digest, preview)

    async def publish(self, jid: str, path: str | Path) -> RoomAvatar:
        """Make the picture in the file ``path`` the avatar of the room ``jid`` (owners only).
        Raises :class:`~tui.session.rooms.RoomError` saying what to do instead."""
        room = self.session.rooms.by_jid.get(jid)
        if room is None or not room.joined:
            raise RoomError("Open the room (Enter on it in the list) before setting its picture.")
        if room.my_affiliation != "owner":
            raise RoomError(f"Only an owner of {room.display_name} can set its picture; ask one "
                            "of them.")
        file = Path(path).expanduser()
        if not file.is_file():
            raise RoomError(f"There is no file {file}; give the path of a picture (PNG, JPEG).")
        kind = mimetypes.guess_type(file.name)[0] or ""
        if not kind.startswith("image/"):
            raise RoomError(f"{file.name} is no picture; choose a PNG, JPEG or GIF file.")
        data = await asyncio.to_thread(file.read_bytes)
        if len(data) > MOST_BYTES:
            raise RoomError(f"{file.name} has {human_size(len(data))}; a room picture can have at "
                            f"most {human_size(MOST_BYTES)}: choose a smaller one.")
        avatar = await self._decoded(hashlib.sha1(data).hexdigest(), data)  # noqa: S324 (XEP-0153)
        if avatar.preview is None:
            raise RoomError(f"{file.name} could not be read as a picture; choose a PNG or JPEG file.")
        vcard = VCardTemp()
        vcard["PHOTO"]["TYPE"] = kind
        vcard["PHOTO"]["BINVAL"] = data
        try:
            await self.session.stream.plugin["xep_0054"].publish_vcard(vcard, jid=JID(jid),
                                                                     timeout=TIMEOUT)
        except IqTimeout:
            raise RoomError("The room did not answer; check the connection and try again.") from None
        except IqError as exc:
            text = exc.iq["error"]["text"] or exc.iq["error"]["condition"]
            raise RoomError(f"The room refused the picture: {text}.") from None
        self.by_room[jid] = avatar
        self._emit(events.RoomChanged(jid))
        return avatar
