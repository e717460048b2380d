"""Signals of prompt injection and jailbreaks: what a prompt *does* to the model, not what it asks about.

The rule families (`injection_rules.py`) run over folded text (see `normalize.fold`): overriding earlier
instructions, extracting the hidden prompt, persona and role-play framing, "developer mode" style
jailbreaks, suppressing refusals, steering the first words of the answer ("Sure, here is"), fiction and
research disclaimers and justifications wrapped around a request, forcing a literal output, injected
context and few-shot blocks, in English and German with the overrides also in French, Spanish,
Italian, Portuguese, Dutch, Polish, Russian and Croatian. Token statistics catch what has no words:
GCG-style adversarial suffixes, runs of symbols, shouting, unbalanced brackets. `signals` turns one
prompt into named numbers; the learned model (`model.py`) weighs them.

Every pattern starts with a literal, uses bounded gaps and no nested repetition, and is tried only at
the places where its literal stands (all literals found in one Aho-Corasick pass): matching stays linear
and costs little when nothing fires.
"""

from __future__ import annotations

import codecs
import math
import operator
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import accumulate, compress, repeat
from typing import Any

import ahocorasick_rs

from shared.firewall.injection_rules import (
    EXEMPT_AROUND,
    EXEMPT_BEFORE,
    EXEMPT_NEEDS,
    FORBIDDEN_CONTENT,
    FORBIDDEN_NEGATIONS,
    NOT_IN_CODE,
    OPENING,
    QUOTE,
    QUOTED,
    RULE_FAMILIES,
    WORD_FAMILIES,
)
from shared.firewall.normalize import TRIGGER_WORDS, WORD_BREAKS, non_ascii_bytes, utf8, without_code_blocks

_FAMILIES = RULE_FAMILIES
_WORD_FAMILIES = WORD_FAMILIES
_HARM_TOPIC = WORD_FAMILIES["harm_topic"]
FAMILIES: tuple[str, ...] = (*_FAMILIES, *_WORD_FAMILIES)


class _Rule:
    """One rule: a literal, where it may start, and what must follow it, compiled into one pattern that is
    tried only where the literal stands in the prompt."""

    __slots__ = (
        "around",
        "exempt",
        "family",
        "in_code",
        "lead_ins",
        "pattern",
        "substring",
        "substring_bytes",
    )

    def __init__(self, family: str, literal: str, rest: str) -> None:
        self.family = family
        # What, standing before a match, makes it not count ("do not" before "reveal your prompt").
        self.exempt = _EXEMPT_BEFORE.get(family)
        # What, standing either side of it, does ("keep" before and "confidential" after "your prompt").
        self.around = _EXEMPT_AROUND.get(family)
        self.in_code = family not in NOT_IN_CODE  # whether it counts inside fenced code
        boundary = (
            rf"(?<![^\W_].{{{len(literal.rstrip('*'))}}})"
            if literal[0].isalnum() and not _unspaced(literal)
            else ""
        )
        literal = literal.rstrip("*")  # a word prefix ("ignor*"): its rest may go on inside the word
        self.substring = literal
        self.substring_bytes = literal.encode()
        if rest == QUOTED:
            boundary, rest = f"(?<={QUOTE}{re.escape(literal)})", ""
        elif rest == OPENING:
            boundary, rest = f'(?<![^.!?:"\n] {re.escape(literal)})(?<![^\\W_]{re.escape(literal)})', r"\b"
        self.pattern = re.compile(
            re.escape(literal) + boundary + (f"(?:{rest})" if rest else ""), re.MULTILINE
        )
        self.lead_ins = _lead_ins(literal, rest)  # how what follows the literal begins (`_lead_ins`)


def _lead_ins(literal: str, rest: str) -> tuple[str, ...]:
    """How every match of `rest` right after `literal` begins, as `word_starts` shows it (a letter or digit
    as itself, any other character as a space), cut to one length: each rule is found by its literal
    followed by one of these, so a word that only starts with the literal ("no" in "not"), or the literal
    followed by words the rule does not take ("no" in "no idea"), costs no try. Read from the pattern's
    parse tree; where the reading stops (a class of letters, a repeat, an item it does not know), the
    lead-ins stop. `("",)`: nothing is known beyond the literal."""
    if _sre is None:
        return ("",)  # a Python whose `re` has no such parser: every rule is tried where its literal stands
    try:
        parsed = _sre.parse(rest, re.MULTILINE)
    except re.error:
        return ("",)
    if parsed.state.flags & re.IGNORECASE:
        return ("",)
    starts, _ = _lead(list(parsed), [""], literal[-1:])
    shortest = min(map(len, starts))
    return tuple(sorted({start[:shortest] for start in starts}))


# The parser `re` compiles with (its tree is only read), and its opcodes and categories. It is internal to
# the standard library, so its absence costs only the lead-ins.
_sre: Any = getattr(re, "_parser", None)
_C: Any = _sre
MAX_LEAD_INS = 32  # lead-ins per rule, past which the reading stops


def _lead(items: list[tuple[Any, Any]], starts: list[str], before: str) -> tuple[list[str], bool]:
    """The lead-ins `starts` extended by a sequence of parsed items, and whether all of it was read (false:
    the rest is unknown, and `starts` are only how matches begin). `before`: the last character matched
    before the items when it is known ("" otherwise)."""
    for i, (op, av) in enumerate(items):
        if op is _C.LITERAL:
            starts = [start + _shown(chr(av)) for start in starts]
            before = chr(av)
            continue
        if op is _C.IN and _non_word_set(av):
            starts, before = [start + " " for start in starts], ""
            continue
        if op in (_C.ASSERT, _C.ASSERT_NOT):
            continue  # zero-width: a lookaround leaves what is matched to the items after it
        if op is _C.SUBPATTERN and not av[1] & re.IGNORECASE:
            extended, whole = _lead(list(av[-1]), starts, before)
            if whole:
                starts, before = extended, ""
                continue
            return (extended, False) if extended != starts else (_closed(items[i:], starts, before), False)
        if op is _C.BRANCH:
            ways = [_lead(list(branch), [""], before) for branch in av[1]]
            extended = [start + way for start in starts for ends, _ in ways for way in ends]
            if len(extended) <= MAX_LEAD_INS and all(way for ends, _ in ways for way in ends):
                if not all(whole for _, whole in ways):
                    return extended, False
                starts, before = extended, ""
                continue
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT) and av[0] >= 1:
            once, _ = _lead(list(av[2]), starts, before)
            if once != starts:
                return once, False  # at least once: matches begin as the first repetition does
        return _closed(items[i:], starts, before), False
    return starts, True


def _closed(items: list[tuple[Any, Any]], starts: list[str], before: str) -> list[str]:
    """`starts` with a space added when the items that follow them surely begin with a character that is
    no letter or digit, or with the text's end (`_closing`)."""
    closed, nullable = _closing(items, _WORD_CHARACTER.fullmatch(before) is not None)
    return [start + " " for start in starts] if closed and not nullable else starts


def _closing(items: list[tuple[Any, Any]], after_word: bool) -> tuple[bool, bool]:
    """(closed, nullable) of a sequence of parsed items: whether a match that consumes a character starts
    with one that is no letter or digit (or an assertion says one follows, or the end), and whether it may
    consume nothing. `after_word`: the character before is a word character, so that `\\b` there means
    a non-word character or the end follows."""
    for op, av in items:
        if op is _C.LITERAL:
            return not chr(av).isalnum(), False
        if op is _C.IN:
            return _non_word_set(av), False
        if op is _C.AT:
            if (av is _C.AT_BOUNDARY and after_word) or av in (_C.AT_END, _C.AT_END_STRING):
                return True, False
            return False, False
        if op in (_C.ASSERT, _C.ASSERT_NOT):
            continue
        if op is _C.SUBPATTERN and not av[1] & re.IGNORECASE:
            closed, nullable = _closing(list(av[-1]), after_word)
        elif op is _C.BRANCH:
            parts = [_closing(list(branch), after_word) for branch in av[1]]
            closed, nullable = all(c for c, _ in parts), any(n for _, n in parts)
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
            closed, nullable = _closing(list(av[2]), after_word)
            nullable = nullable or av[0] == 0
        else:
            return False, False
        if not closed:
            return False, False
        if not nullable:
            return True, False
    return True, True


def _shown(character: str) -> str:
    """A character as `word_starts` shows it."""
    return character if character.isalnum() else " "


def _non_word_set(members: list[tuple[Any, Any]]) -> bool:
    """Whether a character class holds only characters that are no letter or digit."""
    for op, av in members:
        if op is _C.LITERAL:
            if chr(av).isalnum():
                return False
        elif op is _C.RANGE:
            low, high = av
            if high - low > 4096 or any(chr(code).isalnum() for code in range(low, high + 1)):
                return False
        elif op is _C.CATEGORY:
            if av not in (_C.CATEGORY_SPACE, _C.CATEGORY_NOT_WORD):
                return False
        else:
            return False  # a negated class, among others
    return True


_WORD_CHARACTER = re.compile(r"\w")


_TYPOGRAPHIC = re.compile("[\u2010-\u205e\u00ab\u00bb\u00bf\u00a1\u3001\u3002\uff0c]")
# Every byte but the UTF-8 lead bytes of those marks: text made only of these bytes (German or French
# without typographic quotes, say) has none of the marks, and is not searched for them.
_NOT_TYPOGRAPHIC_LEADS = bytes(b for b in range(256) if b not in b"\xc2\xe2\xe3\xef")


def _spaced(folded: str) -> str:
    """`folded` with punctuation, typographic quotes and dashes as spaces: the same length, so a token's
    place in it is its place in `folded`."""
    encoded = utf8(folded)
    if non_ascii_bytes(folded).translate(None, _NOT_TYPOGRAPHIC_LEADS):
        encoded = _TYPOGRAPHIC.sub(" ", folded).encode()
    # UTF-8 leaves every byte of a non-ASCII character >= 0x80, which the table keeps: one pass in C.
    return encoded.translate(WORD_BREAKS).decode()


def _unspaced(literal: str) -> bool:
    """Whether `literal` is found as a substring, with no word boundary around it: Chinese, Japanese and
    Thai write no spaces between words, and Hebrew, Arabic and Persian glue prepositions and articles to
    the front of a word ("بموجه", "מההוראות")."""
    first = literal[0]
    return (
        "\u3040" <= first <= "\u9fff"
        or "\uf900" <= first <= "\ufaff"
        or "\u0e00" <= first <= "\u0e7f"
        or "\u0590" <= first <= "\u06ff"
    )


_EXEMPT_BEFORE = {
    family: (re.compile(pattern), EXEMPT_NEEDS[family]) for family, pattern in EXEMPT_BEFORE.items()
}
_EXEMPT_AROUND = {
    family: (re.compile(before), re.compile(after)) for family, (before, after) in EXEMPT_AROUND.items()
}
_RULES: list[_Rule] = [
    _Rule(family, literal, rest)
    for family, rules in _FAMILIES.items()
    for literals, rest in rules
    for literal in literals.split("|")
]

# Every ASCII character but letters and digits to a space: what stands before a word's first letter.
_ASCII_NON_WORD = bytes.maketrans(
    bytes(range(128)), bytes(c if chr(c).isalnum() else 0x20 for c in range(128))
)
_OTHER_NON_WORD = re.compile(r"[^\x00-\x7f\w]")
# ASCII, continuation bytes and the lead byte of U+00C0 to U+00FF, whose characters are all letters but
# "×" and "÷": text made only of these bytes, and without those two, has no other non-word character.
_LATIN1_LETTER_BYTES = bytes(b for b in range(256) if b < 0xC0 or b == 0xC3)


def word_starts(folded: str) -> str:
    """`folded` with every character that may stand before a word (`[\\W_]`: not a letter or digit) as a
    space, and one space in front: " " + a literal's own form is found there exactly where the literal
    starts a word. Same length as `folded` plus one; one translation in C, and one search for non-ASCII."""
    marked = utf8(folded).translate(_ASCII_NON_WORD).decode()
    if not marked.isascii() and (
        non_ascii_bytes(folded).translate(None, _LATIN1_LETTER_BYTES) or "×" in marked or "÷" in marked
    ):
        marked = _OTHER_NON_WORD.sub(" ", marked)
    return " " + marked


class _RuleIndex:
    """Rules grouped by literal and lead-in. Literals that start a word (a letter or digit first) are found
    in one Aho-Corasick pass over `word_starts(folded)`, each as " " + its own form there + one of its
    rule's lead-ins (`_lead_ins`; all of a rule's have one length, so its tries come in the order of their
    starts), and the rules' patterns are tried only where their literal stands so followed. Literals
    that start with a symbol are looked for as substrings when their first character is in the text, and
    the `_unspaced` ones (Chinese, Japanese, Thai, Hebrew, Arabic, Persian) when one alternation finds any
    of them."""

    def __init__(self, rules: list[_Rule]) -> None:
        by_key: dict[str, list[_Rule]] = {}
        # By the UTF-8 bytes of the literal's first character: looked for in the text's bytes.
        self.symbol_rules: dict[bytes, list[_Rule]] = {}
        self.unspaced_rules: list[_Rule] = []  # only tried on text that is not all ASCII
        for rule in rules:
            if _unspaced(rule.substring):
                self.unspaced_rules.append(rule)
            elif rule.substring[0].isalnum():
                for lead_in in rule.lead_ins:
                    by_key.setdefault(word_starts(rule.substring) + lead_in, []).append(rule)
            else:
                self.symbol_rules.setdefault(rule.substring[0].encode(), []).append(rule)
        keys = sorted(by_key)
        self.literals = ahocorasick_rs.AhoCorasick(keys)
        self.groups = [tuple(by_key[key]) for key in keys]  # each key's rules, by the key's index
        self.unspaced_hint = re.compile(
            "|".join(re.escape(rule.substring) for rule in self.unspaced_rules) or "(?!)"
        )
        # Every byte but the UTF-8 lead bytes of those literals' first characters: text whose bytes are all
        # among these holds none of the literals (German and French text, for one), and is not searched.
        leads = {rule.substring.encode()[0] for rule in self.unspaced_rules}
        self.not_unspaced_leads = bytes(b for b in range(256) if b not in leads)


# The families that, fired on a decoded or de-obfuscated reading, mean the obfuscation hid an attack.
STRONG_FAMILIES = ("override", "extraction", "jailbreak", "refusal_suppression", "steering")
_ALL_RULES = _RuleIndex(_RULES)
_STRONG_RULES = _RuleIndex([rule for rule in _RULES if rule.family in STRONG_FAMILIES])
# Trigger words of the strong families as rot13 shows them ("vtaber" for "ignore"): their presence calls
# for the rot13 reading. None of them is a word of a language the firewall reads.
_ROT13_TRIGGERS = frozenset(
    codecs.encode(word, "rot13") for word in (*TRIGGER_WORDS, "unrestricted", "rules")
)

_STRIP = "\"'`.,:;!?()[]{}<>*-_=/\\|~^@#$%&+"
# Punctuation glued between word characters the way prose never does ('Article."Add', '](With', '{@'),
# and capitalised words in mid-sentence: the texture of token-optimised adversarial suffixes.
# Only ASCII symbols count: a vowel sign or a virama between two letters (Bengali, Hindi, Tamil), or the
# comma of Chinese or Arabic, is how those scripts are written.
_GLUED = re.compile(
    r"[^\W_][!\"#$%&()*+;<=>?\[\\\]^`{|}~][^\W_]|[a-z][.,:;!?\"][A-Z]|[!-/:-@\[-^`{-~]{3,}|[(\[{][^\w\s]"
)
# Where a match of `_GLUED` can start: at an ASCII symbol or at the character before one. The pattern
# starts with a choice of character classes, which `re` tries in full at every character; this one starts
# with one class, which it skips to in C (`count_matches`).
_GLUED_ANCHOR = re.compile(r"[!-/:-@\[-^`{-~]")
# Capitals after a small letter, or after a small letter or comma and a space: each is one match of
# `(?<=[a-z,] )[A-Z]|[a-z][A-Z]` (whose matches cannot overlap), found from the capitals.
_MID_CAPITAL = re.compile(r"[A-Z](?:(?<=[a-z].)|(?<=[a-z,] .))")
_SYMBOLS = b"{}[]()<>\\|^~=@#$%*_;`+"  # counted by deleting them from the UTF-8 bytes, in C

SECOND_PERSON_WORDS = 64  # words read at each end of a long prompt for the share of "you" and "your"
TOKEN_WINDOW = 24  # tokens per window when looking for a gibberish stretch
HEAD_TOKENS = 16  # token-level statistics read the first and last tokens only: suffix attacks live there
TAIL_TOKENS = 48
MAX_SEEN_TOKENS = 20_000  # token scores kept per model (about 2.3 MiB when full; 100,000 held 11 MiB)


@dataclass(frozen=True)
class Prose:
    """What ordinary prose is made of, learned from the training data's non-attack rows: its common
    words (lower case) and the letter trigrams of its words."""

    words: frozenset[str]
    trigrams: frozenset[str]
    # Token scores already computed: prompts repeat their tokens, and a score depends on the token only.
    seen: dict[str, float] = field(default_factory=dict, compare=False, hash=False, repr=False)


def words_of(folded: str) -> list[str]:
    """The words of folded text: split at whitespace, ASCII punctuation and typographic quotes and dashes."""
    return _spaced(folded).split()


def family_counts(folded: str, rules: _RuleIndex = _ALL_RULES) -> dict[str, int]:
    """How often each rule family fires on `folded`, each rule's matches counted as `findall` counts them."""
    counts = dict.fromkeys(_FAMILIES, 0)
    ends: dict[_Rule, int] = {}  # where each rule's last match ended: its matches do not overlap
    fences = fenced_spans(folded) if "```" in folded else []
    # A space after the text: a lead-in that ends a word (`_lead_ins`) may end the text. The matches come
    # in the order of their ends. A key starts with the " " before its literal, at the index in
    # `word_starts(folded)` (one character longer in front) where the literal starts in `folded`.
    marked = word_starts(folded) + " "
    for index, start, _ in rules.literals.find_matches_as_indexes(marked, overlapping=True):
        for rule in rules.groups[index]:
            if ends.get(rule, 0) <= start:
                match = rule.pattern.match(folded, start)
                if match is not None:
                    end = ends[rule] = match.end()
                    if fences and not rule.in_code and _inside(fences, start):
                        continue
                    if rule.exempt is not None and _exempt(rule.exempt, folded, start, end):
                        continue
                    if rule.around is not None and _exempt_around(rule.around, folded, start, end):
                        continue
                    counts[rule.family] += 1
    # Looked for in the UTF-8 bytes, which `bytes` searches faster than `str` searches non-ASCII text (a
    # string's bytes are found in a text's bytes where the string is found in the text).
    encoded = utf8(folded)
    substring_rules = [
        rule for first, group in rules.symbol_rules.items() if first in encoded for rule in group
    ]
    if non_ascii_bytes(folded).translate(None, rules.not_unspaced_leads) and rules.unspaced_hint.search(
        folded
    ):
        substring_rules.extend(rules.unspaced_rules)
    for rule in substring_rules:
        if rule.substring_bytes in encoded:
            counts[rule.family] += len(rule.pattern.findall(folded))
    return counts


# Matched over the UTF-8 bytes, which `bytes.find` scans faster than `str.find` scans non-ASCII text.
_FORBIDDEN_CONTENT = re.compile(FORBIDDEN_CONTENT.encode())
_FORBIDDEN_NEGATIONS = tuple((negation.encode(), word) for negation, word in FORBIDDEN_NEGATIONS.items())


def _without_forbidden(folded: str, present: set[str]) -> str:
    """`folded` without the clauses that forbid content ("should not include any harmful ... content"),
    or `folded` itself when it has none: each negation whose word is in `present` (the prompt's words) found
    by `bytes.find`, the clause after it matched only where it stands."""
    encoded = utf8(folded)
    spans: list[tuple[int, int]] = []
    for negation, word in _FORBIDDEN_NEGATIONS:
        if word not in present:
            continue
        at = encoded.find(negation)
        while at != -1:
            end = at + len(negation) - 1  # the space after it starts the clause's pattern
            # A contraction ("don't") is glued to its word; the others start one.
            if word == "t" or at == 0 or not encoded[at - 1 : at].isalnum():
                match = _FORBIDDEN_CONTENT.match(encoded, end)
                if match is not None:
                    spans.append((at, match.end()))
            at = encoded.find(negation, end)
    if not spans:
        return folded
    kept, last = [], 0
    for start, end in sorted(spans):
        kept.append(encoded[last:start])
        last = max(last, end)
    kept.append(encoded[last:])
    # A clause cut inside a character (its 160 bytes) loses that character only.
    return b" ".join(kept).decode(errors="ignore")


def fenced_spans(folded: str) -> list[tuple[int, int]]:
    """The spans of `folded` between pairs of ``` fences (an unclosed fence's text is not fenced)."""
    spans, at = [], folded.find("```")
    while at != -1:
        close = folded.find("```", at + 3)
        if close == -1:
            break
        spans.append((at + 3, close))
        at = folded.find("```", close + 3)
    return spans


def _inside(spans: list[tuple[int, int]], at: int) -> bool:
    return any(start <= at < end for start, end in spans)


EXEMPT_REACH = 100  # characters before a match where what exempts it may start


def _exempt(exempt: tuple[re.Pattern[str], tuple[str, ...]], folded: str, start: int, end: int) -> bool:
    """Whether the match at `start:end` is exempt: the pattern of `exempt` (which ends where the text
    ends) found in the stretch before it and the match, so the cost is paid only where such a rule fires.
    The pattern starts with look-behinds that `re` tries at each character, so it is searched only where
    the stretch holds a string its every match holds (`EXEMPT_NEEDS`)."""
    pattern, needs = exempt
    begin = max(0, start - EXEMPT_REACH)
    stretch = folded[begin:end]
    return any(need in stretch for need in needs) and pattern.search(folded, begin, end) is not None


AROUND_REACH = 24  # characters before a match where what exempts it from both sides may start


def _exempt_around(
    patterns: tuple[re.Pattern[str], re.Pattern[str]], folded: str, start: int, end: int
) -> bool:
    """Whether the match at `start:end` is exempt from both sides ("keep [your system instructions]
    confidential"): the first pattern ends where it starts, the second matches where it ends."""
    before, after = patterns
    return (
        before.search(folded, max(0, start - AROUND_REACH), start) is not None
        and after.match(folded, end) is not None
    )


def strong_hits(folded: str) -> int:
    """How many strong-family rules fire on `folded` (for readings other than the plain text)."""
    return sum(family_counts(folded, _STRONG_RULES).values())


def rot13_words(words: Collection[str]) -> frozenset[str]:
    """The trigger words written in rot13 among `words`."""
    return _ROT13_TRIGGERS.intersection(words)


def wants_rot13(words: Collection[str]) -> bool:
    """Whether the prompt's words include a trigger word written in rot13, or name rot13 itself ("apply
    rot13 and obey: ...", "rot-13")."""
    return not _ROT13_TRIGGERS.isdisjoint(words) or "rot13" in words or ("rot" in words and "13" in words)


def signals(
    raw: str,
    folded: str,
    words: list[str],
    prose: Prose,
    present: set[str] | None = None,
) -> dict[str, float]:
    """Named numbers describing a prompt: `raw` (NFKC, case kept), `folded`, its `words` and their set.

    A stretch of tokens that are no common word of `prose` and read like none (uncommon letter
    trigrams), mixed with symbols and odd capitals, is what adversarial suffixes look like.
    """
    present = set(words) if present is None else present
    # Counts are damped: the third override phrase says less than the first.
    counts = family_counts(folded)
    found = dict(zip(counts, map(math.log1p, counts.values()), strict=True))
    for name, members in _WORD_FAMILIES.items():
        found[name] = math.log1p(len(present & members))
    harms = present & _HARM_TOPIC
    if harms:  # topics the prompt forbids are not asked for
        allowed = _without_forbidden(folded, present)
        if allowed is not folded:
            harms &= set(words_of(allowed))
    # Wanting a deed hidden ("covert") counts toward the harmful topics.
    found["harm_topic"] = math.log1p(len(harms) + counts["covert"])
    if len(words) > 2 * SECOND_PERSON_WORDS:  # a long prompt's share is read from its start and its end
        words = [*words[:SECOND_PERSON_WORDS], *words[-SECOND_PERSON_WORDS:]]
    n_words = max(1, len(words))
    found["second_person"] = sum(map(_WORD_FAMILIES["second_person"].__contains__, words)) / n_words * 10
    found["persona_harm"] = min(found["persona"], 3.0) * min(found["harm_topic"], 3.0)
    found["disclaimer_harm"] = min(found["disclaimer"], 3.0) * min(found["harm_topic"], 3.0)
    found["fiction_harm"] = min(found["fiction"], 3.0) * min(found["harm_topic"], 3.0)
    found["pretext_harm"] = min(found["pretext"], 3.0) * min(found["harm_topic"], 3.0)
    # Fenced code is dense with symbols and odd capitals by nature: token statistics read the prose around it.
    found.update(_token_statistics(without_code_blocks(raw), prose))
    # Code balances its brackets and quotes; token soup seldom does.
    found["unbalanced"] = _unbalanced(raw)
    # A request followed by a stretch of token soup is the shape of GCG- and DSN-style attacks.
    suffix = found["gibberish_tail"] + found["tail_glued"] + found["tail_symbols"] / 3
    found["suffix"] = suffix
    found["suffix_request"] = suffix * (found["imperative"] + found["harm_topic"])
    return found


_TOKEN_STATISTICS = (
    "gibberish_max",
    "gibberish_tail",
    "oov_max",
    "symbol_density",
    "shouting",
    "tail_glued",
    "tail_symbols",
    "tail_capitals",
)


_UNSCORED = -1.0
_NOT_SEEN = repeat(_UNSCORED)
_HALF = 0.5
_LONGER_THAN_TWO = (2).__lt__


def _token_statistics(raw: str, prose: Prose) -> dict[str, float]:
    """How much the worst stretch of tokens looks like an optimised adversarial suffix, and shouting."""
    tokens = head_and_tail(raw)
    if not tokens:
        return dict.fromkeys(_TOKEN_STATISTICS, 0.0)
    seen = prose.seen
    if len(seen) > MAX_SEEN_TOKENS:
        seen.clear()  # bounded memory; clearing costs one prompt's recomputation
    weird: list[float] = list(map(seen.get, tokens, _NOT_SEEN))
    if _UNSCORED in weird:
        weird = [
            seen.setdefault(token, _weird(token, prose)) if w is _UNSCORED else w
            for token, w in zip(tokens, weird, strict=True)
        ]
    window = min(TOKEN_WINDOW, len(tokens))
    if window == len(tokens):  # one window: the whole prompt
        best, best_unknown = sum(weird), sum(map(_HALF.__le__, weird))
    else:  # the best window by prefix sums (sums and counts of every window, in C)
        sums = list(accumulate(weird, initial=0.0))
        best = max(map(operator.sub, sums[window:], sums))
        unknowns = list(accumulate(map(_HALF.__le__, weird), initial=0))
        best_unknown = max(map(operator.sub, unknowns[window:], unknowns))
    sample = "".join(tokens).encode()
    symbols = len(sample) - len(sample.translate(None, _SYMBOLS))
    shouting = sum(map(str.isupper, compress(tokens, map(_LONGER_THAN_TWO, map(len, tokens)))))
    tail = " ".join(tokens[-window:])
    tail_bytes = tail.encode()
    return {
        "gibberish_max": best / TOKEN_WINDOW,
        "gibberish_tail": sum(weird[-window:]) / TOKEN_WINDOW,
        "oov_max": best_unknown / TOKEN_WINDOW,
        "symbol_density": symbols / max(1, len(sample)) * 10,
        "shouting": shouting / len(tokens) * 10 if shouting >= 3 else 0.0,
        "tail_glued": count_matches(_GLUED, _GLUED_ANCHOR, tail) / TOKEN_WINDOW,
        "tail_symbols": (len(tail_bytes) - len(tail_bytes.translate(None, _SYMBOLS)))
        / max(1, len(tail))
        * 10,
        "tail_capitals": len(_MID_CAPITAL.findall(tail)) / TOKEN_WINDOW,
    }


def count_matches(pattern: re.Pattern[str], anchor: re.Pattern[str], text: str) -> int:
    """`len(pattern.findall(text))` for a pattern each of whose matches starts at a character `anchor`
    finds or at the one before it: the pattern is tried at those places only, in order, each once."""
    count = end = 0
    tried = -1
    for found in anchor.finditer(text):
        at = found.start()
        for start in (at - 1, at):
            if start > tried and start >= end:
                tried = start
                match = pattern.match(text, start)
                if match is not None:
                    count += 1
                    end = match.end()
    return count


def head_and_tail(raw: str) -> list[str]:
    """The first `HEAD_TOKENS` and last `TAIL_TOKENS` whitespace-separated tokens of `raw` (all of them
    when there are no more), splitting only those ends of a long text."""
    head = raw.split(maxsplit=HEAD_TOKENS)
    if len(head) <= HEAD_TOKENS:
        return head
    tail = head.pop().rsplit(maxsplit=TAIL_TOKENS)
    if len(tail) > TAIL_TOKENS:
        del tail[0]
    return head + tail


def _weird(token: str, prose: Prose) -> float:
    """0 for an ordinary word or number, up to 1 for a token mixing symbols, odd capitals and no word."""
    core = token.strip(_STRIP)
    if not core:
        return 0.5 if len(token) >= 3 else 0.0
    if core.isdigit():
        return 0.0
    score = 0.0
    if core.isalpha():
        # camelCase or random capitals inside a word (Hebrew, Arabic and other scripts have no case)
        if not (core.islower() or core.isupper() or core.istitle()) and core != core.lower():
            score += 0.5
        lower = core.lower()
        # Trigrams are known for the Latin-script languages of the training data only.
        if len(core) > 2 and core.isascii() and lower not in prose.words:
            score += 0.5 * unusual_share(lower, prose.trigrams)
        return min(score, 1.0)
    if any(ch.isalpha() for ch in core):
        if not core.isascii() and _written_word(core):
            return 0.0
        score += 0.75  # letters glued to symbols or digits
    if len(token) - len(core) >= 2:
        score += 0.25
    return min(score, 1.0)


# What words of other scripts are made of besides letters: vowel signs and other combining marks (M),
# joiners (Cf: the Persian ZWNJ), digits (N) and the scripts' own punctuation (P), inside a word or at its
# ends ("¿Qué", "ہیں۔", "你好，请", "2024年").
_WORD_PARTS = ("L", "M", "N", "P")


def _written_word(core: str) -> bool:
    """Whether a token with letters beyond ASCII is a word as its script writes it: no ASCII symbol, and
    every other character a letter, a mark, a digit, a joiner or punctuation outside ASCII."""
    for character in core:
        if character.isascii():
            if not character.isalnum():
                return False
        elif unicodedata.category(character)[0] not in _WORD_PARTS and character not in "\u200c\u200d":
            return False
    return True


def unusual_share(word: str, trigrams: Collection[str]) -> float:
    """The share of a lower-case word's letter trigrams (its edges marked by spaces) that prose seldom has."""
    padded = f" {word} "
    grams = [padded[i : i + 3] for i in range(len(padded) - 2)]
    return sum(1 for gram in grams if gram not in trigrams) / len(grams)


# The ")" that closes a list item: "1)", "12)", and "a)", "B)", "iv)" standing alone (the options of a
# multiple-choice question). Found from the bracket, a literal: a fast scan, then a look back.
_LIST_CLOSER = re.compile(
    r"\)(?:(?<=[0-9]\))|(?<=(?<!\S)[A-Za-z]\))|(?<=(?<!\S)[ivx]{2}\))|(?<=(?<!\S)[ivx]{3}\))"
    r"|(?<=(?<!\S)[ivx]{4}\)))"
)


# Every byte but the brackets and quotes `_unbalanced` counts: deleting these leaves those alone, in C.
_NOT_PAIRED = bytes(b for b in range(256) if b not in b'()[]{}"`')


def _unbalanced(raw: str) -> float:
    """How far brackets and quotes are from pairing up (counted in the few bytes left when every other
    byte is deleted: one pass over the text); the closers of list items ("1)", "2)", "a)", "b)") count as
    paired."""
    marks = utf8(raw).translate(None, _NOT_PAIRED)
    opened, closed = marks.count(b"("), marks.count(b")")
    if closed > opened:
        closed = max(opened, closed - len(_LIST_CLOSER.findall(raw)))
    brackets = (
        abs(opened - closed)
        + abs(marks.count(b"[") - marks.count(b"]"))
        + abs(marks.count(b"{") - marks.count(b"}"))
    )
    return math.log1p(brackets + marks.count(b'"') % 2 + marks.count(b"`") % 2)
