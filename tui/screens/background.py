"""Session calls started from a screen that run in the background: the screen stays live, and a
failure becomes a notification — the error's own text for the failures the caller expects (they
say what to do next), a general sentence for anything else — never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from textual.screen import Screen

log = logging.getLogger(__name__)

T = TypeVar("T")


def run_reported(screen: Screen[Any], work: Coroutine[Any, Any, T], title: str,
                 expected: tuple[type[Exception], ...],
                 then: Callable[[T], object] | None = None, group: str = "default") -> None:
    """Run ``work`` as a worker of ``screen``; call ``then`` with its result, or notify under
    ``title`` why it failed."""

    async def run() -> None:
        try:
            result = await work
        except expected as exc:
            screen.notify(str(exc), title=title, severity="error", timeout=15)
            return
        except Exception as exc:  # never a traceback in front of the user
            log.exception("%s failed", title)
            screen.notify(f"That did not work ({type(exc).__name__}); try again, and if it keeps "
                          "failing, restart the client.", title=title, severity="error", timeout=15)
            return
        if then is not None:
            then(result)

    screen.run_worker(run(), group=group)
