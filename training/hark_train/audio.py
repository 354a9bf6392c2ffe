"""Audio helpers shared by synthesis, real-data loaders and augmentation.

Everything in the training pipeline is 16 kHz mono float32 in [-1, 1] (``SAMPLE_RATE``), the rate
of the feature front-end (docs/frontend.md). Other rates are converted with
``scipy.signal.resample_poly`` using the exact rational factor ``SAMPLE_RATE / rate`` in lowest
terms (22050 -> 16000 is up 320, down 441; 8000 -> 16000 is up 2, down 1).
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


def resample_factors(sr_in: int, sr_out: int = SAMPLE_RATE) -> tuple[int, int]:
    """(up, down) in lowest terms with ``sr_in * up / down == sr_out`` exactly."""
    if sr_in <= 0 or sr_out <= 0 or int(sr_in) != sr_in or int(sr_out) != sr_out:
        raise ValueError(f"sample rates must be positive integers, got {sr_in} -> {sr_out}")
    ratio = Fraction(int(sr_out), int(sr_in))
    return ratio.numerator, ratio.denominator


def resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a 1-D signal by the exact rational factor (polyphase, Kaiser window)."""
    x = np.asarray(x, dtype=np.float32)
    if sr_in == sr_out:
        return x
    from scipy.signal import resample_poly

    up, down = resample_factors(sr_in, sr_out)
    return resample_poly(x, up, down).astype(np.float32)


def to_mono(x: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels) to (n,) float32, channels averaged."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"expected a 1-D or (n, channels) array, got shape {x.shape}")
    return x


def read_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any file libsndfile reads (WAV, FLAC, OGG...) as mono float32 at ``sample_rate``."""
    import soundfile as sf

    x, sr = sf.read(str(path), dtype="float32", always_2d=False)
    return resample(to_mono(x), int(sr), sample_rate)


def read_audio_bytes(data: bytes, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    import io

    import soundfile as sf

    x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return resample(to_mono(x), int(sr), sample_rate)


def write_wav(
    path: str | os.PathLike,
    x: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    subtype: str = "FLOAT",
) -> None:
    """Write mono WAV atomically (temporary file in the same folder, then rename). ``FLOAT`` is
    written by ``float_wav_bytes`` (byte-identical for identical samples); other subtypes by
    soundfile."""
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=path.parent)
    os.close(fd)
    try:
        if subtype == "FLOAT":
            Path(tmp).write_bytes(float_wav_bytes(x, sample_rate))
        else:
            sf.write(tmp, np.asarray(x, np.float32), sample_rate, subtype=subtype, format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def float_wav_bytes(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A mono 32-bit IEEE-float WAV (18-byte fmt, fact, data chunks). Unlike libsndfile's writer
    it has no PEAK chunk, whose time stamp would make every write of the same samples differ."""
    import struct

    data = np.asarray(x, dtype="<f4").reshape(-1).tobytes()
    n = len(data) // 4
    fmt = struct.pack("<HHIIHHH", 3, 1, sample_rate, sample_rate * 4, 4, 32, 0)  # cbSize 0
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<II", 4, n)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def dbfs(x: np.ndarray) -> float:
    """Peak level in dBFS (-inf for silence)."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")


def peak_normalise(x: np.ndarray, peak_dbfs: float = -1.0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0:
        return x
    return (x * (10.0 ** (peak_dbfs / 20.0) / peak)).astype(np.float32)


def frame_rms(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    f = np.asarray(x[: n * frame], dtype=np.float64).reshape(n, frame)
    return np.sqrt(np.mean(f * f, axis=1))


def trim_silence(
    x: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    pad_s: float = 0.1,
    threshold_db: float = -40.0,
    frame_s: float = 0.01,
) -> np.ndarray:
    """Cut leading/trailing silence, leaving ``pad_s`` seconds before the first and after the last
    active frame (10 ms frames whose RMS is within ``threshold_db`` of the loudest frame). Where the
    signal has less than ``pad_s`` of margin, it is padded with zeros, so every clip starts and ends
    with ~``pad_s`` of silence. A clip with no active frame is returned unchanged."""
    x = np.asarray(x, dtype=np.float32)
    frame = max(1, int(round(frame_s * sample_rate)))
    rms = frame_rms(x, frame)
    if len(rms) == 0 or rms.max() <= 0:
        return x
    active = np.flatnonzero(rms >= rms.max() * 10.0 ** (threshold_db / 20.0))
    start = active[0] * frame
    end = min(len(x), (active[-1] + 1) * frame)
    pad = int(round(pad_s * sample_rate))
    lo, hi = max(0, start - pad), min(len(x), end + pad)
    y = x[lo:hi]
    head, tail = pad - (start - lo), pad - (hi - end)
    if head > 0 or tail > 0:
        y = np.concatenate(
            [np.zeros(max(head, 0), np.float32), y, np.zeros(max(tail, 0), np.float32)]
        )
    return y


def check_audio(
    x: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    min_s: float = 0.05,
    max_s: float = 30.0,
    silent_dbfs: float = -60.0,
) -> str | None:
    """Why a synthesised clip is unusable, or None when it is fine."""
    if x is None or len(x) == 0:
        return "empty output"
    if not np.all(np.isfinite(x)):
        return "non-finite samples (NaN/inf)"
    level = dbfs(x)
    if level < silent_dbfs:
        return f"all silent (peak {level:.1f} dBFS)"
    dur = len(x) / sample_rate
    if dur < min_s:
        return f"too short ({dur:.3f} s)"
    if dur > max_s:
        return f"too long ({dur:.1f} s)"
    return None
