"""The committed golden fixtures (tests/fixtures/frontend) are complete and up to date.

If one of these fails after a deliberate change of the front-end, regenerate the fixtures from
the repository root with ``PYTHONPATH=training python -m hark_train fixtures --out
tests/fixtures/frontend`` and commit them together with the Rust side.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import soundfile as sf

from hark_train.features import (
    PCEN_DEFAULT,
    FrontEndParams,
    dct_matrix,
    frame_count,
    mel_filterbank,
    mfcc,
    normalise,
    pcen,
    window,
)
from hark_train.fixtures import (
    PARAM_SETS,
    WAV_STEMS,
    alt_params,
    build_param_sets,
    compute_features,
    load_audio,
    load_param_sets,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "frontend"

# Fixtures are float32 roundings of the float64 reference. Compared with a fresh float64
# computation they are off by at most half a float32 ulp of the largest values (|c0| ~ 184 in
# the alt set: 7.6e-6) plus float64 noise (~1e-13), so 1e-5 holds on any platform while any
# real change of the front-end or of the WAVs shows.
FIXTURE_ATOL = 1e-5
# docs/frontend.md: the Rust runtime must match the fixtures to within 1e-4 absolute.
RUNTIME_ATOL = 1e-4
MAX_FIXTURE_BYTES = 1_000_000


@pytest.fixture(scope="module")
def signals():
    return load_audio(FIXTURES)


@pytest.fixture(scope="module")
def param_sets():
    return load_param_sets(FIXTURES)


def test_wavs_are_16k_mono_pcm16_and_short():
    for stem in WAV_STEMS:
        info = sf.info(str(FIXTURES / f"{stem}.wav"))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), stem
        assert 1.0 <= info.frames / info.samplerate <= 3.0, stem


def test_wav_levels(signals):
    def peak_dbfs(x):
        return 20 * np.log10(np.max(np.abs(x)))

    assert abs(peak_dbfs(signals["quiet_speech"]) - (-40.0)) < 0.1
    pad = int(0.3 * 16000)
    assert np.all(signals["quiet_speech"][:pad] == 0.0)
    assert np.all(signals["quiet_speech"][-pad:] == 0.0)
    assert abs(peak_dbfs(signals["tones_noise"]) - (-6.0)) < 0.1
    assert len(signals["tones_noise"]) == 16000


def test_params_json(param_sets, signals):
    assert list(param_sets) == list(PARAM_SETS)
    assert param_sets["default"] == FrontEndParams()
    assert param_sets["alt"] == alt_params()
    raw = json.loads((FIXTURES / "params.json").read_text())
    assert "mean" not in raw["default"] and "std" not in raw["default"]
    fresh = build_param_sets(signals)["norm"]
    norm = param_sets["norm"]
    assert dataclasses.replace(norm, mean=None, std=None) == FrontEndParams()
    assert len(norm.mean) == len(norm.std) == 13
    np.testing.assert_allclose(norm.mean, fresh.mean, rtol=0, atol=1e-4)
    np.testing.assert_allclose(norm.std, fresh.std, rtol=0, atol=1e-4)


def test_fixtures_match_fresh_computation(signals, param_sets):
    fresh = compute_features(signals, param_sets, dtype=np.float64)
    expected_names = {
        f"{stem}.{name}.{kind}.npy"
        for stem in WAV_STEMS
        for name in PARAM_SETS
        for kind in ("logmel", "mfcc")
    } | {f"{stem}.default.pcen.npy" for stem in WAV_STEMS}
    assert set(fresh) == expected_names
    on_disk = {p.name for p in FIXTURES.glob("*.npy")}
    assert on_disk == expected_names
    for name, arr in fresh.items():
        stored = np.load(FIXTURES / name)
        stem, set_name, kind, _ = name.split(".")
        p = param_sets[set_name]
        n = p.n_mfcc if kind == "mfcc" else p.n_mels
        assert stored.dtype == np.dtype("<f4"), name
        assert stored.shape == (frame_count(len(signals[stem]), p), n), name
        np.testing.assert_allclose(stored, arr, rtol=0, atol=FIXTURE_ATOL, err_msg=name)


def test_norm_mfcc_is_normalised(signals, param_sets):
    p = param_sets["norm"]
    stored = np.load(FIXTURES / "speech.norm.mfcc.npy").astype(np.float64)
    np.testing.assert_allclose(
        stored, normalise(mfcc(signals["speech"], p), p), rtol=0, atol=FIXTURE_ATOL
    )
    # mean/std came from this very signal: about zero mean and unit variance.
    assert np.all(np.abs(stored.mean(axis=0)) < 0.01)
    assert np.all(np.abs(stored.std(axis=0) - 1.0) < 0.01)
    np.testing.assert_array_equal(
        np.load(FIXTURES / "speech.norm.logmel.npy"),
        np.load(FIXTURES / "speech.default.logmel.npy"),
    )


def test_pcen_fixtures_use_the_keyword_settings_and_a_float32_runtime_meets_them(signals):
    p = FrontEndParams.from_dict(json.loads((FIXTURES / "pcen.json").read_text()))
    assert p.pcen == PCEN_DEFAULT
    assert dataclasses.replace(p, pcen=None) == FrontEndParams()
    for stem, x in signals.items():
        stored = np.load(FIXTURES / f"{stem}.default.pcen.npy").astype(np.float64)
        # PCEN of a float32 log-mel (as the runtime computes it) stays far inside 1e-4.
        got = pcen(_float32_log_mel(x, p).astype(np.float64), p)
        assert np.abs(got - stored).max() < 2e-5, stem
        assert np.all(stored > -1e-6)


def test_fixture_size():
    total = sum(p.stat().st_size for p in FIXTURES.iterdir())
    assert total < MAX_FIXTURE_BYTES


def _float32_log_mel(x, p):
    """A float32 pipeline as a runtime might write it (f32 samples, FFT, power, mel, log)."""
    x = x.astype(np.float32)
    y = x.copy()
    y[1:] -= np.float32(p.preemphasis) * x[:-1]
    t = frame_count(len(y), p)
    idx = np.arange(t)[:, None] * p.hop_length + np.arange(p.win_length)[None, :]
    frames = y[idx] * window(p).astype(np.float32)
    spec = scipy.fft.rfft(frames, n=p.n_fft, axis=1)
    assert spec.dtype == np.complex64
    power = spec.real**2 + spec.imag**2
    energies = power @ mel_filterbank(p).astype(np.float32).T
    return np.log(np.maximum(energies, np.float32(p.log_floor)))


def test_float32_runtime_can_meet_the_tolerance(signals, param_sets):
    """The 1e-4 cross-language budget is reachable in float32 if the DCT accumulates in f64.

    Measured: float32 log-mel is within ~8.5e-5 of the reference. A float32 DCT is not enough:
    on floored frames c0 = sqrt(n_mels) * ln(log_floor) reaches -184 (alt set) and a float32
    DCT there is off by ~1.3e-4.
    """
    for stem, x in signals.items():
        for name, p in param_sets.items():
            lm32 = _float32_log_mel(x, p)
            c = normalise(lm32.astype(np.float64) @ dct_matrix(p.n_mels, p.n_mfcc).T, p)
            stored_lm = np.load(FIXTURES / f"{stem}.{name}.logmel.npy")
            stored_c = np.load(FIXTURES / f"{stem}.{name}.mfcc.npy")
            np.testing.assert_allclose(lm32, stored_lm, rtol=0, atol=RUNTIME_ATOL)
            np.testing.assert_allclose(c, stored_c, rtol=0, atol=RUNTIME_ATOL)
