"""Synthesis: cache keys, resampling, post-processing, real engine runs, missing engines."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hark_train import voices as V
from hark_train.audio import SAMPLE_RATE, resample, resample_factors, trim_silence, write_wav
from hark_train.synth import (
    CACHE_VERSION,
    Item,
    cache_key,
    cache_path,
    chunks,
    draw_settings,
    engine_installed,
    fail_path,
    festival_script,
    postprocess,
    synth_chunk,
    synth_one,
    synthesize,
)

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")


def _voice(family: str, name: str) -> V.Voice:
    for v in V.catalogue([family]):
        if v.name == name and v.available:
            return v
    pytest.skip(f"{family}:{name} not installed")


# --------------------------------------------------------------------------------------------
# Cache keys


def test_cache_key_is_stable_and_content_addressed():
    s = {"wpm": 150, "pitch": 50}
    k = cache_key("espeak-ng", "espeak:en-us", "computer", s)
    # A fixed value: a change here silently invalidates every cache (bump CACHE_VERSION instead).
    assert CACHE_VERSION == 1
    assert k == "a1e1e64fbc97e678e582923ed1c7f165c545d1fd"
    assert k == cache_key("espeak-ng", "espeak:en-us", "computer", {"pitch": 50, "wpm": 150})
    others = {
        cache_key("flite", "espeak:en-us", "computer", s),
        cache_key("espeak-ng", "espeak:en-gb", "computer", s),
        cache_key("espeak-ng", "espeak:en-us", "commuter", s),
        cache_key("espeak-ng", "espeak:en-us", "computer", {"wpm": 151, "pitch": 50}),
    }
    assert k not in others and len(others) == 4


def test_settings_draw_is_seeded_and_in_range():
    for fam, name in [
        ("espeak", "en-us"),
        ("mbrola", "mb-us1"),
        ("flite", "kal"),
        ("festival", "kal_diphone"),
        ("festival", "cmu_us_slt_arctic_hts"),
        ("pico", "en-US"),
        ("piper", "x"),
    ]:
        v = V.Voice(fam, name, "e")
        a = draw_settings(v, np.random.default_rng(3))
        assert a == draw_settings(v, np.random.default_rng(3))
        if fam in ("espeak", "mbrola"):
            assert 110 <= a["wpm"] <= 230 and 20 <= a["pitch"] <= 80
        if fam == "piper":
            assert 0.75 <= a["length_scale"] <= 1.35
        if name == "cmu_us_slt_arctic_hts":
            assert "pitch" not in a


# --------------------------------------------------------------------------------------------
# Resampling and post-processing


@pytest.mark.parametrize(
    ("sr", "up", "down"),
    [(22050, 320, 441), (8000, 2, 1), (44100, 160, 441), (48000, 1, 3), (32000, 1, 2),
     (10000, 8, 5), (16000, 1, 1)],
)  # fmt: skip
def test_resample_factors_are_exact(sr, up, down):
    assert resample_factors(sr) == (up, down)
    assert sr * up == SAMPLE_RATE * down
    x = np.random.default_rng(0).standard_normal(sr // 10 * 3).astype(np.float32)
    y = resample(x, sr)
    assert y.dtype == np.float32
    assert len(y) == -(-len(x) * up // down)  # resample_poly: ceil(n * up / down)


def test_resample_keeps_a_tone():
    t = np.arange(22050) / 22050
    y = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), 22050)
    assert len(y) == 16000
    f = np.argmax(np.abs(np.fft.rfft(y))) * SAMPLE_RATE / len(y)
    assert abs(f - 440) <= 1


def test_trim_silence_leaves_100ms_each_side():
    sr = SAMPLE_RATE
    tone = 0.5 * np.sin(2 * np.pi * 300 * np.arange(int(0.3 * sr)) / sr)
    x = np.concatenate([np.zeros(sr), tone, np.zeros(sr)]).astype(np.float32)
    y = trim_silence(x, sr, pad_s=0.1)
    assert abs(len(y) / sr - 0.5) < 0.02
    # Too little margin: padded with zeros up to 100 ms.
    y2 = trim_silence(tone.astype(np.float32), sr, pad_s=0.1)
    assert abs(len(y2) / sr - 0.5) < 0.02 and y2[0] == 0 and y2[-1] == 0


def test_postprocess_rejects_broken_output():
    sr = 22050
    assert postprocess(np.zeros(0, np.float32), sr)[1] == "empty output"
    bad = np.ones(sr, np.float32)
    bad[5] = np.nan
    assert "non-finite" in postprocess(bad, sr)[1]
    assert "silent" in postprocess(np.zeros(sr, np.float32), sr)[1]
    click = np.zeros(sr, np.float32)
    click[100] = 0.5
    x, reason = postprocess(click, sr)
    assert x is not None or "short" in reason
    tone = (0.3 * np.sin(np.arange(sr) / 5)).astype(np.float32)
    x, reason = postprocess(tone, sr)
    assert reason == "" and x.dtype == np.float32
    assert abs(20 * np.log10(np.abs(x).max()) + 1.0) < 1e-3  # peak -1 dBFS


def test_festival_script_escapes_and_survives_errors(tmp_path):
    v = V.Voice("festival", "kal_diphone", "festival")
    s = festival_script(v, [("k1", 'say "hi" \\ now', {"stretch": 1.2, "pitch": 1.1})], tmp_path)
    assert '"say \\"hi\\" \\\\ now"' in s
    assert "(voice_kal_diphone)" in s and "unwind-protect" in s and "HARK_FAIL" in s
    assert "Duration_Stretch 1.2000" in s and "target_f0_mean 115.5" in s
    hts = V.Voice("festival", "cmu_us_slt_arctic_hts", "festival")
    s = festival_script(hts, [("k2", "go", {"stretch": 2.0})], tmp_path)
    assert '"-r" 0.5000' in s


def test_chunks_group_by_voice_and_cut():
    a, b = V.Voice("espeak", "a", "espeak-ng"), V.Voice("piper", "b", "piper")
    items = [Item.make(a, f"t{i}", {}) for i in range(70)] + [Item.make(b, "x", {})]
    cs = chunks(items)
    assert [len(c[1]) for c in cs] == [32, 32, 6, 1]
    assert cs[-1][0] == b


# --------------------------------------------------------------------------------------------
# Real synthesis


@needs_espeak
def test_espeak_two_words_and_cache_skip(tmp_path):
    v = _voice("espeak", "en-us")
    items = [Item.make(v, w, {"wpm": 170, "pitch": 50}) for w in ("yes", "stop")]
    res, stats = synthesize(items, tmp_path, jobs=1)
    assert all(r.ok and not r.cached for r in res.values())
    assert stats.made["espeak"] == 2
    for it in items:
        p = cache_path(tmp_path, it.key)
        info = sf.info(str(p))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "FLOAT")
        assert 0.3 <= info.duration <= 1.5, info.duration
        assert abs(info.duration - res[it.key].duration) < 1e-6
    mtimes = {it.key: cache_path(tmp_path, it.key).stat().st_mtime_ns for it in items}
    res2, stats2 = synthesize(items, tmp_path, jobs=1)
    assert all(r.ok and r.cached for r in res2.values())
    assert stats2.made.get("espeak", 0) == 0 and stats2.cached == 2
    assert mtimes == {it.key: cache_path(tmp_path, it.key).stat().st_mtime_ns for it in items}


@needs_espeak
def test_same_seed_same_bytes(tmp_path):
    v = _voice("espeak", "en-gb")
    items = [Item.make(v, "jarvis", {"wpm": 150, "pitch": 40})]
    synthesize(items, tmp_path / "a", jobs=1)
    synthesize(items, tmp_path / "b", jobs=1)
    a, b = (cache_path(tmp_path / d, items[0].key).read_bytes() for d in "ab")
    assert a == b


def test_float_wav_writer(tmp_path):
    x = (0.1 * np.random.default_rng(0).standard_normal(1001)).astype(np.float32)
    write_wav(tmp_path / "a.wav", x)
    write_wav(tmp_path / "b.wav", x)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    y, sr = sf.read(str(tmp_path / "a.wav"), dtype="float32")
    assert sr == 16000 and np.array_equal(x, y)
    assert sf.info(str(tmp_path / "a.wav")).subtype == "FLOAT"
    assert not list(tmp_path.glob(".tmp-*"))


@needs_espeak
def test_espeak_settings_change_the_audio():
    v = _voice("espeak", "en-us")
    slow = synth_one(v, "computer", {"wpm": 110, "pitch": 50})
    fast = synth_one(v, "computer", {"wpm": 220, "pitch": 50})
    assert len(slow) > 1.3 * len(fast)


def test_missing_engine_is_a_logged_failure_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    v = V.Voice("flite", "kal", "flite")
    it = Item.make(v, "go", {"stretch": 1.0})
    res, stats, made = synth_chunk(v, [it], tmp_path)
    assert made == 1 and not res[0].ok and "could not start" in res[0].reason
    assert fail_path(tmp_path, it.key).is_file()
    # A recorded failure is not retried.
    res2, _, made2 = synth_chunk(v, [it], tmp_path)
    assert made2 == 0 and res2[0].cached and not res2[0].ok
    bogus = V.Voice("flite", "kal", "no-such-engine")
    r, _, _ = synth_chunk(bogus, [Item.make(bogus, "go", {})], tmp_path)
    assert not r[0].ok and "no engine" in r[0].reason


def test_catalogue_with_no_engine_installed(monkeypatch, tmp_path):
    monkeypatch.setattr(V.shutil, "which", lambda name: None)
    monkeypatch.setattr(V, "MBROLA_DIRS", (str(tmp_path),))
    monkeypatch.setattr(V, "FESTIVAL_VOICE_DIRS", (str(tmp_path),))
    monkeypatch.setattr(V, "PICO_LANG_DIRS", (str(tmp_path),))
    monkeypatch.setattr(V, "PIPER_PACKAGES", {"no_such_voice_module_xyz": "x"})
    V._espeak_tables.cache_clear()
    try:
        cat = V.catalogue()
        assert {v.family for v in cat} == set(V.DEFAULT_FAMILIES)
        assert not any(v.available for v in cat)
        assert all(v.note for v in cat)
        assert V.available_voices() == []
    finally:
        V._espeak_tables.cache_clear()
    with pytest.raises(ValueError):
        V.catalogue(["nonesuch"])


@needs_espeak
def test_catalogue_lists_espeak_accents_and_variants():
    cat = V.catalogue(["espeak"])
    names = {v.name for v in cat if v.available}
    assert {"en-us", "en-gb", "en-us+f3", "en-gb-scotland+klatt"} <= names
    assert len(cat) == len(set(v.id for v in cat))


# Optional engines: one short word each, skipped when the engine is not installed here.
OPTIONAL = [
    ("mbrola", "mb-us1", "mbrola"),
    ("flite", "kal16", "flite"),
    ("flite", "kal", "flite"),
    ("pico", "en-GB", "pico2wave"),
    ("festival", "kal_diphone", "festival"),
    ("festival", "cmu_us_slt_arctic_hts", "festival"),
    ("piper", "en_US-joe-medium", "piper"),
    ("kokoro", "jm_kumo", "kokoro"),
    ("kokoro", "jf_alpha+jf_nezumi", "kokoro"),
]


@pytest.mark.parametrize(("family", "name", "binary"), OPTIONAL)
def test_optional_engine(family, name, binary):
    if not engine_installed(binary):
        pytest.skip(f"{binary} not installed")
    v = _voice(family, name)
    s = draw_settings(v, np.random.default_rng(1))
    x = synth_one(v, "stop", s)
    assert x.dtype == np.float32 and x.ndim == 1
    assert 0.3 <= len(x) / SAMPLE_RATE <= 1.5


def test_cache_paths_are_sharded(tmp_path):
    k = "ab" + "0" * 38
    assert cache_path(tmp_path, k) == Path(tmp_path) / "ab" / f"{k}.wav"
