"""The client's settings file: ``client.json`` under the XDG config directory.

``SWITCHBOARD_CLIENT_CONFIG`` names another file (tests, several accounts side by side). A missing
or unreadable file gives the defaults, and the reason is kept in :attr:`ClientSettings.problem` so
the client can say it; saving writes a temporary file and renames it, so a crash never leaves half
a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

TEST_TONE = "test tone"
NO_SPEAKER = "none"


class CallSettings(BaseModel):
    """Audio and video devices for calls (AV4)."""

    microphone: str | None = None
    """Input device by name; None: the first one PortAudio lists, or a test tone without any;
    ``"test tone"``: always the 440 Hz test tone."""
    speaker: str | None = None
    """Output device for the other side's voice; None: the first output, or none (measured only);
    ``"none"``: never play it."""
    ring_device: str | None = None
    """Output device for the ring tone; None: the terminal bell."""
    camera: str | None = None
    """Camera device path such as /dev/video0; None: the first one, or a test pattern."""


class FileSettings(BaseModel):
    """Files shared in conversations (CH7)."""

    download_dir: Path | None = None
    """Where downloaded files are saved; None: the XDG download directory (usually ~/Downloads)."""
    preview_images: bool = True
    """Fetch received images up to :attr:`preview_max_bytes` to show a small preview; off: images
    are only fetched when you download them."""
    preview_max_bytes: int = 4_000_000
    """Largest received image fetched for a preview without asking."""


class NotificationSettings(BaseModel):
    """What the client tells you about while you look elsewhere, and how (CH12)."""

    model_config = ConfigDict(use_attribute_docstrings=True)  # the settings screen shows them

    messages: bool = True
    """New 1:1 messages in conversations that are not open."""
    rooms: bool = True
    """New messages in rooms that are not open."""
    mentions: bool = True
    """Someone mentions my nickname in a room: told even when room notifications are off or the
    room is muted."""
    calls: bool = True
    """Missed calls."""
    preview: bool = True
    """Show the message text in notifications; off: only who wrote and how many messages."""
    bell: bool = True
    """Ring the terminal bell with each notification."""
    desktop: bool = True
    """Also notify on the desktop where a notification service exists (notify-send or the
    freedesktop notification service on D-Bus)."""


class AccountSettings(BaseModel):
    """The account the client logs in with when started without ``--jid`` (set on the login
    screen). The password is never kept here: it is typed at each start, or kept in the system
    keyring when the user asked for that."""

    jid: str
    """The account's address, e.g. ``alice@example.org``."""
    host: str = ""
    """Server address to connect to; empty: the JID's domain."""
    port: int = 5222
    """The server's client port (XMPP c2s, STARTTLS)."""
    ca_file: Path | None = None
    """Certificate to trust for the server, for a server with a private CA; None: the system's."""
    password_in_keyring: bool = False
    """The password is in the system keyring (service ``switchboard``, user: the JID), so the
    client logs in without asking."""

    @property
    def server(self) -> str:
        """The address to connect to: :attr:`host`, or the JID's domain."""
        return self.host or self.jid.partition("@")[2].partition("/")[0]


class ClientSettings(BaseModel):
    """Everything the terminal client remembers between runs."""

    account: AccountSettings | None = None
    """The account to log in with when none is given on the command line; None: ask on the
    login screen."""
    calls: CallSettings = Field(default_factory=CallSettings)
    """Devices for calls."""
    files: FileSettings = Field(default_factory=FileSettings)
    """Downloads and image previews."""
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    """Toasts, bell and desktop notifications per kind."""
    problem: str = Field(default="", exclude=True)
    """Why the file could not be read (empty when it was fine or absent)."""

    @staticmethod
    def path() -> Path:
        """Where the settings live."""
        override = os.environ.get("SWITCHBOARD_CLIENT_CONFIG")
        if override:
            return Path(override)
        return Path(platformdirs.user_config_dir("switchboard")) / "client.json"

    @classmethod
    def load(cls) -> ClientSettings:
        """The saved settings, or the defaults (with :attr:`problem` set if the file is bad)."""
        path = cls.path()
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, ValidationError) as error:
            first = str(error).splitlines()[0]
            return cls(problem=f"{path} could not be used ({first}); defaults apply until you "
                               f"save the settings again")

    def save(self) -> Path:
        """Write the settings; returns the file."""
        return self.save_to(self.path())

    def save_to(self, path: Path) -> Path:
        """Write the settings to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(self.model_dump_json(indent=2) + "\n")
        temporary.replace(path)
        return path


def data_dir() -> Path:
    """Where the client keeps data it can rebuild (the message search index): the XDG data
    directory, or the directory ``SWITCHBOARD_CLIENT_DATA`` names (tests, several accounts)."""
    override = os.environ.get("SWITCHBOARD_CLIENT_DATA")
    return Path(override) if override else Path(platformdirs.user_data_dir("switchboard"))


def exports_dir() -> Path:
    """Where exported conversations go: the XDG download directory, or the directory
    ``SWITCHBOARD_CLIENT_EXPORTS`` names."""
    override = os.environ.get("SWITCHBOARD_CLIENT_EXPORTS")
    return Path(override) if override else Path(platformdirs.user_downloads_dir())
