"""Augmentation: pure, seeded, shape-keeping, and hitting the asked SNR / level."""

import io
import zipfile

import numpy as np
import pytest
import soundfile as sf

from hark_train import augment as A

SR = 16000


@pytest.fixture()
def clip():
    rng = np.random.default_rng(0)
    t = np.arange(int(0.8 * SR)) / SR
    x = 0.4 * np.sin(2 * np.pi * 220 * t) * np.hanning(len(t)) + 0.01 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def _check_pure(fn, x, *args, **kw):
    before = x.copy()
    y1 = fn(x, *args, **kw)
    assert np.array_equal(x, before), "input modified"
    return y1


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0, 17.5, 20.0])
def test_add_noise_hits_the_snr(clip, snr):
    rng = np.random.default_rng(1)
    for noise in (rng.standard_normal(3 * SR), rng.standard_normal(SR // 4)):  # long, looped
        y = _check_pure(A.add_noise, clip, noise.astype(np.float32), np.random.default_rng(2), snr)
        assert y.shape == clip.shape and y.dtype == np.float32
        assert abs(A.snr_db(clip, y) - snr) < 0.5


def test_add_noise_draws_snr_in_range(clip):
    noise = np.random.default_rng(3).standard_normal(SR).astype(np.float32)
    for seed in range(10):
        y = A.add_noise(clip, noise, np.random.default_rng(seed))
        assert -0.5 <= A.snr_db(clip, y) <= 20.5


def test_silent_noise_or_clip_is_harmless(clip):
    z = np.zeros_like(clip)
    assert np.array_equal(A.mix_at_snr(clip, z, 5.0), clip)
    assert np.array_equal(A.mix_at_snr(z, clip, 5.0), z)


def test_seeded_and_deterministic(clip):
    noise = np.random.default_rng(4).standard_normal(2 * SR).astype(np.float32)
    a = A.augment(clip, np.random.default_rng(7), [noise])
    b = A.augment(clip, np.random.default_rng(7), [noise])
    c = A.augment(clip, np.random.default_rng(8), [noise])
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_length_kept(clip):
    rng = np.random.default_rng(5)
    rir = A.simulate_rir(rng, SR, rt60=0.5)
    outs = {
        "reverb": _check_pure(A.reverb, clip, rir),
        "gain": _check_pure(A.gain, clip, -12.0),
        "vtlp_down": _check_pure(A.vtlp, clip, 0.9),
        "vtlp_up": _check_pure(A.vtlp, clip, 1.1),
        "low_pass": _check_pure(A.low_pass, clip, 4000.0),
        "telephone": _check_pure(A.telephone, clip),
        "far_field": _check_pure(A.far_field, clip, np.random.default_rng(1)),
    }
    for name, y in outs.items():
        assert y.shape == clip.shape, name
        assert y.dtype == np.float32, name
        assert np.all(np.isfinite(y)), name
    noise = np.random.default_rng(6).standard_normal(SR).astype(np.float32)
    for seed in range(5):
        info = {}
        y = A.augment(clip, np.random.default_rng(seed), [noise], [rir], p_speed=0.0, info=info)
        assert y.shape == clip.shape, info


def test_speed_changes_length_by_the_factor(clip):
    for f in (0.9, 0.95, 1.05, 1.1):
        y = _check_pure(A.speed, clip, f)
        assert abs(len(y) - len(clip) / f) <= 1
    up, down = A.speed_factors(1.1)
    assert (up, down) == (10, 11)
    with pytest.raises(ValueError):
        A.speed(clip, 0.0)


@pytest.mark.parametrize("level", [-30.0, -17.3, -6.0, 0.0])
def test_gain_sets_peak_dbfs(clip, level):
    y = A.gain(clip, level)
    assert abs(20 * np.log10(np.abs(y).max()) - level) < 0.01
    assert np.array_equal(A.gain(np.zeros(10, np.float32), level), np.zeros(10, np.float32))


def test_vtlp_near_identity_and_warps(clip):
    y = A.vtlp(clip, 1.0001)
    assert np.max(np.abs(y - clip)) < 0.01
    # A 1 kHz tone moves to ~alpha kHz under the warp.
    t = np.arange(SR) / SR
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    z = A.vtlp(tone, 1.1)
    f = np.argmax(np.abs(np.fft.rfft(z))) * SR / len(z)
    assert abs(f - 1100) < 40


def test_simulated_rir(clip):
    rng = np.random.default_rng(9)
    rir = A.simulate_rir(rng, SR, rt60=0.4, drr_db=6.0)
    assert rir[0] == 1.0 and len(rir) == int(1.2 * 0.4 * SR)
    drr = 10 * np.log10(1.0 / np.sum(rir[1:].astype(np.float64) ** 2))
    assert abs(drr - 6.0) < 0.5
    # Decay: the last 100 ms are at least 40 dB below the first 100 ms of the tail.
    e = lambda a: np.sum(a.astype(np.float64) ** 2)  # noqa: E731
    assert 10 * np.log10(e(rir[1 : SR // 10]) / e(rir[-SR // 10 :])) > 40
    for seed in range(5):
        r = A.simulate_rir(np.random.default_rng(seed), SR)
        assert int(0.1 * 1.2 * SR) <= len(r) <= int(0.8 * 1.2 * SR) + 1


def test_reverb_keeps_peak_and_alignment(clip):
    rir = np.zeros(400, np.float32)
    rir[0] = 1.0
    assert np.allclose(A.reverb(clip, rir), clip, atol=1e-6)
    delayed = np.concatenate([np.zeros(50, np.float32), rir])
    assert np.allclose(A.reverb(clip, delayed), clip, atol=1e-6)  # direct path moved to 0


def test_load_rirs_from_a_wheel(tmp_path):
    whl = tmp_path / "x-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for name, sr in [("room", 44100), ("Reverse Gate", 44100), ("hall", 16000)]:
            buf = io.BytesIO()
            ir = np.zeros((sr // 10, 2), np.float32)
            ir[3] = 0.5
            sf.write(buf, ir, sr, format="WAV")
            z.writestr(f"pkg/impulses/{name}.wav", buf.getvalue())
    rirs = A.load_rirs(tmp_path)
    assert sorted(rirs) == ["hall", "room"]
    assert len(rirs["room"]) == SR // 10 and np.max(np.abs(rirs["room"])) == pytest.approx(1.0)
    assert "Reverse Gate" in A.load_rirs(whl, rooms_only=False)


def test_spec_augment_masks_and_keeps_shape():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((100, 13)).astype(np.float32)
    before = f.copy()
    g = A.spec_augment(f, np.random.default_rng(1), time_masks=2, max_time=10, freq_masks=2)
    assert g.shape == f.shape and g.dtype == f.dtype
    assert np.array_equal(f, before)
    assert np.array_equal(g, A.spec_augment(f, np.random.default_rng(1)))
    changed = g != f
    assert changed.any()
    rows, cols = changed.all(axis=1), changed.all(axis=0)
    assert rows.sum() <= 20 and cols.sum() <= 2 * (13 // 4)
    assert np.array_equal(A.spec_augment(f, rng, time_masks=0, freq_masks=0), f)
    g0 = A.spec_augment(f, np.random.default_rng(2), fill=0.0, time_masks=3)
    assert np.all((g0 == f) | (g0 == 0.0))
    with pytest.raises(ValueError):
        A.spec_augment(f[0], rng)


def _tone_gain_db(x, y):
    return 20 * np.log10(np.std(y[2000:-2000]) / np.std(x[2000:-2000]))


@pytest.mark.parametrize("freq", [250.0, 1000.0, 4000.0])
def test_equalise_sets_the_gain_at_each_knot(freq):
    t = np.arange(16000) / 16000
    x = np.sin(2 * np.pi * freq * t).astype(np.float32)
    gains = [0.0, 2.0, 4.0, 2.0, 0.0, -3.0, -6.0, -6.0]  # smooth, as a 255-tap FIR can follow
    want = gains[list(A.EQ_KNOTS_HZ).index(freq)]
    y = A.equalise(x, gains)
    assert len(y) == len(x)
    assert abs(_tone_gain_db(x, y) - want) < 0.5
    # Linear phase, delay compensated: a flat equaliser changes nothing.
    assert np.abs(A.equalise(x, [0.0] * 8) - x)[500:-500].max() < 1e-4


def test_random_eq_draws_bounded_gains_reproducibly(clip):
    y1, g1 = A.random_eq(clip, np.random.default_rng(4), max_db=10.0)
    y2, g2 = A.random_eq(clip, np.random.default_rng(4), max_db=10.0)
    assert g1 == g2 and np.array_equal(y1, y2)
    assert len(g1) == len(A.EQ_KNOTS_HZ) and all(abs(g) <= 10.0 for g in g1)
    assert len(y1) == len(clip)


def test_the_chain_records_its_equaliser(clip):
    info: dict = {}
    A.augment(clip, np.random.default_rng(0), p_eq=1.0, info=info)
    assert len(info["eq_db"]) == len(A.EQ_KNOTS_HZ)
    info = {}
    A.augment(clip, np.random.default_rng(0), info=info)
    assert "eq_db" not in info  # off unless asked for
