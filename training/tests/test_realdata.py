"""Real-recording loaders: labels, speaker groups, 16 kHz reading (on a fake layout, and on
HARK_DATA when present)."""

import numpy as np
import pytest
import soundfile as sf

from hark_train import realdata as R
from hark_train.texts import NEGATIVE, data_dir

U1 = "a22c04c8-3c2d-4c64-8fc4-4763a19b3819"
U2 = "e3f8eeb2-9763-4cfa-8554-bffd743f45b8"


def _write(path, seconds=0.25, sr=16000, channels=1, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    x = 0.1 * np.sin(np.arange(n) / 3.0)
    if channels == 2:
        x = np.stack([x, x], axis=1)
    sf.write(str(path), x, sr, format=fmt) if fmt else sf.write(str(path), x, sr)
    return path


@pytest.fixture()
def fake_data(tmp_path):
    d = tmp_path / "data"
    p = d / "precise"
    _write(p / "computer" / "en" / f"computer-en-{U1}.flac")
    _write(p / "computer" / "en" / f"computer-en-{U2}.flac")
    _write(p / "heycomputer" / "en" / "heycomputer-en-00000000-0000-0000-0000-000000000000.flac")
    _write(p / "athena" / "en" / f"athena-en-{U2}.flac")
    _write(p / "android" / f"9df8_0f4d_37d9afcaf9099b62_android_{U1}_1608017024821.flac")
    _write(p / "not-wake-words" / "en" / f"notwakeword-en-{U2}.flac")
    _write(p / "bg" / "bg_noise.flac", seconds=1.0)
    (p / "licenses").mkdir(parents=True)
    (p / "licenses" / "license-20190101-alice.txt").write_text(f"computer-en-{U1}.wav\n")
    (p / "licenses" / "license-20190202-bob.txt").write_text(f"x-{U2}.wav\n")
    _write(d / "fsdd" / "3_george_7.flac", seconds=0.5, sr=8000)
    _write(d / "fsdd" / "0_theo_12.flac", seconds=0.5, sr=8000)
    _write(d / "noise" / "speech_commands" / "running_tap.flac", seconds=1.0)
    return d


def test_precise(fake_data):
    kw = R.precise_keyword(fake_data)
    assert sorted((c.label, c.group) for c in kw) == [
        ("computer", "alice"),
        ("computer", "bob"),
        ("computer", "precise-heycomputer"),
    ]
    assert {c.text for c in kw} == {"computer", "hey computer"}
    other = {c.label: c.group for c in R.precise_wakewords(fake_data) if c.label != "computer"}
    assert other == {"athena": "bob", "android": "android-37d9afca"}
    nww = R.precise_not_wakewords(fake_data)
    assert [(c.label, c.group) for c in nww] == [(NEGATIVE, "bob")]
    assert [c.label for c in R.precise_noise(fake_data)] == [R.NOISE]


def test_fsdd_and_noise(fake_data):
    digits = R.fsdd(fake_data)
    assert sorted((c.label, c.group) for c in digits) == [("three", "george"), ("zero", "theo")]
    x = R.load(digits[0])
    assert x.dtype == np.float32 and len(x) == 8000  # 0.5 s at 8 kHz -> 16 kHz
    assert [c.group for c in R.speech_commands_noise(fake_data)] == ["sc-running_tap"]
    assert len(R.noise_clips(fake_data)) == 2


def test_missing_folders_give_nothing(tmp_path):
    assert R.precise_wakewords(tmp_path) == []
    assert R.fsdd(tmp_path) == []
    assert R.debian_sounds(tmp_path) == []


def test_debian_sounds_layout(tmp_path):
    root = tmp_path / "sounds"
    usr = root / "root" / "usr" / "share"
    allison = usr / "asterisk" / "sounds" / "en_US_f_Allison"
    _write(allison / "all-circuits-busy-now.wav", sr=8000)
    _write(allison / "digits" / "1.wav", sr=8000)
    _write(allison / "silence" / "1.wav", sr=8000)
    _write(usr / "asterisk" / "moh" / "macroform-cold_day.wav", seconds=1.0, sr=8000)
    hw = usr / "games" / "hedgewars" / "Data"
    _write(hw / "Sounds" / "voices" / "Pirate" / "Yessir.ogg", sr=44100, channels=2, fmt="OGG")
    _write(hw / "Sounds" / "voices" / "Pirate" / "Hello.ogg", sr=44100, fmt="OGG")
    _write(hw / "Sounds" / "voices" / "Russian" / "Yessir.ogg", sr=44100, fmt="OGG")
    _write(hw / "Music" / "City.ogg", seconds=1.0, sr=44100, channels=2, fmt="OGG")
    prompts = R.asterisk_prompts(root)
    assert sorted(c.text for c in prompts) == ["1", "all circuits busy now"]
    assert {c.group for c in prompts} == {"asterisk-en_US_f_Allison"}
    voices = R.hedgewars_voices(root)
    assert sorted((c.group, c.text) for c in voices) == [
        ("hedgewars-Pirate", "hello"),
        ("hedgewars-Pirate", "yes sir"),
        ("hedgewars-Russian", ""),
    ]
    allc = R.debian_sounds(root)
    assert len(allc) == 2 + 1 + 3 + 1
    no_yes = R.debian_sounds(root, keywords=["yes"])
    assert len(no_yes) == len(allc) - 1
    x = R.load(voices[0])
    assert x.ndim == 1 and abs(len(x) - 4000) <= 2  # 0.25 s, 44.1 kHz stereo -> 16 kHz mono
    assert len(R.load(prompts[0])) == 4000
    assert set(R.groups(allc)) >= {"asterisk-moh", "hedgewars-music"}


REAL = data_dir()


@pytest.mark.skipif(not (REAL / "precise").is_dir(), reason="HARK_DATA not present")
def test_real_data_groups():
    kw = R.precise_keyword(REAL)
    assert len(kw) >= 60
    assert {"el-tocino", "krisgesling"} <= {c.group for c in kw}
    digits = R.fsdd(REAL)
    assert len({c.group for c in digits}) >= 5
    x = R.load(digits[0])
    assert x.dtype == np.float32 and 0.1 < len(x) / 16000 < 2.5
    assert len(R.noise_clips(REAL)) >= 10


def test_seed_name_is_the_same_however_the_data_folder_is_written(tmp_path, monkeypatch):
    (tmp_path / "data" / "fsdd").mkdir(parents=True)
    a = R.Clip(str(tmp_path / "data" / "fsdd" / "0_george_1.wav"), NEGATIVE, "george")
    monkeypatch.chdir(tmp_path / "data" / "fsdd")
    b = R.Clip("../../data/fsdd/0_george_1.wav", NEGATIVE, "george")
    assert R.seed_name(a) == R.seed_name(b) == "george/fsdd/0_george_1.wav"
    assert R.seed_name(a) != R.seed_name(R.Clip(a.path, NEGATIVE, "lucas"))
