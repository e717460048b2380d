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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any

import numpy as np

from shared.firewall.injection import Prose
from shared.firewall.normalize import non_ascii_bytes
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
    # The length of the words' beginnings the model also reads (`word_prefixes`; 0: none), and their
    # weights (the model's column of `FirewallModel.beginnings`).
    prefix_chars: int = 0
    prefixes: Mapping[Gram, float] = field(default_factory=dict)

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
            prefix_chars=int(data.get("prefix_chars", 0)),
        )


def lexical_scale(grams: int, scale_from: int) -> float:
    """The factor on the n-grams' sum of a prompt with `grams` distinct n-grams (`LinearModel`)."""
    return math.sqrt(scale_from / grams) if 0 < scale_from < grams else 1.0


Gram = str | tuple[str, str]
_ZEROS = repeat(0.0)
_NO_WEIGHTS = repeat(0j)


def _key(gram: str) -> Gram:
    """A word, or a pair of words as a tuple; the words interned, so a word in many pairs is one string."""
    first, _, second = gram.partition(" ")
    return (sys.intern(first), sys.intern(second)) if second else sys.intern(first)


# Chinese, Japanese and Thai are written without spaces between words, so a "word" of theirs (text between
# spaces and punctuation) is a whole clause, which no other prompt shares. The lexical models read such a
# stretch as its overlapping pairs of characters, the usual unit for these scripts when no word list is at
# hand. (Korean is written with spaces and read by its words.)
_SCRIPT_RUNS = re.compile("([\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
# Every byte but the UTF-8 lead bytes of those characters (0xE0 leads U+0800 to U+0FFF, 0xE3 to 0xE9 lead
# U+3000 to U+9FFF, 0xEF leads U+F000 to U+FFFF): text made only of these bytes (Greek, Cyrillic or
# accented Latin, say) has none of them, and is not searched.
_NOT_SCRIPT_LEADS = bytes(b for b in range(256) if b not in b"\xe0\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xef")


def lexical_words(words: list[str], folded: str) -> list[str]:
    """The words the lexical models read in `folded` (whose words are `words`): those words, with each
    stretch of Chinese, Japanese or Thai script longer than two characters cut into its overlapping pairs
    of characters, and the other letters of a mixed word ("给我ai代码") kept as a word. All-ASCII text,
    and text without those scripts, is returned as it is (a check of its bytes, then a search)."""
    if (
        folded.isascii()
        or not non_ascii_bytes(folded).translate(None, _NOT_SCRIPT_LEADS)
        or _SCRIPT_RUNS.search(folded) is None
    ):
        return words
    read: list[str] = []
    for word in words:
        if word.isascii():  # none of those scripts: the word as it is, without a search
            read.append(word)
            continue
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


def read_words(words: list[str]) -> list[str]:
    """The words a lexical model reads of a prompt whose words (`lexical_words`) are `words`: those of its
    start and its end when it is long, each number as its shape (`_NUMBER_SHAPES`)."""
    if len(words) > LEXICAL_HEAD + LEXICAL_TAIL:
        words = [*words[:LEXICAL_HEAD], *words[-LEXICAL_TAIL:]]
    numbers = list(filter(str.isdigit, words))
    if numbers:  # each word looked up once, in C: a number gets its shape, any other word itself
        shapes = {number: _NUMBER_SHAPES[min(len(number), 5)] for number in numbers}
        words = list(map(shapes.get, words, words))
    return words


# A word's beginning, which the toxicity model reads beside the words: abuse comes inflected, compounded
# and misspelt ("idiots", "idiotic", "stupido", "stupidest", "fucking", "fuckwit"), and in the languages
# of its rows a word's first four letters carry its stem more often than the whole word recurs. In the
# training script's n-grams a beginning is named `PREFIX_MARK` and its characters, a name no word or pair
# has (`words_of` splits at ASCII punctuation); the model file keeps them apart, without the mark.
PREFIX_MARK = "~"


def word_prefixes(words: Iterable[str], chars: int) -> set[str]:
    """The distinct beginnings of `chars` characters of those `words` that have as many."""
    return {word[:chars] for word in words if len(word) >= chars}


def prefix_grams(grams: Iterable[str], chars: int) -> set[str]:
    """The beginnings of the words among a prompt's n-grams (`ngrams`), named as the training script names
    them: `PREFIX_MARK` and the beginning."""
    return {PREFIX_MARK + prefix for prefix in word_prefixes((g for g in grams if " " not in g), chars)}


def gram_keys(words: list[str]) -> set[Gram]:
    """The distinct words and adjacent word pairs a lexical model reads (`read_words`), each pair as a
    tuple: no string is built."""
    words = read_words(words)
    grams: set[Gram] = set(words)
    grams.update(pairwise(words))
    return grams


def ngrams(words: list[str]) -> set[str]:
    """`gram_keys` with each pair written "first second", as the model file names them."""
    return {gram if isinstance(gram, str) else " ".join(gram) for gram in gram_keys(words)}


# An n-gram's key: Python's hash of a word (64 bits, keyed afresh in each process) with its length mixed in
# (str hashes read the characters' bytes, so "ag" and "条" hash alike), and for a pair of words the two
# words' keys combined. Each product wraps around at 64 bits.
_LENGTH_MIX = np.uint64(0x165667B19E3779F9)
_FIRST_MIX = np.uint64(0x9E3779B97F4A7C15)
_SECOND_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


def _word_keys(words: list[str]) -> np.ndarray:
    hashes = np.fromiter(map(hash, words), np.int64, len(words)).view(np.uint64)
    return hashes ^ np.fromiter(map(len, words), np.uint64, len(words)) * _LENGTH_MIX


def _pair_keys(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return first * _FIRST_MIX + second * _SECOND_MIX


def _name_keys(names: list[str]) -> np.ndarray:
    """The keys of n-grams named as the model file names them (a word, or two words and a space between)."""
    firsts = [name.partition(" ")[0] for name in names]
    seconds = [name.partition(" ")[2] for name in names]
    keys = _word_keys(firsts)
    pairs = np.fromiter(map(bool, seconds), bool, len(names))
    keys[pairs] = _pair_keys(keys[pairs], _word_keys(list(filter(None, seconds))))
    return keys


class LexicalTable(Mapping[Gram, complex]):
    """Both models' n-gram weights, each n-gram's pair as one complex number (injection + toxicity j), in
    two arrays: the n-grams' 64-bit keys, sorted, and their weights. A prompt's n-grams are keyed, sorted
    and looked up together (a few NumPy calls, one binary search each, over 1.3 MB rather than a dict of
    objects ten times that size spread over the heap). The n-grams' names are kept as one UTF-8 string,
    read only when the table is iterated.

    Two n-grams of a table of 100,000 share a key with a chance of about one in 4 * 10**9, and an n-gram
    that is not in it takes one of its keys with one in 10**14: n-grams of the table that do share a key
    both have the sum of their weights."""

    def __init__(self, weights: Mapping[str, complex] | None = None) -> None:
        """`weights` by n-gram as the model file names them (a word, or two words and a space between)."""
        weights = weights or {}
        names = list(weights)
        keys = _name_keys(names)
        values = np.fromiter(map(weights.__getitem__, names), np.complex128, len(names))
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        if len(keys) > 1 and (keys[1:] == keys[:-1]).any():  # n-grams that share a key: weights added
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            keys, values = keys[starts], np.add.reduceat(values, starts)
        self._keys = keys
        self._weights = values
        self._names = "\n".join(names).encode()
        self._size = len(names)

    def sums(self, words: list[str]) -> tuple[complex, int]:
        """The sum of the weights of the distinct n-grams of `words` (`read_words`), and their count."""
        keys = _word_keys(words)
        keys = np.concatenate((keys, _pair_keys(keys[:-1], keys[1:])))
        keys.sort()
        if len(keys) > 1:
            distinct = np.empty(len(keys), bool)
            distinct[0] = True
            np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
            keys = keys[distinct]
        if not len(self._keys):
            return 0j, len(keys)
        at = self._keys.searchsorted(keys)
        np.minimum(at, len(self._keys) - 1, out=at)
        return complex(self._weights[at[self._keys[at] == keys]].sum()), len(keys)

    def __getitem__(self, gram: Gram) -> complex:
        key = _name_keys([gram if isinstance(gram, str) else " ".join(gram)])
        at = int(self._keys.searchsorted(key)[0]) if len(self._keys) else 0
        if at == len(self._keys) or self._keys[at] != key[0]:
            raise KeyError(gram)
        return complex(self._weights[at])

    def __iter__(self) -> Iterator[Gram]:
        return map(_key, self._names.decode().split("\n")) if self._size else iter(())

    def __len__(self) -> int:
        return self._size


@dataclass(frozen=True)
class FirewallModel:
    """Everything learned: what prose looks like (for gibberish), the injection and the toxicity model."""

    prose: Prose
    injection: LinearModel
    toxicity: LinearModel
    trained_on: Mapping[str, Any]
    # Both models' n-gram weights in one table: a prompt's n-grams are looked up once, for both.
    both: LexicalTable = field(default_factory=LexicalTable)
    # The second tier's regression on sentence embeddings (`semantic.py`); None in a model without one.
    semantic: SemanticHead | None = None
    # Both models' weights of words' beginnings of `prefix_chars` characters, as the n-grams' (injection +
    # toxicity j): a prompt's beginnings are cut and looked up once, for both.
    beginnings: Mapping[Gram, complex] = field(default_factory=dict)
    prefix_chars: int = 0

    def lexical(self, words: list[str], toxicity: bool = True) -> tuple[float, float, int]:
        """The sums of the injection and the toxicity model's weights of the n-grams of `words` (the
        prompt's `lexical_words`; the toxicity model's with its words' beginnings, unless `toxicity` is
        false, when that sum is of no use), and how many distinct n-grams the models read there."""
        read = read_words(words)
        total, grams = self.both.sums(read)
        if self.prefix_chars and (toxicity or self.injection.prefix_chars):
            beginnings = word_prefixes(read, self.prefix_chars)
            total += sum(map(self.beginnings.get, beginnings, _NO_WEIGHTS), 0j)
            if self.injection.prefix_chars:  # they are n-grams of the prompt, as the training script counts
                grams += len(beginnings)
        return total.real, total.imag, grams


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


def _both_beginnings(
    injection: Mapping[str, Any], toxicity: Mapping[str, Any]
) -> tuple[dict[Gram, complex], int]:
    """The two models' weights of words' beginnings (their `prefix_chars` and `prefixes` in the file), in
    one dictionary, and the length of the beginnings."""
    lengths = {int(linear.get("prefix_chars", 0)) for linear in (injection, toxicity)} - {0}
    if len(lengths) > 1:
        raise ModelError(f"the models read words' beginnings of different lengths: {sorted(lengths)}")
    chars = lengths.pop() if lengths else 0
    both: dict[Gram, complex] = {}
    for linear, unit in ((injection, 1.0), (toxicity, 1j)):
        for prefix, weight in linear.get("prefixes", {}).items():
            if len(prefix) != chars:  # each is a key for the beginning of a word at least as long
                raise ModelError(f"a word's beginning of other than {chars} characters: {prefix!r}")
            both[sys.intern(prefix)] = both.get(prefix, 0j) + unit * float(weight)
    return both, chars


def _both_table(injection: Mapping[str, Any], toxicity: Mapping[str, Any]) -> LexicalTable:
    """The two models' n-gram weights as the file names them ("first second" for a pair), in one table."""
    both = {gram: complex(float(weight), 0.0) for gram, weight in injection.items()}
    for gram, weight in toxicity.items():
        both[gram] = complex(both.get(gram, 0j).real, float(weight))
    return LexicalTable(both)


def load_model(path: Path | None = None) -> FirewallModel:
    """Read the model file (default: the one shipped in the package)."""
    source = path or MODEL_PATH
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the firewall model {source}: {exc}") from None
    if data.get("version") != FORMAT_VERSION:
        raise ModelError(f"{source} has format version {data.get('version')}, expected {FORMAT_VERSION}")
    # The n-gram weights are kept once, in the shared table; each model reads its column of it. The parsed
    # weights are dropped before anything else is built (see `dumps`).
    both = _both_table(data["injection"].pop("lexical"), data["toxicity"].pop("lexical"))
    beginnings, prefix_chars = _both_beginnings(data["injection"], data["toxicity"])
    injection = replace(
        LinearModel.from_json({**data["injection"], "lexical": {}}),
        lexical=_Column(both, imaginary=False),
        prefixes=_Column(beginnings, imaginary=False),
    )
    toxicity = replace(
        LinearModel.from_json({**data["toxicity"], "lexical": {}}),
        lexical=_Column(both, imaginary=True),
        prefixes=_Column(beginnings, imaginary=True),
    )
    return FirewallModel(
        prose=Prose(words=frozenset(data["prose_words"]), trigrams=frozenset(data["trigrams"])),
        injection=injection,
        toxicity=toxicity,
        trained_on=data.get("trained_on", {}),
        both=both,
        beginnings=beginnings,
        prefix_chars=prefix_chars,
        semantic=SemanticHead.from_json(data["semantic"], source.parent) if data.get("semantic") else None,
    )


_LINEAR_MODELS = ("toxicity", "injection")


def dumps(model: Mapping[str, Any]) -> str:
    """The model file's text for `model` (what `load_model` reads): compact JSON, keys sorted, but the
    two models' n-gram weights last. Parsing makes each weight and each n-gram a small object, which the
    loader drops once the table holds them: made after every object that is kept, they take memory of
    their own, which is given back whole (about 6 MiB less resident than with the weights parsed in the
    middle of the file, and so between objects that are kept)."""
    ordered = {key: _sorted(value) for key, value in sorted(model.items()) if key not in _LINEAR_MODELS}
    for name in _LINEAR_MODELS:
        linear = model[name]
        ordered[name] = {key: _sorted(value) for key, value in sorted(linear.items()) if key != "lexical"}
        ordered[name]["lexical"] = dict(sorted(linear["lexical"].items()))
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":")) + "\n"


def _sorted(value: Any) -> Any:
    """`value` with the keys of every dictionary in it sorted, as `json.dumps(sort_keys=True)` writes them."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
