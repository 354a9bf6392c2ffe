"""PyTorch networks hark ships, written so that their ONNX export streams and loads in tract.

``StreamingKeywordNet`` is the always-on keyword spotter: a causal 1-D convolution over frames
(its last ``kernel - 1`` input frames are carried as state), an LSTM (its ``h``/``c`` carried as
state) and a per-frame softmax. Feeding a stream chunk by chunk with the state carried gives the
same scores as feeding it whole, so the runtime's cost per frame is constant.
"""

from __future__ import annotations

import torch
from torch import nn


class StreamingKeywordNet(nn.Module):
    """Causal conv → LSTM → linear → softmax, with explicit state in and out."""

    def __init__(
        self,
        n_features: int,
        n_labels: int,
        conv_channels: int = 64,
        kernel: int = 5,
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if kernel < 2:
            raise ValueError("kernel must be at least 2 (use a Linear layer otherwise)")
        self.n_features = n_features
        self.n_labels = n_labels
        self.kernel = kernel
        self.hidden = hidden
        self.layers = layers
        self.conv_channels = conv_channels
        self.conv = nn.Conv1d(n_features, conv_channels, kernel_size=kernel)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            conv_channels,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.out = nn.Linear(hidden, n_labels)

    def initial_state(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Zero state: (context frames, h, c)."""
        ctx = torch.zeros(batch, self.kernel - 1, self.n_features)
        h = torch.zeros(self.layers, batch, self.hidden)
        c = torch.zeros(self.layers, batch, self.hidden)
        return ctx, h, c

    def logits(
        self, x: torch.Tensor, ctx: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-frame logits ``[B, T, n_labels]`` and the new state."""
        full = torch.cat([ctx, x], dim=1)
        new_ctx = full[:, full.shape[1] - (self.kernel - 1) :, :]
        y = self.act(self.conv(full.transpose(1, 2))).transpose(1, 2)
        y, (h1, c1) = self.lstm(self.drop(y), (h, c))
        return self.out(self.drop(y)), new_ctx, h1, c1

    def forward(
        self, x: torch.Tensor, ctx: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-frame posteriors (softmax) and the new state; the exported graph."""
        logits, new_ctx, h1, c1 = self.logits(x, ctx, h, c)
        return torch.softmax(logits, dim=-1), new_ctx, h1, c1

    def state_spec(self) -> list[dict]:
        """The ``keyword.state`` entries of the metadata (docs/models.md)."""
        return [
            {"input": "ctx0", "output": "ctx1", "shape": [1, self.kernel - 1, self.n_features]},
            {"input": "h0", "output": "h1", "shape": [self.layers, 1, self.hidden]},
            {"input": "c0", "output": "c1", "shape": [self.layers, 1, self.hidden]},
        ]


class UtteranceClassifier(nn.Module):
    """Utterance-level heads over a (bi)LSTM summary: one softmax per head.

    Used for speech-to-intent (an intent head plus one head per slot) and voice sentiment (one
    head). Input ``x`` ``[1, T, F]``; each head's output ``[1, n_classes]``. With
    ``conv_channels``, a strided 1-D convolution (``kernel`` frames, ``stride``) shortens the
    sequence before the LSTM, which makes training and inference ``stride`` times cheaper.
    """

    def __init__(
        self,
        n_features: int,
        heads: dict[str, int],
        hidden: int = 96,
        layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.2,
        conv_channels: int = 0,
        kernel: int = 5,
        stride: int = 1,
        utterance_mean: bool = False,
    ) -> None:
        super().__init__()
        self.head_names = list(heads)
        self.utterance_mean = utterance_mean
        self.kernel, self.stride = kernel, stride
        self.conv = (
            nn.Conv1d(n_features, conv_channels, kernel, stride=stride, padding=kernel // 2)
            if conv_channels
            else None
        )
        self.lstm = nn.LSTM(
            conv_channels or n_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        width = hidden * (2 if bidirectional else 1)
        self.drop = nn.Dropout(dropout)
        self.heads = nn.ModuleList([nn.Linear(2 * width, n) for n in heads.values()])

    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, T, F]`` → ``[B, T', C]``: with ``utterance_mean``, each feature's mean over the
        utterance is subtracted first (level and channel invariance); then the convolution, when
        there is one."""
        if self.utterance_mean:
            if lengths is None:
                x = x - x.mean(dim=1, keepdim=True)
            else:
                mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
                mean = (x * mask).sum(dim=1, keepdim=True) / lengths[:, None, None].to(x.dtype)
                x = (x - mean) * mask
        if self.conv is None:
            return x
        return torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)

    def encoded_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames after ``encode`` for inputs of ``lengths`` frames."""
        if self.conv is None:
            return lengths
        pad = self.kernel // 2
        return (lengths + 2 * pad - self.kernel) // self.stride + 1

    def frames(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The top LSTM layer's output per encoded frame ``[B, T', width]`` and each row's
        encoded length (``lengths``: the real frames of each row of a padded batch; padding is
        not run)."""
        h = self.encode(x, lengths)
        if lengths is None:
            y, _ = self.lstm(h)
            return y, torch.full((h.shape[0],), h.shape[1], dtype=torch.long)
        lens = self.encoded_lengths(lengths).clamp(min=1, max=h.shape[1])
        packed = nn.utils.rnn.pack_padded_sequence(
            h, lens.cpu(), batch_first=True, enforce_sorted=False
        )
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=h.shape[1])
        return y, lens

    @property
    def width(self) -> int:
        """Features per frame of ``frames``."""
        return self.lstm.hidden_size * (2 if self.lstm.bidirectional else 1)

    def pool(self, y: torch.Tensor, lens: torch.Tensor | None = None) -> torch.Tensor:
        """Mean- and max-pooled frames, ``[B, 2·width]``; padding is not pooled."""
        if lens is None:
            return self.drop(torch.cat([y.mean(dim=1), y.amax(dim=1)], dim=-1))
        mask = (torch.arange(y.shape[1])[None, :] < lens[:, None]).unsqueeze(-1)
        mean = (y * mask).sum(dim=1) / lens[:, None].to(y.dtype)
        mx = y.masked_fill(~mask, float("-inf")).amax(dim=1)
        return self.drop(torch.cat([mean, mx], dim=-1))

    def summary(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Mean- and max-pooled LSTM outputs, ``[B, 2·width]``. ``lengths`` (training on padded
        batches): the real frames of each row; padding is neither run nor pooled."""
        if lengths is None:
            y, _ = self.frames(x)
            return self.pool(y)
        y, lens = self.frames(x, lengths)
        return self.pool(y, lens)

    def logits(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
        s = self.summary(x, lengths)
        return [head(s) for head in self.heads]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.softmax(z, dim=-1) for z in self.logits(x))


class UtteranceEnsemble(nn.Module):
    """Several ``UtteranceClassifier``s trained alike from different seeds, as one model: each
    head's output is the mean of the members' softmax outputs. Averaging members whose
    validation scores swing from round to round gives a steadier model than any one of them.
    ``logits`` returns the log of that mean, so ``softmax(logits)`` is the exported output and
    code written for one classifier (``intent.predict``) works unchanged."""

    def __init__(self, members: list[UtteranceClassifier]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @property
    def heads(self) -> nn.ModuleList:
        return self.members[0].heads

    def logits(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
        return [torch.log(p.clamp_min(1e-12)) for p in self._mean(x, lengths)]

    def _mean(self, x: torch.Tensor, lengths: torch.Tensor | None) -> list[torch.Tensor]:
        per = [[torch.softmax(z, dim=-1) for z in m.logits(x, lengths)] for m in self.members]
        return [torch.stack(ps).mean(dim=0) for ps in zip(*per, strict=True)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self._mean(x, None))


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _onnx_weights(path) -> tuple[object, dict[str, torch.Tensor]]:
    """An exported graph and its stored weights by name."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    return graph, init


def _lstm_state_from_onnx(path, graph, init: dict, lstm: nn.LSTM) -> dict[str, torch.Tensor]:
    """``lstm``'s weights (keys ``lstm.…``) from the graph's LSTM nodes, reordered from ONNX's
    layout (gates i, o, f, c; input and recurrent biases side by side; one node per layer, both
    directions) into PyTorch's (gates i, f, g, o)."""
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    if len(lstms) != lstm.num_layers:
        raise ValueError(f"{path}: {len(lstms)} LSTM layers, the network has {lstm.num_layers}")
    hid = lstm.hidden_size
    order = torch.cat([torch.arange(b * hid, (b + 1) * hid) for b in (0, 2, 3, 1)])
    state = {}
    for layer, node in enumerate(lstms):
        w, r, b = (init[name] for name in node.input[1:4])
        if w.shape[1] != 4 * hid:
            raise ValueError(
                f"{path}: LSTM layer {layer} has {w.shape[1] // 4} hidden units, the network {hid}"
            )
        for d, suffix in enumerate(["", "_reverse"][: w.shape[0]]):
            state[f"lstm.weight_ih_l{layer}{suffix}"] = w[d][order]
            state[f"lstm.weight_hh_l{layer}{suffix}"] = r[d][order]
            state[f"lstm.bias_ih_l{layer}{suffix}"] = b[d][: 4 * hid][order]
            state[f"lstm.bias_hh_l{layer}{suffix}"] = b[d][4 * hid :][order]
    return state


def utterance_state_from_onnx(path, model: UtteranceClassifier) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of ``model`` with the weights of an exported utterance graph
    (``export.export_utterance``), to continue training a shipped model (LSTM weights as
    ``_lstm_state_from_onnx`` reorders them)."""
    graph, init = _onnx_weights(path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for k in state:
        if not k.startswith("lstm.") and k in init:
            state[k] = init[k]
    state.update(_lstm_state_from_onnx(path, graph, init, model.lstm))
    return state


class PhonemeRecogniser(nn.Module):
    """Strided conv → 2-layer bidirectional LSTM → per-frame log-probabilities over the phoneme
    inventory and the CTC blank (class 0). One output frame per ``stride`` input frames."""

    def __init__(
        self,
        n_features: int,
        n_phones: int,
        channels: int = 96,
        hidden: int = 96,
        stride: int = 3,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(n_features, channels, 5, stride=stride, padding=2)
        self.lstm = nn.LSTM(
            channels, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=dropout
        )
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_phones + 1)

    def frames_out(self, n: torch.Tensor) -> torch.Tensor:
        """Output frames for ``n`` input frames."""
        return (n + 4 - 5) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        y, _ = self.lstm(h)
        return self.out(self.drop(y)).log_softmax(-1)


def phoneme_state_from_onnx(path, model: PhonemeRecogniser) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of ``model`` with the weights of an exported recogniser
    (``export.export_phonemes``): the convolution and the output bias by name, the output
    weight from the graph's one MatMul (stored transposed, under a generated name), the LSTM
    as ``_lstm_state_from_onnx`` reorders it. A weight of another shape is refused, naming
    the file."""
    graph, init = _onnx_weights(path)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    matmul = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in init]
    if len(matmul) != 1:
        raise ValueError(f"{path}: not a phoneme recogniser's graph (one output MatMul)")
    found = {k: init[k] for k in ("conv.weight", "conv.bias", "out.bias") if k in init}
    found["out.weight"] = init[matmul[0].input[1]].T.contiguous()
    found.update(_lstm_state_from_onnx(path, graph, init, model.lstm))
    for k, want in state.items():
        if k not in found:
            raise ValueError(f"{path}: {k} is not among its weights")
        if found[k].shape != want.shape:
            raise ValueError(f"{path}: {k} is {tuple(found[k].shape)}, not {tuple(want.shape)}")
    return found
