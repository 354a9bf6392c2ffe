"""Export of every model kind: tiny networks trained a few steps export to ONNX whose outputs match
PyTorch, stream chunk by chunk like the whole sequence, and carry metadata that follows
docs/models.md. Also checks that the committed model fixtures replay in onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from hark_train import tiny  # noqa: E402
from hark_train.export import EXPORT_ATOL  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "tests" / "fixtures" / "models"


def _session(path: Path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _golden(path: Path) -> tuple[dict, dict]:
    g = json.loads(path.read_text())

    def arrays(d):
        return {
            k: np.asarray(v["data"], dtype=np.float32).reshape(v["shape"]) for k, v in d.items()
        }

    return arrays(g["inputs"]), arrays(g["outputs"])


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models")
    tiny.generate(out, steps=3)
    return out


@pytest.mark.parametrize("name", ["keyword", "intent", "sentiment"])
def test_export_writes_the_three_files(exported: Path, name: str) -> None:
    for ext in ("onnx", "json", "golden.json"):
        assert (exported / f"{name}.{ext}").is_file()
    meta = json.loads((exported / f"{name}.json").read_text())
    assert meta["schema"] == 1
    assert meta["kind"] == name
    assert meta["io"]["inputs"][0]["name"] == "x"
    assert meta["io"]["inputs"][0]["shape"] == [1, "T", 13]
    assert len(meta["frontend"]["mean"]) == 13
    assert meta["training"]["command"]


@pytest.mark.parametrize("name", ["keyword", "intent", "sentiment"])
def test_onnx_matches_golden_outputs(exported: Path, name: str) -> None:
    inputs, outputs = _golden(exported / f"{name}.golden.json")
    sess = _session(exported / f"{name}.onnx")
    got = sess.run(None, inputs)
    names = [o.name for o in sess.get_outputs()]
    for n, value in zip(names, got, strict=True):
        assert np.abs(value - outputs[n]).max() <= EXPORT_ATOL


def test_keyword_graph_streams(exported: Path) -> None:
    inputs, outputs = _golden(exported / "keyword.golden.json")
    sess = _session(exported / "keyword.onnx")
    state = [inputs["ctx0"], inputs["h0"], inputs["c0"]]
    parts = []
    for start in range(0, inputs["x"].shape[1], 5):
        scores, *state = sess.run(
            None,
            {
                "x": inputs["x"][:, start : start + 5],
                "ctx0": state[0],
                "h0": state[1],
                "c0": state[2],
            },
        )
        parts.append(scores)
    assert np.abs(np.concatenate(parts, axis=1) - outputs["scores"]).max() <= EXPORT_ATOL
    assert np.allclose(outputs["scores"].sum(axis=-1), 1.0, atol=1e-5)


def test_intent_metadata_matches_heads(exported: Path) -> None:
    meta = json.loads((exported / "intent.json").read_text())
    outs = {o["name"]: o["shape"] for o in meta["io"]["outputs"]}
    assert outs["intent"] == [1, len(meta["labels"])]
    for slot in meta["intent"]["slots"]:
        assert outs[slot["output"]] == [1, len(slot["values"]) + 1]


@pytest.mark.parametrize("name", ["keyword", "intent", "sentiment"])
def test_committed_fixtures_replay(name: str) -> None:
    inputs, outputs = _golden(COMMITTED / f"{name}.golden.json")
    sess = _session(COMMITTED / f"{name}.onnx")
    got = sess.run(None, inputs)
    for o, value in zip(sess.get_outputs(), got, strict=True):
        assert np.abs(value - outputs[o.name]).max() <= EXPORT_ATOL
