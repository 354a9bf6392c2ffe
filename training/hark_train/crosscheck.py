"""Cross-check of the Python detection figures against the Rust runtime.

``python -m hark_train.crosscheck --model-dir models --threshold X [--hark target/debug/hark]
FILE.wav...`` runs ``hark listen --mode keyword --model-dir DIR --threshold X --json`` on each
file and the Python reference (front-end ``features.log_mel``, the ONNX graph in onnxruntime,
``detect.Detector`` with every keyword threshold set to X, as ``--threshold`` does) and prints
both event lists and whether they agree (same keywords, end times within one frame).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from .detect import Detector, refractory_frames
from .features import FrontEndParams, log_mel, model_features, read_wav


class KeywordReference:
    """A shipped keyword model run the reference way: the Python front-end, onnxruntime on one
    thread, the state carried from chunk to chunk."""

    def __init__(self, model_dir: Path):
        import onnxruntime as ort

        self.meta = json.loads((model_dir / "keyword.json").read_text())
        self.params = FrontEndParams.from_dict(self.meta["frontend"])
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_dir / "keyword.onnx"), so)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Posteriors ``[frames, labels]`` of mono audio at the model's rate, from a zero state."""
        feats = model_features(log_mel(x, self.params), self.params).astype(np.float32)
        state = self.meta["keyword"]["state"]
        feeds = {s["input"]: np.zeros(s["shape"], np.float32) for s in state}
        outs = []
        for s in range(0, len(feats), 1000):
            res = self.session.run(None, {"x": feats[None, s : s + 1000], **feeds})
            outs.append(res[0][0])
            for spec, v in zip(state, res[1:], strict=True):
                feeds[spec["input"]] = v
        return np.concatenate(outs) if outs else np.zeros((0, len(self.meta["labels"])))


def python_events(model_dir: Path, wav: Path, threshold: float) -> list[dict]:
    ref = KeywordReference(model_dir)
    meta, params = ref.meta, ref.params
    x, sr = read_wav(wav)
    if sr != params.sample_rate:
        raise SystemExit(f"{wav}: {sr} Hz; write it at {params.sample_rate} Hz for the check")
    scores = ref.scores(x)
    kw = meta["keyword"]
    labels = meta["labels"]
    thr = [None if lab == kw["background"] else threshold for lab in labels]
    hop_s = params.hop_length / params.sample_rate
    det = Detector(thr, kw["smoothing_frames"], refractory_frames(kw["refractory_s"], hop_s))
    win_s = params.win_length / params.sample_rate
    return [
        {"keyword": labels[d.label], "score": round(d.score, 4), "end": d.frame * hop_s + win_s}
        for d in det.run(scores)
    ]


def rust_events(hark: Path, model_dir: Path, wav: Path, threshold: float) -> list[dict]:
    cmd = [str(hark), "listen", "--mode", "keyword", "--model-dir", str(model_dir)]
    cmd += ["--threshold", str(threshold), "--json", str(wav)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    ev = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [
        {"keyword": e["keyword"], "score": e["score"], "end": e["end"]}
        for e in ev
        if e.get("type") in ("wake", "keyword")
    ]


def agree(a: list[dict], b: list[dict], tol_s: float = 0.011) -> bool:
    return len(a) == len(b) and all(
        x["keyword"] == y["keyword"] and abs(x["end"] - y["end"]) <= tol_s
        for x, y in zip(a, b, strict=True)
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hark_train.crosscheck")
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--hark", type=Path, default=Path("target/debug/hark"))
    ap.add_argument("files", type=Path, nargs="+")
    args = ap.parse_args(argv)
    ok_all = True
    for f in args.files:
        py = python_events(args.model_dir, f, args.threshold)
        rs = rust_events(args.hark, args.model_dir, f, args.threshold)
        ok = agree(py, rs)
        ok_all &= ok
        print(json.dumps({"file": str(f), "agree": ok, "python": py, "rust": rs}))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
