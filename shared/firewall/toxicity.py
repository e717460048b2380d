"""Signals of abusive, hateful or threatening text: insults and profanity, insults aimed at the reader,
threats, dehumanising language and shouting. The learned model (`model.py`) weighs them with the words.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from ahocorasick_rs import BytesAhoCorasick

from shared.firewall.normalize import utf8, without_code_blocks


def _word_set(text: str) -> frozenset[str]:
    """The distinct words of a whitespace-separated list."""
    return frozenset(text.split())


# Insults, profanity and slurs in their common inflections (English and German). Membership is a set
# lookup per distinct word, so the list costs nothing per prompt beyond one intersection.
INSULTS = _word_set(
    """
    idiot idiots idiotic moron morons moronic stupid stupidity dumb dumber dumbest dumbass imbecile imbeciles
    cretin retard retards retarded libtard libtards libturd libturds trumptard trumptards demtard demtards
    fucktard loser losers clown clowns fool fools pathetic disgusting disgrace disgraceful scum scumbag
    scumbags trash garbage filth filthy vermin parasite parasites swine liar liars hypocrite hypocrites
    hypocritical coward cowards traitor traitors treasonous jerk jerks jackass jackasses douche douchebag
    douchebags asshole assholes ass asses arse bastard bastards bitch bitches bitchy cunt cunts dick dicks
    dickhead prick pricks twat wanker whore whores slut sluts skank hoes pussy pedo pedos pedophile
    pedophiles paedophile pedifile rapist rapists nazi nazis fascist fascists commie commies degenerate
    degenerates deplorable deplorables lunatic lunatics lunacy psycho psychos freak freaks creep sicko
    worthless useless brainless clueless crook crooks thug thugs savage savages subhuman inbred maggot
    maggots nitwit nitwits halfwit dimwit senile demented snowflake snowflakes cuck cucks incel shithead
    shitheads dipshit dumbfuck motherfucker motherfuckers magat magats repuke repukes democrap democraps
    demonrat demonrats dumocrat dumocrats dumocratic repugnican repugnicans fjb pos sob troll trolls
    nigger niggers nigga faggot faggots fag fags dyke tranny chink spic kike wetback raghead towelhead
    gook beaner coon
    arschloch idioten dummkopf depp trottel vollidiot wichser hurensohn schlampe fotze missgeburt spast
    spasti penner assi abschaum drecksack scheiss scheisse scheiße
    """
)
# Profanity written with symbols in place of letters: "f*ck", "pu$$y", "b****".
_MASKED = re.compile(r"(?<![\w*$])[a-z]{0,4}[*$]{1,5}[a-z]{0,5}(?![\w*$])")
PROFANITY_STEMS = ("fuck", "shit", "tard", "bitch", "cunt", "dick", "piss", "crap", "damn")
# The stems are found in one pass over the UTF-8 bytes, overlapping matches included ("pisshit" holds both
# "piss" and "shit"), rather than one search of the text per stem.
_PROFANITY = BytesAhoCorasick([stem.encode() for stem in PROFANITY_STEMS])
# Stems that innocent words also hold ("skyscraper", "stardust", "mustard", "Dickens"): where the stem is
# in the text, the word around it must read as the swear word. Each pattern starts with the stem and looks
# back from its end ("crap" not after a letter is "crap" not in "[a-z]crap"): a pattern that starts with a
# lookbehind is tried at every position of the text (100 to 300 µs on 4 KiB), one that starts with a
# literal only where a fast search finds it.
_STEM_WORDS = {
    "crap": re.compile(r"crap(?<![a-z]crap)"),
    "tard": re.compile(
        r"tard(?<!mustard)(?<!custard)(?<!leotard)(?<!bustard)(?<!petard)(?<!dastard)(?:s|ed)?(?![a-z])"
    ),
    "dick": re.compile(r"dick(?<![a-z]dick)(?!ens|inson)"),
}
# Threats and wishes of harm, each pattern starting with a literal (a fast scan when it is absent).
_THREATS = [
    (_word_set(re.sub(r"[\W_]+", " ", literal)), re.compile(re.escape(literal) + rest))
    for literals, rest in (
        (
            (
                "i'll ",
                "i will ",
                "i am going to ",
                "i'm going to ",
                "i'm gonna ",
                "we'll ",
                "we will ",
                "someone should ",
                "somebody should ",
            ),
            r"(?:kill|murder|shoot|hang|stab|beat|hurt|destroy|find|rape|bury|end)\s+(?:you|u|him|her|"
            r"them)\b",
        ),
        (
            (
                "should be ",
                "must be ",
                "needs to be ",
                "need to be ",
                "deserve to be ",
                "deserves to be ",
                "ought to be ",
                "should ",
                "deserves to ",
                "deserve to ",
            ),
            r"(?:die|hang|hanged|executed|shot|killed|jailed|locked up|imprisoned|burn|rot|deported)\b",
        ),
        (
            ("hope you ", "hope he ", "hope she ", "hope they ", "wish you "),
            r"(?:die|dies|burn|burns|rot|rots)\b",
        ),
        (
            ("go to hell", "go kill yourself", "go die", "kys", "death to", "roast in hell", "burn in hell"),
            "",
        ),
    )
    for literal in literals
]
# An insult aimed at the reader: "you are a stupid ...", "you idiot", "du bist ein ...".
_AT_READER = [
    re.compile(
        pronoun + rf"(?<![^\W_].{{{len(pronoun)}}})" + r"(?:'re|re| are| r| bist| seid)?\s+(?:a\s+|an\s+|"
        r"such\s+an?\s+|so\s+|ein\s+|eine\s+|total\s+|fucking\s+|stupid\s+|dumb\s+){0,3}([a-zäöüß]+)"
    )
    for pronoun in ("you", "du", "ihr")
]
# "\b(?:they|these|those|all)" written with a set of first letters, which the search skips to in C.
_DEHUMANISING = re.compile(
    r"[ta](?<!\w[ta])(?:(?<=t)(?:hey|hese|hose)|(?<=a)ll)\s+(?:\w+\s+){0,2}(?:are|r)\s+"
    r"(?:just\s+|nothing but\s+)?(?:animals|vermin|parasites|subhuman|savages|rats|pigs|scum|trash|garbage|"
    r"demons|monsters|cockroaches)\b"
)


_THREAT_WORDS = _word_set(
    """kill murder shoot hang stab beat hurt destroy find rape bury end die dies hanged executed shot killed
    jailed locked imprisoned burn burns rot rots deported hell kys death"""
)
_DEHUMANISING_WORDS = _word_set(
    "animals vermin parasites subhuman savages rats pigs scum trash garbage demons monsters cockroaches"
)
# The last letter of "are", "r", "just" and "nothing but", and the space after it.
_BEFORE_DEHUMANISING = ("e ", "r ", "t ")
_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTERS = _UPPER + _UPPER.lower()


def signals(raw: str, folded: str, present: Collection[str]) -> dict[str, float]:
    """Named numbers for the toxicity model: insults, profanity, threats, aim at the reader, shouting.

    `folded` is `normalize.fold`'s reading of `raw`, whose whitespace is single spaces (the check for
    dehumanising phrases relies on it); `present` holds the distinct words of `folded`.
    """
    present = present if isinstance(present, (set, frozenset)) else set(present)
    insults = present & INSULTS
    # Looked for in the UTF-8 bytes: a stem's bytes are in the text's bytes where the stem is in the text.
    encoded = utf8(folded)
    found = {index for index, _, _ in _PROFANITY.find_matches_as_indexes(encoded, overlapping=True)}
    in_text = [stem for index, stem in enumerate(PROFANITY_STEMS) if index in found]
    stems = sum(1 for stem in in_text if stem not in _STEM_WORDS or _STEM_WORDS[stem].search(folded))
    at_reader = 0
    if insults or stems:
        # A stem inside a word of the text is in the text: only those stems are looked for in the words.
        at_reader = sum(
            1
            for pattern in _AT_READER
            for word in pattern.findall(folded)
            if word in INSULTS or any(stem in word for stem in in_text)
        )
    threats = 0
    if not _THREAT_WORDS.isdisjoint(present):
        # Each pattern runs only when every word of its opening phrase is in the prompt.
        threats = sum(len(pattern.findall(folded)) for gate, pattern in _THREATS if gate <= present)
    dehumanising = 0
    targets = _DEHUMANISING_WORDS.intersection(present)
    # In folded text a run of whitespace is one space: a match holds "are ", "r ", "just " or "nothing but "
    # right before its word (`_BEFORE_DEHUMANISING`), and the pattern, which `re` tries at each "t" and "a",
    # runs only then.
    if targets and any(before + word in folded for word in targets for before in _BEFORE_DEHUMANISING):
        dehumanising = len(_DEHUMANISING.findall(folded))
    folded_prose = without_code_blocks(folded)
    # ASCII letters and capitals counted by deleting them: C speed, no loop over characters.
    raw_bytes = utf8(raw)
    letters = len(raw_bytes) - len(raw_bytes.translate(None, _LETTERS))
    capitals = len(raw_bytes) - len(raw_bytes.translate(None, _UPPER))
    return {
        "insults": float(len(insults)),
        "profanity": float(stems),
        "at_reader": float(at_reader),
        "threat": float(threats),
        "dehumanising": float(dehumanising),
        "shouting": capitals / letters if letters >= 20 else 0.0,
        "exclamations": float(min(folded.count("!!"), 5)),
        "masked": float(_masked(folded_prose)) if ("*" in folded_prose or "$" in folded_prose) else 0.0,
    }


# A run of * and $ from its first star, and from its first dollar sign: each a search for a literal.
_STAR_RUN = re.compile(r"\*[*$]*")
_DOLLAR_RUN = re.compile(r"\$[*$]*")


def mask_runs(text: str) -> list[tuple[int, int]]:
    """The spans of the runs of * and $ in `text`, in order (what `[*$]+` finds): a run starts with one
    of the two, and its span is the union of the two searches' matches over it."""
    spans = sorted(
        [m.span() for m in _STAR_RUN.finditer(text)]
        + ([m.span() for m in _DOLLAR_RUN.finditer(text)] if "$" in text else [])
    )
    runs: list[tuple[int, int]] = []
    for start, end in spans:
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    return runs


def _masked(folded: str) -> int:
    # A word of three or more characters with letters, some hidden behind * or $: "f*ck", "pu$$y", "b****".
    # Looked for around each run of * and $ (a masked word has at most 4 letters before its run and 5
    # after), not from every position of the text.
    count, end = 0, 0
    for run_start, run_end in mask_runs(folded):
        if run_end <= end or run_end - run_start > 5:
            continue
        match = _MASKED.search(folded, max(end, run_start - 4), run_end + 6)
        if match is None or match.start() > run_start:
            continue
        end = match.end()
        count += masks_a_word(match.group())
    return count


def masks_a_word(candidate: str) -> bool:
    """Whether a match of `_MASKED` hides a word: three characters or more, with letters, but not one
    character between two letters ("x*y" is a product)."""
    if len(candidate) == 3 and candidate[0].isalpha() and candidate[2].isalpha():
        return False
    return len(candidate) >= 3 and any(ch.isalpha() for ch in candidate)
