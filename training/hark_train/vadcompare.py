"""Which voice activity detector should end a command: hark's energy VAD or Silero VAD?

``python -m hark_train vad-compare --clips DIR [--data DATA] [--out report.json]``

Each test signal is what the runtime sees after a wake word: 0.3 s of background, a spoken
command (a WAV of ``--clips``: by default the held-out-voice commands that ``intent`` cached),
then 4 s of the same background; the background is real noise or music never used in training,
at a given SNR relative to the speech (or microphone self-noise only: "clean"). Both detectors
run the runtime's endpointing rule (``src/pipeline.rs``): the command starts at the first speech
frame, ends after ``TRAILING_S`` of non-speech, and is cut at ``MAX_S``; no speech within
``TIMEOUT_S`` is a timeout. Reported per condition and detector:

- ``truncated``: the end came more than 0.15 s before the true end of the speech (the command
  was cut, e.g. at a pause between words);
- ``runaway``: no end before ``MAX_S`` (the background kept the detector on);
- ``missed``: a timeout (no speech found);
- ``latency_s``: median / 90th percentile of (detected end - true end), over the clips that ended;
- cost: seconds of CPU per second of audio, one thread.

The energy VAD is a line-for-line port of ``src/vad.rs`` (same settings); Silero VAD is PyPI
``silero-vad``'s ``silero_vad.onnx`` (MIT) run by onnxruntime on 512-sample windows with its
64-sample context, speech when P > 0.5, with the same hangover as the energy VAD.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, read_audio

TRAILING_S = 0.7
MAX_S = 8.0
TIMEOUT_S = 4.0
HOP = 160
HANGOVER_HOPS = 15
CONDITIONS = ("clean", 20, 10, 5)


@dataclass
class EnergySettings:
    hop: int = HOP
    margin_db: float = 12.0
    min_speech_dbfs: float = -55.0
    hangover_hops: int = HANGOVER_HOPS
    floor_rise: float = 0.002


def energy_vad(x: np.ndarray, s: EnergySettings | None = None) -> np.ndarray:
    """Per-hop speech decisions of ``src/vad.rs`` ``EnergyVad``."""
    s = s or EnergySettings()
    n = len(x) // s.hop
    e = (x[: n * s.hop].astype(np.float64) ** 2).reshape(n, s.hop).mean(axis=1)
    dbs = 10.0 * np.log10(np.maximum(e, 1e-12))
    floor, hang = -60.0, 0
    out = np.zeros(n, bool)
    for i, db in enumerate(dbs):
        loud = db > floor + s.margin_db and db > s.min_speech_dbfs
        if db < floor:
            floor = 0.5 * (floor + db)
        elif not loud:
            floor += s.floor_rise * 10.0 * (db - floor)
        else:
            floor += s.floor_rise * (db - floor)
        floor = max(floor, -100.0)
        if loud:
            hang = s.hangover_hops
            out[i] = True
        elif hang > 0:
            hang -= 1
            out[i] = True
    return out


class SileroVad:
    """Silero VAD (``silero_vad.onnx``) on 512-sample windows; decisions per 10-ms hop."""

    def __init__(self, threshold: float = 0.5) -> None:
        import onnxruntime as ort
        import silero_vad

        path = Path(silero_vad.__file__).parent / "data" / "silero_vad.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.threshold = threshold

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        state = np.zeros((2, 1, 128), np.float32)
        context = np.zeros((1, 64), np.float32)
        sr = np.array(16000, np.int64)
        probs = []
        for s in range(0, len(x) - 511, 512):
            chunk = x[s : s + 512].astype(np.float32)[None]
            inp = np.concatenate([context, chunk], axis=1)
            out, state = self.session.run(None, {"input": inp, "state": state, "sr": sr})
            context = chunk[:, -64:]
            probs.append(float(out[0, 0]))
        return np.array(probs)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        p = self.probabilities(x)
        n = len(x) // HOP
        # Each 512-sample window decides for the hops it covers (3.2 hops).
        hop_p = p[np.minimum(np.arange(n) * HOP // 512, len(p) - 1)] if len(p) else np.zeros(n)
        out = np.zeros(n, bool)
        hang = 0
        for i, v in enumerate(hop_p):
            if v > self.threshold:
                hang = HANGOVER_HOPS
                out[i] = True
            elif hang > 0:
                hang -= 1
                out[i] = True
        return out


def endpoint(decisions: np.ndarray) -> tuple[str, float | None]:
    """The runtime's rule on per-hop decisions: ("ended", end time) / ("runaway", None) /
    ("missed", None)."""
    hop_s = HOP / SAMPLE_RATE
    trailing = int(round(TRAILING_S / hop_s))
    start = None
    silent = 0
    for i, d in enumerate(decisions):
        t = i * hop_s
        if start is None:
            if d:
                start = i
            elif t >= TIMEOUT_S:
                return "missed", None
            continue
        if (i - start) * hop_s >= MAX_S:
            return "runaway", None
        silent = 0 if d else silent + 1
        if silent >= trailing:
            return "ended", (i - trailing + 1) * hop_s
    return ("runaway", None) if start is not None else ("missed", None)


def speech_end(x: np.ndarray, rel_db: float = -35.0) -> float:
    """True end of speech in a clean clip: the last 10-ms hop within ``rel_db`` of the peak."""
    n = len(x) // HOP
    e = (x[: n * HOP].astype(np.float64) ** 2).reshape(n, HOP).mean(axis=1)
    db = 10 * np.log10(np.maximum(e, 1e-12))
    loud = np.nonzero(db > db.max() + rel_db)[0]
    return float((loud[-1] + 1) * HOP / SAMPLE_RATE) if len(loud) else 0.0


def build_signal(x, noise, snr, rng, pre_s=0.3, post_s=4.0) -> tuple[np.ndarray, float]:
    pre, post = int(pre_s * SAMPLE_RATE), int(post_s * SAMPLE_RATE)
    y = np.concatenate([np.zeros(pre), x.astype(np.float64), np.zeros(post)])
    peak = float(np.max(np.abs(x))) or 1.0
    y = y + rng.standard_normal(len(y)) * peak * 10 ** (-60 / 20)  # microphone self-noise
    if snr != "clean":
        from .intent import mix_noise, speech_level

        y = mix_noise(y, speech_level(x), noise, snr, rng).astype(np.float64)
    y = y / (np.max(np.abs(y)) or 1.0) * 10 ** (-12 / 20)
    return y.astype(np.float32), pre_s + speech_end(x)


def compare(clips: list[Path], noises: list[np.ndarray], seed: int = 0) -> dict:
    silero = SileroVad()
    detectors = {"energy": energy_vad, "silero": silero}
    report: dict = {"clips": len(clips), "noises": len(noises), "conditions": {}}
    cost = {k: 0.0 for k in detectors}
    audio_s = 0.0
    for cond in CONDITIONS:
        rng = np.random.default_rng(seed)
        res: dict = {k: {"ended": [], "runaway": 0, "missed": 0, "truncated": 0} for k in detectors}
        for p in clips:
            x = read_audio(p)
            noise = noises[int(rng.integers(len(noises)))] if noises else None
            y, true_end = build_signal(x, noise, cond, rng)
            audio_s += len(y) / SAMPLE_RATE
            for name, det in detectors.items():
                t0 = time.process_time()
                d = det(y)
                cost[name] += time.process_time() - t0
                kind, end = endpoint(d)
                r = res[name]
                if kind == "ended":
                    lat = end - true_end
                    r["ended"].append(lat)
                    r["truncated"] += int(lat < -0.15)
                else:
                    r[kind] += 1
        out = {}
        for name, r in res.items():
            lat = np.array(r["ended"]) if r["ended"] else np.zeros(0)
            n = len(clips)
            out[name] = {
                "truncated": round(r["truncated"] / n, 4),
                "runaway": round(r["runaway"] / n, 4),
                "missed": round(r["missed"] / n, 4),
                "good": round((len(lat) - r["truncated"]) / n, 4),
                "latency_median_s": round(float(np.median(lat)), 3) if len(lat) else None,
                "latency_p90_s": round(float(np.percentile(lat, 90)), 3) if len(lat) else None,
            }
        report["conditions"][str(cond)] = out
    report["cpu_s_per_audio_s"] = {k: round(v / audio_s, 6) for k, v in cost.items()}
    return report


def main_args(args) -> int:
    from .augment import load_noises
    from .intent import IntentConfig, noise_and_music, real_sets

    src = Path(args.clips)
    if src.is_file():  # a list of WAV paths, one per line (intent writes WORK/holdout.txt)
        clips = [Path(x) for x in src.read_text().split("\n") if x.strip()]
    else:
        clips = sorted(src.glob("**/*.wav"))
    if args.limit:
        rng = np.random.default_rng(args.seed)
        clips = [clips[int(i)] for i in rng.permutation(len(clips))[: args.limit]]
    if not clips:
        print(f"no WAV under {args.clips}")
        return 2
    work = Path(args.work).expanduser()
    real = real_sets(IntentConfig(context=Path("."), out=Path("."), work=work, data=args.data))
    noises = load_noises(noise_and_music(real["eval"]), max_s=120.0)
    report = compare(clips, noises, args.seed)
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


# The shipped VAD model -------------------------------------------------------------------------

SEQUENCE_MODEL = "silero_vad_16k_sequence.onnx"


def export_vad(out: Path, report: dict | None = None, repo: Path | None = None) -> dict[str, Path]:
    """Writes ``OUT/vad.onnx`` (Silero VAD's 16 kHz sequence graph, unchanged), ``vad.json``
    (docs/models.md, kind ``vad``), ``vad.golden.json`` (onnxruntime on the speech fixture) and
    the card ``vad.md`` with the comparison ``report`` when given."""
    import shutil

    import onnxruntime as ort
    import silero_vad

    from .export import git_commit

    repo = repo or Path(__file__).resolve().parents[2]
    src = Path(silero_vad.__file__).parent / "data" / SEQUENCE_MODEL
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "vad.onnx"
    shutil.copyfile(src, onnx_path)
    x = read_audio(repo / "tests" / "fixtures" / "frontend" / "speech.wav")
    windows = []
    context = np.zeros(64, np.float32)
    for s in range(0, 6 * 512, 512):
        chunk = x[s : s + 512].astype(np.float32)
        windows.append(np.concatenate([context, chunk]))
        context = chunk[-64:]
    inp = np.stack(windows)
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    probs, hn, cn = sess.run(None, {"input": inp, "h": h, "c": c})

    def tj(a):
        return {"shape": list(a.shape), "dtype": "f32", "data": [float(v) for v in a.ravel()]}

    golden = {
        "model": onnx_path.name,
        "inputs": {"input": tj(inp), "h": tj(h), "c": tj(c)},
        "outputs": {"speech_probs": tj(probs), "hn": tj(hn), "cn": tj(cn)},
    }
    (out / "vad.golden.json").write_text(json.dumps(golden) + "\n")
    version = getattr(silero_vad, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v

        version = _v("silero-vad")
    meta = {
        "schema": 1,
        "kind": "vad",
        "name": "vad",
        "labels": ["speech"],
        "io": {
            "inputs": [
                {"name": "input", "shape": ["T", 576], "dtype": "f32"},
                {"name": "h", "shape": [1, 1, 128], "dtype": "f32"},
                {"name": "c", "shape": [1, 1, 128], "dtype": "f32"},
            ],
            "outputs": [
                {"name": "speech_probs", "shape": ["T"], "dtype": "f32"},
                {"name": "hn", "shape": [1, 1, 128], "dtype": "f32"},
                {"name": "cn", "shape": [1, 1, 128], "dtype": "f32"},
            ],
        },
        "vad": {"sample_rate": 16000, "window": 512, "context": 64, "threshold": 0.5},
        "training": {
            "data": [
                {
                    "name": f"Silero VAD {version} (PyPI silero-vad), {SEQUENCE_MODEL}, unchanged",
                    "licence": "MIT",
                }
            ],
            "command": "python -m hark_train vad-model --out models/",
            "commit": git_commit(repo),
        },
        "evaluation": report or {},
    }
    (out / "vad.json").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "vad.md").write_text(vad_card(meta), encoding="utf-8")
    return {"onnx": onnx_path, "json": out / "vad.json", "golden": out / "vad.golden.json"}


def vad_card(meta: dict) -> str:
    ev = meta.get("evaluation") or {}
    rows = []
    for cond, dets in ev.get("conditions", {}).items():
        bg = cond if cond == "clean" else f"{cond} dB SNR"
        for name, m in dets.items():
            rows.append(
                f"| {bg} | {name} | {100 * m['good']:.1f}% | "
                f"{100 * m['truncated']:.1f}% | {100 * m['runaway']:.1f}% | "
                f"{100 * m['missed']:.1f}% | {m['latency_median_s']} / {m['latency_p90_s']} |"
            )
    table = "\n".join(rows) or "| (no comparison recorded) | | | | | | |"
    cost = ev.get("cpu_s_per_audio_s", {})
    src = meta["training"]["data"][0]["name"]
    return f"""# Model card: voice activity detector (`vad.onnx`)

Ends a spoken command: speech probability for each 32-ms window of 16 kHz audio (512 new samples
after the 64 previous ones), with the LSTM state carried from window to window. It is
**{src}**, licence MIT (Copyright (c) 2020-present Silero Team), run by tract; hark does not
retrain it. hark runs it only while a command is being heard (after a wake word, or on a whole
file with `--mode command`); the always-on path keeps the energy detector of `src/vad.rs`.
`[capture] vad = "energy"` in hark.toml selects the energy detector for commands too.

Metadata: `vad.json` (docs/models.md, kind `vad`); golden vectors: `vad.golden.json`.

## Why this detector ends commands

Measured by `{ev.get("command", "python -m hark_train vad-compare")}`: {ev.get("clips")} spoken
commands of held-out TTS voices, each as the runtime sees it after a wake word (0.3 s of
background, the command, 4 s of background), background = real noise and music never used in
training at the given SNR, or microphone self-noise only (clean). Both detectors run the runtime's
rule (end after 0.7 s without speech, cut at 8 s, timeout at 4 s). *good*: ended within 0.15 s of
the true end or later; *truncated*: ended more than 0.15 s before it; *runaway*: never ended
before 8 s; *missed*: no speech found; latency: detected end − true end, median / 90th percentile
(seconds, after the 0.7-s pause rule).

| background | detector | good | truncated | runaway | missed | latency s |
|---|---|---|---|---|---|---|
{table}

CPU seconds per second of audio, one thread (Python harness; onnxruntime for Silero):
{cost}. Silero costs far more than the energy detector, which is why it runs only while a command
is captured; the energy detector lets noise and music keep a command open until the 8-s cut.

## Limitations

- Judged on synthetic voices over real noise, not on real rooms.
- Trained by its authors on their own data (see github.com/snakers4/silero-vad); hark ships the
  graph unchanged.
"""


def vad_model_args(args) -> int:
    report = json.loads(Path(args.report).read_text()) if args.report else None
    if report is not None:
        report.setdefault(
            "command",
            "python -m hark_train vad-compare --clips ~/.cache/hark/intent/holdout.txt "
            "--data ../shared/data --limit 150",
        )
    paths = export_vad(Path(args.out), report)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
