"""Synthesis: (text, voice, settings) -> 16 kHz mono float32 WAV, cached by content.

- Settings vary speaking rate (espeak/mbrola words per minute, flite/festival duration stretch,
  pico speed, Piper ``length_scale``, Kokoro ``speed``), pitch (espeak/mbrola pitch 0-99,
  flite/festival target F0, pico pitch level) and Piper's ``noise_scale`` / ``noise_w_scale``.
  ``draw_settings`` makes a seeded random draw per voice.
- Cache: ``CACHE/<k[:2]>/<k>.wav`` with ``k = cache_key(engine, voice, text, settings)`` (sha1), so
  a re-run skips finished clips; a clip rejected as broken leaves ``<k>.fail`` (its reason) and is
  not retried unless ``retry_failed``.
- Post-processing: to mono, resample to 16 kHz by an exact rational factor, trim silence to
  ~100 ms each side, peak-normalise to -1 dBFS; reject empty, non-finite, silent, too short or too
  long output with a logged reason.
- Many utterances per process where the engine allows: one ``festival -b`` script per chunk, Piper
  in-process (one ONNX session per chunk), Kokoro in-process (one session per worker);
  espeak-ng, flite and pico2wave cost ~10 ms per start and run once per clip. At most 2 worker
  processes.

Piper samples noise inside its ONNX graph. Each chunk's session is created after
``onnxruntime.set_seed(chunk seed)``, so a fresh run is reproducible, but Piper clips made after a
resume (a chunk partly cached) can differ from a fresh run's by that noise. Every other engine is
deterministic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import (
    SAMPLE_RATE,
    check_audio,
    peak_normalise,
    read_audio,
    resample,
    trim_silence,
    write_wav,
)
from .voices import IN_PROCESS_ENGINES, Voice, in_process_note

log = logging.getLogger(__name__)

# Bump when post-processing changes: every cache key changes with it.
CACHE_VERSION = 1
MAX_JOBS = 2
PAD_S = 0.1
PEAK_DBFS = -1.0

# Festival diphone voices' intonation parameters (target F0 mean, std), from their festvox files;
# the drawn pitch factor scales the mean. The HTS voice takes a speed factor, not a pitch.
FESTIVAL_F0 = {
    "kal_diphone": (105, 14),
    "ked_diphone": (105, 15),
    "rab_diphone": (105, 14),
    "don_diphone": (135, 30),
}
# flite: diphone voices take int_f0_target_mean (their mean, Hz); clustergen voices take f0_shift.
FLITE_F0_MEAN = {"kal": 100, "kal16": 100}
FESTIVAL_CHUNK = 200
PIPER_CHUNK = 64
OTHER_CHUNK = 32
#: Utterances per worker task of the engines that run many in one process.
CHUNK_SIZES = {"festival": FESTIVAL_CHUNK, "piper": PIPER_CHUNK, "kokoro": PIPER_CHUNK}


class SynthError(RuntimeError):
    """An engine failed to produce audio for one utterance."""


# --------------------------------------------------------------------------------------------
# Settings and cache keys


def stable_int(*parts: object) -> int:
    """A 64-bit integer from the parts' text, the same in every process and Python version."""
    h = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little")


def draw_settings(voice: Voice, rng: np.random.Generator) -> dict:
    """A random draw of the voice's rate/pitch (and Piper noise) settings."""
    f = voice.family
    if f in ("espeak", "mbrola"):
        lo, hi = (110, 230) if f == "espeak" else (120, 210)
        return {"wpm": int(rng.integers(lo, hi + 1)), "pitch": int(rng.integers(20, 81))}
    if f in ("flite", "festival"):
        s = {"stretch": round(float(rng.uniform(0.75, 1.35)), 2)}
        if voice.name != "cmu_us_slt_arctic_hts" and (f == "flite" or voice.name in FESTIVAL_F0):
            s["pitch"] = round(float(rng.uniform(0.8, 1.25)), 2)
        return s
    if f == "pico":
        return {"speed": int(rng.integers(70, 131)), "pitch": int(rng.integers(70, 141))}
    if f == "piper":
        return {
            "length_scale": round(float(rng.uniform(0.75, 1.35)), 2),
            "noise_scale": round(float(rng.uniform(0.4, 1.0)), 2),
            "noise_w_scale": round(float(rng.uniform(0.5, 1.1)), 2),
        }
    if f == "kokoro":
        return {"speed": round(float(rng.uniform(0.8, 1.2)), 2)}
    raise ValueError(f"unknown family {f!r}")


def cache_key(engine: str, voice: str, text: str, settings: dict) -> str:
    """sha1 of (engine, voice, text, settings) (+ the post-processing version)."""
    blob = json.dumps(
        [CACHE_VERSION, engine, voice, text, settings],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def voice_key(voice: Voice) -> str:
    """The voice part of a cache key: family and name (espeak and mbrola share an engine)."""
    return f"{voice.family}:{voice.name}"


def cache_path(cache_dir: str | os.PathLike, key: str) -> Path:
    return Path(cache_dir) / key[:2] / f"{key}.wav"


def fail_path(cache_dir: str | os.PathLike, key: str) -> Path:
    return Path(cache_dir) / key[:2] / f"{key}.fail"


@dataclass(frozen=True)
class Item:
    """One utterance to make: what to say, how, and where it is cached."""

    voice: Voice
    text: str
    settings: dict = field(hash=False)
    key: str = ""

    @staticmethod
    def make(voice: Voice, text: str, settings: dict) -> Item:
        return Item(
            voice, text, settings, cache_key(voice.engine, voice_key(voice), text, settings)
        )


@dataclass
class Result:
    key: str
    ok: bool
    duration: float = 0.0
    reason: str = ""
    cached: bool = False


# --------------------------------------------------------------------------------------------
# Engines: each returns (samples, sample_rate) for one text, or raises SynthError.


def _clean_text(text: str) -> str:
    return " ".join(text.replace("\x00", " ").split())


def _run(cmd: list[str], input_text: str | None = None, timeout: float = 60.0) -> bytes:
    try:
        p = subprocess.run(
            cmd,
            input=None if input_text is None else input_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise SynthError(f"{cmd[0]} timed out after {timeout:.0f} s") from e
    except OSError as e:
        raise SynthError(f"{cmd[0]} could not start: {e}") from e
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SynthError(f"{cmd[0]} exit {p.returncode}: {err[-1] if err else ''}")
    return p.stdout


def _read_wav_native(data_or_path) -> tuple[np.ndarray, int]:
    import io

    import soundfile as sf

    src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else str(data_or_path)
    try:
        x, sr = sf.read(src, dtype="float32", always_2d=False)
    except Exception as e:  # libsndfile raises several types
        raise SynthError(f"unreadable WAV: {e}") from e
    if x.ndim == 2:
        x = x.mean(axis=1)
    return x, int(sr)


def synth_espeak(voice: Voice, text: str, settings: dict, tmp: Path) -> tuple[np.ndarray, int]:
    cmd = ["espeak-ng", "-v", voice.name, "--stdout"]
    if "wpm" in settings:
        cmd += ["-s", str(int(settings["wpm"]))]
    if "pitch" in settings:
        cmd += ["-p", str(int(settings["pitch"]))]
    data = _run(cmd, input_text=_clean_text(text))
    if len(data) <= 44:
        raise SynthError("espeak-ng wrote no audio")
    return _read_wav_native(data)


def synth_flite(voice: Voice, text: str, settings: dict, tmp: Path) -> tuple[np.ndarray, int]:
    out = tmp / "flite.wav"
    out.unlink(missing_ok=True)
    cmd = ["flite", "-voice", voice.name]
    if "stretch" in settings:
        cmd += ["--setf", f"duration_stretch={settings['stretch']}"]
    if "pitch" in settings:
        if voice.name in FLITE_F0_MEAN:
            mean = FLITE_F0_MEAN[voice.name] * settings["pitch"]
            cmd += ["--setf", f"int_f0_target_mean={mean:.1f}"]
        else:
            cmd += ["--setf", f"f0_shift={settings['pitch']}"]
    cmd += ["-t", _clean_text(text), "-o", str(out)]
    _run(cmd)
    if not out.is_file():
        raise SynthError("flite wrote no file")
    return _read_wav_native(out)


def synth_pico(voice: Voice, text: str, settings: dict, tmp: Path) -> tuple[np.ndarray, int]:
    out = tmp / "pico.wav"
    out.unlink(missing_ok=True)
    t = _clean_text(text).replace("<", " ").replace(">", " ").replace("&", " and ")
    if "pitch" in settings:
        t = f"<pitch level='{int(settings['pitch'])}'>{t}</pitch>"
    if "speed" in settings:
        t = f"<speed level='{int(settings['speed'])}'>{t}</speed>"
    _run(["pico2wave", "-l", voice.name, "-w", str(out), t])
    if not out.is_file():
        raise SynthError("pico2wave wrote no file")
    return _read_wav_native(out)


def _scheme_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_script(voice: Voice, items: list[tuple[str, str, dict]], out_dir: Path) -> str:
    """A ``festival -b`` script that makes every (key, text, settings) into ``out_dir/key.wav``
    and prints ``HARK_FAIL key`` for those that raise an error (the rest go on)."""
    lines = [f"(voice_{voice.name})"]
    hts = voice.name.endswith("_hts")
    for key, text, settings in items:
        stretch = float(settings.get("stretch", 1.0))
        body = []
        if hts:
            # hts_engine "-r": speed rate (> 1 faster); Duration_Stretch does not reach HTS.
            body.append(
                f"(set! hts_engine_params (append {voice.name}::hts_engine_params "
                f'(list (list "-r" {1.0 / stretch:.4f}))))'
            )
        else:
            body.append(f"(Parameter.set 'Duration_Stretch {stretch:.4f})")
            if "pitch" in settings and voice.name in FESTIVAL_F0:
                mean, std = FESTIVAL_F0[voice.name]
                body.append(
                    f"(set! int_lr_params '((target_f0_mean {mean * settings['pitch']:.1f}) "
                    f"(target_f0_std {std}) (model_f0_mean 170) (model_f0_std 34)))"
                )
        out = out_dir / f"{key}.wav"
        body.append(f"(set! hark_utt (Utterance Text {_scheme_string(_clean_text(text))}))")
        body.append("(utt.synth hark_utt)")
        body.append(f"(utt.save.wave hark_utt {_scheme_string(str(out))} 'riff)")
        lines.append(
            "(unwind-protect (begin " + " ".join(body) + ") "
            f'(format t "HARK_FAIL %s\\n" {_scheme_string(key)}))'
        )
    return "\n".join(lines) + "\n"


def synth_festival_batch(
    voice: Voice, items: list[tuple[str, str, dict]], tmp: Path
) -> dict[str, tuple[np.ndarray, int] | SynthError]:
    out_dir = tmp / "festival"
    out_dir.mkdir(exist_ok=True)
    script = tmp / "batch.scm"
    script.write_text(festival_script(voice, items, out_dir), encoding="utf-8")
    err = ""
    try:
        p = subprocess.run(
            ["festival", "-b", str(script)],
            capture_output=True,
            timeout=60 + 10 * len(items),
            check=False,
        )
        err = (p.stdout + p.stderr).decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        err = str(e)
    results: dict[str, tuple[np.ndarray, int] | SynthError] = {}
    for key, _, _ in items:
        f = out_dir / f"{key}.wav"
        if f.is_file():
            try:
                results[key] = _read_wav_native(f)
            except SynthError as e:
                results[key] = e
            f.unlink()
        else:
            msg = [ln for ln in err.splitlines() if "ERROR" in ln]
            results[key] = SynthError(
                "festival made no audio" + (f" ({msg[0].strip()})" if msg else "")
            )
    return results


_PIPER_CONFIGS: dict[str, object] = {}


def piper_session(voice: Voice, seed: int):
    """A Piper voice with a fresh single-threaded ONNX session whose random ops are seeded."""
    import onnxruntime as ort
    from piper import PiperVoice
    from piper.config import PiperConfig

    if voice.path not in _PIPER_CONFIGS:
        with open(f"{voice.path}.json", encoding="utf-8") as fh:
            _PIPER_CONFIGS[voice.path] = PiperConfig.from_dict(json.load(fh))
    ort.set_seed(int(seed % (2**31 - 1)))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(
        voice.path, sess_options=opts, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=_PIPER_CONFIGS[voice.path])


def synth_piper_batch(
    voice: Voice, items: list[tuple[str, str, dict]], tmp: Path
) -> dict[str, tuple[np.ndarray, int] | SynthError]:
    from piper import SynthesisConfig

    seed = stable_int("piper-chunk", *[k for k, _, _ in items])
    try:
        pv = piper_session(voice, seed)
    except Exception as e:  # a broken model or runtime fails every item of the chunk
        err = SynthError(f"piper could not load {voice.path}: {e}")
        return {k: err for k, _, _ in items}
    results: dict[str, tuple[np.ndarray, int] | SynthError] = {}
    for key, text, s in items:
        cfg = SynthesisConfig(
            length_scale=s.get("length_scale"),
            noise_scale=s.get("noise_scale"),
            noise_w_scale=s.get("noise_w_scale"),
            normalize_audio=True,
        )
        try:
            chunks = [c.audio_float_array for c in pv.synthesize(_clean_text(text), cfg)]
            x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            results[key] = (x, pv.config.sample_rate)
        except Exception as e:
            results[key] = SynthError(f"piper: {e}")
    return results


def synth_kokoro_batch(
    voice: Voice, items: list[tuple[str, str, dict]], tmp: Path
) -> dict[str, tuple[np.ndarray, int] | SynthError]:
    from . import kokoro_engine

    results: dict[str, tuple[np.ndarray, int] | SynthError] = {}
    for key, text, s in items:
        try:
            x = kokoro_engine.speak(_clean_text(text), voice.name, s.get("speed", 1.0))
            results[key] = (x, kokoro_engine.SAMPLE_RATE)
        except Exception as e:  # a failed item is recorded, the chunk goes on
            results[key] = SynthError(f"kokoro: {e}")
    return results


SingleEngine = Callable[[Voice, str, dict, Path], tuple[np.ndarray, int]]
SINGLE_ENGINES: dict[str, SingleEngine] = {
    "espeak-ng": synth_espeak,
    "flite": synth_flite,
    "pico2wave": synth_pico,
}
BATCH_ENGINES = {
    "festival": synth_festival_batch,
    "piper": synth_piper_batch,
    "kokoro": synth_kokoro_batch,
}


# --------------------------------------------------------------------------------------------
# Post-processing and the cache


def postprocess(x: np.ndarray, sr: int) -> tuple[np.ndarray | None, str]:
    """Engine output -> (16 kHz trimmed, normalised clip, "") or (None, reason)."""
    x = np.asarray(x, dtype=np.float32)
    reason = check_audio(x, sr)
    if reason:
        return None, reason
    y = resample(x, sr, SAMPLE_RATE)
    y = trim_silence(y, SAMPLE_RATE, pad_s=PAD_S)
    reason = check_audio(y, SAMPLE_RATE, min_s=2 * PAD_S + 0.03)
    if reason:
        return None, reason
    return peak_normalise(y, PEAK_DBFS), ""


def _store(cache_dir: Path, key: str, x: np.ndarray | None, reason: str) -> Result:
    if x is None:
        fp = fail_path(cache_dir, key)
        fp.parent.mkdir(parents=True, exist_ok=True)
        fp.write_text(reason + "\n", encoding="utf-8")
        return Result(key, False, reason=reason)
    write_wav(cache_path(cache_dir, key), x, SAMPLE_RATE, subtype="FLOAT")
    fail_path(cache_dir, key).unlink(missing_ok=True)
    return Result(key, True, duration=len(x) / SAMPLE_RATE)


def cached_result(cache_dir: str | os.PathLike, key: str, retry_failed: bool = False):
    """The Result of a finished item, or None when it still has to be made."""
    p = cache_path(cache_dir, key)
    if p.is_file():
        import soundfile as sf

        try:
            info = sf.info(str(p))
            return Result(key, True, duration=info.frames / info.samplerate, cached=True)
        except Exception:
            p.unlink(missing_ok=True)  # a damaged file is made again
            return None
    fp = fail_path(cache_dir, key)
    if fp.is_file() and not retry_failed:
        return Result(key, False, reason=fp.read_text(encoding="utf-8").strip(), cached=True)
    return None


def synth_chunk(voice: Voice, items: list[Item], cache_dir: str | os.PathLike) -> tuple:
    """Make every item of one voice (skipping cached ones); returns (results, seconds, n_made).
    Runs in a worker process."""
    cache_dir = Path(cache_dir)
    t0 = time.perf_counter()
    results: list[Result] = []
    todo = []
    for it in items:
        r = cached_result(cache_dir, it.key)
        if r is not None:
            results.append(r)
        else:
            todo.append(it)
    if not todo:
        return results, 0.0, 0
    with tempfile.TemporaryDirectory(prefix="hark-synth-") as td:
        tmp = Path(td)
        if voice.engine in BATCH_ENGINES:
            raw = BATCH_ENGINES[voice.engine](
                voice, [(i.key, i.text, i.settings) for i in todo], tmp
            )
        elif voice.engine in SINGLE_ENGINES:
            raw = {}
            for it in todo:
                try:
                    raw[it.key] = SINGLE_ENGINES[voice.engine](voice, it.text, it.settings, tmp)
                except SynthError as e:
                    raw[it.key] = e
        else:
            raw = {it.key: SynthError(f"no engine {voice.engine!r}") for it in todo}
        for it in todo:
            out = raw.get(it.key, SynthError("no result"))
            if isinstance(out, Exception):
                x, reason = None, str(out)
            else:
                x, reason = postprocess(*out)
            if x is None:
                log.warning("rejected %s %r %s: %s", voice.id, it.text, it.settings, reason)
            results.append(_store(cache_dir, it.key, x, reason))
    return results, time.perf_counter() - t0, len(todo)


def _chunk_worker(args):
    voice, items, cache_dir = args
    return voice.family, synth_chunk(voice, items, cache_dir)


def chunks(items: Iterable[Item]) -> list[tuple[Voice, list[Item]]]:
    """Items grouped by voice (first-appearance order) and cut into engine-sized chunks."""
    by_voice: dict[str, tuple[Voice, list[Item]]] = {}
    for it in items:
        by_voice.setdefault(it.voice.id, (it.voice, []))[1].append(it)
    out = []
    for voice, its in by_voice.values():
        size = CHUNK_SIZES.get(voice.engine, OTHER_CHUNK)
        for i in range(0, len(its), size):
            out.append((voice, its[i : i + size]))
    return out


@dataclass
class RunStats:
    made: dict[str, int] = field(default_factory=dict)  # family -> clips synthesised now
    seconds: dict[str, float] = field(default_factory=dict)  # family -> worker seconds
    cached: int = 0
    failed: int = 0

    def rate(self, family: str) -> float:
        s = self.seconds.get(family, 0.0)
        return self.made.get(family, 0) / s if s > 0 else float("nan")


def synthesize(
    items: list[Item],
    cache_dir: str | os.PathLike,
    jobs: int = 1,
    progress: bool = False,
) -> tuple[dict[str, Result], RunStats]:
    """Make every item into the cache (at most ``MAX_JOBS`` processes); key -> Result."""
    jobs = max(1, min(int(jobs), MAX_JOBS))
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = [(v, its, str(cache_dir)) for v, its in chunks(items)]
    # Import the heavy modules once here, so forked workers do not each pay for them.
    import scipy.signal  # noqa: F401
    import soundfile  # noqa: F401

    results: dict[str, Result] = {}
    stats = RunStats()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="clip", desc="synth", dynamic_ncols=True)

    def collect(family, out):
        res, secs, made = out
        for r in res:
            results[r.key] = r
            stats.cached += int(r.cached)
            stats.failed += int(not r.ok)
        stats.made[family] = stats.made.get(family, 0) + made
        stats.seconds[family] = stats.seconds.get(family, 0.0) + secs
        if bar is not None:
            bar.update(len(res))

    try:
        if jobs == 1 or len(work) <= 1:
            for w in work:
                collect(*_chunk_worker(w))
        else:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(jobs) as pool:
                for family, out in pool.imap_unordered(_chunk_worker, work):
                    collect(family, out)
    finally:
        if bar is not None:
            bar.close()
    return results, stats


def synth_one(voice: Voice, text: str, settings: dict | None = None) -> np.ndarray:
    """Synthesise one utterance without the cache (16 kHz float32); raises SynthError."""
    settings = settings or {}
    with tempfile.TemporaryDirectory(prefix="hark-synth-") as td:
        tmp = Path(td)
        if voice.engine in BATCH_ENGINES:
            out = BATCH_ENGINES[voice.engine](voice, [("one", text, settings)], tmp)["one"]
            if isinstance(out, Exception):
                raise out
        else:
            out = SINGLE_ENGINES[voice.engine](voice, text, settings, tmp)
    x, reason = postprocess(*out)
    if x is None:
        raise SynthError(reason)
    return x


def engine_installed(engine: str) -> bool:
    if engine in IN_PROCESS_ENGINES:
        return not in_process_note(engine)
    return shutil.which(engine) is not None


def load_clip(cache_dir: str | os.PathLike, key: str) -> np.ndarray:
    return read_audio(cache_path(cache_dir, key))


__all__ = [
    "Item",
    "Result",
    "RunStats",
    "SynthError",
    "cache_key",
    "cache_path",
    "cached_result",
    "chunks",
    "draw_settings",
    "engine_installed",
    "festival_script",
    "load_clip",
    "postprocess",
    "stable_int",
    "synth_chunk",
    "synth_one",
    "synthesize",
]
