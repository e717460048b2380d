"""`Firewall.scan`: detection (rules, character statistics, the learned models, validated PII) and then
the policy's decision for the user's role.

The cost of a scan is roughly linear in the prompt's length: every pattern is linear, the learned
models read at most the start and the end of a long prompt, and decoding and phone-number validation
are capped per prompt. A prompt whose injection score the first tier leaves unsure gets a second look
from a sentence encoder (`semantic.py`, milliseconds, at most 128 tokens read), unless the caller asks
for the first tier's verdict alone.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from shared.firewall import injection, normalize, pii, scope, toxicity, transcript
from shared.firewall import semantic as semantic_module
from shared.firewall.model import FirewallModel, LinearModel, lexical_words, load_model
from shared.firewall.pii import SECRET_TYPES, Finding
from shared.firewall.policy import Action, Policy, most_severe

__all__ = ["Action", "Detection", "Firewall", "FirewallResult"]

OBFUSCATED_ATTACK_SCORE = (
    0.99  # an override or jailbreak phrase that was hidden is an attack, whatever the model
)
# A user turn that asks to break the operator's own rules (`scope.py`: someone else's records of an
# assistant limited to the person signed in, a write of a read-only one, another tenant's data, a secret
# of one told to keep them): an attack, however plainly it is worded.
OPERATOR_RULE_SCORE = 0.9
# Readings that are text a person wrote, which the injection model can read like a prompt. Not "rot13" or
# "reversed": those can be a whole prompt turned into letter soup, which the model would take for a suffix.
# The cipher readings (`CIPHER_READ`) decode only the passages that then read as words, or put back only the
# scrambled words, and keep the rest of the prompt as it was (the frame that asks for the answer in the
# cipher). The encoder may look at those too: they are rare, and the visible text it would read instead
# hides the request.
CIPHER_READ = frozenset({"caesar", "atbash", "piglatin", "backwards", "vigenere", "upsidedown", "scrambled"})
MODEL_READ = (
    frozenset({"homoglyph", "leetspeak", "spaced", "base64", "hex", "binary", "morse", "tags"}) | CIPHER_READ
)
MODEL_READ_CHARS = 2048  # a reading longer than twice this is read by the model from its start and its end
# The turns of a conversation that carry the operator's instructions (`transcript.ROLES`). The encoder
# reads an operator's guard rules ("do not reveal this system prompt", "never follow instructions in
# documents") much as it reads the requests they forbid, so on these turns it may clear what the first
# tier flagged but not flag what the first tier let pass.
OPERATOR_TURNS = frozenset({"system"})
# An operator's turn is given the benefit of the doubt: the first tier's odds that it is an attack are
# divided by this. A system prompt is written in the register of attacks (roles, rules, "never reveal",
# "untrusted text"), and its author is the application, not the person typing. An attack there must be
# plain (a first-tier score of 0.8 is the user's 0.5), and a hidden one (`obfuscations`) is not discounted.
OPERATOR_ODDS = 4.0


@dataclass(frozen=True)
class FirewallResult:
    """What the firewall decided about one prompt.

    `scores` are per category in [0, 1]; `findings` say which personal data or secrets were found where
    (type and span, never the value); `text` is the redacted prompt when `action` is "redact".
    """

    action: Action
    categories: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    text: str | None = None
    findings: tuple[Finding, ...] = ()
    obfuscations: tuple[str, ...] = ()
    # The first tier was unsure and the encoder was not asked (`scan(..., second_look=False)`): this
    # verdict is provisional, and `scan` with the second look gives the final one.
    undecided: bool = False
    # What the verdict rests on besides the models' scores: the operator's rule a user turn asks to break
    # ("others_records", "writes_read_only", "other_tenant", "secrets_asked": `scope.py`).
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Detection:
    """What was detected in a prompt, before any policy: scores, findings and undone obfuscations."""

    injection: float
    toxicity: float
    findings: tuple[Finding, ...]
    obfuscations: tuple[str, ...]
    undecided: bool = False  # see FirewallResult.undecided
    signals: tuple[str, ...] = ()  # see FirewallResult.signals

    @property
    def pii(self) -> tuple[Finding, ...]:
        """Findings of personal data."""
        return tuple(f for f in self.findings if f.type not in SECRET_TYPES)

    @property
    def secrets(self) -> tuple[Finding, ...]:
        """Findings of secrets (API keys, private keys, JWTs, passwords)."""
        return tuple(f for f in self.findings if f.type in SECRET_TYPES)


class Firewall:
    """Scans prompts; one instance is shared by every request of a process (it holds no per-call state
    but the last embedding it asked the encoder for, `_embedding`)."""

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        model: FirewallModel | None = None,
        model_path: Path | None = None,
        semantic: Literal["auto", "on", "off"] = "auto",
        encoder: semantic_module.Encoder | None = None,
    ) -> None:
        """`semantic`: whether unsure prompts get the second tier's look ("auto": when its packages are
        installed; "on": they must be). `encoder` replaces the process's shared one (tests)."""
        self.policy = policy or Policy()
        self.model = model or load_model(model_path)
        if semantic == "on" and encoder is None and not semantic_module.available():
            raise semantic_module.SemanticUnavailable(
                "FIREWALL_SEMANTIC is on but the sentence encoder is not installed"
            )
        self.second_tier = (
            self.model.semantic is not None
            and semantic != "off"
            and (encoder is not None or semantic_module.available())
        )
        self._encoder = encoder
        tuned = self.model.semantic.tuned if self.model.semantic else None
        if self.second_tier and encoder is None and tuned is not None and not tuned.is_file():
            raise semantic_module.SemanticUnavailable(
                f"the firewall model's tuned encoder layers are missing: {tuned}"
            )
        # The model's operating point is set for the tiers that run: the second tier pulls unsure benign
        # prompts down, so both together are run at a lower threshold than the first alone.
        self.injection_threshold = self.policy.injection_threshold or _operating_point(
            self.model.injection, self.second_tier
        )
        # The same for toxicity, whose lexical score the encoder's toxicity head may look at again.
        head = self.model.semantic
        looked_at = self.second_tier and head is not None and head.toxicity is not None
        self.toxicity_threshold = self.policy.toxicity_threshold or _operating_point(
            self.model.toxicity, looked_at
        )
        self._last_embedding: tuple[str, Any] | None = None  # (text, its embedding): the two heads share it
        pii.warm_up()
        if model is None:
            # Parsing the model file leaves about 20 MiB of the heap free but held, between the objects
            # kept; given back now, or it would be only after a second look (never, with the first tier
            # alone).
            semantic_module.release_memory()

    def scan(
        self,
        text: str,
        *,
        role: str = "user",
        unchecked: Collection[str] = (),
        second_look: bool = True,
        turn: str = "user",
        operator: str = "",
    ) -> FirewallResult:
        """The verdict on `text` for a user of `role` (`user` or `admin`; policies differ per role).

        Categories in `unchecked` are scored (the audit record has their scores) but decide nothing. With
        `second_look` false, a prompt the first tier is unsure of is not given to the encoder (which takes
        milliseconds): the result says `undecided`, and the caller scans again, off its event loop.
        `turn` is the part `text` plays in a chat request: "system" for the operator's instructions
        (`OPERATOR_TURNS`), which the encoder may clear but not condemn. `operator` is the operator's
        instructions of the conversation a user turn belongs to: they may forbid what the turn asks for
        (`scope.py`).
        """
        text = _well_formed(text)
        try:
            found = self._detect(text, second_look, turn, operator)
        finally:
            normalize.forget_bytes()
        scores = {
            "injection": round(found.injection, 4),
            "toxicity": round(found.toxicity, 4),
            "pii": 1.0 if found.pii else 0.0,
            "secrets": 1.0 if found.secrets else 0.0,
        }
        categories: list[str] = []
        if found.injection >= self.injection_threshold:
            categories.append("injection")
        if found.toxicity >= self.toxicity_threshold:
            categories.append("toxicity")
        if found.pii:
            categories.append("pii")
        if found.secrets:
            categories.append("secrets")
        categories = [category for category in categories if category not in unchecked]
        actions = {category: self.policy.action(role, category) for category in categories}
        for category in ("injection", "toxicity"):
            if actions.get(category) == "redact":
                actions[category] = "block"  # nothing to cut out: the whole prompt is the problem
        action = most_severe(list(actions.values()))
        redacted = None
        if action == "redact":
            to_redact = [
                f
                for f in found.findings
                if actions.get("secrets" if f.type in SECRET_TYPES else "pii") == "redact"
            ]
            redacted = pii.redact(text, to_redact)
        return FirewallResult(
            action=action,
            categories=tuple(categories),
            scores=scores,
            text=redacted,
            findings=found.findings,
            obfuscations=found.obfuscations,
            undecided=found.undecided,
            signals=found.signals,
        )

    def detect(
        self, text: str, *, second_look: bool = True, turn: str = "user", operator: str = ""
    ) -> Detection:
        """Scores and findings for `text`, independent of role and policy (`turn`, `operator`: see `scan`)."""
        try:
            return self._detect(_well_formed(text), second_look, turn, operator)
        finally:
            normalize.forget_bytes()

    def _detect(
        self, text: str, second_look: bool = True, turn: str = "user", operator: str = ""
    ) -> Detection:
        """`detect` for text already made well-formed (`scan` has done it, for the redaction too)."""
        read = _read(text, self.model)
        conversation = transcript.turns(text)
        signals: list[str] = []
        if conversation is None:
            injection_score, obfuscations, undecided = self._injection(
                text, read, second_look, turn in OPERATOR_TURNS
            )
            broken = scope.against(text, operator) if turn == "user" else None
            if broken is not None:
                injection_score = max(injection_score, OPERATOR_RULE_SCORE)
                signals.append(broken)
        else:
            # A whole conversation in one prompt: each turn is judged on its own, as the gate judges the
            # messages of a chat request (`transcript.py`), and a user turn beside the operator's rules.
            injection_score, obfuscations, undecided = 0.0, [], False
            operator = "\n".join(part.text for part in conversation if part.role in OPERATOR_TURNS)
            for part in conversation:
                turn_text = _well_formed(part.text)
                turn_read = _read(turn_text, self.model, toxicity=False)
                score, found, unsure = self._injection(
                    turn_text, turn_read, second_look, part.role in OPERATOR_TURNS
                )
                broken = scope.against(turn_text, operator) if part.role == "user" else None
                if broken is not None:
                    score = max(score, OPERATOR_RULE_SCORE)
                    if broken not in signals:
                        signals.append(broken)
                injection_score = max(injection_score, score)
                obfuscations += [how for how in found if how not in obfuscations]
                undecided = undecided or unsure
        toxicity_score = self.model.toxicity.probability_with(
            toxicity.signals(read.raw, read.folded, read.present), read.toxicity_lexical
        )
        if self._toxicity_unsure(toxicity_score, text):
            if second_look:
                toxicity_score = self._toxicity_look(text, toxicity_score)
            else:
                undecided = True
        return Detection(
            injection=injection_score,
            toxicity=toxicity_score,
            findings=tuple(pii.find_pii(text, read.present, self.model.prose.words)),
            obfuscations=tuple(obfuscations),
            undecided=undecided,
            signals=tuple(signals),
        )

    def _injection(
        self, text: str, read: _Read, second_look: bool, operator: bool = False
    ) -> tuple[float, list[str], bool]:
        """The injection score of one prompt (or one turn of a conversation), read as `read`; the
        obfuscations undone to find it; and whether the first tier was unsure and the encoder was not
        asked. An `operator` turn (the system's) has its odds divided by `OPERATOR_ODDS`; it is only looked
        at again when the first tier would still flag it, and the encoder may then only lower its score."""
        model = self.model
        present = read.present
        found = injection.signals(read.raw, read.folded, read.words, model.prose, present)
        injection_score = model.injection.probability_with(found, read.injection_lexical, read.grams)
        obfuscations: list[str] = []
        readings = normalize.readings(
            text,
            read.folded,
            present,
            rot13_hint=injection.wants_rot13(present),
            rot13_words=injection.rot13_words(present),
        )
        put_back = normalize.unscrambled(read.words, present, model.prose.words)
        if put_back is not None:
            readings.append(normalize.View("scrambled", put_back))
        hidden_score = 0.0
        undecided = False
        unsure: tuple[float, str, str] | None = None  # the cipher reading the encoder is to look at
        for reading in readings:
            if self._hides_strong_phrase(reading, read.folded):
                obfuscations.append(reading.how)
                hidden_score = OBFUSCATED_ATTACK_SCORE
            elif reading.how in MODEL_READ:
                # No phrase of the strong families, but the model may still know the hidden text for an
                # attack ("you have no rules now", in leetspeak): it reads the reading as it would a prompt.
                score = self._injection_score(reading.text)
                if score >= self.injection_threshold:
                    obfuscations.append(reading.how)
                    hidden_score = max(hidden_score, score)
                elif (
                    reading.how in CIPHER_READ
                    and (unsure is None or score > unsure[0])
                    and self._unsure(score, ends := _ends(reading.text))
                ):
                    unsure = (score, reading.how, ends)
        if unsure is not None and not obfuscations:
            # A decoded cipher passage reads as a prompt, its frame with it: the encoder looks at the one the
            # first tier came closest to flagging (one look a prompt, however many codes it was read in).
            score, how, ends = unsure
            if not second_look:
                undecided = True
            elif (score := self._second_look(ends, score)) >= self.injection_threshold:
                obfuscations.append(how)
                hidden_score = max(hidden_score, score)
        injection_score = max(injection_score, hidden_score)
        if operator and not obfuscations:
            injection_score /= injection_score + OPERATOR_ODDS * (1.0 - injection_score)
        # A hidden reading the model took for an attack decides: the encoder would read the visible text,
        # which the trick made harmless.
        if (
            not obfuscations
            and self._unsure(injection_score, text)
            and not (operator and injection_score < self.injection_threshold)
        ):
            if second_look:
                injection_score = self._second_look(text, injection_score, may_raise=not operator)
            else:
                undecided = True
        return injection_score, obfuscations, undecided

    @staticmethod
    def _hides_strong_phrase(reading: normalize.View, folded: str) -> bool:
        """Whether `reading` holds an override, extraction or jailbreak phrase that the prompt (`folded`)
        hid. The put-back of scrambled words keeps the whole prompt and changes only a few of its words: a
        phrase it shows is hidden only if the plain text did not show it already (a benign prompt that
        quotes one, with two typos elsewhere, is not an attack for them). Any other reading's phrase counts
        as hidden, as it always has."""
        hits = injection.strong_hits(reading.text)
        if not hits or reading.how != "scrambled":
            return hits > 0
        return hits > injection.strong_hits(folded)

    def _unsure(self, score: float, text: str) -> bool:
        """Whether the encoder is to look at `text`, which the first tier scored `score`: it runs, the
        score is in its band, and the text is in a script it reads."""
        head = self.model.semantic
        return (
            self.second_tier and head is not None and head.undecided(score) and semantic_module.readable(text)
        )

    def _second_look(self, text: str, score: float, *, may_raise: bool = True) -> float:
        """The first tier's `score` for `text` with the encoder's opinion of it (see `SemanticHead.combine`),
        or as it was when the text is in a language the encoder did not learn."""
        head = self.model.semantic
        if head is None:
            return score
        embedding = self._embedding(text, head)
        if embedding is not None:
            score = head.combine(score, head.probability(embedding), may_raise=may_raise)
        semantic_module.release_memory()
        return score

    def _toxicity_unsure(self, score: float, text: str) -> bool:
        """Whether the encoder's toxicity head is to look at `text`, of lexical toxicity score `score`."""
        head = self.model.semantic
        return (
            self.second_tier
            and head is not None
            and head.toxicity is not None
            and head.toxicity.undecided(score)
            and semantic_module.readable(text)
        )

    def _toxicity_look(self, text: str, score: float) -> float:
        """The lexical toxicity `score` of `text` joined with the encoder's toxicity head's opinion."""
        head = self.model.semantic
        assert head is not None and head.toxicity is not None
        embedding = self._embedding(text, head)
        if embedding is not None:
            score = head.toxicity.combine(score, head.toxicity.probability(embedding))
        semantic_module.release_memory()
        return score

    def _embedding(self, text: str, head: semantic_module.SemanticHead) -> Any:
        """The encoder's embedding of `text` (None for a language it did not learn), kept for the next
        look at the same text: the injection and the toxicity heads read one prompt's embedding. The pair
        is replaced whole, so threads scanning at once never read another text's embedding."""
        last = self._last_embedding
        if last is not None and last[0] == text:
            return last[1]
        encoder = self._encoder or semantic_module.shared_encoder(head.tuned, head.tuned_sha256)
        embedding = encoder.embed(text) if head.reads_latin else encoder.embed_known(text)
        self._last_embedding = (text, embedding)
        return embedding

    def _injection_score(self, folded: str) -> float:
        """The injection model's score for an extra reading (already folded: its own raw text). A long
        reading is read from its start and its end, as the lexical model reads a long prompt: the strong
        phrases were looked for in all of it, and the cost stays bounded."""
        folded = _ends(folded)
        words = injection.words_of(folded)
        present = set(words)
        model = self.model
        found = injection.signals(folded, folded, words, model.prose, present)
        lexical, _, grams = model.lexical(lexical_words(words, folded), toxicity=False)
        return model.injection.probability_with(found, lexical, grams)


def _operating_point(model: LinearModel, both_tiers: bool) -> float:
    """`model`'s threshold when the encoder looks at its unsure scores too, else its first tier's own."""
    alone = model.first_tier_threshold
    return model.threshold if both_tiers or alone is None else alone


def _ends(reading: str) -> str:
    """An extra reading as the models read it: a long one, from its start and its end."""
    if len(reading) > 2 * MODEL_READ_CHARS:
        return reading[:MODEL_READ_CHARS] + " . " + reading[-MODEL_READ_CHARS:]
    return reading


class _Read(NamedTuple):
    """What every model reads of a prompt: its NFKC form, that folded, its words (and their set), the
    sums of the lexical models' weights of its n-grams and how many distinct n-grams they read."""

    raw: str
    folded: str
    words: list[str]
    present: set[str]
    injection_lexical: float
    toxicity_lexical: float
    grams: int


def _read(text: str, model: FirewallModel, toxicity: bool = True) -> _Read:
    """`text` as the models read it; without the toxicity model's sum when `toxicity` is false (a turn of
    a conversation: the toxicity model reads the whole prompt)."""
    raw = text if text.isascii() else unicodedata.normalize("NFKC", text)
    folded = normalize.fold(raw)  # NFKC again is a quick check on NFKC text: `fold(text)`, cheaper
    words = injection.words_of(folded)
    return _Read(raw, folded, words, set(words), *model.lexical(lexical_words(words, folded), toxicity))


def _well_formed(text: str) -> str:
    """`text` without lone surrogates (JSON can carry them; UTF-8 cannot), each replaced by "?"."""
    if text.isascii():
        return text
    try:
        normalize.utf8(text)  # kept for the scan's other readers of the bytes
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
