"""The learned part of the firewall: two logistic regressions read from a JSON file in the package.

Each model weighs named signals (rule-family counts, character statistics) and the words and word pairs
of the prompt; every word in the file comes from the training data. The file also holds the common words
and letter trigrams of the training data's ordinary prose, by which a token that reads like no word
stands out. `scripts/train_firewall.py` writes the file; loading it touches neither the network nor any hub.
"""

from __future__ import annotations

import json
import math
import operator
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any

from shared.firewall.injection import Prose
from shared.firewall.semantic import SemanticHead

MODEL_PATH = Path(__file__).with_name("model.json")
FORMAT_VERSION = 2
LEXICAL_HEAD = 128  # a long prompt's words are read from its start and its end: cost stays bounded
LEXICAL_TAIL = 128


class ModelError(Exception):
    """The model file is missing, unreadable or of another format version."""


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression over named signals and word n-grams; `threshold` is its operating point."""

    bias: float
    weights: Mapping[str, float]
    # The weights by n-gram as `gram_keys` gives them (a word, or a pair of words as a tuple).
    lexical: Mapping[Gram, float]
    threshold: float
    # Prompts with more distinct n-grams than this have their n-grams' sum scaled by sqrt(this / count), so
    # that a long prompt does not add up many small weights (0: never scaled).
    lexical_scale_from: int = 0
    # The operating point when the second tier is off (`threshold` is the one for both tiers together);
    # None: the same.
    first_tier_threshold: float | None = None

    def probability_with(self, signals: Mapping[str, float], lexical: float, grams: int = 0) -> float:
        """The probability for these signals when the `grams` n-grams' weights add up to `lexical`."""
        z = self.bias + lexical * lexical_scale(grams, self.lexical_scale_from)
        z += sum(map(operator.mul, self.weights.values(), map(signals.get, self.weights, _ZEROS)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearModel:
        """Build from the dictionary the training script writes (word pairs as "first second")."""
        return cls(
            bias=float(data["bias"]),
            weights={str(k): float(v) for k, v in data["weights"].items()},
            lexical={_key(str(k)): float(v) for k, v in data["lexical"].items()},
            threshold=float(data["threshold"]),
            lexical_scale_from=int(data.get("lexical_scale_from", 0)),
            first_tier_threshold=(
                float(data["first_tier_threshold"]) if data.get("first_tier_threshold") is not None else None
            ),
        )


def lexical_scale(grams: int, scale_from: int) -> float:
    """The factor on the n-grams' sum of a prompt with `grams` distinct n-grams (`LinearModel`)."""
    return math.sqrt(scale_from / grams) if 0 < scale_from < grams else 1.0


Gram = str | tuple[str, str]
_ZEROS = repeat(0.0)


def _key(gram: str) -> Gram:
    """A word, or a pair of words as a tuple; the words interned, so a word in many pairs is one string."""
    first, _, second = gram.partition(" ")
    return (sys.intern(first), sys.intern(second)) if second else sys.intern(first)


# Chinese, Japanese and Thai are written without spaces between words, so a "word" of theirs (text between
# spaces and punctuation) is a whole clause, which no other prompt shares. The lexical models read such a
# stretch as its overlapping pairs of characters, the usual unit for these scripts when no word list is at
# hand. (Korean is written with spaces and read by its words.)
_SCRIPT_RUNS = re.compile("([\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")


def lexical_words(words: list[str], folded: str) -> list[str]:
    """The words the lexical models read in `folded` (whose words are `words`): those words, with each
    stretch of Chinese, Japanese or Thai script longer than two characters cut into its overlapping pairs
    of characters, and the other letters of a mixed word ("给我ai代码") kept as a word. All-ASCII text,
    and text without those scripts, is returned as it is (one check)."""
    if folded.isascii() or _SCRIPT_RUNS.search(folded) is None:
        return words
    read: list[str] = []
    for word in words:
        # split() with a group: other letters at even places, the script's stretches at odd ones
        for i, run in enumerate(_SCRIPT_RUNS.split(word)):
            if i % 2 and len(run) > 2:
                read.extend(map(operator.add, run[:-1], run[1:]))
            elif run:
                read.append(run)
    return read


# A number is read by its count of digits: which number a prompt holds says nothing of its intent, and a
# weight per number would be learnt from the few rows that happen to hold it (and a run of numbers,
# each its own word, would carry a prompt's score wherever those weights lean).
_NUMBER_SHAPES = ("", "0", "00", "000", "0000", "00000")


def gram_keys(words: list[str]) -> set[Gram]:
    """The distinct words and adjacent word pairs a lexical model reads (head and tail of long prompts),
    each pair as a tuple: no string is built. A number is read as its shape (`_NUMBER_SHAPES`)."""
    if len(words) > LEXICAL_HEAD + LEXICAL_TAIL:
        words = [*words[:LEXICAL_HEAD], *words[-LEXICAL_TAIL:]]
    numbers = list(filter(str.isdigit, words))
    if numbers:  # each word looked up once, in C: a number gets its shape, any other word itself
        shapes = {number: _NUMBER_SHAPES[min(len(number), 5)] for number in numbers}
        words = list(map(shapes.get, words, words))
    grams: set[Gram] = set(words)
    grams.update(pairwise(words))
    return grams


def ngrams(words: list[str]) -> set[str]:
    """`gram_keys` with each pair written "first second", as the model file names them."""
    return {gram if isinstance(gram, str) else " ".join(gram) for gram in gram_keys(words)}


@dataclass(frozen=True)
class FirewallModel:
    """Everything learned: what prose looks like (for gibberish), the injection and the toxicity model."""

    prose: Prose
    injection: LinearModel
    toxicity: LinearModel
    trained_on: Mapping[str, Any]
    # Both models' n-gram weights in one table, each n-gram's pair as one complex number (injection + toxicity
    # j): a prompt's n-grams are looked up once, summed in one pass, and a weight costs one small object.
    both: Mapping[Gram, complex] = field(default_factory=dict)
    # The second tier's regression on sentence embeddings (`semantic.py`); None in a model without one.
    semantic: SemanticHead | None = None

    def lexical(self, grams: set[Gram]) -> tuple[float, float]:
        """The sums of the injection and the toxicity model's weights of `grams` (`gram_keys`)."""
        # One lookup per n-gram, in C; the n-grams without a weight give None and are filtered out.
        total = sum(filter(None, map(self.both.get, grams)), 0j)
        return total.real, total.imag


class _Column(Mapping[Gram, float]):
    """One model's n-gram weights read from the shared table (`FirewallModel.both`): the real parts or the
    imaginary ones, the n-grams whose weight there is 0 left out."""

    def __init__(self, both: Mapping[Gram, complex], imaginary: bool) -> None:
        self._both = both
        self._part = operator.attrgetter("imag" if imaginary else "real")

    def __getitem__(self, gram: Gram) -> float:
        weight: float = self._part(self._both[gram])
        if not weight:
            raise KeyError(gram)
        return weight

    def __iter__(self) -> Iterator[Gram]:
        return (gram for gram, weights in self._both.items() if self._part(weights))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _both_table(injection: Mapping[str, Any], toxicity: Mapping[str, Any]) -> dict[Gram, complex]:
    """The two models' n-gram weights as the file names them ("first second" for a pair), in one table by
    `gram_keys` key; each word is one string however many pairs it is in."""
    both: dict[Gram, complex] = {}
    for gram, weight in injection.items():
        both[_key(gram)] = complex(float(weight), 0.0)
    for gram, weight in toxicity.items():
        key = _key(gram)
        both[key] = complex(both.get(key, 0j).real, float(weight))
    return both


def load_model(path: Path | None = None) -> FirewallModel:
    """Read the model file (default: the one shipped in the package)."""
    source = path or MODEL_PATH
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the firewall model {source}: {exc}") from None
    if data.get("version") != FORMAT_VERSION:
        raise ModelError(f"{source} has format version {data.get('version')}, expected {FORMAT_VERSION}")
    # The n-gram weights are kept once, in the shared table; each model reads its column of it.
    both = _both_table(data["injection"]["lexical"], data["toxicity"]["lexical"])
    injection = replace(
        LinearModel.from_json({**data["injection"], "lexical": {}}), lexical=_Column(both, imaginary=False)
    )
    toxicity = replace(
        LinearModel.from_json({**data["toxicity"], "lexical": {}}), lexical=_Column(both, imaginary=True)
    )
    return FirewallModel(
        prose=Prose(words=frozenset(data["prose_words"]), trigrams=frozenset(data["trigrams"])),
        injection=injection,
        toxicity=toxicity,
        trained_on=data.get("trained_on", {}),
        both=both,
        semantic=SemanticHead.from_json(data["semantic"], source.parent) if data.get("semantic") else None,
    )
