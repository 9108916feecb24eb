"""Sound devices for calls (AV4) through real PortAudio, on ALSA's null device: what a machine
without a sound card can still exercise — recording, playing, metering, choosing and saving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Select

from tui.app import SwitchboardApp
from tui.screens.av_settings import AVSettings
from tui.session import Account
from tui.session.audio import AudioBackend, LevelMeter, MicrophoneTrack, Speaker
from tui.session.calls import MediaSources
from tui.settings import TEST_TONE, CallSettings, ClientSettings
from xmpp_components.plugins.jingle.media import ToneTrack

NULL_DEVICES = """
pcm.!default { type null }
pcm.switchboard_null { type null hint { show on description "Null device for tests" } }
"""


@pytest.fixture
def null_audio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AudioBackend]:
    """PortAudio seeing two ALSA null devices (silence in, nothing out), whatever the machine has."""
    (tmp_path / ".asoundrc").write_text(NULL_DEVICES)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(tmp_path / "client.json"))
    backend = AudioBackend()
    assert backend.available, backend.reason
    backend.rescan()
    yield backend
    monkeypatch.undo()
    backend.rescan()


async def test_a_null_microphone_records_and_a_null_speaker_plays(null_audio) -> None:
    names = {d.name for d in null_audio.inputs()}
    assert "switchboard_null" in names and {d.name for d in null_audio.outputs()} >= names
    device = null_audio.find("switchboard_null", output=False)
    assert device is not None
    microphone = MicrophoneTrack(null_audio, device)
    frames = [await microphone.recv() for _ in range(5)]
    microphone.stop()
    assert all(f.samples == 960 and f.sample_rate == 48000 for f in frames)
    assert [f.pts for f in frames] == [0, 960, 1920, 2880, 3840]

    speaker = Speaker(null_audio, null_audio.outputs()[0], ToneTrack(440))
    await speaker.wait_frames(10)
    await speaker.close()

    meter = LevelMeter(null_audio, device)
    await meter.wait_measured()
    assert meter.blocks > 0 and 0.0 <= meter.level <= 1.0
    meter.close()


async def test_call_sources_follow_the_settings_and_say_what_stands_in(null_audio) -> None:
    choice = CallSettings(microphone="switchboard_null")
    sources = MediaSources(null_audio, lambda: choice)
    track, note = sources.microphone()
    assert isinstance(track, MicrophoneTrack) and note == ""
    track.stop()

    choice = CallSettings(microphone="a headset unplugged yesterday")
    track, note = sources.microphone()
    assert isinstance(track, MicrophoneTrack) and "is gone" in note
    track.stop()

    choice = CallSettings(microphone=TEST_TONE, speaker="none")
    track, note = sources.microphone()
    assert isinstance(track, ToneTrack) and "test tone" in note
    assert sources.speaker(ToneTrack()) == (None, "")

    _camera, note = sources.camera()
    assert "test pattern" in note or note == ""  # a machine with /dev/video0 sends its camera


async def test_the_settings_screen_meters_plays_and_saves(null_audio) -> None:
    app = SwitchboardApp(Account("alice@localhost", "alice"), autoconnect=False)
    async with app.run_test(size=(100, 36)) as pilot:
        await app.push_screen(AVSettings(null_audio))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AVSettings)
        assert "2 inputs, 2 outputs" in str(screen.query_one("#av-status").render())
        assert "not offered by PortAudio" in str(screen.query_one("#av-processing").render())
        screen.query_one("#microphone", Select).value = "switchboard_null"
        await pilot.pause()
        assert screen._meter is not None
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("Played a test tone" in str(n.message) for n in app._notifications)
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = json.loads(ClientSettings.path().read_text())
    assert saved["calls"]["microphone"] == "switchboard_null"
    assert "problem" not in saved


def test_a_broken_settings_file_gives_defaults_and_says_why(tmp_path, monkeypatch) -> None:
    path = tmp_path / "client.json"
    path.write_text("{not json")
    monkeypatch.setenv("SWITCHBOARD_CLIENT_CONFIG", str(path))
    settings = ClientSettings.load()
    assert settings.calls == CallSettings() and str(path) in settings.problem
    assert path.read_text() == "{not json"  # nothing is overwritten until the user saves


def test_settings_screen_snapshot(snap_compare, null_audio) -> None:
    # the test tone is chosen: ALSA's null device records noise, which would move the meter
    ClientSettings(calls=CallSettings(microphone=TEST_TONE)).save()

    async def open_settings(pilot) -> None:
        await pilot.app.push_screen(AVSettings(null_audio))
        await pilot.pause()

    app = SwitchboardApp(Account("alice@localhost", "alice"), autoconnect=False)
    assert snap_compare(app, terminal_size=(100, 36), run_before=open_settings)
