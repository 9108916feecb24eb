"""The key line at the bottom of the full screens, kept to one terminal width.

Like the status lines of poezio and profanity it says only what matters here and now: the keys of
the mode the focus is in (a picked message, the room panel) instead of the screen's, else the
screen's own; then the call keys, which show where they apply (:meth:`SwitchboardApp.check_action`);
then the command palette, docked right. A key that does not fit is left out from the end — never
cut in half, never scrolled to — and still works; every key is in the palette's *Keys* panel
(``Ctrl+P`` → *Keys*). Screens declare their keys most useful first; secondary ones have
``show=False`` and are in the palette's commands as well.

The keys are built anew only when what they show changes. Textual's footer takes all its keys out
and mounts new ones at every refresh of its screen's bindings, even for the same keys: at each focus
change, and each time a window covers the screen or goes away (``Screen.stack_updates``). Under a
window the screen below redraws on its own, so that rebuild drew the key line empty for a frame
about 0.2 s after the window opened, and a picture taken then caught it blank.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # Textual exports the footer but not its keys

GAP = 1
"""Columns after each key (the compact footer's margin)."""
PALETTE_EDGE = 1
"""The bar left of the palette key."""


def key_width(key: FooterKey) -> int:
    """Columns ``key`` takes in the compact footer, its gap included."""
    text = f"{key.key_display} {key.description}" if key.description else key.key_display
    return cell_len(text) + GAP


class KeyFooter(Footer):
    """The compact footer with what fits of the keys that apply here (see the module)."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self.left_out: list[str] = []
        """The keys the last layout had no room for, as they would read (``^f Search``)."""
        self._laid_out_for = 0
        self._shown: tuple[object, ...] | None = None
        """What the keys on show were built from (:meth:`_keys`); None before the first keys."""

    def _keys(self) -> tuple[object, ...]:
        """Everything the keys are built from: each active binding (the node it belongs to, the
        binding, whether it is enabled, its tooltip) with its key as shown, and the palette key."""
        app = self.app
        return (tuple((key, active, app.get_key_display(active.binding))
                      for key, active in self.screen.active_bindings.items()),
                self.show_command_palette and app.ENABLE_COMMAND_PALETTE)

    def bindings_changed(self, screen: Screen) -> None:
        if self._shown is not None and screen is self.screen and self._keys() == self._shown:
            return
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        self._shown = self._keys() if self._bindings_ready and self.is_attached else None
        await super().recompose()

    def _wanted(self) -> list[ActiveBinding]:
        """The keys to show, in order: the mode's (else the screen's), then the app's as the app
        declares them (a priority key of the app takes the place of the widget key it overrides)."""
        shown = [active for active in self.screen.active_bindings.values() if active.binding.show]
        in_mode = any(isinstance(a.node, Widget) and not isinstance(a.node, Screen) for a in shown)
        by_action: dict[str, ActiveBinding] = {}
        for active in shown:
            if not (in_mode and isinstance(active.node, Screen)):
                by_action.setdefault(active.binding.action, active)
        declared = [b.action for b in self.app.BINDINGS if isinstance(b, Binding)]

        def place(active: ActiveBinding) -> tuple[int, int]:
            if isinstance(active.node, Widget):
                return 0, 0
            action = active.binding.action
            return 1, declared.index(action) if action in declared else len(declared)

        return sorted(by_action.values(), key=place)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self._laid_out_for = self.size.width or self.app.size.width
        keys = []
        for active in self._wanted():
            binding = active.binding
            key = FooterKey(binding.key, self.app.get_key_display(binding), binding.description,
                            binding.action, disabled=not active.enabled, tooltip=active.tooltip)
            keys.append((key, isinstance(active.node, Widget)))  # False: the app's (call) keys
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            opener = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if opener is not None:
                binding = opener.binding
                palette = FooterKey(binding.key, self.app.get_key_display(binding),
                                    binding.description, binding.action, disabled=not opener.enabled,
                                    tooltip=binding.tooltip or binding.description,
                                    classes="-command-palette")
                width -= PALETTE_EDGE + key_width(palette)
        self.left_out = []
        while sum(key_width(key) for key, _ in keys) - GAP > width:
            droppable = [entry for entry in keys if entry[1]]
            if not droppable:
                break
            keys.remove(droppable[-1])
            dropped = droppable[-1][0]
            self.left_out.insert(0, f"{dropped.key_display} {dropped.description}".strip())
        for key, _ in keys:
            yield key.data_bind(compact=Footer.compact)
        if palette is not None:
            yield palette

    def on_resize(self, event: events.Resize) -> None:
        """Lay the keys out again for a new width."""
        if self._bindings_ready and event.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)
