"""Long training streams for the keyword model: keywords embedded between other speech and noise,
with frame-level targets.

A stream is built in the audio domain: a noise bed (real noise or music, or near silence) runs
through it, and events follow one another with random gaps: keyword clips, synthetic negative
speech (confusable words, corpus sentences) and real non-keyword speech. Every event gets its own
level around the stream's speech level; the noise bed is scaled to a drawn SNR against that level.

Targets (one per front-end frame, ``features.frame_count`` of the stream): the background label
everywhere, except for each keyword event, whose speech ends at sample ``e``: frames
``[e // hop - EARLY, e // hop + LATE)`` get the keyword's label and the frames of the word before
that window are ignored (``IGNORE``), so the model is neither pushed to fire before the word is
complete nor punished for getting ready to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audio import SAMPLE_RATE
from .features import (
    FrontEndParams,
    frame_count,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    window,
)

IGNORE = -100
#: Target window around a keyword's end, in frames (10 ms): from EARLY before to LATE after.
EARLY = 5
LATE = 25
#: Smallest gap after a keyword, so its target window lies in the gap.
MIN_GAP_AFTER_KEYWORD_S = 0.35


@dataclass
class Event:
    """A clip in the bank: int16-scaled audio peak-normalised, its label index (0 = background)
    and, for keywords, the sample range of the speech."""

    audio: np.ndarray
    label: int
    kind: str
    speech_start: int = 0
    speech_end: int = 0


@dataclass
class Placed:
    label: int
    kind: str
    start: int  # first sample of the clip in the stream
    speech_start: int  # absolute samples
    speech_end: int


@dataclass
class StreamSpec:
    """What ``make_stream`` draws from."""

    keywords: list[list[Event]]  # per label index 1..n-1 (index 0 unused)
    negatives: list[Event]  # synthetic negative speech
    real_negatives: list[Event] = field(default_factory=list)
    noises: list[np.ndarray] = field(default_factory=list)
    label_weights: np.ndarray | None = None  # over label indices 1..n-1
    p_keyword: float = 0.4
    p_real: float = 0.25
    mean_gap_s: float = 1.0


def speech_bounds(x: np.ndarray, hop: int = 160, floor_db: float = -35.0) -> tuple[int, int]:
    """First and last sample of frames within ``floor_db`` of the loudest frame."""
    n = len(x) // hop
    if n == 0:
        return 0, len(x)
    e = (x[: n * hop].astype(np.float64).reshape(n, hop) ** 2).mean(axis=1) + 1e-12
    db = 10 * np.log10(e)
    idx = np.flatnonzero(db >= db.max() + floor_db)
    return int(idx[0] * hop), int((idx[-1] + 1) * hop)


def voiced_bounds(
    x: np.ndarray, params: FrontEndParams | None = None, min_rise_db: float = 6.0
) -> tuple[int, int]:
    """First and last sample of the speech in a real recording with its own background noise.

    The energy of the mel bands between about 300 Hz and 4 kHz (where speech is and room rumble
    and hiss mostly are not), smoothed over 50 ms; the noise floor is its 10th percentile and a
    frame is speech when it rises above the floor by a third of the clip's range, at least
    ``min_rise_db`` and at most 10 dB (so the quiet last syllable of a clean recording still
    counts). ``speech_bounds`` (relative to the loudest frame) suits clean synthetic clips; on
    noisy recordings it spans the whole clip."""
    params = params or FrontEndParams()
    lm = stream_log_mel(x, params)
    if len(lm) == 0:
        return 0, len(x)
    centres = mel_to_hz(
        np.linspace(hz_to_mel(params.fmin), hz_to_mel(params.fmax), params.n_mels + 2)[1:-1]
    )
    lo, hi = int(np.searchsorted(centres, 300.0)), int(np.searchsorted(centres, 4000.0))
    db = 10.0 * np.log10(np.exp(lm[:, lo:hi].astype(np.float64)).sum(axis=1) + 1e-12)
    db = np.convolve(np.pad(db, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    floor, peak = float(np.percentile(db, 10)), float(db.max())
    idx = np.flatnonzero(db >= floor + min(max(min_rise_db, 0.35 * (peak - floor)), 10.0))
    if len(idx) == 0:  # nothing rises over the floor: no telling, the whole clip
        return 0, len(x)
    hop = params.hop_length
    return int(idx[0] * hop), min(len(x), int((idx[-1] + 1) * hop))


def _level(x: np.ndarray, peak_db: float) -> np.ndarray:
    p = float(np.max(np.abs(x))) if len(x) else 0.0
    if p == 0:
        return x.astype(np.float32)
    return (x * (10 ** (peak_db / 20) / p)).astype(np.float32)


def _noise_bed(rng, noises, n: int) -> np.ndarray:
    if not noises:
        return np.zeros(n, np.float32)
    src = noises[int(rng.integers(len(noises)))]
    if len(src) < n:
        src = np.tile(src, n // len(src) + 2)
    s = int(rng.integers(0, len(src) - n + 1))
    seg = src[s : s + n].astype(np.float32)
    return seg


def make_stream(
    rng: np.random.Generator, spec: StreamSpec, seconds: float, sr: int = SAMPLE_RATE
) -> tuple[np.ndarray, list[Placed]]:
    """A stream of about ``seconds`` seconds and the events placed in it."""
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    placed: list[Placed] = []
    speech_peak = float(rng.uniform(-30.0, -3.0))
    pos = int(rng.uniform(0.0, 1.0) * sr)
    n_labels = len(spec.keywords)
    w = spec.label_weights
    kw_idx = [i for i in range(1, n_labels) if spec.keywords[i]]
    if w is not None:
        pw = np.array([w[i - 1] for i in kw_idx], dtype=float)
        pw /= pw.sum()
    else:
        pw = None
    while True:
        u = rng.random()
        if kw_idx and u < spec.p_keyword:
            lab = kw_idx[int(rng.choice(len(kw_idx), p=pw))]
            pool = spec.keywords[lab]
        elif spec.real_negatives and u < spec.p_keyword + spec.p_real:
            pool = spec.real_negatives
        else:
            pool = spec.negatives
        ev = pool[int(rng.integers(len(pool)))]
        a = ev.audio
        if a.dtype == np.int16:
            a = a.astype(np.float32) / 32768.0
        if pos + len(a) > n:
            break
        peak = min(-0.5, speech_peak + float(rng.uniform(-6.0, 4.0)))
        out[pos : pos + len(a)] += _level(a, peak)
        if ev.label > 0:
            placed.append(
                Placed(ev.label, ev.kind, pos, pos + ev.speech_start, pos + ev.speech_end)
            )
            gap_min = MIN_GAP_AFTER_KEYWORD_S
        else:
            gap_min = 0.05
        gap = max(gap_min, min(4.0, float(rng.exponential(spec.mean_gap_s))))
        pos += len(a) + int(gap * sr)
    # Noise bed: none (10%), one or two sources, SNR against the stream's speech level.
    u = rng.random()
    if u > 0.1 and spec.noises:
        bed = _noise_bed(rng, spec.noises, n)
        if rng.random() < 0.3:
            bed = bed + _noise_bed(rng, spec.noises, n) * float(rng.uniform(0.2, 1.0))
        pn = float(np.mean(bed.astype(np.float64) ** 2))
        if pn > 0:
            # A -1 dBFS-peak utterance has a mean power of about -20 dB over its speech.
            ps = 10 ** ((speech_peak - 19.0) / 10)
            snr = float(rng.uniform(0.0, 20.0) if rng.random() < 0.8 else rng.uniform(20, 40))
            out += bed * np.float32(np.sqrt(ps / (pn * 10 ** (snr / 10))))
    # A faint noise floor, as in any microphone.
    floor_db = float(rng.uniform(-95.0, -65.0))
    out += rng.standard_normal(n).astype(np.float32) * np.float32(10 ** (floor_db / 20))
    np.clip(out, -1.0, 1.0, out=out)
    return out, placed


def frame_targets(
    n_samples: int, placed: list[Placed], params: FrontEndParams | None = None
) -> np.ndarray:
    """Per-frame targets (int64): 0 background, keyword label in its window, IGNORE before."""
    params = params or FrontEndParams()
    t = frame_count(n_samples, params)
    y = np.zeros(t, np.int64)
    hop = params.hop_length
    for p in placed:
        fe = p.speech_end // hop
        fs = p.speech_start // hop
        a, b = max(0, fe - EARLY), min(t, fe + LATE)
        y[max(0, fs) : a] = IGNORE
        if a < b:
            y[a:b] = p.label
    return y


class FastLogMel:
    """The reference log-mel (``features.log_mel``) in float32 for training streams."""

    def __init__(self, params: FrontEndParams | None = None) -> None:
        self.p = params or FrontEndParams()
        self.win = window(self.p).astype(np.float32)
        self.fb = mel_filterbank(self.p).T.astype(np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        p = self.p
        x = np.asarray(x, np.float32)
        y = x.copy()
        if p.preemphasis:
            y[1:] -= np.float32(p.preemphasis) * x[:-1]
        t = frame_count(len(y), p)
        if t == 0:
            return np.zeros((0, p.n_mels), np.float32)
        idx = np.arange(t)[:, None] * p.hop_length + np.arange(p.win_length)[None, :]
        spec = np.fft.rfft(y[idx] * self.win, n=p.n_fft, axis=1)
        pw = (spec.real**2 + spec.imag**2).astype(np.float32)
        return np.log(np.maximum(pw @ self.fb, np.float32(p.log_floor)))


def fast_pcen(log_mel_frames: np.ndarray, params: FrontEndParams) -> np.ndarray:
    """``features.pcen`` vectorised (the smoother as an IIR filter over time), float32 out."""
    from scipy.signal import lfilter

    from .features import PCEN_FIELDS

    x = np.asarray(log_mel_frames, np.float64)
    if params.pcen is None:
        raise ValueError("these front-end parameters have no pcen settings")
    s, alpha, delta, root, eps = (float(params.pcen[k]) for k in PCEN_FIELDS)
    if len(x) == 0:
        return np.zeros(x.shape, np.float32)
    energy = np.exp(x)
    # M[t] = (1 - s) M[t-1] + s E[t], started from M[-1] = E[0].
    smooth, _ = lfilter([s], [1.0, s - 1.0], energy, axis=0, zi=((1.0 - s) * energy[:1]))
    out = (energy / (eps + smooth) ** alpha + delta) ** root - delta**root
    return out.astype(np.float32)


def stream_log_mel(x: np.ndarray, params: FrontEndParams, block: int = 20000) -> np.ndarray:
    """Reference log-mel of a long stream, computed in blocks of frames (float64 per block):
    the same frames as ``features.log_mel`` on the whole stream, in bounded memory."""
    from .features import preemphasis

    y = preemphasis(np.asarray(x, np.float64), params.preemphasis)
    t = frame_count(len(y), params)
    win = window(params)
    fb = mel_filterbank(params).T
    out = np.zeros((t, params.n_mels), np.float32)
    for s in range(0, t, block):
        e = min(t, s + block)
        idx = np.arange(s, e)[:, None] * params.hop_length + np.arange(params.win_length)[None, :]
        spec = np.fft.rfft(y[idx] * win, n=params.n_fft, axis=1)
        pw = spec.real**2 + spec.imag**2
        out[s:e] = np.log(np.maximum(pw @ fb, params.log_floor))
    return out
