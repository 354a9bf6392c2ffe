"""A tiny end-to-end run of ``python -m hark_train keyword``: espeak-ng clips, augmentation bank,
streams, a few training steps with the state carried, export, ONNX == PyTorch."""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


@pytest.mark.parametrize(("pcen", "spread"), [(False, False), (True, False), (False, True)])
def test_tiny_keyword_pipeline(tmp_path, pcen, spread):
    from hark_train.features import PCEN_DEFAULT
    from hark_train.keyword import LABELS, Config, run
    from hark_train.texts import data_dir

    cfg = Config(
        data=data_dir(),
        out=tmp_path / "models",
        work=tmp_path / "work",
        steps=3,
        jobs=1,
        progress=False,
        hidden=16,
        conv=8,
        tiny=True,
        words=["computer", "yes"],
        batch=3,
        segment=60,
        stream_s=(3.0, 5.0),
        pcen=pcen,
        voice_spread=spread,
    )
    res = run(cfg)
    meta = json.loads((cfg.out / "keyword.json").read_text())
    assert meta["kind"] == "keyword" and meta["labels"] == LABELS
    assert meta["features"] == "logmel" and len(meta["frontend"]["mean"]) == 40
    assert meta["frontend"].get("pcen") == (PCEN_DEFAULT if pcen else None)
    assert set(meta["keyword"]["thresholds"]) == set(LABELS[1:])
    assert meta["keyword"]["wake_words"] == ["computer", "jarvis"]
    assert meta["training"]["steps"] == 3
    # The augmentation recipe is recorded (the card states it).
    summary = meta["training"]["summary"]
    assert summary["bank_augment"]["vtlp_range"] == ([0.8, 1.2] if spread else [0.9, 1.1])
    assert (summary["stream_eq"] is not None) == spread
    assert meta["evaluation"]["cost"]["parameters"] > 0
    # The synthesis cache made the clips; a second plan run would reuse them.
    rows = (cfg.work / "synth" / "manifest.jsonl").read_text().splitlines()
    assert len(rows) >= 4
    # ONNX (onnxruntime) matches PyTorch on a fresh input, chunked with the state carried.
    model = res["model"]
    x = np.random.default_rng(1).standard_normal((1, 50, 40)).astype(np.float32)
    ctx, h, c = model.initial_state(1)
    with torch.no_grad():
        want = model(torch.from_numpy(x), ctx, h, c)[0].numpy()
    sess = ort.InferenceSession(str(cfg.out / "keyword.onnx"), providers=["CPUExecutionProvider"])
    state = [ctx.numpy(), h.numpy(), c.numpy()]
    parts = []
    for s in range(0, 50, 13):
        out, *state = sess.run(
            None, {"x": x[:, s : s + 13], "ctx0": state[0], "h0": state[1], "c0": state[2]}
        )
        parts.append(out)
    np.testing.assert_allclose(np.concatenate(parts, axis=1), want, atol=1e-5)
