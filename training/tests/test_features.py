"""The reference front-end against the formulas of docs/frontend.md and against librosa."""

import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal
import soundfile as sf

from hark_train.features import (
    FrontEndParams,
    dct_matrix,
    frame_count,
    log_mel,
    mel_filterbank,
    mfcc,
    normalise,
    power_spectrum,
    preemphasis,
    read_wav,
    window,
)
from hark_train.fixtures import alt_params

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "frontend"

# Agreement with librosa. Both sides work in float64 and only the order of rounding differs
# (numpy/pocketfft FFT and matmul vs librosa's STFT and np.dot); measured with librosa 0.11.0:
# max |diff| <= 3.2e-13 on log-mel and <= 1.8e-13 on MFCC (c0 reaches |184|). 1e-9 leaves
# room for other FFT/BLAS builds while still catching any real layout or formula difference.
LIBROSA_ATOL = 1e-9
# The filterbank is the same closed formula on both sides (measured: bit-identical).
FILTERBANK_ATOL = 1e-10

PARAM_SETS = {
    "default": FrontEndParams(),
    "alt": alt_params(),
    "rect": FrontEndParams(window="rectangular", n_fft=1024, win_length=480, hop_length=100),
}


def _wav(stem):
    x, sr = read_wav(FIXTURES / f"{stem}.wav")
    assert sr == 16000
    return x


def _librosa_log_mel(x, p):
    """docs/frontend.md, "Checking against librosa"."""
    # librosa has no pre-emphasis in melspectrogram; x[-1] = 0 is zi=0 (librosa's default
    # zi extrapolates from the first samples instead).
    y = librosa.effects.preemphasis(x, coef=p.preemphasis, zi=0.0) if p.preemphasis else x
    pad = np.zeros(p.n_fft - p.win_length)
    y = np.concatenate([y, pad])
    name = {"rectangular": "boxcar"}[p.window] if p.window == "rectangular" else p.window
    win = np.concatenate([scipy.signal.get_window(name, p.win_length, fftbins=True), pad])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Empty filters detected" would be a test bug
        s = librosa.feature.melspectrogram(
            y=y,
            sr=p.sample_rate,
            n_fft=p.n_fft,
            hop_length=p.hop_length,
            window=win,
            center=False,
            power=2.0,
            n_mels=p.n_mels,
            fmin=p.fmin,
            fmax=p.fmax,
            htk=True,
            norm=None,
            dtype=np.float64,
        )
    return np.log(np.maximum(s, p.log_floor))  # (n_mels, T)


@pytest.mark.parametrize("stem", ["speech", "quiet_speech", "tones_noise"])
@pytest.mark.parametrize("set_name", list(PARAM_SETS))
def test_agrees_with_librosa(stem, set_name):
    p = PARAM_SETS[set_name]
    x = _wav(stem)
    ref = _librosa_log_mel(x, p)
    lm = log_mel(x, p)
    assert lm.shape == ref.T.shape == (frame_count(len(x), p), p.n_mels)
    np.testing.assert_allclose(lm, ref.T, rtol=0, atol=LIBROSA_ATOL)

    c = mfcc(x, p)
    ref_scipy = scipy.fft.dct(ref, type=2, norm="ortho", axis=0)[: p.n_mfcc].T
    ref_librosa = librosa.feature.mfcc(S=ref, n_mfcc=p.n_mfcc, dct_type=2, norm="ortho").T
    np.testing.assert_allclose(c, ref_scipy, rtol=0, atol=LIBROSA_ATOL)
    np.testing.assert_allclose(c, ref_librosa, rtol=0, atol=LIBROSA_ATOL)


def test_agrees_with_librosa_on_white_noise():
    x = np.random.default_rng(0).uniform(-1, 1, 12345)
    for p in PARAM_SETS.values():
        np.testing.assert_allclose(log_mel(x, p), _librosa_log_mel(x, p).T, atol=LIBROSA_ATOL)


@pytest.mark.parametrize("set_name", list(PARAM_SETS))
def test_mel_filterbank_matches_librosa(set_name):
    p = PARAM_SETS[set_name]
    fb = mel_filterbank(p)
    ref = librosa.filters.mel(
        sr=p.sample_rate,
        n_fft=p.n_fft,
        n_mels=p.n_mels,
        fmin=p.fmin,
        fmax=p.fmax,
        htk=True,
        norm=None,
        dtype=np.float64,
    )
    assert fb.shape == (p.n_mels, p.n_fft // 2 + 1)
    np.testing.assert_allclose(fb, ref, rtol=0, atol=FILTERBANK_ATOL)


def test_mel_filterbank_shape_of_triangles():
    p = FrontEndParams()
    fb = mel_filterbank(p)
    assert fb.min() == 0.0 and fb.max() <= 1.0
    assert np.all(fb.max(axis=1) > 0.5)  # no empty band at the default resolution
    freqs = np.arange(p.n_fft // 2 + 1) * p.sample_rate / p.n_fft
    assert np.all(fb[:, freqs < p.fmin] == 0.0)
    assert np.all(fb[:, freqs > p.fmax] == 0.0)
    assert np.argmax(fb[0]) < np.argmax(fb[-1])


def test_dct_matrix_is_scipy_orthonormal_dct2():
    x = np.random.default_rng(1).normal(size=(5, 40))
    np.testing.assert_allclose(
        x @ dct_matrix(40, 13).T, scipy.fft.dct(x, type=2, norm="ortho")[:, :13], atol=1e-12
    )
    d = dct_matrix(40, 40)
    np.testing.assert_allclose(d @ d.T, np.eye(40), atol=1e-12)


@pytest.mark.parametrize(("name", "scipy_name"), [("hann", "hann"), ("hamming", "hamming")])
@pytest.mark.parametrize("n", [400, 401, 512])
def test_window_matches_scipy_periodic(name, scipy_name, n):
    w = window(FrontEndParams(window=name, win_length=n, n_fft=1024))
    np.testing.assert_allclose(w, scipy.signal.get_window(scipy_name, n, fftbins=True), atol=1e-15)
    assert w.shape == (n,)


def test_rectangular_window():
    w = window(FrontEndParams(window="rectangular"))
    np.testing.assert_array_equal(w, np.ones(400))
    np.testing.assert_array_equal(w, scipy.signal.get_window("boxcar", 400, fftbins=True))


def test_preemphasis_formula():
    x = np.array([1.0, 2.0, -1.0, 0.5])
    np.testing.assert_allclose(preemphasis(x, 0.97), [1.0, 2.0 - 0.97, -1.0 - 1.94, 0.5 + 0.97])
    np.testing.assert_array_equal(preemphasis(x, 0.0), x)
    y = np.random.default_rng(2).normal(size=1000)
    np.testing.assert_allclose(
        preemphasis(y, 0.97), scipy.signal.lfilter([1.0, -0.97], [1.0], y), atol=1e-14
    )


def test_preemphasis_uses_the_previous_sample_across_frames():
    # Frame 1 starts at sample 160; with pre-emphasis it sees x[159] through y[160]. (A
    # rectangular window, since the periodic Hann window is 0 at the frame's first sample.)
    p = FrontEndParams(window="rectangular")
    x = np.zeros(560)
    x[159] = 0.5
    lm = log_mel(x, p)
    assert lm.shape[0] == 2
    assert np.all(lm[1] > np.log(p.log_floor))  # y[160] = -0.97 * 0.5 lies in frame 1
    p0 = FrontEndParams(window="rectangular", preemphasis=0.0)
    x3 = np.zeros(560)
    x3[100] = 0.5  # frame 0 is [0, 400), frame 1 is [160, 560): only in frame 0
    lm3 = log_mel(x3, p0)
    assert np.all(lm3[1] == np.log(p0.log_floor))
    assert np.any(lm3[0] > np.log(p0.log_floor))


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, 0), (1, 0), (399, 0), (400, 1), (559, 1), (560, 2), (561, 2), (719, 2), (720, 3)],
)
def test_frame_count(n, expected):
    p = FrontEndParams()
    assert frame_count(n, p) == expected
    x = np.random.default_rng(3).uniform(-0.5, 0.5, n)
    assert log_mel(x, p).shape == (expected, 40)
    assert mfcc(x, p).shape == (expected, 13)
    assert power_spectrum(x, p).shape == (expected, 257)


def test_frame_count_other_hop():
    p = FrontEndParams(win_length=480, hop_length=100, n_fft=512)
    assert [frame_count(n, p) for n in (479, 480, 579, 580, 16000)] == [0, 1, 1, 2, 156]


def test_streaming_prefix_does_not_change_frames():
    """A frame is final once its samples have arrived: features of a prefix are a prefix."""
    p = FrontEndParams()
    x = _wav("speech")
    full = log_mel(x, p)
    for n in (400, 559, 560, 1234, 16000):
        part = log_mel(x[:n], p)
        # Not bit-exact: the batched matmul may round differently for another frame count.
        np.testing.assert_allclose(part, full[: frame_count(n, p)], rtol=0, atol=1e-12)


def test_zero_padding_is_at_the_end():
    # A frame that is a single impulse at its first sample has a flat spectrum whatever n_fft.
    p = FrontEndParams(window="rectangular", preemphasis=0.0)
    x = np.zeros(400)
    x[0] = 1.0
    np.testing.assert_allclose(power_spectrum(x, p), np.ones((1, 257)), atol=1e-15)
    # Power of a frame by hand: window, zero-pad at the end to n_fft, |rfft|^2.
    p = FrontEndParams()
    x = np.random.default_rng(4).uniform(-1, 1, 400)
    frame = np.concatenate([preemphasis(x, 0.97) * window(p), np.zeros(112)])
    np.testing.assert_allclose(
        power_spectrum(x, p)[0], np.abs(np.fft.fft(frame)[:257]) ** 2, rtol=1e-12, atol=1e-12
    )


def test_log_floor_applies_to_silence():
    for p in PARAM_SETS.values():
        lm = log_mel(np.zeros(1000), p)
        assert np.all(lm == np.log(p.log_floor))
        c = mfcc(np.zeros(1000), p)
        np.testing.assert_allclose(c[:, 0], np.sqrt(p.n_mels) * np.log(p.log_floor))
        np.testing.assert_allclose(c[:, 1:], 0.0, atol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_rejected(bad):
    x = np.zeros(1000)
    x[500] = bad
    for fn in (log_mel, mfcc, power_spectrum):
        with pytest.raises(ValueError, match="non-finite"):
            fn(x, FrontEndParams())


def test_bad_signal_shapes_and_types_rejected():
    with pytest.raises(ValueError, match="1-D"):
        log_mel(np.zeros((2, 1000)), FrontEndParams())
    with pytest.raises(ValueError, match="floating point"):
        log_mel(np.zeros(1000, dtype=np.int16), FrontEndParams())
    with pytest.raises(ValueError, match="fmax"):
        log_mel(np.zeros(1000), FrontEndParams(fmax=9000.0))


def test_float32_input_is_accepted():
    x = _wav("tones_noise")
    p = FrontEndParams()
    # 16-bit PCM / 32768 is exact in float32, so float32 input gives the same result.
    np.testing.assert_array_equal(log_mel(x.astype(np.float32), p), log_mel(x, p))
    assert log_mel(list(x[:800]), p).shape == (3, 40)


def test_normalise():
    p = FrontEndParams(n_mels=4, n_mfcc=2, mean=[1.0, -2.0], std=[2.0, 0.5])
    x = np.array([[3.0, -2.0], [1.0, -1.0]])
    np.testing.assert_allclose(normalise(x, p), [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(normalise(x, FrontEndParams()), x)
    with pytest.raises(ValueError, match="mean/std"):
        normalise(np.zeros((3, 5)), p)


def test_read_wav_int16_scaling_and_mono(tmp_path):
    pcm = np.array([[-32768, 32767], [0, 100], [16384, -16384]], dtype=np.int16)
    path = tmp_path / "stereo.wav"
    sf.write(path, pcm, 16000, subtype="PCM_16")
    x, sr = read_wav(path)
    assert sr == 16000 and x.dtype == np.float64
    np.testing.assert_array_equal(x, pcm.astype(np.float64).mean(axis=1) / 32768.0)
    mono = tmp_path / "mono.wav"
    sf.write(mono, pcm[:, 0], 8000, subtype="PCM_16")
    y, sr = read_wav(mono)
    assert sr == 8000
    np.testing.assert_array_equal(y, [-1.0, 0.0, 0.5])


# --------------------------------------------------------------------------------------------
# PCEN


def _pcen_params() -> FrontEndParams:
    from hark_train.features import PCEN_DEFAULT

    return FrontEndParams(pcen=dict(PCEN_DEFAULT))


def _bursts(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(32000) * 0.01
    x[8000:12000] *= 30.0
    x[20000:22000] += 0.3 * np.sin(2 * np.pi * 440 * np.arange(2000) / 16000)
    return x


def test_pcen_matches_librosa_started_from_the_first_frame():
    librosa = pytest.importorskip("librosa")
    from hark_train.features import pcen

    p = _pcen_params()
    lm = log_mel(_bursts(), p)
    energy = np.exp(lm).T
    c = p.pcen
    want = librosa.pcen(
        energy,
        sr=p.sample_rate,
        hop_length=p.hop_length,
        gain=c["alpha"],
        bias=c["delta"],
        power=c["root"],
        b=c["smoothing"],
        eps=c["eps"],
        zi=(1.0 - c["smoothing"]) * energy[:, :1],
    ).T
    np.testing.assert_allclose(pcen(lm, p), want, rtol=0, atol=1e-10)


def test_fast_pcen_matches_the_reference():
    from hark_train.features import pcen
    from hark_train.streams import fast_pcen

    p = _pcen_params()
    lm = log_mel(_bursts(1), p)
    np.testing.assert_allclose(fast_pcen(lm, p), pcen(lm, p), rtol=0, atol=1e-5)


def test_pcen_does_not_depend_on_the_input_level_once_settled():
    from hark_train.features import pcen

    p = _pcen_params()
    x = _bursts(2)
    quiet = pcen(log_mel(x, p), p)
    loud = pcen(log_mel(x * 10.0, p), p)  # +20 dB
    # Log-mel moves by ln(100) = 4.6 everywhere; PCEN by a few per cent (alpha = 0.98 leaves
    # a factor 100 ** 0.02 = 1.1 inside the root).
    assert np.all(np.abs(loud - quiet) <= 0.12 * np.abs(quiet) + 0.02)
    assert np.abs(loud - quiet).mean() < 0.03


def test_pcen_params_round_trip_and_bad_values_are_refused():
    p = _pcen_params()
    assert FrontEndParams.from_dict(p.to_dict()) == p
    assert "pcen" not in FrontEndParams().to_dict()
    for bad in (
        {"smoothing": 0.0},
        {"root": 1.5},
        {"delta": -1.0},
        {"eps": 0.0},
        {"alpha": 2.0},
    ):
        d = p.to_dict()
        d["pcen"] = {**d["pcen"], **bad}
        with pytest.raises(ValueError, match="pcen"):
            FrontEndParams.from_dict(d)
    d = p.to_dict()
    d["pcen"] = {"smoothing": 0.1}
    with pytest.raises(ValueError, match="exactly"):
        FrontEndParams.from_dict(d)


def test_model_features_apply_pcen_then_normalisation():
    from hark_train.features import model_features, pcen

    p = _pcen_params()
    lm = log_mel(_bursts(3), p)
    p.mean = [0.5] * p.n_mels
    p.std = [2.0] * p.n_mels
    np.testing.assert_allclose(model_features(lm, p), (pcen(lm, p) - 0.5) / 2.0, atol=1e-12)
