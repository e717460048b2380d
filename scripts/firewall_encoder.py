"""Tune the top layers of the firewall's sentence encoder on the injection rows (PyTorch, CPU).

A regression on the frozen encoder's embeddings learns which directions of a general-purpose sentence
space mean "attack"; tuning the encoder's last layers as well lets it learn what to attend to.

The first `FROZEN_LAYERS` layers stay as the checkpoint has them: their output for every row is computed
once. The layers above are tuned by low-rank updates (LoRA: each weight matrix W becomes W + B A, with
A and B of rank `RANK`, and their layer norms tuned as they are), together with a logistic regression on
the pooled, unit-length embedding. The result is an overlay that `shared.firewall.semantic.Encoder`
reads over the package's weights (`NAME:a` and `NAME:b` for the update of the checkpoint's tensor
`NAME`, whole tensors under their own names; float16, about 0.9 MB a tuning), plus the regression's
weights for the model file's `semantic` head. Needs PyTorch (the `train` extra); nothing at run time does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from shared.firewall import semantic

FROZEN_LAYERS = 2  # of six: the last four are tuned
RANK = 16
EPOCHS = 3
BATCH = 32
LEARNING_RATE = 1e-3  # of the updates, the layer norms and the regression
WEIGHT_DECAY = 0.01
# The regression reads the unit-length embedding times this: a unit vector's products are small, and a
# plain learning rate would take many epochs to reach useful weights. The shipped weights include it.
POOL_SCALE = 10.0


@dataclass(frozen=True)
class Tuned:
    """The overlay of tuned tensors (float16; see the module's notes) and the regression on the embedding."""

    tensors: dict[str, np.ndarray]
    weights: list[float]
    bias: float


def tune(texts: Sequence[str], labels: np.ndarray, seed: int) -> Tuned:
    """Tune the encoder's top layers and a regression to tell injections (`labels` 1) from the rest."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder = semantic.shared_encoder()
    checkpoint = _checkpoint()
    bottom = Stack(checkpoint, range(FROZEN_LAYERS), embeddings=True).eval()
    top = Stack(checkpoint, range(FROZEN_LAYERS, len(encoder.layers)), rank=RANK)
    head = torch.nn.Linear(semantic.EMBEDDING_SIZE, 1)
    ids = [encoder.token_ids(text) for text in texts]
    with torch.no_grad():  # the frozen layers' output, once per row, kept in float16
        frozen = [np.empty(0)] * len(ids)
        for batch in _batches(np.argsort([len(i) for i in ids]), 64):
            tokens, mask = _padded([torch.tensor(ids[i]) for i in batch])
            out = bottom(tokens, mask)
            for r, i in enumerate(batch):
                frozen[i] = out[r, : len(ids[i])].half().numpy()
    y = torch.tensor(labels, dtype=torch.float32)
    balance = torch.tensor(float((labels == 0).sum() / max(1, (labels == 1).sum())))
    trained = [p for p in top.parameters() if p.requires_grad] + list(head.parameters())
    optimiser = torch.optim.AdamW(trained, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    top.train()
    for _ in range(EPOCHS):
        # Batches of rows of similar length (little padding), in random order.
        order = rng.permutation(len(ids))
        batches = []
        for start in range(0, len(order), BATCH * 20):
            chunk = order[start : start + BATCH * 20]
            batches += _batches(chunk[np.argsort([len(ids[i]) for i in chunk], kind="stable")], BATCH)
        for k in rng.permutation(len(batches)):
            batch = batches[k]
            x, mask = _padded([torch.from_numpy(frozen[i].astype(np.float32)) for i in batch])
            logits = head(_pooled(top(x, mask), mask) * POOL_SCALE)[:, 0]
            loss = F.binary_cross_entropy_with_logits(logits, y[batch], pos_weight=balance)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    tensors = {
        name: tensor.detach().numpy().astype(np.float16) for name, tensor in top.tuned_tensors().items()
    }
    return Tuned(
        tensors=tensors,
        weights=[round(float(w) * POOL_SCALE, 6) for w in head.weight.detach()[0]],
        bias=round(float(head.bias.detach()[0]), 6),
    )


def _checkpoint() -> dict[str, np.ndarray]:
    tensors = semantic.mapped_tensors(semantic.model_dir() / "model.safetensors")
    return {name.removeprefix("bert."): tensor for name, tensor in tensors.items()}


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def _padded(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows zero-padded to the longest, and the mask of their real positions."""
    lengths = torch.tensor([len(row) for row in rows])
    mask = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True), mask


def _parameter(array: np.ndarray, trainable: bool = True) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor(np.array(array)), requires_grad=trainable)


def _layer_norm(tensors: dict[str, np.ndarray], name: str, eps: float) -> torch.nn.LayerNorm:
    """The checkpoint's layer norm `name` (its weight and bias trainable)."""
    weight = tensors[f"{name}.weight"]
    norm = torch.nn.LayerNorm(weight.shape[0], eps=eps)
    norm.weight, norm.bias = _parameter(weight), _parameter(tensors[f"{name}.bias"])
    return norm


def _pooled(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the tokens' states, to unit length: the embedding as `semantic.Encoder` gives it."""
    weights = mask.float()[..., None]
    return F.normalize((x * weights).sum(1) / weights.sum(1), dim=-1)


class LowRank(torch.nn.Module):
    """A frozen linear map of the checkpoint plus a trained update of low rank: W x + b + B (A x)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, rank: int) -> None:
        super().__init__()
        self.weight = _parameter(weight, trainable=False)
        self.bias = _parameter(bias, trainable=False)
        self.a = torch.nn.Parameter(torch.randn(rank, weight.shape[1]) * 0.01)
        self.b = torch.nn.Parameter(torch.zeros(weight.shape[0], rank))  # no change at the start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + (x @ self.a.T) @ self.b.T


class Layer(torch.nn.Module):
    """One BERT layer, as `semantic.Encoder.embed_ids` runs it, with the checkpoint's tensors (and, with
    a `rank`, low-rank updates of its weight matrices)."""

    def __init__(
        self, tensors: dict[str, np.ndarray], prefix: str, heads: int, eps: float, rank: int = 0
    ) -> None:
        super().__init__()
        self.prefix, self.heads = prefix, heads
        self.names = {
            "query": "attention.self.query",
            "key": "attention.self.key",
            "value": "attention.self.value",
            "out": "attention.output.dense",
            "up": "intermediate.dense",
            "down": "output.dense",
        }
        for attr, name in self.names.items():
            weight, bias = tensors[f"{prefix}{name}.weight"], tensors[f"{prefix}{name}.bias"]
            if rank:
                setattr(self, attr, LowRank(weight, bias, rank))
            else:
                linear = torch.nn.Linear(weight.shape[1], weight.shape[0])
                linear.weight, linear.bias = _parameter(weight), _parameter(bias)
                setattr(self, attr, linear)
        self.norm_names = {"norm1": "attention.output.LayerNorm", "norm2": "output.LayerNorm"}
        for attr, name in self.norm_names.items():
            setattr(self, attr, _layer_norm(tensors, prefix + name, eps))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, size = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, size // self.heads).transpose(1, 2)

        attended = F.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=mask[:, None, None, :]
        )
        x = self.norm1(x + self.out(attended.transpose(1, 2).reshape(b, n, size)))
        # BERT's exact GELU (erf), as the NumPy encoder computes it
        return self.norm2(x + self.down(F.gelu(self.up(x))))

    def tuned_tensors(self) -> dict[str, torch.Tensor]:
        """What was trained, by the checkpoint's names: the updates as `NAME:a` and `NAME:b`, and the
        layer norms whole."""
        out = {}
        for attr, name in self.names.items():
            module = getattr(self, attr)
            if isinstance(module, LowRank):
                out[f"{self.prefix}{name}.weight:a"] = module.a
                out[f"{self.prefix}{name}.weight:b"] = module.b
        for attr, name in self.norm_names.items():
            module = getattr(self, attr)
            out[f"{self.prefix}{name}.weight"] = module.weight
            out[f"{self.prefix}{name}.bias"] = module.bias
        return out


class Stack(torch.nn.Module):
    """Layers `layers` of the checkpoint, with the embedding layer in front when `embeddings`."""

    def __init__(
        self, tensors: dict[str, np.ndarray], layers: range, embeddings: bool = False, rank: int = 0
    ) -> None:
        super().__init__()
        encoder = semantic.shared_encoder()
        self.embeddings = embeddings
        if embeddings:
            self.words = torch.tensor(np.array(tensors["embeddings.word_embeddings.weight"]))
            self.positions = torch.tensor(np.array(tensors["embeddings.position_embeddings.weight"]))
            self.type0 = torch.tensor(np.array(tensors["embeddings.token_type_embeddings.weight"][0]))
            self.norm0 = _layer_norm(tensors, "embeddings.LayerNorm", encoder.eps)
        self.layers = torch.nn.ModuleList(
            [Layer(tensors, f"encoder.layer.{i}.", encoder.heads, encoder.eps, rank) for i in layers]
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.embeddings:  # x holds token ids
            x = self.norm0(self.words[x] + self.positions[: x.shape[1]] + self.type0)
        for layer in self.layers:
            x = layer(x, mask)
        return x

    def tuned_tensors(self) -> dict[str, torch.Tensor]:
        return {name: t for layer in self.layers for name, t in layer.tuned_tensors().items()}
