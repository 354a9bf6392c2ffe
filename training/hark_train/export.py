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
        # Relative for large values: an LSTM cell state c can reach tens (float32 rounding).
        if diff > EXPORT_ATOL * max(1.0, float(np.abs(want).max())):
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


def export_phonemes(
    model: torch.nn.Module,
    out_dir: Path,
    name: str,
    *,
    frontend: FrontEndParams,
    inventory: list[str],
    training: dict[str, Any],
    evaluation: dict[str, Any],
    golden_frames: int = 150,
    seed: int = 0,
) -> dict[str, Path]:
    """Exports the phoneme recogniser: input ``x [1, T, n_mels]`` (log-mel, normalised with
    ``frontend``'s statistics), output ``logp [1, frames, 1 + phonemes]`` (class 0: CTC blank)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    n_features = frontend.n_mels
    onnx_path = out_dir / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros(1, 50, n_features),),
            str(onnx_path),
            input_names=["x"],
            output_names=["logp"],
            dynamic_axes={"x": {1: "T"}, "logp": {1: "frames"}},
            opset_version=OPSET,
            dynamo=False,
        )
    gx = np.random.default_rng(seed).standard_normal((1, golden_frames, n_features))
    gx = gx.astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(gx)).numpy()
    (got,) = _run_onnx(onnx_path, {"x": gx})
    # Log-probabilities reach -30 and below: compare relative to their size.
    diff = float((np.abs(expected - got) / np.maximum(1.0, np.abs(expected))).max())
    if diff > EXPORT_ATOL:
        raise RuntimeError(f"onnxruntime differs from PyTorch on logp by {diff} (relative)")
    golden_path = out_dir / f"{name}.golden.json"
    golden = {
        "model": onnx_path.name,
        "inputs": {"x": _tensor_json(gx)},
        "outputs": {"logp": _tensor_json(expected)},
    }
    golden_path.write_text(json.dumps(golden) + "\n")
    meta = {
        "schema": SCHEMA,
        "kind": "phonemes",
        "name": name,
        "labels": ["<blank>", *inventory],
        "features": "logmel",
        "frontend": frontend.to_dict(),
        "io": {
            "inputs": [_io("x", [1, "T", n_features])],
            "outputs": [_io("logp", [1, "frames", len(inventory) + 1])],
        },
        "training": training,
        "evaluation": evaluation,
    }
    check_onnx_io(onnx_path, meta["io"])
    meta_path = out_dir / f"{name}.json"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return {"onnx": onnx_path, "json": meta_path, "golden": golden_path}


def _ids_json(ids: list[int]) -> dict[str, Any]:
    return {"shape": [1, len(ids)], "dtype": "i64", "data": [int(v) for v in ids]}


def check_onnx_io(path: Path, io: dict[str, Any]) -> None:
    """Raises unless the graph's inputs and outputs are exactly those of the metadata ``io``
    (names, order, element type, rank, fixed sizes; ``"T"`` must be a symbolic axis)."""
    import onnx

    graph = onnx.load(str(path)).graph
    dtypes = {onnx.TensorProto.FLOAT: "f32", onnx.TensorProto.INT64: "i64"}
    init = {i.name for i in graph.initializer}
    for side, values in (
        ("inputs", [v for v in graph.input if v.name not in init]),
        ("outputs", list(graph.output)),
    ):
        want = io[side]
        if [v.name for v in values] != [w["name"] for w in want]:
            raise RuntimeError(
                f"graph {side} {[v.name for v in values]} != metadata {[w['name'] for w in want]}"
            )
        for v, w in zip(values, want, strict=True):
            t = v.type.tensor_type
            if dtypes.get(t.elem_type) != w["dtype"]:
                raise RuntimeError(f"{v.name}: graph dtype {t.elem_type} != {w['dtype']}")
            dims = list(t.shape.dim)
            if len(dims) != len(w["shape"]):
                raise RuntimeError(f"{v.name}: graph rank {len(dims)} != {len(w['shape'])}")
            for d, s in zip(dims, w["shape"], strict=True):
                if isinstance(s, str):
                    if d.HasField("dim_value"):
                        raise RuntimeError(f"{v.name}: time axis is fixed ({d.dim_value})")
                elif not d.HasField("dim_value") or d.dim_value != s:
                    raise RuntimeError(f"{v.name}: graph dim {d} != {s}")


def export_text(
    model: torch.nn.Module,
    out_dir: Path,
    name: str,
    *,
    kind: str,
    labels: list[str],
    tokenizer: dict[str, Any],
    output_names: list[str],
    output_shapes: list[list],
    extra: dict[str, Any],
    training: dict[str, Any],
    golden_ids: list[list[int]],
    golden_texts: list[str] | None = None,
    evaluation: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Exports a text model (``text-intent`` or ``text-sentiment``): input ``tokens`` int64
    ``[1, T]``, T dynamic. ``output_shapes`` use ``"T"`` for the token axis. The golden file holds
    one case per entry of ``golden_ids`` (its first case is also written as top-level
    ``inputs``/``outputs``, the format of the audio goldens); every case is checked in
    onnxruntime against PyTorch, and the graph's inputs/outputs against the metadata."""
    if kind not in ("text-intent", "text-sentiment"):
        raise ValueError(f"unknown text model kind {kind!r}")
    if not golden_ids or any(len(g) == 0 for g in golden_ids):
        raise ValueError("golden_ids must be non-empty token id lists")
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    onnx_path = out_dir / f"{name}.onnx"
    example = torch.tensor([golden_ids[0]], dtype=torch.int64)
    dyn = {"tokens": {1: "T"}}
    for o, shape in zip(output_names, output_shapes, strict=True):
        if "T" in shape:
            dyn[o] = {shape.index("T"): "T"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(onnx_path),
            input_names=["tokens"],
            output_names=output_names,
            dynamic_axes=dyn,
            opset_version=OPSET,
            dynamo=False,
        )
    io = {
        "inputs": [_io("tokens", [1, "T"], "i64")],
        "outputs": [_io(o, list(s)) for o, s in zip(output_names, output_shapes, strict=True)],
    }
    check_onnx_io(onnx_path, io)
    cases = []
    for i, ids in enumerate(golden_ids):
        x = np.asarray([ids], dtype=np.int64)
        with torch.no_grad():
            expected = [o.numpy() for o in model(torch.from_numpy(x))]
        got = _run_onnx(onnx_path, {"tokens": x})
        for want, have, label in zip(expected, got, output_names, strict=True):
            if want.shape != have.shape:
                raise RuntimeError(f"{label}: onnxruntime shape {have.shape} != {want.shape}")
            diff = float(np.abs(want - have).max())
            if diff > EXPORT_ATOL:
                raise RuntimeError(f"onnxruntime differs from PyTorch on {label} by {diff}")
        case = {
            "inputs": {"tokens": _ids_json(ids)},
            "outputs": {k: _tensor_json(v) for k, v in zip(output_names, expected, strict=True)},
        }
        if golden_texts is not None:
            case["text"] = golden_texts[i]
        cases.append(case)
    golden = {
        "model": onnx_path.name,
        "inputs": cases[0]["inputs"],
        "outputs": cases[0]["outputs"],
        "cases": cases,
    }
    golden_path = out_dir / f"{name}.golden.json"
    golden_path.write_text(json.dumps(golden) + "\n")
    meta = {
        "schema": SCHEMA,
        "kind": kind,
        "name": name,
        "labels": list(labels),
        "io": io,
        "tokenizer": tokenizer,
        **extra,
        "training": training,
        "evaluation": evaluation or {},
    }
    meta_path = out_dir / f"{name}.json"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return {"onnx": onnx_path, "json": meta_path, "golden": golden_path}
