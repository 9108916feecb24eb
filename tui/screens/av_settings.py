"""Audio and video settings (AV4): microphone, speaker, ring device and camera; a test tone, a
microphone level meter, and the voice-processing switches with the reason they are unavailable.

Choices are saved to the client's settings file with Ctrl+S and apply from the next call.
"""

from __future__ import annotations

import asyncio
import glob

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Select, Static

from tui.session.audio import AudioBackend, AudioDevice, LevelMeter
from tui.settings import NO_SPEAKER, TEST_TONE, ClientSettings

DEFAULT = "(first available)"


class AVSettings(ModalScreen[None]):
    """Pick devices, try them, save."""

    DEFAULT_CSS = """
    AVSettings { align: center middle; }
    AVSettings #av { width: 74; height: auto; max-height: 30; border: tall $accent;
                     background: $surface; padding: 0 1; }
    AVSettings Select { width: 100%; margin: 0; }
    AVSettings .label { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+t", "tone", "Test tone"),
        Binding("escape", "dismiss", "Close"),
    ]

    def __init__(self, backend: AudioBackend | None = None) -> None:
        super().__init__()
        self.backend = backend or AudioBackend()
        self.settings = ClientSettings.load()
        self._meter: LevelMeter | None = None
        self._filled = -1  # the level last drawn, in blocks

    def _choices(self, devices: list[AudioDevice], extra: list[tuple[str, str]]
                 ) -> list[tuple[str, str]]:
        return [(DEFAULT, DEFAULT), *extra, *((d.label, d.name) for d in devices)]

    def compose(self) -> ComposeResult:
        calls = self.settings.calls
        inputs, outputs = self.backend.inputs(), self.backend.outputs()
        cameras = sorted(glob.glob("/dev/video*"))
        with Vertical(id="av"):
            yield Static(Text(self.backend.status(), style="bold"), id="av-status")
            if self.settings.problem:
                yield Static(Text(self.settings.problem, style="yellow"))
            yield Static("Microphone", classes="label")
            yield Select(self._choices(inputs, [("Test tone (440 Hz)", TEST_TONE)]),
                         value=calls.microphone or DEFAULT, allow_blank=False, compact=True, id="microphone")
            yield Static(id="av-level")
            yield Static("Speaker (the other side's voice)", classes="label")
            yield Select(self._choices(outputs, [("None: measure only", NO_SPEAKER)]),
                         value=calls.speaker or DEFAULT, allow_blank=False, compact=True, id="speaker")
            yield Static("Ring device", classes="label")
            yield Select(self._choices(outputs, [("Terminal bell", DEFAULT)])[1:],
                         value=calls.ring_device or DEFAULT, allow_blank=False, compact=True, id="ring")
            yield Static("Camera", classes="label")
            yield Select([(DEFAULT, DEFAULT), *((c, c) for c in cameras)],
                         value=calls.camera if calls.camera in cameras else DEFAULT,
                         allow_blank=False, compact=True, id="camera")
            if not cameras:
                yield Static(Text("No camera on this machine: video calls send a test pattern.",
                                  style="dim"))
            processing = "\n".join(f"☐ {name} — {why}"
                                   for name, why in self.backend.processing().items())
            yield Static(Text(processing, style="dim"), classes="label", id="av-processing")
            yield Static(Text("Ctrl+T test tone · Ctrl+S save · Esc close", style="dim"))

    def on_mount(self) -> None:
        self._listen()
        self.set_interval(0.1, self._show_level)

    def on_unmount(self) -> None:
        self._stop_meter()

    def _stop_meter(self) -> None:
        if self._meter is not None:
            self._meter.close()
            self._meter = None

    def _device(self, select_id: str, *, output: bool) -> AudioDevice | None:
        value = self.query_one(f"#{select_id}", Select).value
        name = None if value in (DEFAULT, TEST_TONE, NO_SPEAKER) else str(value)
        if value == DEFAULT:
            candidates = self.backend.outputs() if output else self.backend.inputs()
            return next(iter(candidates), None)
        return self.backend.find(name, output=output)

    def _listen(self) -> None:
        """Meter the chosen microphone."""
        self._stop_meter()
        self._filled = -1
        device = self._device("microphone", output=False)
        if device is None:
            return
        try:
            self._meter = LevelMeter(self.backend, device)
        except Exception as error:  # PortAudio could not open it: say so beside the meter
            self.query_one("#av-level", Static).update(Text(f"cannot open {device.name}: {error}",
                                                            style="red"))

    def _show_level(self) -> None:
        """Ten times a second; the line is redrawn only when what it says changed (an idle
        screen without a microphone used to cost 6 % of a core redrawing the same words)."""
        level = self.query_one("#av-level", Static)
        if self._meter is None:
            if not str(level.content).startswith(("cannot open", "level: no microphone")):
                level.update(Text("level: no microphone to measure", style="dim"))
            return
        filled = min(30, round(self._meter.level * 120))
        if filled != self._filled:
            self._filled = filled
            level.update(Text.assemble("level ", ("█" * filled, "green"),
                                       ("░" * (30 - filled), "dim")))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "microphone":
            self._listen()

    async def action_tone(self) -> None:
        """Play one second of 440 Hz on the chosen speaker."""
        device = self._device("speaker", output=True)
        if device is None:
            self.notify("No speaker to play a test tone on.", severity="warning")
            return
        try:
            await asyncio.to_thread(self.backend.play_tone, device)
        except Exception as error:
            self.notify(f"{device.name} could not play: {error}", severity="error")
            return
        self.notify(f"Played a test tone on {device.name}.")

    def action_save(self) -> None:
        """Write the choices to the settings file."""
        calls = self.settings.calls
        for field, select_id in (("microphone", "microphone"), ("speaker", "speaker"),
                                 ("ring_device", "ring"), ("camera", "camera")):
            value = self.query_one(f"#{select_id}", Select).value
            setattr(calls, field, None if value == DEFAULT else str(value))
        try:
            path = self.settings.save()
        except OSError as error:
            self.notify(f"Not saved: {error}. Check that the directory is writable.",
                        severity="error")
            return
        self.notify(f"Saved to {path}; the next call uses them.")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
