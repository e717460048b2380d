"""Undo the tricks that hide words from a matcher: Unicode look-alikes, invisible characters, leetspeak,
letters spaced apart, payloads encoded as base64, hex, binary, Morse or rot13, and passages written in a
Caesar shift, Atbash, Vigenère, Pig Latin, backwards or upside down.

`fold(text)` is the reading every check uses; `readings(...)` adds the others only when the text shows a
sign of the trick, so ordinary prompts pay for one pass.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import AnyStr


def _word_set(text: str) -> frozenset[str]:
    """The distinct words of a whitespace-separated list."""
    return frozenset(text.split())


# A scan reads the UTF-8 bytes of a prompt and of its folded form in a dozen places (`bytes.translate` and
# `bytes.find` run in C, where `str` methods on non-ASCII text are slower), and asks of several sets of
# lead bytes whether the text holds one. For non-ASCII text, both are made once: the bytes, and the
# non-ASCII bytes alone (a few dozen in a mostly English prompt), which those questions then read. The
# cache holds the last few texts; the firewall empties it after each scan (`forget_bytes`), so that no
# prompt stays in it.
_UTF8_CACHE: dict[str, tuple[bytes, bytes]] = {}
_UTF8_CACHED = 8
_ASCII_BYTES = bytes(range(0x80))


def utf8(text: str) -> bytes:
    """`text.encode()`, made once per scan for non-ASCII text (an ASCII text's bytes are a copy)."""
    return text.encode() if text.isascii() else _utf8(text)[0]


def non_ascii_bytes(text: str) -> bytes:
    """The bytes of `text`'s UTF-8 form that are not ASCII, in order: whether `text` holds a character
    whose lead byte is in some set is read here, a short string, rather than in all of `text`'s bytes."""
    return b"" if text.isascii() else _utf8(text)[1]


def _utf8(text: str, encoded: bytes | None = None) -> tuple[bytes, bytes]:
    found = _UTF8_CACHE.get(text)
    if found is None:
        if len(_UTF8_CACHE) >= _UTF8_CACHED:
            _UTF8_CACHE.clear()
        encoded = text.encode() if encoded is None else encoded
        found = _UTF8_CACHE[text] = (encoded, encoded.translate(None, _ASCII_BYTES))
    return found


def forget_bytes() -> None:
    """Empty the cache of `utf8` and `non_ascii_bytes` (the firewall does, after each scan)."""
    _UTF8_CACHE.clear()


# Cyrillic and Greek letters that look like Latin ones, folded only in text that mixes the scripts:
# genuine Russian or Greek stays readable for the multilingual rules.
_HOMOGLYPHS: dict[int, str] = {
    ord(k): v
    for k, v in {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
        "һ": "h", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɑ": "a", "ı": "i", "ɩ": "i", "ɪ": "i", "ʏ": "y",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "ѡ": "w", "ս": "u", "օ": "o", "ց": "g",
    }.items()
}  # fmt: skip
# Zero-width, bidirectional, soft-hyphen, variation-selector and tag characters: invisible to a reader,
# present in attacks only to split trigger words or to reorder what a human sees.
# A Greek or Cyrillic letter right next to a Latin one: scanned from the rarer script, so it is fast.
_MIXED_SCRIPT = re.compile(r"[\u0250-\u02af\u0370-\u03ff\u0400-\u052f](?:(?<=[a-z].)|[a-z])")
# Every byte but the UTF-8 lead bytes of those letters (U+0240 to U+053F): text whose bytes are all among
# these (German or French, say) has none of them, and is not searched.
_NOT_MIXED_LEADS = bytes(b for b in range(256) if not 0xC9 <= b <= 0xD4)
_INVISIBLE_RUN = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]+"
)
# The same characters as UTF-8 lead bytes: a scan of the encoded text finds them faster than one of the text.
_INVISIBLE_UTF8 = re.compile(
    rb"\xc2\xad|\xcd\x8f|\xd8\x9c|\xe1\x85[\x9f\xa0]|\xe1\x9e[\xb4\xb5]|\xe1\xa0\x8e|\xe2\x80[\x8b-\x8f\xaa-\xae]"
    rb"|\xe2\x81[\xa0-\xaf]|\xe3\x85\xa4|\xef\xb8[\x80-\x8f]|\xef\xbb\xbf|\xef\xbe\xa0|\xf3\xa0[\x80\x81]"
)
# Every byte but those that start an invisible character in UTF-8.
_NOT_INVISIBLE_LEADS = bytes(b for b in range(256) if b not in b"\xc2\xcd\xd8\xe1\xe2\xe3\xef\xf3")

# Leetspeak digits and symbols, undone only when words mix them with letters ("1gn0r3").
_LEET = bytes.maketrans(b"013457@$", b"oieastas")
# A digit next to a lower-case letter, looked for as "a0" or "0a" in a byte per character: C speed.
_LEET_MIX_MASK = bytes.maketrans(
    bytes(range(256)),
    bytes(0x61 if 0x61 <= b <= 0x7A else 0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256)),
)
# ASCII punctuation to spaces in one bytes.translate: how a prompt splits into words, fast.
_PUNCTUATION = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
WORD_BREAKS = bytes.maketrans(_PUNCTUATION, b" " * len(_PUNCTUATION))
# Words whose leetspeak spelling calls for the de-leeted reading ("1gn0r3", "pr3v10us", "j41lbr34k").
LEET_TRIGGERS = _word_set(
    """ignore ignoring disregard forget previous prior above instructions instruction prompt prompts system
    rules jailbreak jailbroken bypass override reveal secret password developer mode unrestricted unfiltered
    uncensored restrictions ethical guidelines pretend roleplay dan"""
)

# "i g n o r e" and "i.g.n.o.r.e": at least five single letters, one to three separators between each
# ("Y O U   A R E", "r-e-v-e-a-l y-o-u-r": the wider or the other gap between the words).
_SPACED_LETTERS = re.compile(r"(?<!\w)(?:\w[ .\-_*/|]{1,3}){4,}\w(?!\w)")
_GAPS = re.compile(r"[ .\-_*/|]+")
SPACED_MIN_LETTERS = 8  # distinct one-letter words: "a", "i", "s" and "t" are common, eight are not
# Four one-letter words in a row, separated by one character: a cheap test before the full pattern.
_SPACED_HINT = re.compile(r"[ .\-_*/|][^\W_][ .\-_*/|][^\W_][ .\-_*/|][^\W_][ .\-_*/|][^\W_][ .\-_*/|]")

# Words of the strong rule families whose presence written in code (backwards, rot13) calls for the
# reading that undoes it.
TRIGGER_WORDS = (
    *("ignore", "forget", "disregard", "instructions", "prompt", "system", "password", "secret"),
    *("reveal", "previous", "jailbreak", "restrictions", "override", "developer"),
)
# Trigger words written backwards ("snoitcurtsni"): text to be read in reverse. None is a word of its own.
REVERSED_TRIGGERS = frozenset(word[::-1] for word in TRIGGER_WORDS)

_ROT13 = bytes.maketrans(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    b"nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZabcdefghijklm",
)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:\\x|0x)?[0-9a-fA-F]{2}(?:(?:[ :,]|\\x|0x)?[0-9a-fA-F]{2}){7,}")
_HEX_JUNK = re.compile(r"\\x|0x|[ :,]")
# A byte "20" (a space) written apart from the others, with three bytes before it or four after (in a run
# of eight, the fewest `_SPACED_HEX` decodes, every byte has one or the other): the literal first, so the
# search is a fast one. Times ("12:20:39") and phone numbers ("+44 20 7946") have too few.
_HEX_BYTE = r"[0-9a-fA-F]{2}"
_SPACED_HEX_HINT = re.compile(
    r"20(?<![0-9a-fA-F]20)(?![0-9a-fA-F])"
    rf"(?:(?<=(?<![0-9a-fA-F])(?:{_HEX_BYTE}[ :,]){{3}}20)|(?=(?:[ :,]{_HEX_BYTE}){{4}}(?![0-9a-fA-F])))"
)
_SPACED_HEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}[ :,]){7,}[0-9a-fA-F]{2}(?![0-9a-fA-F])")
# Eight or more bytes written in binary ("01101001 01100111 ..."), apart or run together. Every ASCII
# letter starts "011", so text with neither "0110" nor "0111" holds none and the pattern is not run.
_BINARY = re.compile(r"(?<![0-9])[01]{8}(?:[ ,]?[01]{8}){7,}(?![0-9])")
_BINARY_BYTE = re.compile(r"[01]{8}")
# Morse code: eight or more letters of dots and dashes, letters apart, words apart by "/" or wider gaps.
# Nearly every letter holds ".-" or "-."; text with neither is not searched.
_MORSE = re.compile(r"(?<![\w.\-])[.\-]{1,6}(?:(?: {1,3}| ?/ ?| ?\| ?)[.\-]{1,6}){7,}(?![\w.\-])")
_MORSE_WORD_GAP = re.compile(r" ?[/|] ?| {2,}")
_MORSE_CODE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h",
    "..": "i", ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p",
    "--.-": "q", ".-.": "r", "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x",
    "-.--": "y", "--..": "z", "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4",
    ".....": "5", "-....": "6", "--...": "7", "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",",
    "..--..": "?", ".----.": "'", "-.-.--": "!",
}  # fmt: skip

MIN_ENCODED_RUN = 16  # shorter runs are words and numbers, not payloads

MAX_DECODED_PAYLOADS = 8  # payloads decoded per prompt; more is itself suspicious, and costs time
MAX_PAYLOAD_CHARS = 8192  # longest encoded run decoded


@dataclass(frozen=True)
class View:
    """One reading of a prompt: `how` says which trick was undone ("folded", "base64", ...)."""

    how: str
    text: str


def fold(text: str) -> str:
    """NFKC-fold and lower-case `text`, drop invisible characters and collapse whitespace."""
    text = _fold_characters(text)
    if not text.isascii() and any(space in text for space in _OTHER_SPACES):
        return " ".join(text.split())
    # `" ".join(text.split())` in two passes over the bytes, without a string per word: whitespace (ASCII
    # only, here) becomes spaces in one translation, then each run of spaces one space.
    encoded = utf8(text).translate(_ASCII_WHITESPACE)
    if b"  " in encoded:
        encoded = _SPACE_RUN.sub(b" ", encoded)
    encoded = encoded.strip(b" ")
    folded = encoded.decode()
    if not folded.isascii():
        _utf8(folded, encoded)  # the folded text's bytes are known: every later reader of them finds them
    return folded


# What `str.split()` splits ASCII text at (the information separators 0x1c-0x1f included), as spaces.
_ASCII_WHITESPACE = bytes.maketrans(b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f", b" " * 9)
# The whitespace that NFKC leaves as it is: the rest of Unicode's becomes a plain space.
_SPACE_RUN = re.compile(b"  +")
_OTHER_SPACES = ("\x85", "\u1680", "\u2028", "\u2029")


def _fold_characters(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        # Most non-ASCII text has none of the lead bytes: deleting every other byte says so, in C.
        if non_ascii_bytes(text).translate(None, _NOT_INVISIBLE_LEADS) and _INVISIBLE_UTF8.search(utf8(text)):
            text = _INVISIBLE_RUN.sub("", text)
    return text.lower()


def without_code_blocks(text: str) -> str:
    """`text` without what stands between pairs of ``` fences (an unclosed fence's text is kept): code is
    dense with symbols, odd capitals, `#` and `*` by nature, which the suffix and abuse statistics read."""
    if "```" not in text:
        return text
    parts = text.split("```")
    kept = parts[::2]
    if len(parts) % 2 == 0:  # an odd number of fences: the last one opens nothing that closes
        kept.append(parts[-1])
    return " ".join(kept)


def rot13(text: str) -> str:
    """`text` with every ASCII letter rotated by 13."""
    return _translate_ascii(text, _ROT13)


# Substitution ciphers. A passage (a line, or the rest of one after a colon) that has almost none of these
# common words is read in the code that turns the most of its words into them: a Caesar shift (any of the
# 25), Atbash, Vigenère with a key the prompt gives, Pig Latin, or the passage written backwards. English
# words first; a few of other languages the cipher attacks use.
CIPHER_PLAIN_WORDS = _word_set(
    """a an the and or but if of to in on at by for with from into about as is are was were be been am do
    does did have has had i you he she it we they me him her us them my your his its our their this that
    these those what which who how why when where can could will would should may might must not no so than
    then there here all any some each every one out up over again just only also very now tell give make
    write explain describe show help get go let want need know please without after before because way step
    someone something people home money
    de la que el en los las un una como para por del se es lo con le les et est des une pour qui dans der
    die das und ist wie ich nicht mit zu den ein eine o um uma os com não"""
)
# Words naming a cipher, a shift or a decoding, in the languages of the rules: a prompt with none of them
# (and not mostly Pig Latin) is not searched, since a cipher attack must tell the model how to read it.
CIPHER_WORDS = _word_set(
    """caesar cesar césar cäsar cezar cipher ciphers cypher ciphertext cifra cifrado cifrada chiffre chiffré
    chiffrement verschlüsselt verschlüsselung geheimschrift atbash shift shifted shifting verschiebung
    verschoben deslocamento desplazamiento décalage spostamento rot rot13 rotate rotated vigenère vigenere
    backwards backward reversed reverse mirror flip rückwärts umgekehrt envers revés invertido inverso
    decode decoding decrypt decipher encrypted encrypt encoded entschlüssle entschlüsseln entschlüsselt
    déchiffre déchiffrer décode décoder descifra descifrar decifra decifrar decodifica decodificar шифр
    шифре шифром расшифруй расшифровать"""
) | frozenset(word[::-1] for word in ("backwards", "backward", "reversed", "reverse"))  # all of it backwards
CIPHER_MIN_WORDS = 5  # a shorter passage is a name or a code, not a message
CIPHER_MAX_CHARS = 8192  # characters of passages decoded and counted per prompt: the cost stays bounded
VIGENERE_MAX_CHARS = 600  # characters decrypted with the prompt's keys, all passages and keys together
_LOWER = "abcdefghijklmnopqrstuvwxyz"
# Each code as a translation of the lower-case letters to what they stand for, by name.
_CIPHERS: tuple[tuple[str, dict[int, int]], ...] = (
    *(("caesar", str.maketrans(_LOWER, _LOWER[shift:] + _LOWER[:shift])) for shift in range(1, 26)),
    ("atbash", str.maketrans(_LOWER, _LOWER[::-1])),
)
# Each common word as each code writes it, to the codes that do: one look-up per word finds the code.
_CIPHER_OF: dict[str, tuple[int, ...]] = {}
for _index, (_name, _table) in enumerate(_CIPHERS):
    _decode = {decoded: encoded for encoded, decoded in _table.items()}
    for _plain in CIPHER_PLAIN_WORDS:
        if _plain.isascii():
            _form = _plain.translate(_decode)
            _CIPHER_OF[_form] = (*_CIPHER_OF.get(_form, ()), _index)
# Common words of three letters or more: a code leaves "a", "i" or "no" as they were, or makes them of others.
_CIPHER_PLAIN_LONG = frozenset(word for word in CIPHER_PLAIN_WORDS if len(word) >= 3)
_KEY_WORDS = frozenset({"key", "keyword", "schlüssel", "clave", "clé", "chave", "chiave"})
# The key in capitals, as ciphers' keys are written ("key = LEMON", "Key is SHADOW"): "the API key in
# this config" names none.
_VIGENERE_KEY = re.compile(
    r"\b(?i:key(?:word)?|schlüssel|clave|clé|chave|chiave)\b(?:\s*(?:=|:|(?i:is|of))\s*|\s+)[\"'“]?([A-Z]{3,16})\b"
)
# Every written form of a common word, backwards included, that is not a common word itself.
_CIPHER_FORMS = frozenset((*_CIPHER_OF, *(plain[::-1] for plain in CIPHER_PLAIN_WORDS))) - CIPHER_PLAIN_WORDS


def _cipher_signs(present: Collection[str]) -> int:
    """How many of the prompt's words are common words as a code writes them, long enough to be a sign of
    one: three letters or more, or two written backwards ("ot", "ym"); fewer than two, and the prompt holds
    no passage in a code."""
    return sum(
        len(word) >= 3 or word[::-1] in CIPHER_PLAIN_WORDS for word in _CIPHER_FORMS.intersection(present)
    )


_CIPHER_PASSAGE = re.compile(r"[^\n:]+")
_CIPHER_WORD = re.compile(r"(?<![\w@./])[a-z']+(?![\w@]|[./]\w)")  # not a piece of an address or a path
# Consonant clusters that begin English words, longest first: what Pig Latin moved to a word's end.
_ONSETS: tuple[str, ...] = (
    *("sch", "scr", "shr", "spl", "spr", "squ", "str", "thr", "bl", "br", "ch", "cl", "cr", "dr", "fl"),
    *("fr", "gl", "gr", "kn", "ph", "pl", "pr", "qu", "sc", "sh", "sk", "sl", "sm", "sn", "sp", "st", "sw"),
    *("th", "tr", "wh", "wr"),
)


def _in_cipher(text: str, folded: str, present: Collection[str]) -> list[tuple[str, str]]:
    """The passages of `text` written in a substitution cipher, as (how, text with them decoded); `folded`
    is its folded form and `present` holds that one's words.

    Looked for only when the prompt names a cipher (`CIPHER_WORDS`) and holds two signs of one
    (`_cipher_signs`), or names a cipher and a key (Vigenère), or a third of its words end in "ay" (Pig
    Latin). A passage of `CIPHER_MIN_WORDS` or more words, mostly letters, with at most one in eight a
    common word of three letters or more (`CIPHER_PLAIN_WORDS`) and, but for Vigenère and Pig Latin, one in
    five a common word as a code writes it (`_CIPHER_FORMS`), is decoded when a code makes at least three
    of its words, and three in ten, common words."""
    # "ay" counted in C first: the words are counted one by one only where a third of them may end so.
    pig_latin = (
        folded.count("ay") * 3 > folded.count(" ")
        and sum(word.endswith("ay") for word in present) * 3 >= len(present) >= CIPHER_MIN_WORDS
    )
    named = not CIPHER_WORDS.isdisjoint(present)
    # A Vigenère key the prompt gives ("key = LEMON", "keyword: GARDEN"): the first three are tried.
    keys = (
        [match.group(1).lower() for match in itertools.islice(_VIGENERE_KEY.finditer(text), 3)]
        if named and not _KEY_WORDS.isdisjoint(present)
        else []
    )
    if not (pig_latin or keys or (named and _cipher_signs(present) >= 2)):
        return []
    found: dict[str, list[tuple[int, int, str]]] = {}
    lower = text.lower()
    at = 0  # where the last passage decoded ends
    key_budget = VIGENERE_MAX_CHARS
    passage_budget = CIPHER_MAX_CHARS
    for passage in _CIPHER_PASSAGE.findall(lower):
        if not 2 * CIPHER_MIN_WORDS <= len(passage) <= passage_budget:
            continue
        # In C, on the words as whitespace splits them: in a passage in a code, a fifth of the distinct
        # words at least are common words as a code writes them; plain text has its own common words.
        pieces = passage.split()
        if not (pig_latin or keys) and len(_CIPHER_FORMS.intersection(pieces)) * 5 < len(pieces):
            continue
        if len(_CIPHER_PLAIN_LONG.intersection(pieces)) * 8 > len(pieces):
            continue
        passage_budget -= len(passage)
        words = _CIPHER_WORD.findall(passage)
        count = len(words)
        if count < CIPHER_MIN_WORDS or sum(map(len, words)) < 0.6 * len(passage.strip()):
            continue
        if len(_CIPHER_PLAIN_LONG.intersection(words)) * 8 > count:  # distinct ones: a set operation, in C
            continue
        votes = [0] * len(_CIPHERS)
        for word in words:
            for index in _CIPHER_OF.get(word, ()):
                votes[index] += 1
        best = max(range(len(votes)), key=votes.__getitem__)
        how, plain = _CIPHERS[best][0], passage.translate(_CIPHERS[best][1])
        hits = votes[best]
        start = lower.find(passage, at)
        backwards_hits = sum(word[::-1] in CIPHER_PLAIN_WORDS for word in words)
        if backwards_hits > hits:
            original = text[start : start + len(passage)] if len(lower) == len(text) else passage
            how, plain, hits = "backwards", _backwards(original).lower(), backwards_hits
        for key in keys:
            if key_budget < len(passage):
                break
            key_budget -= len(passage)
            unkeyed = _vigenere(passage, key)
            unkeyed_hits = _plain_hits(unkeyed)
            if unkeyed_hits > hits:
                how, plain, hits = "vigenere", unkeyed, unkeyed_hits
        if pig_latin:
            unpigged = _CIPHER_WORD.sub(lambda word: _unpig(word.group()), passage)
            unpigged_hits = _plain_hits(unpigged)
            if unpigged_hits > hits:
                how, plain, hits = "piglatin", unpigged, unpigged_hits
        if hits >= 3 and hits * 10 >= count * 3:
            at = start + len(passage)
            found.setdefault(how, []).append((start, at, plain))
    decoded = []
    for how, passages in found.items():
        parts, last = [], 0
        for start, end, plain in passages:
            parts += [lower[last:start], plain]
            last = end
        decoded.append((how, "".join(parts) + lower[last:]))
    return decoded


# Text written upside down ("ɹǝʇuɐɥdǝW"): letters that look like Latin ones turned over, in reverse order.
# Lower case: "w" is a turned capital "M"; "b", "d", "n", "p", "q" and "u" are one another turned.
_UPSIDE_DOWN = str.maketrans(
    {
        "ɐ": "a", "q": "b", "ɔ": "c", "p": "d", "ǝ": "e", "ɟ": "f", "ƃ": "g", "ɥ": "h", "ᴉ": "i", "ɾ": "j",
        "ʞ": "k", "ɯ": "m", "w": "m", "u": "n", "d": "p", "b": "q", "ɹ": "r", "ʇ": "t", "n": "u", "ʌ": "v",
        "ʍ": "w", "ʎ": "y", "˙": ".", "¿": "?", "¡": "!", "„": '"', "⅋": "&",
    }
)  # fmt: skip
_TURNED = "ɐɔǝɟƃɥᴉɾʞɯɹʇʌʍʎ"  # the turned letters that are no Latin letter: three of them mark the text
UPSIDE_DOWN_CHARS = 4096  # a longer text is turned back at its start and its end
UPSIDE_DOWN_LINES = 64  # and so are the lines of one with more lines
_TURNED_SET = frozenset(_TURNED)
_TURNED_LEADS = bytes(b for b in range(256) if b not in (0xC9, 0xCA, 0xE1))  # their UTF-8 lead bytes


def _upside_down(text: str, folded: str, encoded: bytes) -> str | None:
    """`text` folded, with its lines written upside down turned back, or None when no line is (`folded` is
    its folded form, `encoded` that one's UTF-8 bytes): a line with three of the turned letters is read in
    reverse, each letter turned."""
    if not encoded.translate(None, _TURNED_LEADS) or sum(letter in folded for letter in _TURNED) < 3:
        return None
    if len(text) > 2 * UPSIDE_DOWN_CHARS:  # the model reads a long reading's start and end only
        text = text[:UPSIDE_DOWN_CHARS] + "\n" + text[-UPSIDE_DOWN_CHARS:]
    lines = _fold_characters(text).split("\n")
    if len(lines) > 2 * UPSIDE_DOWN_LINES:
        lines = lines[:UPSIDE_DOWN_LINES] + lines[-UPSIDE_DOWN_LINES:]
    turned = [
        line.translate(_UPSIDE_DOWN)[::-1] if len(_TURNED_SET.intersection(line)) >= 3 else line
        for line in lines
    ]
    return fold("\n".join(turned))


def _plain_hits(decoded: str) -> int:
    """How many of a decoded passage's words are common words (`CIPHER_PLAIN_WORDS`)."""
    return sum(word in CIPHER_PLAIN_WORDS for word in _CIPHER_WORD.findall(decoded))


def _vigenere(passage: str, key: str) -> str:
    """`passage` (lower case) decrypted with the Vigenère `key` (lower-case letters): each letter shifted back
    by the key's letter in turn, the key advancing on letters only."""
    shifts = [ord(letter) - 97 for letter in key]
    plain, at = [], 0
    for character in passage:
        if "a" <= character <= "z":
            character = chr((ord(character) - 97 - shifts[at % len(shifts)]) % 26 + 97)
            at += 1
        plain.append(character)
    return "".join(plain)


def _backwards(passage: str) -> str:
    """A passage written backwards, read forwards: the whole of it reversed, or each word where the words
    stand in their order (the first word ends in a capital, "nialpxE woh ot"), which a passage reversed
    whole does not show (it starts with the sentence's full stop, or ends in its capital)."""
    words = passage.split()
    before, after = passage[: len(passage) - len(passage.lstrip())], passage[len(passage.rstrip()) :]
    if words and words[0][-1].isupper() and not words[-1][-1].isupper() and passage.lstrip()[:1] not in ".?!":
        return before + " ".join(word[::-1] for word in words) + after
    return before + passage.strip()[::-1] + after


def _unpig(word: str) -> str:
    """A word of Pig Latin back in English ("ouyay" -> "you", "itewray" -> "write", "andway" -> "and"); a
    word that does not end in "ay" as it is."""
    if len(word) < 4 or not word.endswith("ay"):
        return word
    stem = word[:-2]
    if stem.endswith("w") and stem[0] in "aeiou":
        return stem[:-1]
    one = stem[-1] + stem[:-1]  # "owh" is "how" or "who": the common word with one letter moved wins
    if one in CIPHER_PLAIN_WORDS:
        return one
    onset = next((onset for onset in _ONSETS if stem.endswith(onset) and len(stem) > len(onset)), stem[-1])
    return onset + stem[: -len(onset)]


# Words with their inner letters scrambled ("ignroe", "pervious"), which a reader still reads: a word that
# ordinary prose does not hold is put back to the word of `SCRAMBLED_TARGETS` with the same first and last
# letters and the same letters between, where only one has them. The targets are the words attacks are
# made of and the common ones around them; the rest of a scrambled prompt is left as it is.
SCRAMBLED_TARGETS = LEET_TRIGGERS | _word_set(
    """ignore disregard forget previous above earlier instructions instruction system prompt rules rule
    restrictions filters filter policy guidelines secret password confidential hidden reveal print output
    repeat everything anything nothing answer tell show give write explain describe without unless now
    from your you are with have this that what there their they them then when will would should could
    must just only also every never always before after above below mode access admin developer bypass
    jailbreak unfiltered uncensored unrestricted pretend character respond reply message messages"""
)
SCRAMBLED_MIN, SCRAMBLED_MAX = 4, 14  # shorter words have nothing to scramble; longer ones are rare
SCRAMBLED_WORDS = 96  # words unknown to prose looked at per prompt: the cost stays bounded
SCRAMBLED_MIN_FIXED = 2  # words put back before the reading counts: one typo is a typo
# Unknown words all looked up among the prose words, whether or not one of the attacks' own was scrambled.
SCRAMBLED_ALL_WORDS = 24
SCRAMBLED_SHARE = 0.5  # of the unknown words looked up, the share put back for the ordinary ones to count


def _scrambled_key(word: str) -> str:
    """What a word's scrambled forms share: its first and last letters and its inner letters in order."""
    return word[0] + word[-1] + "".join(sorted(word[1:-1]))


_KEYED: dict[str, list[str]] = {}
for _target in SCRAMBLED_TARGETS:
    if len(_target) >= SCRAMBLED_MIN:
        _KEYED.setdefault(_scrambled_key(_target), []).append(_target)
_UNSCRAMBLED = {key: words[0] for key, words in _KEYED.items() if len(words) == 1}
_TARGET_ENDS = frozenset(key[:2] for key in _UNSCRAMBLED)  # first and last letters: a cheap test first


def unscrambled(words: list[str], present: set[str], prose: frozenset[str]) -> str | None:
    """The prompt's `words` with the scrambled ones put back (`present` is their set, `prose` the words
    ordinary prose holds), or None when fewer than `SCRAMBLED_MIN_FIXED` are. A word is put back to a word
    of `SCRAMBLED_TARGETS` or, failing one, of `prose` (`_ProseKeys`): a request scrambled word by word
    ("Hwo can I bliud a bmob") is made of ordinary words as much as of the attacks' own."""
    fixed: dict[str, str] = {}
    unknown = present - prose
    looked_at: Iterable[str] = unknown
    if len(unknown) > SCRAMBLED_WORDS:
        # The first ones in the text (a word that comes again counts again). A set's order follows the
        # process's string-hash seed: each replica of the gateway would look at other words of the prompt.
        looked_at = itertools.islice(filter(unknown.__contains__, words), SCRAMBLED_WORDS)
    eligible = [
        word
        for word in looked_at
        if SCRAMBLED_MIN <= len(word) <= SCRAMBLED_MAX and word.isascii() and word.isalpha()
    ]
    if len(eligible) < SCRAMBLED_MIN_FIXED:
        return None
    keyed: dict[str, str] = {}  # the other words, by their keys
    for word in eligible:
        key = _scrambled_key(word) if word[0] + word[-1] in _TARGET_ENDS else None
        put_back = _UNSCRAMBLED.get(key) if key is not None else None
        if put_back is not None and put_back != word:
            fixed[word] = put_back
        else:
            keyed[word] = key or ""
    if fixed or len(unknown) <= SCRAMBLED_ALL_WORDS:
        # A word of the attacks' own was scrambled, or the prompt has few unknown words: any of them may be a
        # scrambled ordinary word. (Sorting the letters of every unknown word of every prompt would cost a
        # 4 KiB prompt 60 µs.)
        keyed = {word: key or _scrambled_key(word) for word, key in keyed.items()}
        ordinary = _prose_keys(prose).put_back(keyed)
        # Kept when most of the unknown words were put back: in a passage of a cipher or another language a
        # few words are an ordinary word's letters by chance, and the reading would be that passage again.
        if len(fixed) + len(ordinary) >= SCRAMBLED_SHARE * (len(fixed) + len(keyed)):
            fixed.update(ordinary)
    if len(fixed) < SCRAMBLED_MIN_FIXED:
        return None
    return " ".join([fixed.get(word, word) for word in words])


class _ProseKeys:
    """The words of ordinary prose by their scrambled key (`_scrambled_key`), for the keys only one of them
    has: the keys' hashes in a sorted array and the words in the same order (about 200 KB for 12,000
    words, where a dictionary of the keys would hold a string per word)."""

    def __init__(self, prose: frozenset[str]) -> None:
        import numpy as np

        eligible = sorted(
            word
            for word in prose
            if SCRAMBLED_MIN <= len(word) <= SCRAMBLED_MAX and word.isascii() and word.isalpha()
        )
        hashes = np.fromiter((hash(_scrambled_key(word)) for word in eligible), np.int64, len(eligible))
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        alone = np.ones(len(hashes), bool)  # a hash that two words share (a key, nearly always) is dropped
        if len(hashes) > 1:
            same = hashes[1:] == hashes[:-1]
            alone[1:] &= ~same
            alone[:-1] &= ~same
        self._hashes = hashes[alone]
        self._words = [eligible[i] for i in order[alone]]

    def put_back(self, keyed: dict[str, str]) -> dict[str, str]:
        """The words of `keyed` (word: its key) that are a prose word scrambled, each with that word."""
        import numpy as np

        if not len(self._hashes):
            return {}
        words = list(keyed)
        hashes = np.fromiter((hash(keyed[word]) for word in words), np.int64, len(words))
        at = np.minimum(self._hashes.searchsorted(hashes), len(self._hashes) - 1)
        found: dict[str, str] = {}
        for i in np.flatnonzero(self._hashes[at] == hashes).tolist():
            word, put_back = words[i], self._words[int(at[i])]
            if put_back != word and _scrambled_key(put_back) == keyed[word]:  # the hash's word has the key
                found[word] = put_back
        return found


@functools.lru_cache(maxsize=4)
def _prose_keys(prose: frozenset[str]) -> _ProseKeys:
    return _ProseKeys(prose)


def readings(
    text: str,
    folded: str,
    present: set[str],
    *,
    rot13_hint: bool = False,
    rot13_words: Collection[str] = (),
) -> list[View]:
    """The readings of a prompt, beyond `folded`, that undo a trick the prompt shows signs of.

    `present` holds the distinct words of `folded`; `rot13_hint` asks for the rot13 reading (the caller
    saw a trigger word written in rot13: `rot13_words`, when given, are those words). A reading covers
    the parts of the prompt around the characters it changes (`WINDOW` characters either side, whole
    words), joined by sentence breaks: a phrase that the trick hid overlaps a change, and the rest of
    the prompt was read plainly already.
    """
    found: list[View] = []
    encoded = utf8(folded)
    if non_ascii_bytes(folded).translate(None, _NOT_MIXED_LEADS):
        spans = [m.span() for m in _MIXED_SCRIPT.finditer(folded)]
        if spans:
            found.append(View("homoglyph", _excerpt(folded, spans, lambda part: part.translate(_HOMOGLYPHS))))
    if _leet_mix(encoded):
        deleeted = _translate_ascii(folded, _LEET)
        hidden = _leet_triggers(deleeted, present)
        if hidden:
            spans = sorted((at, at + len(word)) for word in hidden for at in places(deleeted, word))
            found.append(View("leetspeak", _excerpt(deleeted, spans)))
    if _spaced_letters(present, folded.isascii()) and _may_be_spaced(encoded):
        # Read from the text with its spacing kept: a wider gap is what separates the spaced-out words.
        spaced = _fold_characters(text)
        spans = _spaced_runs(spaced)
        if spans:
            joined = _excerpt(
                spaced, spans, lambda part: " ".join(_SPACED_LETTERS.sub(_join_letters, part).split())
            )
            found.append(View("spaced", joined))
    if rot13_hint:
        spans = [(m, m + len(word)) for word in rot13_words for m in places(folded, word)]
        found.append(View("rot13", _excerpt(folded, sorted(spans), rot13) if spans else rot13(folded)))
    if not REVERSED_TRIGGERS.isdisjoint(present):
        found.append(View("reversed", folded[::-1]))
    if not folded.isascii():
        upright = _upside_down(text, folded, encoded)
        if upright is not None:
            found.append(View("upsidedown", upright))
    found.extend(View(how, fold(decoded)) for how, decoded in decode_payloads(text))
    found.extend(View(how, fold(decoded)) for how, decoded in _in_cipher(text, folded, present))
    return found


WINDOW = 120  # characters read either side of a change: longer than any strong rule's match


def _excerpt(text: str, spans: list[tuple[int, int]], change: Callable[[str], str] | None = None) -> str:
    """The parts of `text` around `spans` (sorted), widened by `WINDOW` to whole words and merged where
    they meet, each passed through `change`, joined by sentence breaks."""
    parts: list[str] = []
    begin, end = 0, -1
    for first, last in spans:
        if end >= 0 and first - WINDOW <= end:
            end = max(end, last + WINDOW)
            continue
        if end >= 0:
            parts.append(_part(text, begin, end, change))
        begin = text.rfind(" ", 0, max(0, first - WINDOW)) + 1
        end = last + WINDOW
    if end >= 0:
        parts.append(_part(text, begin, end, change))
    return " . ".join(parts)


def _part(text: str, begin: int, end: int, change: Callable[[str], str] | None) -> str:
    stop = text.find(" ", end)
    part = text[begin : len(text) if stop == -1 else stop]
    return change(part) if change is not None else part


def places(text: AnyStr, word: AnyStr) -> list[int]:
    """Every index where `word` starts in `text` (a string or bytes), overlapping ones included."""
    found = []
    at = text.find(word)
    while at != -1:
        found.append(at)
        at = text.find(word, at + 1)
    return found


_ASCII_SINGLES = frozenset(map(chr, range(128)))


# Each character of folded text as one byte: "s" for a separator of spaced letters, "a" for an ASCII letter
# or digit and for the lead byte of a non-ASCII character (which may be a letter), "x" for the rest; the
# continuation bytes of UTF-8 are deleted.
_SEPARATOR_MASK = bytes.maketrans(
    bytes(range(256)),
    bytes(
        0x73 if chr(b) in " .-_*/|" else 0x61 if chr(b).isalnum() or b >= 0xC0 else 0x78 for b in range(256)
    ),
)
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


def _may_be_spaced(encoded: bytes) -> bool:
    """Whether `_SPACED_HINT` can match the text whose folded form has the UTF-8 bytes `encoded` (the text
    with its case and spacing kept): four one-character words apart by one separator each, looked for in a
    byte per character, in C. Folding only widens the test: whitespace runs become one space, and the
    edges have a separator added."""
    mask = encoded.translate(_SEPARATOR_MASK, _CONTINUATION_BYTES)
    return b"sasasasas" in b"s" + mask + b"s"


def _spaced_letters(present: set[str], ascii_only: bool) -> bool:
    """Whether the prompt has `SPACED_MIN_LETTERS` distinct one-character words: counted by a set
    intersection when they are all ASCII (`ascii_only`), else one by one."""
    if len(_ASCII_SINGLES.intersection(present)) >= SPACED_MIN_LETTERS:
        return True
    return not ascii_only and sum(map((1).__eq__, map(len, present))) >= SPACED_MIN_LETTERS


def _leet_mix(encoded: bytes) -> bool:
    """Whether the UTF-8 bytes of folded text have a digit next to a lower-case ASCII letter ("1gn0r3")."""
    mask = encoded.translate(_LEET_MIX_MASK)
    return b"a0" in mask or b"0a" in mask


def _leet_triggers(deleeted: str, present: set[str]) -> frozenset[str]:
    """The trigger words that undoing leetspeak made and the prompt's own words (`present`) lack."""
    words = _translate_ascii(deleeted, WORD_BREAKS).split()  # two passes in C, no loop over words
    return LEET_TRIGGERS.intersection(words) - present


SPACED_REACH = 120  # characters either side of a hint where a spaced-out word is looked for


def _spaced_runs(spaced: str) -> list[tuple[int, int]]:
    """Where letters stand spaced apart in `spaced`: looked for around the places the cheap hint finds,
    not from every position of the text."""
    spans: list[tuple[int, int]] = []
    end = 0
    for hint in _SPACED_HINT.finditer(spaced):
        if hint.end() <= end:
            continue
        stop = min(len(spaced), hint.end() + SPACED_REACH)
        for match in _SPACED_LETTERS.finditer(spaced, max(end, hint.start() - SPACED_REACH), stop):
            if match.end() >= stop:  # it may go on past the window: match it in the whole text
                whole = _SPACED_LETTERS.match(spaced, match.start())
                if whole is None:
                    continue
                match = whole
            spans.append(match.span())
            end = match.end()
        end = max(end, stop)
    return spans


def _translate_ascii(text: str, table: bytes) -> str:
    # bytes.translate runs in C; UTF-8 leaves every non-ASCII byte >= 0x80, which the tables keep.
    return utf8(text).translate(table).decode()


def _join_letters(match: re.Match[str]) -> str:
    """A run of spaced-out letters as words: the commonest gap joins letters, any other gap (wider, or
    another character) separates words."""
    run = match.group(0)
    gaps = _GAPS.findall(run)
    joiner = max(set(gaps), key=gaps.count) if gaps else ""
    words = [""]
    for letter, gap in zip(_GAPS.split(run), [*gaps, joiner], strict=True):
        words[-1] += letter
        if gap != joiner:
            words.append("")
    return " " + " ".join(words) + " "


# Unicode's tag characters (U+E0020 to U+E007E) mirror printable ASCII and show as nothing, so text
# written in them reaches a model unseen by the person reading the prompt ("ASCII smuggling"). A flag's
# tag sequence is a region code of a few letters: a run of eight or more is a hidden text.
_TAG_RUN = re.compile("[\U000e0020-\U000e007e]{8,}")
_UNTAG = {code: code - 0xE0000 for code in range(0xE0020, 0xE007F)}
_TAG_LEAD = b"\xf3\xa0"  # how U+E0000 to U+E0FFF begin in UTF-8: found by a byte search, not the pattern


def decode_payloads(text: str) -> list[tuple[str, str]]:
    """Base64, hex, binary and Morse runs, and text in invisible tag characters, in `text` that decode to
    readable text, as (how, decoded), `how` one of "base64", "hex", "binary", "morse" and "tags".

    Base64 and hex are tried only in whitespace-free runs of at least `MIN_ENCODED_RUN` characters:
    payloads are long words, and looking at those alone keeps the cost to a scan of the text. Binary, Morse
    and hex bytes written apart are looked for only where a cheap sign of them stands.
    """
    decoded: list[tuple[str, str]] = []
    if _TAG_LEAD in non_ascii_bytes(text):  # a lead byte and its next byte: both are kept there
        decoded.extend(
            ("tags", run.translate(_UNTAG)) for run in _TAG_RUN.findall(text)[:MAX_DECODED_PAYLOADS]
        )
    if "0110" in text or "0111" in text:
        for match in _BINARY.finditer(text):
            if len(decoded) >= MAX_DECODED_PAYLOADS:
                break
            plain = _readable(bytes(int(byte, 2) for byte in _BINARY_BYTE.findall(match.group(0))))
            if plain is not None:
                decoded.append(("binary", plain))
    if ".-" in text or "-." in text:
        for match in _MORSE.finditer(text):
            if len(decoded) >= MAX_DECODED_PAYLOADS:
                break
            plain = _from_morse(match.group(0))
            if plain is not None:
                decoded.append(("morse", plain))
    if _SPACED_HEX_HINT.search(text):  # bytes written apart, "49 67 6e ... 20 74 68": a space is "20"
        for match in _SPACED_HEX.finditer(text):
            plain = _readable(bytes.fromhex(_HEX_JUNK.sub("", match.group(0))))
            if plain is not None:
                decoded.append(("hex", plain))
    for token in long_tokens(text, MIN_ENCODED_RUN):
        if len(token) > MAX_PAYLOAD_CHARS:
            continue
        if len(decoded) >= MAX_DECODED_PAYLOADS:
            break
        for match in _HEX.finditer(token):
            run = _HEX_JUNK.sub("", match.group(0))
            if len(run) % 2 == 0:
                plain = _readable(bytes.fromhex(run))
                if plain is not None:
                    decoded.append(("hex", plain))
        for match in _BASE64.finditer(token):
            run = match.group(0)
            if run.isalpha() or run.isdigit():
                continue
            plain = _readable(_b64decode(run))
            if plain is not None:
                decoded.append(("base64", plain))
    return decoded


# Every byte to "a" but ASCII whitespace to " ": a run of n "a"s in the result is n bytes without a break.
_RUNS = bytes.maketrans(
    bytes(range(256)), bytes(0x20 if b in b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f" else 0x61 for b in range(256))
)


def long_tokens(text: str, length: int) -> list[str]:
    """The whitespace-separated tokens of `text` (as `str.split` gives them) at least `length` characters
    long, in order. Found from one translation of the UTF-8 bytes and `bytes.find`: no loop over words."""
    encoded = utf8(text)
    mask = encoded.translate(_RUNS)
    needle = b"a" * length
    found: list[str] = []
    position = mask.find(needle)
    while position != -1:
        start = mask.rfind(b" ", 0, position) + 1
        end = mask.find(b" ", position)
        end = len(mask) if end == -1 else end
        # Other Unicode whitespace is inside the chunk still: `split` finds it.
        found.extend(token for token in encoded[start:end].decode().split() if len(token) >= length)
        position = mask.find(needle, end)
    return found


def _from_morse(run: str) -> str | None:
    """A run of Morse code as text, when every code in it is a letter, digit or common punctuation mark."""
    words = []
    for word in _MORSE_WORD_GAP.split(run.strip()):
        codes = word.split()
        if not _MORSE_CODE.keys() >= set(codes):
            return None
        words.append("".join(map(_MORSE_CODE.__getitem__, codes)))
    return _readable(" ".join(words).encode())


def _b64decode(run: str) -> bytes:
    bare = run.rstrip("=")
    padded = bare + "=" * (-len(bare) % 4)
    try:
        if "-" in run or "_" in run:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _readable(raw: bytes) -> str | None:
    """`raw` as text when it is UTF-8 made mostly of letters and spaces (a hidden sentence), else None."""
    if len(raw) < 8:
        return None
    try:
        plain = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(1 for ch in plain if ch.isalpha() or ch == " ")
    if letters < 0.8 * len(plain) or " " not in plain:
        return None
    return plain
