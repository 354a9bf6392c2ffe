"""The recogniser's real-voice evaluation (hark_train.phoneme_real): the sets and speakers it finds
in a data folder laid out like ../shared/data, the figures it writes into the metadata, and its
card section, which replaces an earlier one and keeps the notes written by hand. The recordings
here are espeak-ng speech saved under FSDD and RAVDESS file names."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hark_train import phoneme_real as pr
from hark_train.audio import read_audio

MODELS = Path(__file__).resolve().parents[2] / "models"
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _say(text: str, path: Path, rate: int) -> None:
    """espeak-ng's ``text`` written to ``path`` at ``rate`` Hz (FSDD is 8 kHz, RAVDESS 48 kHz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True)
    sf.write(path, read_audio(raw, rate), rate)
    raw.unlink()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    _say("three", root / "fsdd" / "3_alice_0.wav", 8000)
    _say("seven", root / "fsdd" / "7_bob_1.wav", 8000)
    actor = root / "ravdess" / "Actor_05"
    _say("Kids are talking by the door", actor / "03-01-01-01-01-01-05.wav", 48000)
    _say("Dogs are sitting by the door", actor / "03-01-05-02-02-01-05.wav", 48000)
    (actor / "notes.txt").write_text("not a recording")
    return root


def test_the_sets_and_speakers_come_from_the_file_names(data) -> None:
    clips = pr.recordings(data)
    assert sorted((c.set_name, c.speaker, c.text, c.tight) for c in clips) == [
        ("fsdd", "alice", "three", True),
        ("fsdd", "bob", "seven", True),
        ("ravdess-calm", "actor5", "Kids are talking by the door", False),
        ("ravdess-emotional", "actor5", "Dogs are sitting by the door", False),
    ]


def test_a_clip_is_padded_with_quiet_on_both_sides() -> None:
    x = np.full(1600, 0.5, np.float32)
    y = pr.padded(x, 0)
    pad = int(pr.PAD_S * 16000)
    assert len(y) == len(x) + 2 * pad
    assert np.abs(y[:pad]).max() < 0.01 and np.abs(y[-pad:]).max() < 0.01


def test_figures_go_into_the_metadata_and_the_card(data, tmp_path) -> None:
    for ext in ("onnx", "json"):
        shutil.copyfile(MODELS / f"phonemes.{ext}", tmp_path / f"phonemes.{ext}")
    card = tmp_path / "phonemes.md"
    card.write_text("# Card\n\n## Evaluation\n\nfigures\n\n## Notes on this build\n\nby hand\n")
    for _ in range(2):
        result = pr.run(tmp_path, "phonemes", data, tmp_path / "work", "python -m hark_train x")
    sets = result["sets"]
    assert set(sets) == {"fsdd", "ravdess-calm", "ravdess-emotional"}
    assert sets["fsdd"]["clips"] == 2 and set(sets["fsdd"]["speakers"]) == {"alice", "bob"}
    for e in sets.values():
        assert 0.0 <= e["phoneme_error_rate"] <= 2.0
        assert e["reference_phonemes"] > 0 and e["dropped_phonemes"] == 0
    meta = json.loads((tmp_path / "phonemes.json").read_text())
    assert meta["evaluation"]["real_voices"]["fsdd"] == sets["fsdd"]
    assert meta["evaluation"]["real_voices"]["command"] == "python -m hark_train x"
    text = card.read_text()
    assert text.count(pr.SECTION) == 1
    assert text.index("## Evaluation") < text.index(pr.SECTION) < text.index("## Notes on")
    assert "FSDD digits" in text and text.endswith("by hand\n")
    assert "\n\n## Notes on this build" in text


def test_a_folder_without_recordings_is_refused(tmp_path) -> None:
    for ext in ("onnx", "json"):
        shutil.copyfile(MODELS / f"phonemes.{ext}", tmp_path / f"phonemes.{ext}")
    with pytest.raises(FileNotFoundError, match="no FSDD, RAVDESS or Precise clips"):
        pr.evaluate(tmp_path, "phonemes", tmp_path / "empty")


def test_an_unreadable_recording_is_named(tmp_path) -> None:
    for ext in ("onnx", "json"):
        shutil.copyfile(MODELS / f"phonemes.{ext}", tmp_path / f"phonemes.{ext}")
    bad = tmp_path / "data" / "fsdd" / "5_carol_0.wav"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(ValueError, match="cannot read .*5_carol_0.wav"):
        pr.evaluate(tmp_path, "phonemes", tmp_path / "data")
