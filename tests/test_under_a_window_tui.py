"""What the main screen shows under a window (a dialog, the command palette): the key line keeps
its keys instead of being rebuilt (which drew it empty for a frame), and the message box keeps its
cursor shown instead of freezing it in whichever half of a blink the window found it. Headless,
fixed data, no server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.screen import Screen

from tui.app import SwitchboardApp
from tui.screens import MainScreen
from tui.widgets.chat import Composer
from tui.widgets.key_footer import KeyFooter

from .test_snapshots import demo_app, open_bob

SIZE = (80, 24)


async def changed(node: DOMNode, attribute: str) -> None:
    """Wait for the reactive ``attribute`` of ``node`` to change."""
    done = asyncio.Event()
    node.watch(node, attribute, done.set, init=False)
    await asyncio.wait_for(done.wait(), 5)


async def refreshed(screen: Screen) -> None:
    """Wait until ``screen`` has run what was scheduled for after its next refresh (a footer's
    rebuild is scheduled so)."""
    done = asyncio.Event()
    screen.call_after_refresh(done.set)
    await asyncio.wait_for(done.wait(), 5)


async def handled_the_window(screen: Screen, stack_updates: int) -> None:
    """Wait until ``screen`` has taken in that a window covers it or went away (its
    ``stack_updates`` passed ``stack_updates``) and has run what that scheduled."""
    while screen.stack_updates <= stack_updates:
        await changed(screen, "stack_updates")
    await refreshed(screen)


def key_line(footer: KeyFooter) -> list[str]:
    return [str(key.render()).strip() for key in footer.children]


@contextlib.asynccontextmanager
async def bob_open() -> AsyncIterator[tuple[SwitchboardApp, Pilot, MainScreen]]:
    """The main screen at 80×24 with Bob's conversation open, online as far as the dialogs know
    (Ctrl+T opens its dialog; nothing is sent)."""
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_bob(pilot)
        app.session.state = "online"
        yield app, pilot, app.main_screen


def cursor_drawn(composer: Composer) -> bool:
    cursor = composer.get_component_rich_style("text-area--cursor")
    return any(segment.style == cursor for y in range(composer.size.height)
               for segment in composer.render_line(y))


async def test_the_key_line_under_a_window_keeps_its_keys_and_changes_when_they_do() -> None:
    async with bob_open() as (app, pilot, main):
        footer = main.query_one(KeyFooter)
        keys = list(footer.children)
        assert "^t Send file" in key_line(footer) and "n New room" not in key_line(footer)

        before = main.stack_updates
        await pilot.press("ctrl+t")  # the attach-a-file dialog
        assert app.screen is not main
        await handled_the_window(main, before)
        assert list(footer.children) == keys  # the same keys, not taken out and mounted again
        assert all(key.region.area for key in keys)

        before = main.stack_updates
        await pilot.press("escape", "escape")  # the dialog goes, then Esc goes to the contacts
        await handled_the_window(main, before)
        for _ in range(10):  # the focus moves, then the bindings refresh, then the footer
            if "n New room" in key_line(footer):
                break
            await refreshed(main)
        assert "n New room" in key_line(footer)  # the contacts' key: rebuilt when keys change


async def test_the_message_box_cursor_stays_shown_under_a_window_and_blinks_again_after() -> None:
    async with bob_open() as (app, pilot, main):
        composer = main.query_one(Composer)
        assert app.focused is composer
        while cursor_drawn(composer):  # the blink's hidden half, where a window used to freeze it
            await changed(composer, "_cursor_visible")

        before = main.stack_updates
        main.action_attach_file()  # as the palette opens it: a key would restart the blink
        await handled_the_window(main, before)
        assert app.screen is not main and cursor_drawn(composer)

        before = main.stack_updates
        await pilot.press("escape")
        await handled_the_window(main, before)
        assert app.screen is main and cursor_drawn(composer)
        while cursor_drawn(composer):  # and it blinks again
            await changed(composer, "_cursor_visible")
