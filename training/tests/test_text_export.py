"""Text models: tiny networks trained a few steps export to ONNX that matches PyTorch, with the
inputs/outputs the metadata declares; slot tags decode as docs/models.md says."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from hark_train.export import EXPORT_ATOL, check_onnx_io, export_text  # noqa: E402
from hark_train.grammar import parse_context  # noqa: E402
from hark_train.textintent import (  # noqa: E402
    decode_slots,
    phrase_tags,
    synonyms_table,
    tag_names,
)
from hark_train.textnets import Example, TextClassifier, TextEnsemble, train  # noqa: E402
from hark_train.tokenizer import Tokenizer, tokenize  # noqa: E402
from hark_train.wordvectors import WordVectors, extend_vocabulary, table  # noqa: E402

CONTEXT = """
context:
  expressions:
    HassTurnOn:
      - "(turn, switch) on [the] [$area:area] $device:name"
    HassTurnOff:
      - "(turn, switch) off [the] [$area:area] $device:name"
  slots:
    area:
      - kitchen
      - value: living room
        synonyms: [lounge]
    device:
      - value: light
        synonyms: [lights]
      - fan
"""


@pytest.fixture(scope="module")
def ctx():
    return parse_context(CONTEXT, "tiny.yaml")


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _replay(paths):
    meta = json.loads(paths["json"].read_text())
    golden = json.loads(paths["golden"].read_text())
    sess = _session(paths["onnx"])
    assert [i.name for i in sess.get_inputs()] == [i["name"] for i in meta["io"]["inputs"]]
    assert [o.name for o in sess.get_outputs()] == [o["name"] for o in meta["io"]["outputs"]]
    assert golden["inputs"] == golden["cases"][0]["inputs"]
    lengths = set()
    for case in golden["cases"]:
        t = case["inputs"]["tokens"]
        assert t["dtype"] == "i64" and all(isinstance(v, int) for v in t["data"])
        x = np.asarray(t["data"], dtype=np.int64).reshape(t["shape"])
        lengths.add(x.shape[1])
        got = sess.run(None, {"tokens": x})
        for o, value in zip(meta["io"]["outputs"], got, strict=True):
            want = np.asarray(case["outputs"][o["name"]]["data"], dtype=np.float32)
            assert np.abs(value.ravel() - want).max() <= EXPORT_ATOL
            shape = [x.shape[1] if s == "T" else s for s in o["shape"]]
            assert list(value.shape) == shape
            assert np.allclose(value.sum(axis=-1), 1.0, atol=1e-5)
    assert len(lengths) > 1  # T really is dynamic
    return meta


def test_text_intent_export(ctx, tmp_path):
    torch.manual_seed(0)
    tags = tag_names(ctx)
    labels = ctx.intent_names + ["_out_of_grammar_"]
    phrases = list(ctx.expand())
    tok = Tokenizer.build([p.text for p in phrases], min_count=1)
    tok.tags = tags
    data = []
    for p in phrases:
        toks, ids = phrase_tags(p, tags)
        data.append(Example(tok.ids(toks), labels.index(p.intent), ids))
    data.append(Example(tok.encode("what time is it"), 2, [0] * 4))
    model = TextClassifier(len(tok.vocab), len(labels), len(tags), emb=8, hidden=8)
    train(model, data, data, epochs=2, batch_size=8, patience=5)
    texts = ["turn on the kitchen light", "switch off fan", "hello"]
    paths = export_text(
        model,
        tmp_path,
        "text-intent",
        kind="text-intent",
        labels=labels,
        tokenizer=tok.to_meta(),
        output_names=["intent", "slot_tags"],
        output_shapes=[[1, len(labels)], [1, "T", len(tags)]],
        extra={
            "intent": {
                "out_of_grammar": "_out_of_grammar_",
                "threshold": 0.5,
                "slots": [
                    {
                        "name": n,
                        "output": "slot_tags",
                        "values": ctx.slot_values(n),
                        "synonyms": synonyms_table(ctx)[n],
                    }
                    for n in ctx.slot_names()
                ],
            }
        },
        training={"command": "test"},
        golden_ids=[tok.encode(t) for t in texts],
        golden_texts=texts,
    )
    meta = _replay(paths)
    assert meta["kind"] == "text-intent"
    assert meta["io"]["inputs"] == [{"name": "tokens", "shape": [1, "T"], "dtype": "i64"}]
    assert meta["tokenizer"]["tags"] == tags
    assert meta["tokenizer"]["vocab"][:2] == ["<pad>", "<unk>"]
    assert {s["output"] for s in meta["intent"]["slots"]} == {"slot_tags"}
    # The metadata check refuses a graph that does not match it.
    bad = json.loads(json.dumps(meta["io"]))
    bad["outputs"][1]["shape"] = [1, "T", len(tags) + 1]
    with pytest.raises(RuntimeError):
        check_onnx_io(paths["onnx"], bad)


def _export_sentiment(model, tok: Tokenizer, golden_texts: list[str], out):
    return export_text(
        model,
        out,
        "text-sentiment",
        kind="text-sentiment",
        labels=["negative", "neutral", "positive"],
        tokenizer=tok.to_meta(),
        output_names=["sentiment"],
        output_shapes=[[1, 3]],
        extra={},
        training={"command": "test"},
        golden_ids=[tok.encode(t) for t in golden_texts],
    )


def test_text_sentiment_export(tmp_path):
    torch.manual_seed(0)
    texts = ["thanks that's perfect", "no that's wrong", "turn on the light", "awful", "great"]
    tok = Tokenizer.build(texts, min_count=1)
    data = [Example(tok.encode(t), y) for t, y in zip(texts, [2, 0, 1, 0, 2], strict=True)]
    model = TextClassifier(len(tok.vocab), 3, emb=8, hidden=8)
    train(model, data, data, epochs=2, batch_size=2)
    paths = _export_sentiment(model, tok, texts, tmp_path)
    meta = _replay(paths)
    assert meta["io"]["outputs"] == [{"name": "sentiment", "shape": [1, 3], "dtype": "f32"}]
    assert "tags" not in meta["tokenizer"]


def test_phrase_tags_align_with_slot_spans(ctx):
    tags = tag_names(ctx)
    assert tags == ["O", "B-area", "I-area", "B-name", "I-name"]
    p = next(p for p in ctx.expand() if p.text == "turn on the lounge lights")
    toks, ids = phrase_tags(p, tags)
    assert toks == ["turn", "on", "the", "lounge", "lights"]
    assert [tags[i] for i in ids] == ["O", "O", "O", "B-area", "B-name"]
    p = next(p for p in ctx.expand() if p.text == "switch off living room fan")
    toks, ids = phrase_tags(p, tags)
    assert [tags[i] for i in ids] == ["O", "O", "B-area", "I-area", "B-name"]


def test_decode_slots_rule(ctx):
    tags = tag_names(ctx)
    table = synonyms_table(ctx)
    t = {n: i for i, n in enumerate(tags)}
    toks = tokenize("turn on the living room lights and the kitchen fan")
    seq = ["O", "O", "O", "B-area", "I-area", "B-name", "O", "O", "B-area", "B-name"]
    got = decode_slots(toks, [t[s] for s in seq], tags, table, ["area", "name"])
    assert {k: v["value"] for k, v in got.items()} == {"area": "living room", "name": "light"}
    assert got["area"]["raw"] == "living room" and got["name"]["raw"] == "lights"
    # An I- tag without its B- starts a span; unknown phrases are dropped; disallowed slots too.
    seq = ["O", "O", "O", "I-area", "I-area", "I-name", "O", "O", "O", "O"]
    got = decode_slots(toks, [t[s] for s in seq], tags, table, ["area"])
    assert {k: v["value"] for k, v in got.items()} == {"area": "living room"}
    seq = ["O", "O", "B-name", "B-area", "O", "O", "O", "O", "O", "O"]
    got = decode_slots(toks, [t[s] for s in seq], tags, table, ["area", "name"])
    assert got == {}  # "the" is no device, "living" alone is no area


def test_text_sentiment_export_with_word_vectors(tmp_path):
    """A model reading frozen word vectors exports, its ONNX output matches PyTorch, and a word
    known only from the vectors changes the output through its vector alone."""
    torch.manual_seed(0)
    texts = ["thanks that's perfect", "no that's wrong", "turn on the light", "awful", "great"]
    tok = Tokenizer.build(texts, min_count=1)
    trained = len(tok.vocab)
    rng = np.random.default_rng(0)
    words = ["superb", "dreadful", "great", "awful", "that", "'s"]
    vectors = WordVectors(words, rng.normal(size=(len(words), 6)).astype(np.float32))
    tok = extend_vocabulary(tok, vectors, extra_words=2)
    assert tok.vocab[trained:] == ["superb", "dreadful"]
    pre, found = table(tok, vectors)
    assert found == 5  # great, awful, superb, dreadful, and that's (that + 's)
    model = TextClassifier(len(tok.vocab), 3, emb=4, hidden=8, pretrained=pre, learnt_vocab=trained)
    assert model.embedding.num_embeddings == trained
    assert model.pretrained.dtype == torch.float16
    assert not any(p is model.pretrained for p in model.parameters())
    data = [Example(tok.encode(t), y) for t, y in zip(texts, [2, 0, 1, 0, 2], strict=True)]
    before = model.pretrained.clone()
    train(model, data, data, epochs=2, batch_size=2)
    assert torch.equal(model.pretrained, before)
    assert model.embedding.weight[0].abs().max() == 0  # the padding row stays zero
    golden = ["superb", "dreadful", "that's great", "zebra"]
    with torch.no_grad():
        a = model(torch.tensor([tok.encode("superb")]))[0]
        b = model(torch.tensor([tok.encode("dreadful")]))[0]
    assert not torch.allclose(a, b)
    paths = _export_sentiment(model, tok, golden, tmp_path)
    meta = _replay(paths)
    assert meta["tokenizer"]["vocab"][trained:] == ["superb", "dreadful"]


def test_text_sentiment_ensemble_export_shares_the_vectors(tmp_path):
    """An ensemble's output is the mean of its members' and exports as one graph that holds the
    frozen word vectors once."""
    torch.manual_seed(0)
    texts = ["thanks that's perfect", "no that's wrong", "turn on the light", "awful", "great"]
    tok = Tokenizer.build(texts, min_count=1)
    trained = len(tok.vocab)
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    vectors = WordVectors(words, rng.normal(size=(len(words), 50)).astype(np.float32))
    tok = extend_vocabulary(tok, vectors, extra_words=3000)
    pre, _ = table(tok, vectors)
    nets = [
        TextClassifier(len(tok.vocab), 3, emb=4, hidden=8, pretrained=pre, learnt_vocab=trained)
        for _ in range(3)
    ]
    ens = TextEnsemble(nets).eval()
    x = torch.tensor([tok.encode("great w7 light")])
    with torch.no_grad():
        mean = torch.stack([n(x)[0] for n in nets]).mean(dim=0)
        torch.testing.assert_close(ens(x)[0], mean)
        torch.testing.assert_close(torch.softmax(ens.logits(x)[0], dim=-1), mean)
    paths = _export_sentiment(ens, tok, ["great", "w12 w13", "no that's wrong"], tmp_path)
    _replay(paths)
    table_bytes = pre.shape[0] * pre.shape[1] * 2
    assert table_bytes < paths["onnx"].stat().st_size < 1.5 * table_bytes
    with pytest.raises(ValueError, match="same word vectors"):
        TextEnsemble([nets[0], TextClassifier(len(tok.vocab), 3, emb=4, hidden=8, pretrained=-pre)])
