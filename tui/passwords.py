"""The account password in the system keyring (the ``keyring`` package): service ``switchboard``,
user name the bare JID.

A machine without a usable keyring (headless: keyring's *fail* or *null* backend) keeps nothing;
:func:`keyring_unavailable` says why, and the login screen offers no "remember password" then. The
password is never written anywhere else. ``keyring`` is imported on first use, not at start-up.
"""

from __future__ import annotations

import contextlib
from typing import Any

SERVICE = "switchboard"


def _backend() -> Any:
    import keyring

    return keyring.get_keyring()


def keyring_unavailable() -> str:
    """Why no password can be kept in the system keyring here; empty where it can."""
    from keyring.backends import chainer, fail, null

    backend = _backend()
    if isinstance(backend, (fail.Keyring, null.Keyring)) or (
            isinstance(backend, chainer.ChainerBackend) and not backend.backends):
        return ("No system keyring on this machine (no Secret Service, KWallet or macOS/Windows "
                "keychain), so the password is typed at each start.")
    return ""


def stored_password(jid: str) -> str | None:
    """The password kept for ``jid``, or None (none kept, or the keyring refused)."""
    from keyring.errors import KeyringError

    try:
        password: str | None = _backend().get_password(SERVICE, jid)
    except KeyringError:
        return None
    return password


def store_password(jid: str, password: str) -> str:
    """Keep ``password`` for ``jid``; returns why it could not be kept (empty when it was)."""
    from keyring.errors import KeyringError

    reason = keyring_unavailable()
    if reason:
        return reason
    try:
        _backend().set_password(SERVICE, jid, password)
    except KeyringError as error:
        return f"The system keyring did not keep the password ({type(error).__name__}); it is " \
               "asked for at the next start."
    return ""


def forget_password(jid: str) -> None:
    """Drop the password kept for ``jid``, if any."""
    from keyring.errors import KeyringError

    with contextlib.suppress(KeyringError):  # nothing kept, or no keyring: nothing to forget
        _backend().delete_password(SERVICE, jid)
