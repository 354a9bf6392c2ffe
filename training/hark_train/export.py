"""ONNX export of hark's networks, their metadata (docs/models.md) and golden vectors.

Every export is checked on the spot: onnxruntime must reproduce PyTorch's outputs, and for the
streaming keyword graph, running a sequence chunk by chunk with the state carried must reproduce
running it whole. The golden vectors (``<name>.golden.json``) let the Rust runtime replay the same
inputs through tract.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .features import FrontEndParams
from .nets import StreamingKeywordNet, UtteranceClassifier

SCHEMA = 1
OPSET = 17
#: Largest difference accepted between PyTorch and onnxruntime at export.
EXPORT_ATOL = 1e-5


def git_commit(repo: Path | None = None) -> str:
    """The current commit of the repository (``unknown`` outside git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _tensor_json(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.ravel()]}


def _io(name: str, shape: list, dtype: str = "f32") -> dict[str, Any]:
    return {"name": name, "shape": shape, "dtype": dtype}


def _run_onnx(path: Path, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def export_keyword(
    model: StreamingKeywordNet,
    out_dir: Path,
    name: str,
    *,
    frontend: FrontEndParams,
    features: str,
    labels: list[str],
    keyword: dict[str, Any],
    training: dict[str, Any],
    evaluation: dict[str, Any] | None = None,
    golden_frames: int = 64,
    seed: int = 0,
) -> dict[str, Path]:
    """Exports the streaming keyword graph, its metadata and golden vectors."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    onnx_path = out_dir / f"{name}.onnx"
    n_feat = model.n_features
    x = torch.zeros(1, 20, n_feat)
    ctx, h, c = model.initial_state(1)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (x, ctx, h, c),
            str(onnx_path),
            input_names=["x", "ctx0", "h0", "c0"],
            output_names=["scores", "ctx1", "h1", "c1"],
            dynamic_axes={"x": {1: "T"}, "scores": {1: "T"}},
            opset_version=OPSET,
            dynamo=False,
        )

    # Golden vectors: realistic-looking normalised features, whole-sequence outputs.
    rng = np.random.default_rng(seed)
    gx = rng.standard_normal((1, golden_frames, n_feat)).astype(np.float32)
    with torch.no_grad():
        outs = model(torch.from_numpy(gx), ctx, h, c)
    expected = [o.numpy() for o in outs]
    feeds = {"x": gx, "ctx0": ctx.numpy(), "h0": h.numpy(), "c0": c.numpy()}
    got = _run_onnx(onnx_path, feeds)
    for want, have, label in zip(expected, got, ["scores", "ctx1", "h1", "c1"], strict=True):
        diff = float(np.abs(want - have).max())
        if diff > EXPORT_ATOL:
            raise RuntimeError(f"onnxruntime differs from PyTorch on {label} by {diff}")
    # Streaming: chunk by chunk with the state carried equals the whole sequence.
    state = [ctx.numpy(), h.numpy(), c.numpy()]
    pieces = []
    for start in range(0, golden_frames, 7):
        part = gx[:, start : start + 7]
        scores, *state = _run_onnx(
            onnx_path, {"x": part, "ctx0": state[0], "h0": state[1], "c0": state[2]}
        )
        pieces.append(scores)
    streamed = np.concatenate(pieces, axis=1)
    diff = float(np.abs(streamed - expected[0]).max())
    if diff > EXPORT_ATOL:
        raise RuntimeError(f"chunked scores differ from whole-sequence scores by {diff}")

    golden = {
        "model": onnx_path.name,
        "inputs": {k: _tensor_json(v) for k, v in feeds.items()},
        "outputs": {
            k: _tensor_json(v)
            for k, v in zip(["scores", "ctx1", "h1", "c1"], expected, strict=True)
        },
    }
    golden_path = out_dir / f"{name}.golden.json"
    golden_path.write_text(json.dumps(golden) + "\n")

    state_spec = model.state_spec()
    meta = {
        "schema": SCHEMA,
        "kind": "keyword",
        "name": name,
        "labels": list(labels),
        "features": features,
        "frontend": frontend.to_dict(),
        "io": {
            "inputs": [_io("x", [1, "T", n_feat])]
            + [_io(s["input"], s["shape"]) for s in state_spec],
            "outputs": [_io("scores", [1, "T", len(labels)])]
            + [_io(s["output"], s["shape"]) for s in state_spec],
        },
        "keyword": {"state": state_spec, **keyword},
        "training": training,
        "evaluation": evaluation or {},
    }
    meta_path = out_dir / f"{name}.json"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return {"onnx": onnx_path, "json": meta_path, "golden": golden_path}


def export_utterance(
    model: UtteranceClassifier,
    out_dir: Path,
    name: str,
    *,
    kind: str,
    frontend: FrontEndParams,
    features: str,
    labels: list[str],
    output_names: list[str],
    extra: dict[str, Any],
    training: dict[str, Any],
    evaluation: dict[str, Any] | None = None,
    n_features: int,
    golden_frames: int = 150,
    seed: int = 0,
) -> dict[str, Path]:
    """Exports an utterance-level audio model (``intent`` or ``sentiment``)."""
    if kind not in ("intent", "sentiment"):
        raise ValueError(f"unknown utterance model kind {kind!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    onnx_path = out_dir / f"{name}.onnx"
    x = torch.zeros(1, 50, n_features)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (x,),
            str(onnx_path),
            input_names=["x"],
            output_names=output_names,
            dynamic_axes={"x": {1: "T"}},
            opset_version=OPSET,
            dynamo=False,
        )
    rng = np.random.default_rng(seed)
    gx = rng.standard_normal((1, golden_frames, n_features)).astype(np.float32)
    with torch.no_grad():
        expected = [o.numpy() for o in model(torch.from_numpy(gx))]
    got = _run_onnx(onnx_path, {"x": gx})
    for want, have, label in zip(expected, got, output_names, strict=True):
        diff = float(np.abs(want - have).max())
        if diff > EXPORT_ATOL:
            raise RuntimeError(f"onnxruntime differs from PyTorch on {label} by {diff}")
    golden = {
        "model": onnx_path.name,
        "inputs": {"x": _tensor_json(gx)},
        "outputs": {k: _tensor_json(v) for k, v in zip(output_names, expected, strict=True)},
    }
    golden_path = out_dir / f"{name}.golden.json"
    golden_path.write_text(json.dumps(golden) + "\n")
    meta = {
        "schema": SCHEMA,
        "kind": kind,
        "name": name,
        "labels": list(labels),
        "features": features,
        "frontend": frontend.to_dict(),
        "io": {
            "inputs": [_io("x", [1, "T", n_features])],
            "outputs": [
                _io(o, [1, int(e.shape[-1])]) for o, e in zip(output_names, expected, strict=True)
            ],
        },
        **extra,
        "training": training,
        "evaluation": evaluation or {},
    }
    meta_path = out_dir / f"{name}.json"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return {"onnx": onnx_path, "json": meta_path, "golden": golden_path}
