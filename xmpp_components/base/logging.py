"""Logging that never writes message bodies or secrets.

slixmpp logs every stanza at DEBUG level (``SEND: <message>…<body>hello</body>``); the filter
installed here blanks the content of elements that carry user text or credentials before any
handler sees the record, at every level.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

# elements whose text is private: chat text, SASL and component handshakes, passwords in forms
_PRIVATE_ELEMENTS = re.compile(
    r"<(?P<tag>(?:\w+:)?(?:body|subject|handshake|auth|response|challenge|success|password|value|text|"
    r"status))(?P<attrs>(?:\s[^>]*)?)>(?P<content>.*?)</(?P=tag)>",
    re.S,
)


def redact(text: str) -> str:
    """``text`` with the content of private elements replaced by ``[n chars]``."""
    return _PRIVATE_ELEMENTS.sub(
        lambda m: f"<{m['tag']}{m['attrs']}>[{len(m['content'])} chars]</{m['tag']}>", text
    )


class RedactingFilter(logging.Filter):
    """Rewrites log records so stanza dumps keep their structure but lose private content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "<" in str(record.msg) or any("<" in str(a) for a in _args(record)):
            record.msg = redact(record.getMessage())
            record.args = None
        return True


def _args(record: logging.LogRecord) -> tuple[object, ...]:
    if isinstance(record.args, tuple):
        return record.args
    return () if record.args is None else (record.args,)


QUIET_LIBRARIES = ("aiosqlite", "sqlalchemy", "openai", "httpx", "httpx2", "httpcore", "httpcore2",
                   "asyncio", "alembic")
"""Libraries whose INFO/DEBUG output carries SQL parameters or request bodies (message text):
they log warnings and errors only, whatever the process's level."""


def setup_logging(level: int | str = "INFO", log_file: Path | None = None) -> None:
    """Configure the root logger for a Switchboard process: one line per record, redacted."""
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
