"""Reference audio feature front-end (log-mel and MFCC).

This module is the executable form of ``docs/frontend.md``: the Rust runtime (``src/features/``)
must match it on the shared fixtures in ``tests/fixtures/frontend/``. Everything is computed in
float64 and written as plainly as possible (explicit window formulas, explicit mel filterbank,
explicit DCT-II matrix) so that each step can be read against the spec.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

WINDOWS = ("hann", "hamming", "rectangular")

_INT_FIELDS = ("sample_rate", "win_length", "hop_length", "n_fft", "n_mels", "n_mfcc")
_FLOAT_FIELDS = ("preemphasis", "fmin", "fmax", "log_floor")
_VECTOR_FIELDS = ("mean", "std")
#: Per-channel energy normalisation (PCEN) settings, in ``FrontEndParams.pcen``.
PCEN_FIELDS = ("smoothing", "alpha", "delta", "root", "eps")
#: Fixed PCEN settings of the keyword model: a smoother with a time constant of about 0.4 s at a
#: 10-ms hop (librosa's default), gain exponent 0.98, bias 2, root 1/2 (Wang et al., 2017).
PCEN_DEFAULT = {"smoothing": 0.025, "alpha": 0.98, "delta": 2.0, "root": 0.5, "eps": 1e-6}


@dataclass
class FrontEndParams:
    """Front-end parameters, exactly the table in docs/frontend.md."""

    sample_rate: int = 16000
    win_length: int = 400
    hop_length: int = 160
    n_fft: int = 512
    window: str = "hann"
    preemphasis: float = 0.97
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 7600.0
    log_floor: float = 1e-6
    n_mfcc: int = 13
    mean: list[float] | None = None
    std: list[float] | None = None
    pcen: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; ``mean``/``std`` are omitted when absent."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _VECTOR_FIELDS:
                if value is None:
                    continue
                value = [float(v) for v in value]
            if f.name == "pcen":
                if value is None:
                    continue
                value = {k: float(value[k]) for k in PCEN_FIELDS}
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrontEndParams:
        """Build and validate parameters from a dict (e.g. a model's metadata).

        Unknown keys are an error; missing keys take their defaults.
        """
        if not isinstance(data, dict):
            raise ValueError(f"front-end parameters must be a dict, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                raise ValueError(
                    f"unknown front-end parameter {key!r} (known: {', '.join(sorted(known))})"
                )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in _INT_FIELDS:
                kwargs[key] = _as_int(key, value)
            elif key in _FLOAT_FIELDS:
                kwargs[key] = _as_float(key, value)
            elif key in _VECTOR_FIELDS:
                kwargs[key] = None if value is None else [_as_float(key, v) for v in value]
            elif key == "pcen":
                if value is not None and not isinstance(value, dict):
                    raise ValueError(f"pcen must be a table of {', '.join(PCEN_FIELDS)}")
                kwargs[key] = None
                if value is not None:
                    kwargs[key] = {k: _as_float(f"pcen.{k}", v) for k, v in value.items()}
            elif key == "window":
                if not isinstance(value, str):
                    raise ValueError(f"window must be a string, got {value!r}")
                kwargs[key] = value
        params = cls(**kwargs)
        params.validate()
        return params

    def validate(self) -> None:
        """Raise ValueError if the parameters are inconsistent or out of range."""
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {self.sample_rate}")
        if self.win_length <= 0:
            raise ValueError(f"win_length must be > 0, got {self.win_length}")
        if self.hop_length <= 0:
            raise ValueError(f"hop_length must be > 0, got {self.hop_length}")
        if self.n_fft < self.win_length:
            raise ValueError(f"n_fft ({self.n_fft}) must be >= win_length ({self.win_length})")
        if self.window not in WINDOWS:
            raise ValueError(f"unknown window {self.window!r} (known: {', '.join(WINDOWS)})")
        if not 0.0 <= self.preemphasis <= 1.0:
            raise ValueError(f"preemphasis must be in [0, 1], got {self.preemphasis}")
        if self.n_mels <= 0:
            raise ValueError(f"n_mels must be > 0, got {self.n_mels}")
        if self.fmin < 0.0:
            raise ValueError(f"fmin must be >= 0, got {self.fmin}")
        if self.fmax > self.sample_rate / 2:
            raise ValueError(
                f"fmax ({self.fmax}) must be <= sample_rate / 2 ({self.sample_rate / 2})"
            )
        if not self.fmin < self.fmax:
            raise ValueError(f"fmin ({self.fmin}) must be < fmax ({self.fmax})")
        if self.log_floor <= 0.0:
            raise ValueError(f"log_floor must be > 0, got {self.log_floor}")
        if not 1 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc ({self.n_mfcc}) must be in [1, n_mels ({self.n_mels})]")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std must be given together")
        if self.mean is not None and self.std is not None:
            if len(self.mean) != len(self.std):
                raise ValueError(f"mean has {len(self.mean)} values but std has {len(self.std)}")
            if len(self.mean) not in (self.n_mfcc, self.n_mels):
                raise ValueError(
                    f"mean/std have {len(self.mean)} values; expected n_mfcc ({self.n_mfcc}) "
                    f"or n_mels ({self.n_mels})"
                )
            if not all(math.isfinite(v) for v in self.mean):
                raise ValueError("mean must be finite")
            if not all(math.isfinite(v) and v > 0.0 for v in self.std):
                raise ValueError("std values must be finite and > 0")
        if self.pcen is not None:
            _validate_pcen(self.pcen)


def _validate_pcen(pcen: dict[str, float]) -> None:
    if set(pcen) != set(PCEN_FIELDS):
        raise ValueError(f"pcen must hold exactly {', '.join(PCEN_FIELDS)}; got {sorted(pcen)}")
    v = {k: float(pcen[k]) for k in PCEN_FIELDS}
    if not all(math.isfinite(x) for x in v.values()):
        raise ValueError("pcen values must be finite")
    if not 0.0 < v["smoothing"] <= 1.0:
        raise ValueError(f"pcen.smoothing must be in (0, 1], got {v['smoothing']}")
    if not 0.0 <= v["alpha"] <= 1.0:
        raise ValueError(f"pcen.alpha must be in [0, 1], got {v['alpha']}")
    if not v["delta"] > 0.0:
        raise ValueError(f"pcen.delta must be > 0, got {v['delta']}")
    if not 0.0 < v["root"] <= 1.0:
        raise ValueError(f"pcen.root must be in (0, 1], got {v['root']}")
    if not v["eps"] > 0.0:
        raise ValueError(f"pcen.eps must be > 0, got {v['eps']}")


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{name} must be an integer, got {value!r}")


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# Building blocks


def window(params: FrontEndParams) -> np.ndarray:
    """The analysis window, length ``win_length``, periodic (``fftbins=True``) form."""
    n = np.arange(params.win_length, dtype=np.float64)
    phase = 2.0 * np.pi * n / params.win_length
    if params.window == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if params.window == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    if params.window == "rectangular":
        return np.ones(params.win_length, dtype=np.float64)
    raise ValueError(f"unknown window {params.window!r} (known: {', '.join(WINDOWS)})")


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(params: FrontEndParams) -> np.ndarray:
    """Triangular HTK mel filterbank without area normalisation, shape (n_mels, n_fft//2 + 1)."""
    n_bins = params.n_fft // 2 + 1
    mels = np.linspace(hz_to_mel(params.fmin), hz_to_mel(params.fmax), params.n_mels + 2)
    h = mel_to_hz(mels)
    f = np.arange(n_bins, dtype=np.float64) * params.sample_rate / params.n_fft
    fb = np.empty((params.n_mels, n_bins), dtype=np.float64)
    for m in range(params.n_mels):
        rising = (f - h[m]) / (h[m + 1] - h[m])
        falling = (h[m + 2] - f) / (h[m + 2] - h[m + 1])
        fb[m] = np.maximum(0.0, np.minimum(rising, falling))
    return fb


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, shape (n_out, n_in): ``c = D @ x``.

    ``D[k, n] = s_k * cos(pi * k * (2n + 1) / (2 * n_in))`` with ``s_0 = sqrt(1 / n_in)`` and
    ``s_k = sqrt(2 / n_in)`` otherwise; the rows are ``scipy.fft.dct(type=2, norm="ortho")``.
    """
    k = np.arange(n_out, dtype=np.float64)[:, None]
    n = np.arange(n_in, dtype=np.float64)[None, :]
    d = np.cos(np.pi * k * (2.0 * n + 1.0) / (2.0 * n_in)) * math.sqrt(2.0 / n_in)
    d[0] *= math.sqrt(0.5)
    return d


def frame_count(n_samples: int, params: FrontEndParams) -> int:
    """Frames produced by a stream of ``n_samples``: ``1 + (L - win) // hop``, or 0 if L < win."""
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if n_samples < params.win_length:
        return 0
    return 1 + (n_samples - params.win_length) // params.hop_length


def _check_signal(signal: Any) -> np.ndarray:
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"signal must be 1-D, got shape {x.shape}")
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer):
        raise ValueError(
            f"signal must be floating point in [-1, 1], got {x.dtype} "
            "(divide 16-bit PCM by 32768, or use read_wav)"
        )
    if np.iscomplexobj(x):
        raise ValueError("signal must be real")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(f"signal has non-finite samples (first at index {bad})")
    return x


def preemphasis(signal: Any, coef: float) -> np.ndarray:
    """``y[n] = x[n] - coef * x[n-1]`` with ``x[-1] = 0``."""
    x = _check_signal(signal)
    y = x.copy()
    if coef != 0.0:
        y[1:] -= coef * x[:-1]
    return y


def power_spectrum(signal: Any, params: FrontEndParams) -> np.ndarray:
    """Power spectrum ``|X[k]|^2`` of every frame, shape (T, n_fft//2 + 1)."""
    params.validate()
    y = preemphasis(signal, params.preemphasis)
    n_frames = frame_count(len(y), params)
    n_bins = params.n_fft // 2 + 1
    if n_frames == 0:
        return np.zeros((0, n_bins), dtype=np.float64)
    starts = np.arange(n_frames) * params.hop_length
    frames = y[starts[:, None] + np.arange(params.win_length)[None, :]]
    frames = frames * window(params)[None, :]
    # rfft with n > len pads with zeros at the end, as the spec requires.
    spec = np.fft.rfft(frames, n=params.n_fft, axis=1)
    return spec.real**2 + spec.imag**2


def log_mel(signal: Any, params: FrontEndParams) -> np.ndarray:
    """Log-mel energies ``ln(max(E, log_floor))``, shape (T, n_mels), float64."""
    power = power_spectrum(signal, params)
    energies = power @ mel_filterbank(params).T
    return np.log(np.maximum(energies, params.log_floor))


def mfcc(signal: Any, params: FrontEndParams) -> np.ndarray:
    """MFCC (orthonormal DCT-II of the log-mel, first n_mfcc kept), shape (T, n_mfcc), float64."""
    lm = log_mel(signal, params)
    return lm @ dct_matrix(params.n_mels, params.n_mfcc).T


def pcen(log_mel_frames: Any, params: FrontEndParams) -> np.ndarray:
    """Per-channel energy normalisation of log-mel frames (docs/frontend.md, "PCEN").

    With ``E = exp(x)`` the floored mel energy of a frame, per band::

        M[t] = (1 - s) * M[t-1] + s * E[t]        (M[-1] = E[0]: the first frame starts it)
        P[t] = (E[t] / (eps + M[t]) ** alpha + delta) ** root - delta ** root

    A causal automatic gain control per band (divide by the smoothed energy), then root
    compression: the output does not depend on the input level, and stationary noise or hum in a
    band is pulled towards a constant. Written as a plain loop over frames, float64.
    """
    x = np.asarray(log_mel_frames, dtype=np.float64)
    if params.pcen is None:
        raise ValueError("these front-end parameters have no pcen settings")
    if x.ndim != 2 or x.shape[1] != params.n_mels:
        raise ValueError(f"pcen takes log-mel frames (T, {params.n_mels}), got {x.shape}")
    c = params.pcen
    s, alpha, delta, root, eps = (float(c[k]) for k in PCEN_FIELDS)
    out = np.zeros_like(x)
    if len(x) == 0:
        return out
    energy = np.exp(x)
    smooth = energy[0].copy()
    offset = delta**root
    for t in range(len(x)):
        smooth = (1.0 - s) * smooth + s * energy[t]
        out[t] = (energy[t] / (eps + smooth) ** alpha + delta) ** root - offset
    return out


def model_features(log_mel_frames: Any, params: FrontEndParams) -> np.ndarray:
    """What a model takes from log-mel frames: PCEN when ``params.pcen`` is set, then
    ``normalise``."""
    x = np.asarray(log_mel_frames, dtype=np.float64)
    if params.pcen is not None:
        x = pcen(x, params)
    return normalise(x, params)


def normalise(features: Any, params: FrontEndParams) -> np.ndarray:
    """``(x - mean) / std`` per coefficient (last axis); unchanged if params carry no mean/std."""
    x = np.asarray(features, dtype=np.float64)
    if params.mean is None or params.std is None:
        return x.copy()
    params.validate()
    mean = np.asarray(params.mean, dtype=np.float64)
    std = np.asarray(params.std, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] != mean.shape[0]:
        raise ValueError(f"features have shape {x.shape} but mean/std have {mean.shape[0]} values")
    return (x - mean) / std


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a WAV as float64 in [-1, 1] (16-bit PCM / 32768), mono (channels averaged)."""
    import soundfile as sf

    info = sf.info(str(path))
    if info.subtype == "PCM_16":
        data, sr = sf.read(str(path), dtype="int16", always_2d=True)
        x = data.astype(np.float64) / 32768.0
    else:
        x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return x.mean(axis=1), int(sr)
