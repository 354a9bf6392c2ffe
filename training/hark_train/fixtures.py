"""Golden fixtures for the front-end, shared with the Rust runtime (``tests/fixtures/frontend/``).

Layout of the fixture folder:

- ``speech.wav``, ``quiet_speech.wav``, ``tones_noise.wav``: 16 kHz mono 16-bit PCM. They are
  committed; they are only (re)made when missing or with ``force_audio`` (the speech ones need
  ``espeak-ng``, whose output can change between versions).
- ``params.json``: ``{"default": ..., "alt": ..., "norm": ...}``, each a ``FrontEndParams`` dict.
- ``<stem>.<set>.logmel.npy`` and ``<stem>.<set>.mfcc.npy``: float32, shape (T, n). For the
  ``norm`` set the MFCC file holds the *normalised* MFCC; its log-mel file is not normalised.
- ``pcen.json``: the default parameters with the keyword model's PCEN settings
  (``features.PCEN_DEFAULT``); ``<stem>.default.pcen.npy``: ``features.pcen`` of the default
  log-mel with them, float32.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .features import PCEN_DEFAULT, FrontEndParams, log_mel, mfcc, normalise, pcen, read_wav

SAMPLE_RATE = 16000
WAV_STEMS = ("speech", "quiet_speech", "tones_noise")
PARAM_SETS = ("default", "alt", "norm")

SPEECH_TEXT = "hey computer, turn on the kitchen light"
SPEECH_VOICE = "en-us"
QUIET_TEXT = "jarvis, what time is it"
QUIET_VOICE = "en-gb+f3"
QUIET_PEAK_DBFS = -40.0
QUIET_PAD_S = 0.3
TONES_SEED = 7
TONES_PEAK_DBFS = -6.0

# Source of the fixtures' location when no folder is given: <repo>/tests/fixtures/frontend.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "frontend"


# --------------------------------------------------------------------------------------------
# Audio


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] to int16 (x * 32768, rounded, clipped), the inverse of ``read_wav``."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(
        np.int16
    )


def write_wav16(path: Path, x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    import soundfile as sf

    sf.write(str(path), to_pcm16(x), sample_rate, subtype="PCM_16", format="WAV")


def espeak(text: str, voice: str) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return it resampled to 16 kHz as float64."""
    from scipy.signal import resample_poly

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is needed to make the speech WAVs (apt-get install espeak-ng)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "out.wav"
        subprocess.run([exe, "-v", voice, "-w", str(raw), text], check=True)
        x, sr = read_wav(raw)
    if sr != 22050:
        raise RuntimeError(f"espeak-ng wrote {sr} Hz, expected 22050")
    # 16000 / 22050 = 320 / 441.
    return resample_poly(x, 320, 441)


def make_speech() -> np.ndarray:
    return espeak(SPEECH_TEXT, SPEECH_VOICE)


def make_quiet_speech() -> np.ndarray:
    x = espeak(QUIET_TEXT, QUIET_VOICE)
    x = x * (10.0 ** (QUIET_PEAK_DBFS / 20.0) / np.max(np.abs(x)))
    pad = np.zeros(round(QUIET_PAD_S * SAMPLE_RATE))
    return np.concatenate([pad, x, pad])


def make_tones_noise() -> np.ndarray:
    t = np.arange(SAMPLE_RATE, dtype=np.float64) / SAMPLE_RATE
    rng = np.random.default_rng(TONES_SEED)
    x = (
        0.5 * np.sin(2 * np.pi * 440.0 * t)
        + 0.3 * np.sin(2 * np.pi * 3000.0 * t)
        + 0.1 * rng.standard_normal(t.shape)
    )
    return x * (10.0 ** (TONES_PEAK_DBFS / 20.0) / np.max(np.abs(x)))


AUDIO_MAKERS = {
    "speech": make_speech,
    "quiet_speech": make_quiet_speech,
    "tones_noise": make_tones_noise,
}


def ensure_audio(out: Path, force: bool = False) -> list[Path]:
    """Write the fixture WAVs that are missing (all of them with ``force``); returns those made."""
    made = []
    for stem in WAV_STEMS:
        path = out / f"{stem}.wav"
        if force or not path.exists():
            write_wav16(path, AUDIO_MAKERS[stem]())
            made.append(path)
    return made


def load_audio(out: Path) -> dict[str, np.ndarray]:
    signals = {}
    for stem in WAV_STEMS:
        x, sr = read_wav(out / f"{stem}.wav")
        if sr != SAMPLE_RATE:
            raise ValueError(f"{stem}.wav is {sr} Hz, expected {SAMPLE_RATE}")
        signals[stem] = x
    return signals


# --------------------------------------------------------------------------------------------
# Parameters and features


def alt_params() -> FrontEndParams:
    return FrontEndParams(
        n_fft=400,
        win_length=400,
        hop_length=160,
        window="hamming",
        preemphasis=0.0,
        n_mels=64,
        fmin=0.0,
        fmax=8000.0,
        log_floor=1e-10,
        n_mfcc=20,
    )


def norm_params(speech: np.ndarray) -> FrontEndParams:
    """Default parameters plus mean/std of the MFCC of ``speech`` (4 decimals, std >= 1e-3)."""
    base = FrontEndParams()
    c = mfcc(speech, base)
    mean = [round(float(v), 4) for v in c.mean(axis=0)]
    std = [max(round(float(v), 4), 1e-3) for v in c.std(axis=0)]
    return FrontEndParams(**{**base.to_dict(), "mean": mean, "std": std})


def build_param_sets(signals: dict[str, np.ndarray]) -> dict[str, FrontEndParams]:
    return {
        "default": FrontEndParams(),
        "alt": alt_params(),
        "norm": norm_params(signals["speech"]),
    }


def pcen_params() -> FrontEndParams:
    return FrontEndParams(pcen=dict(PCEN_DEFAULT))


def compute_features(
    signals: dict[str, np.ndarray],
    param_sets: dict[str, FrontEndParams],
    dtype: type = np.float32,
) -> dict[str, np.ndarray]:
    """All fixture arrays (float32 as stored, unless ``dtype`` says otherwise), by file name."""
    arrays = {}
    for stem, x in signals.items():
        for name, params in param_sets.items():
            arrays[f"{stem}.{name}.logmel.npy"] = log_mel(x, params).astype(dtype)
            arrays[f"{stem}.{name}.mfcc.npy"] = normalise(mfcc(x, params), params).astype(dtype)
        p = pcen_params()
        arrays[f"{stem}.default.pcen.npy"] = pcen(log_mel(x, p), p).astype(dtype)
    return arrays


def params_json(param_sets: dict[str, FrontEndParams]) -> str:
    return json.dumps({k: p.to_dict() for k, p in param_sets.items()}, indent=2) + "\n"


def load_param_sets(out: Path) -> dict[str, FrontEndParams]:
    data = json.loads((out / "params.json").read_text())
    return {k: FrontEndParams.from_dict(v) for k, v in data.items()}


def generate(out: Path = DEFAULT_OUT, force_audio: bool = False) -> list[Path]:
    """(Re)write every fixture under ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = ensure_audio(out, force=force_audio)
    signals = load_audio(out)
    param_sets = build_param_sets(signals)
    path = out / "params.json"
    path.write_text(params_json(param_sets))
    written.append(path)
    path = out / "pcen.json"
    path.write_text(json.dumps(pcen_params().to_dict(), indent=2) + "\n")
    written.append(path)
    for name, arr in compute_features(signals, param_sets).items():
        path = out / name
        np.save(path, np.ascontiguousarray(arr, dtype="<f4"))
        written.append(path)
    return written
