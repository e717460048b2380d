"""Personal data and secrets in a prompt, each as a typed span, checked beyond its shape.

Card numbers pass Luhn and a known issuer prefix, IBANs their mod-97 check, SSNs the SSA's rules,
IP addresses the `ipaddress` parser, phone numbers `phonenumbers` (plus a nearby word such as "phone"
or "call" for the short local formats that look like any other number). Every pattern is anchored at
the edge of a run of the characters it consumes, so its cost stays linear in the prompt's length.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat

from shared.firewall.normalize import places, utf8

EMAIL = "EMAIL_ADDRESS"
PHONE = "PHONE_NUMBER"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN_CODE"
US_SSN = "US_SSN"
IP_ADDRESS = "IP_ADDRESS"
API_KEY = "API_KEY"
PRIVATE_KEY = "PRIVATE_KEY"
JWT = "JWT"
PASSWORD = "PASSWORD"  # noqa: S105 (a finding type, not a password)

# Which finding wins where two overlap: the more specific, better-validated one.
PRIORITY = (PRIVATE_KEY, JWT, API_KEY, PASSWORD, EMAIL, IBAN, CREDIT_CARD, US_SSN, IP_ADDRESS, PHONE)
PLACEHOLDERS = {
    EMAIL: "[EMAIL]",
    PHONE: "[PHONE]",
    CREDIT_CARD: "[CREDIT_CARD]",
    IBAN: "[IBAN]",
    US_SSN: "[SSN]",
    IP_ADDRESS: "[IP_ADDRESS]",
    API_KEY: "[API_KEY]",
    PRIVATE_KEY: "[PRIVATE_KEY]",
    JWT: "[JWT]",
    PASSWORD: "[PASSWORD]",
}
SECRET_TYPES = frozenset({API_KEY, PRIVATE_KEY, JWT, PASSWORD})

MAX_PHONE_CHECKS = 8  # phonenumbers parses cost ~20 µs; past this many, phone-shaped runs count as phones


@dataclass(frozen=True)
class Finding:
    """One piece of personal data or one secret: its type and where it is (`text[start:end]`)."""

    type: str
    start: int
    end: int


# An address is found from its "@": the domain is matched forwards from it, the local part backwards.
_EMAIL_DOMAIN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}(?![\w-])", re.IGNORECASE
)
_EMAIL_LOCAL = re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}$")
_CARD = re.compile(r"[0-9](?<![0-9+-].)(?:[ -]?[0-9]){11,18}(?![0-9-])")
_CARD_GROUPS = re.compile(r"\d{4}(?:([ -])\d{4}){2,3}(?:\1\d{1,4})?|\d{4}([ -])\d{6}\2\d{4,5}")
_CARD_PREFIX = re.compile(r"1800|2131|2[2-7]|3[0-8]|4|5[0-8]|6")
# Matched from its check digits, with the country code before them checked (`_iban_shapes`).
_IBAN = re.compile(
    r"[0-9][0-9](?<=[A-Za-z]{2}[0-9]{2})(?<![A-Za-z0-9][A-Za-z]{2}[0-9]{2})"
    r"(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)(?![A-Za-z0-9])"
)
_SSN = re.compile(r"([0-9]{3})(?<![0-9-][0-9]{3})([- ]?)([0-9]{2})\2([0-9]{4})(?![0-9-])")
_SSN_CONTEXT = re.compile(r"\b(?:ssn|social security|sozialversicherung)", re.IGNORECASE)
_IPV4 = re.compile(r"[0-9](?<![0-9.][0-9])[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?!\.?[0-9])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])", re.IGNORECASE)
# Cheap tests with a literal first character (a fast scan) before the full patterns run over the text.
_IPV4_HINT = re.compile(r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]")
_IPV6_HINT = re.compile(r":[0-9a-f]{0,4}:(?:[0-9a-f]{0,4}:|[0-9a-f]{0,4}(?![\w:]))", re.IGNORECASE)
_PHONE = re.compile(
    r"[+(0-9](?<![\w+.-][+(0-9])(?:(?<=\+)|(?<=\()[0-9]|(?<=[0-9]))[0-9 \t().\-/]{5,22}[0-9]"
    r"(?:[ \t]?(?:x|ext\.?|#)[ \t]?[0-9]{1,5})?(?![\w-]*[0-9])",
    re.IGNORECASE,
)
# Words that make a short, local-format number a phone number: before it, or (office, fax) right after it.
# The words before are looked for in the lower-cased context (32 characters): a case-sensitive pattern runs
# two to three times faster than the same one with IGNORECASE.
_PHONE_BEFORE = re.compile(
    # "call", but not the "call reference", "call ID" or "call log" of a ticket or a switchboard's log.
    r"phone|\btel\b|mobile|cell|fax|call(?!\s*(?:reference|ref\b|id\b|log|ticket|sign|duration|record))|dial|"
    r"\bring|reach|contact|answering|whatsapp|\bsms|text me|messages|"
    r"registered|hotline|landline|telefon|handy|rufnummer|anruf|(?:office|desk|home|work)\s*:|"
    r"(?:office|direct|main|support|service|phone)\s+line\b|"
    # "her number: ...", "my number is ...", right before the number ("her number of items" is not).
    r"\b(?:my|his|her|our|their|your|meine|seine|ihre|unsere|deine)\s+(?:number|nummer)(?:\s+is|\s+ist)?\W*$"
)
# What each of the two patterns needs as a substring (lower case): a cheap test before the pattern runs.
_PHONE_STEMS = (
    "phone", "tel", "mobile", "cell", "fax", "call", "dial", "ring", "reach", "contact", "answering",
    "whatsapp", "sms", "text me", "messages", "registered", "hotline", "landline", "handy", "rufnummer",
    "anruf", "office", "desk", "home", "work", "number", "nummer", "line",
)  # fmt: skip
_NOT_PHONE_STEMS = (
    "licen", "passport", "account", "order", "invoice", "id", "postal", "zip", "located", "address", "konto",
    "ausweis",
)  # fmt: skip
# Whether a context holds any of the stems: one search of their alternation (which `re` tries as literals),
# about half the time of a `str.find` per stem on the 32 characters before a number.
_PHONE_STEM = re.compile("|".join(map(re.escape, _PHONE_STEMS)))
_NOT_PHONE_STEM = re.compile("|".join(map(re.escape, _NOT_PHONE_STEMS)))
_PHONE_AFTER = re.compile(r"\W{0,3}(?:office|fax|mobile|cell|home|work|desk|tel|phone)\b", re.IGNORECASE)
# Words that make it something else: an ID, an account, or the number of a building in an address.
_NOT_PHONE_BEFORE = re.compile(
    r"licen[cs]e|passport|account|order|invoice|\bid\b|postal|\bzip|located|address|konto|ausweis"
)
# Possessive runs (`++`): a run of spaces is always followed by a non-space and the reverse, so giving
# characters back could never match, and trying it costs a search per character of a long word.
_STREET_AFTER = re.compile(
    r"\s++\S++(?:\s++\S++)?\s++(?:st|street|rd|road|ave|avenue|rue|lane|ln|blvd|way|drive|dr|stra(?:ß|ss)e|gasse|"
    r"platz)\b",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"[ \t]?(?:x|ext\.?|#)[ \t]?[0-9]{1,5}$", re.IGNORECASE)
_NANP = re.compile(r"(?:\+?1[ .-]?|001[ .-])?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}$")
_PHONE_REGIONS = ("DE", "US", "GB", "FR", "AU", "IN")  # the most permissive numbering plan first
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY = re.compile(r"[A-Za-z0-9+/=\s]{0,16384}")
MAX_KEY_CHARS = 16384  # the longest key block looked for; a block without its END line runs to its body's end
_JWT = re.compile(r"eyJ(?<![\w-]eyJ)[\w-]{8,4096}\.eyJ[\w-]{8,8192}\.[\w-]{8,1024}(?![\w-])")
# Vendor key formats, each a pattern that starts with its literal prefix (a fast scan), kept with the word
# the prefix makes among the prompt's words and a case-sensitive piece of it to look for otherwise.
_API_KEY_FORMATS = (
    ("sk", "sk-", r"(?:proj-|ant-|live-)?[A-Za-z0-9_-]{20,200}"),
    ("sk", "sk_live_", r"[A-Za-z0-9]{16,200}"),
    ("sk", "sk_test_", r"[A-Za-z0-9]{16,200}"),
    ("pk", "pk_live_", r"[A-Za-z0-9]{16,200}"),
    ("rk", "rk_live_", r"[A-Za-z0-9]{16,200}"),
    ("", "AKIA", r"[0-9A-Z]{16}"),
    ("", "ASIA", r"[0-9A-Z]{16}"),
    ("ghp", "ghp_", r"[A-Za-z0-9]{36,255}"),
    ("gho", "gho_", r"[A-Za-z0-9]{36,255}"),
    ("ghs", "ghs_", r"[A-Za-z0-9]{36,255}"),
    ("ghu", "ghu_", r"[A-Za-z0-9]{36,255}"),
    ("ghr", "ghr_", r"[A-Za-z0-9]{36,255}"),
    ("github", "github_pat_", r"[A-Za-z0-9_]{22,255}"),
    ("xoxb", "xoxb-", r"[A-Za-z0-9-]{10,200}"),
    ("xoxp", "xoxp-", r"[A-Za-z0-9-]{10,200}"),
    ("xoxa", "xoxa-", r"[A-Za-z0-9-]{10,200}"),
    ("xoxr", "xoxr-", r"[A-Za-z0-9-]{10,200}"),
    ("xoxs", "xoxs-", r"[A-Za-z0-9-]{10,200}"),
    ("xapp", "xapp-", r"[A-Za-z0-9-]{10,200}"),
    ("whsec", "whsec_", r"[A-Za-z0-9+/]{24,200}={0,2}"),
    ("rk", "rk_test_", r"[A-Za-z0-9]{16,200}"),
    ("shpat", "shpat_", r"[A-Fa-f0-9]{32}"),
    ("shpca", "shpca_", r"[A-Fa-f0-9]{32}"),
    ("shppa", "shppa_", r"[A-Fa-f0-9]{32}"),
    ("shpss", "shpss_", r"[A-Fa-f0-9]{32}"),
    ("dop", "dop_v1_", r"[a-f0-9]{64}"),
    ("doo", "doo_v1_", r"[a-f0-9]{64}"),
    ("dor", "dor_v1_", r"[a-f0-9]{64}"),
    ("pypi", "pypi-AgEIcHlwaS5vcmc", r"[A-Za-z0-9_-]{50,1000}"),  # a macaroon for "pypi.org"
    ("ya29", "ya29.", r"[0-9A-Za-z_-]{30,2048}"),  # a Google OAuth access token
    ("key", "key-", r"[0-9a-f]{32}"),  # Mailgun
    ("age", "AGE-SECRET-KEY-1", r"[0-9A-Z]{58}"),
    ("", "AIza", r"[0-9A-Za-z_-]{35}"),
    ("glpat", "glpat-", r"[A-Za-z0-9_-]{20,64}"),
    ("hf", "hf_", r"[A-Za-z0-9]{30,64}"),
    ("npm", "npm_", r"[A-Za-z0-9]{36}"),
    # Other model providers' keys, which an inference gateway's users hold (OpenAI's, Anthropic's and
    # OpenRouter's are "sk-" keys, above).
    ("gsk", "gsk_", r"[A-Za-z0-9]{48,64}"),
    ("r8", "r8_", r"[A-Za-z0-9]{37}"),
    ("xai", "xai-", r"[A-Za-z0-9]{70,90}"),
    ("pplx", "pplx-", r"[A-Za-z0-9]{40,64}"),
    ("sg", "SG.", r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
)
_API_KEYS = [
    ((word, prefix), re.compile(re.escape(prefix) + rf"(?<![\w-]{re.escape(prefix)}){body}(?![\w-])"))
    for word, prefix, body in _API_KEY_FORMATS
]
_SECRET_NAMES = (
    "password", "passwd", "pwd", "passwort", "kennwort", "api_key", "api-key", "apikey", "secret_key",
    "secret-key", "secretkey", "client_secret", "access_token", "auth_token",
)  # fmt: skip
# The same names as the prompt's words have them: one word ("api_key" written "apiKey" is one too), or
# the two words a name joins with "_" or "-" (which split words). A prompt with none of them is not
# searched for assigned secrets.
_SECRET_NAME_WORDS = frozenset(name.replace("_", "").replace("-", "") for name in _SECRET_NAMES)
_SECRET_NAME_PAIRS = frozenset(
    (first, second)
    for first, second in (re.split("[_-]", name) for name in _SECRET_NAMES if not name.isalpha())
)
# `password = "..."`, `api_key: ...`: the value after a name that says it is a secret.
_ASSIGNED_SECRET = re.compile(
    r"(?<![\w-])(?<![^\s!-/:-@\[-`{-~])"  # after whitespace or punctuation, where the prompt's words split
    r"(?:api[_-]?key|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|passw(?:or)?d|"
    r"pwd|passwort|kennwort)[\"']?[ \t]{0,4}(?:[:=]|is|ist)[ \t]{0,4}[\"']?([^\s\"',;]{6,200})",
    re.IGNORECASE,
)
# Credentials named more loosely ("SECRET=", "BOT_TOKEN: ", "aws_secret_access_key = ", Azure's
# "AccountKey=", "Authorization: Bearer ..."): matched where the name's stem stands, and taken only when the
# value is long and mixes letters and digits, as keys do ("token: expired" or "Bearer YOUR_KEY" are not).
# A stem starts a word (after whitespace, ASCII punctuation or "_"), as it does among the prompt's words,
# which are looked at first.
_NAMED_STEMS = ("secret", "token", "accountkey", "bearer")
_NAMED_CREDENTIAL = re.compile(
    r"(?<![^\s!-/:-@\[-`{-~])"
    r"(?:(?:secret(?:[_-]?access[_-]?key)?|token|accountkey)[\"']?[ \t]{0,4}[:=]|bearer[ \t])[ \t]{0,4}[\"']?"
    r"([A-Za-z0-9._~+/-]{15,4095}[A-Za-z0-9](?:={1,2})?)(?![\w~+/=-]|\.\w)",
    re.IGNORECASE,
)
# Values that stand for a key in examples and templates: "replace-with-32-random-bytes", "<your-token>".
_PLACEHOLDER = re.compile(
    r"your|replace|change|example|here|placeholder|insert|dummy|sample|redacted|xxxx", re.IGNORECASE
)
_NAMED_STEM = re.compile("|".join(_NAMED_STEMS), re.IGNORECASE)
_LETTER_AND_DIGIT = re.compile(r"[0-9].*[A-Za-z]|[A-Za-z].*[0-9]", re.DOTALL)
_URL_PASSWORD = re.compile(
    r"(?<![\w+.-])[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,128}:([^\s@/]{1,256})@", re.IGNORECASE
)


def find_pii(
    text: str, words: Collection[str] | None = None, prose: Collection[str] = frozenset()
) -> list[Finding]:
    """Every finding in `text`, ordered by position, overlaps resolved in favour of `PRIORITY`.

    `words`, the distinct lower-case words of the text when the caller has them, let the secret patterns
    whose names are absent be skipped. `prose`, the words of ordinary prose: one of them after a secret's
    name ("the password is incorrect") is not the secret.
    """
    found = [*_secrets(text, words, prose), *_emails(text)]
    encoded = utf8(text)
    digits = len(encoded) - len(encoded.translate(None, b"0123456789"))  # deleting them counts them, in C
    if digits >= 4:
        classes = character_classes(encoded)
        runs = number_runs(text, classes)
        found.extend(_ips(text, runs))
        if digits >= 7:
            ibans = _ibans(text, classes) if _MAY_HOLD_IBAN in classes else ()
            found.extend([*ibans, *_cards(text, runs), *_ssns(text, runs), *_telegram_tokens(text, runs)])
            taken = sorted((f.start, f.end) for f in found)
            found.extend(_phones(text, number_windows(runs, len(text)), taken))
    return _without_overlaps(found)


# A run of digits and the separators numbers are written with (`[0-9][0-9 \t().\-/]{6,}`), seven characters
# or more: the shortest card, SSN, phone number or IPv4 address. Number patterns run only inside or around
# such runs. Looked for in a text's `character_classes`, where the pattern starts with a literal, which the
# search skips to in C; over the text itself, a character class would be tried at each character.
_CLASS_RUN = re.compile(rb"0[0s]{6,}")
# A byte per character of a text: "0" for a digit, "a" for an ASCII letter, "s" for a separator numbers
# are written with, "." for anything else, and nothing for the continuation bytes of UTF-8, so that the
# classes of a text's characters stand at the characters' own places.
_CLASSES = bytes.maketrans(
    bytes(range(256)),
    bytes(
        0x30 if chr(b).isdigit() else 0x61 if chr(b).isalpha() else 0x73 if chr(b) in " \t().-/" else 0x2E
        for b in range(128)
    )
    + b"." * 128,
)
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
_MAY_HOLD_IBAN = b"aa00"  # the country code and the check digits: text without them holds no IBAN
NUMBER_MARGIN = 64  # characters either side of a run that a phone number's pattern may read (an extension)


def character_classes(encoded: bytes) -> bytes:
    """The class of each character of the text whose UTF-8 bytes are `encoded` (`_CLASSES`), in C."""
    return encoded.translate(_CLASSES, _CONTINUATION_BYTES)


def number_runs(text: str, classes: bytes | None = None) -> list[tuple[int, int]]:
    """The spans of `text`'s runs of digits and separators (`classes`: its `character_classes`, when the
    caller has them). A card, SSN or IPv4 address is made of those characters only, so each lies inside
    one run, and the character after a run can end none of them: their patterns find the same inside the
    runs as over the whole text."""
    if classes is None:
        classes = character_classes(text.encode())
    return [run.span() for run in _CLASS_RUN.finditer(classes)]


def number_windows(runs: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Stretches (start, end) around `runs` of a text of `length` characters, merged where they come
    within `NUMBER_MARGIN` of each other: every phone number, with its extension, lies inside one."""
    windows: list[tuple[int, int]] = []
    for run_start, run_end in runs:
        start, end = max(0, run_start - 2), min(length, run_end + NUMBER_MARGIN)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _in_windows(
    pattern: re.Pattern[str], text: str, windows: list[tuple[int, int]]
) -> Iterator[re.Match[str]]:
    """`pattern.finditer` over `text`, run only inside `windows` (lookbehinds still see before them)."""
    for start, end in windows:
        yield from pattern.finditer(text, start, end)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """Keep, of findings that overlap, the one of higher `PRIORITY` (then the earlier); n log n."""
    rank = {name: i for i, name in enumerate(PRIORITY)}
    starts: list[int] = []  # kept spans, sorted and disjoint
    ends: list[int] = []
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (rank[f.type], f.start)):
        i = bisect.bisect_right(starts, finding.start)
        if i and ends[i - 1] > finding.start:
            continue  # overlaps the kept span that starts before it
        if i < len(starts) and starts[i] < finding.end:
            continue  # overlaps the kept span that starts after it
        starts.insert(i, finding.start)
        ends.insert(i, finding.end)
        kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def redact(text: str, findings: list[Finding]) -> str:
    """`text` with each finding replaced by its placeholder (`[EMAIL]`, `[PHONE]`, ...)."""
    parts: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        parts.append(text[position : finding.start])
        parts.append(PLACEHOLDERS[finding.type])
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def luhn_valid(digits: str) -> bool:
    """Whether the digit string passes the Luhn checksum used by payment cards."""
    # From the right, every second digit is doubled (its digit sum: 0 2 4 6 8 1 3 5 7 9); the digits are
    # summed as bytes, in C.
    backwards = digits[::-1]
    kept, doubled = backwards[0::2].encode(), backwards[1::2].translate(_LUHN_DOUBLED).encode()
    return (sum(kept) + sum(doubled) - 48 * len(digits)) % 10 == 0


_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")


def iban_valid(candidate: str) -> bool:
    """Whether `candidate` (spaces allowed, any case) is an IBAN with a correct mod-97 check."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    if not compact.isalnum() or not compact.isascii():
        return False
    # Country code and check digits moved to the end, each letter as its number (A = 10 ... Z = 35).
    return int((compact[4:] + compact[:4]).translate(_IBAN_LETTERS)) % 97 == 1


_IBAN_LETTERS = {ord(letter): str(10 + i) for i, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """Whether the three parts form an SSN the SSA could issue (no 000, 666 or 9xx area, no zero group)."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _secrets(
    text: str, words: Collection[str] | None, prose: Collection[str] = frozenset()
) -> Iterator[Finding]:
    position = 0
    while (begin := _PRIVATE_KEY.search(text, position)) is not None:
        end = _PRIVATE_KEY_END.search(text, begin.end(), begin.end() + MAX_KEY_CHARS)
        if end is not None:
            stop = end.end()
        else:
            body = _KEY_BODY.match(text, begin.end())
            stop = body.end() if body is not None else begin.end()
        yield Finding(PRIVATE_KEY, begin.start(), stop)
        position = stop
    for match in _JWT.finditer(text):
        yield Finding(JWT, match.start(), match.end())
    for prefix, pattern in _API_KEYS:
        word, literal = prefix
        if (word not in words) if (word and words is not None) else (literal not in text):
            continue
        for match in pattern.finditer(text):
            yield Finding(API_KEY, match.start(), match.end())
    if "://" in text:
        # Each "://" is looked at with the scheme before it, rather than the pattern tried everywhere. The
        # user name and the password hold no "/", so a match's "://" ends its scheme, and the scheme starts
        # where the run of characters before it does (the pattern's look-behind): matched there, once.
        reached = 0
        at = text.find("://")
        while at != -1:
            scheme = _SCHEME_RUN.search(text, max(reached, at - URL_SCHEME_CHARS), at)
            url = _URL_PASSWORD.match(text, scheme.start()) if scheme is not None else None
            if url is not None and _credible(url.group(1), prose):
                yield Finding(PASSWORD, url.start(1), url.end(1))
                reached = url.end()
            at = text.find("://", max(at + 3, reached))
    named = words is None or (
        not _SECRET_NAME_WORDS.isdisjoint(words)
        or any(first in words and second in words for first, second in _SECRET_NAME_PAIRS)
    )
    lower = None
    if named:
        lower = text.lower()
        if any(name in lower for name in _SECRET_NAMES):
            yield from _assigned_secrets(text, lower, prose)
    if words is None or any(stem in words for stem in _NAMED_STEMS):
        yield from _named_credentials(text, text.lower() if lower is None else lower, prose)


URL_SCHEME_CHARS = 22  # the longest scheme the pattern takes, and its "://"
# The run of characters that ends where a "://" starts: a scheme is made of them, and the pattern's
# look-behind allows none of them before a scheme, so a scheme that ends there starts where the run does.
_SCHEME_RUN = re.compile(r"[\w+.-]+\Z")
# Where a secret's name can start: the first letters of every name the pattern knows.
_SECRET_STEMS = ("api", "secret", "client", "access", "auth", "passw", "pwd", "kennwort")


def _assigned_secrets(text: str, lower: str, prose: Collection[str]) -> Iterator[Finding]:
    if len(lower) != len(text):  # lower case changed the length (rare letters): no shared offsets
        for match in _ASSIGNED_SECRET.finditer(text):
            if (found := _assigned(match, prose)) is not None:
                yield found
        return
    starts = _stem_places(lower, _SECRET_STEMS)
    end = 0
    for at in starts:
        if at < end:
            continue
        assigned = _ASSIGNED_SECRET.match(text, at)
        if assigned is not None:
            end = assigned.end()
            if (found := _assigned(assigned, prose)) is not None:
                yield found


def _stem_places(lower: str, stems: tuple[str, ...]) -> list[int]:
    """Where any of `stems` starts in `lower`, in order: where a secret's name may start."""
    return sorted({at for stem in stems for at in places(lower, stem)})


def _assigned(match: re.Match[str], prose: Collection[str]) -> Finding | None:
    """The value of an assignment to a secret's name, without a full stop that ends the sentence; None
    when it is no secret (`_credible`)."""
    start, end = match.span(1)
    value = match.group(1)
    if value.endswith(".") and len(value) > 1:
        value, end = value[:-1], end - 1
    return Finding(PASSWORD, start, end) if _credible(value, prose) else None


# Values after a secret's name that are no secret: a reference to one (`$DB_PASSWORD`, `${pw}`, `%PWD%`,
# `{password}`, `<password>`, `os.environ["PW"]`, `DB_PASSWORD`), a mask (`****`), or a stand-in.
_REFERENCE_START = tuple("$%{<")
_CODE = re.compile(r"[()\[\]{}]")
_MASK = re.compile(r"[*•#]+")
_CONSTANT = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_STAND_INS = frozenset(
    {"pass", "password", "passwd", "pwd", "secret", "none", "null", "nil", "true", "false", "undefined"}
)


def _credible(value: str, prose: Collection[str]) -> bool:
    """Whether `value`, written after a secret's name, may be the secret: not a reference, code or a stand-in,
    and not a word of ordinary prose ("the password is incorrect", "password: required")."""
    return not (
        value.startswith(_REFERENCE_START)
        or _CODE.search(value)
        or _CONSTANT.fullmatch(value)
        or _MASK.fullmatch(value)
        or _PLACEHOLDER.search(value)
        or value.lower() in _STAND_INS
        or (value.isalpha() and value.islower() and value in prose)
    )


# A Telegram bot's token: the bot's number, a colon, and 35 characters that start "AA". The number is a run
# of digits (`number_runs`): a token is looked for only where a run ends in ":AA".
_TELEGRAM_SECRET = re.compile(r":AA[A-Za-z0-9_-]{33}(?![\w-])")
_TELEGRAM_BOT = re.compile(r"(?:(?<=bot)|(?<![\w:-]))[0-9]{8,10}\Z")  # "bot" before it in the API's URLs


def _telegram_tokens(text: str, runs: list[tuple[int, int]]) -> Iterator[Finding]:
    for _, end in runs:
        if text.startswith(":AA", end):
            secret = _TELEGRAM_SECRET.match(text, end)
            bot = _TELEGRAM_BOT.search(text, max(0, end - 11), end) if secret is not None else None
            if secret is not None and bot is not None:
                yield Finding(API_KEY, bot.start(), secret.end())


def _named_credentials(text: str, lower: str, prose: Collection[str]) -> Iterator[Finding]:
    if len(lower) == len(text):
        starts = _stem_places(lower, _NAMED_STEMS)
    else:  # lower case changed the length (rare letters): no shared offsets
        starts = [match.start() for match in _NAMED_STEM.finditer(text)]
    end = 0
    for at in starts:
        if at < end:
            continue
        named = _NAMED_CREDENTIAL.match(text, at)
        if named is None:
            continue
        value = named.group(1)
        if _LETTER_AND_DIGIT.search(value) and _credible(value, prose):
            kind = API_KEY if named.group(0)[:6].lower() == "bearer" else PASSWORD
            yield Finding(kind, named.start(1), named.end(1))
            end = named.end()


def _emails(text: str) -> Iterator[Finding]:
    # Each "@" is looked at with the text around it, rather than a pattern tried at every position.
    at = text.find("@")
    end = 0
    while at != -1:
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if domain is not None:
            local = _EMAIL_LOCAL.search(text, max(end, at - 64), at)
            if local is not None:
                yield Finding(EMAIL, local.start(), domain.end())
                end = domain.end()
        at = text.find("@", max(at + 1, end))


def _ibans(text: str, classes: bytes) -> Iterator[Finding]:
    for match in _iban_shapes(text, classes):
        start, end = match.start() - 2, match.end()  # the country code before the check digits
        if not iban_valid(text[start:end]):
            # Written in groups of four, the last group may be a short word after the IBAN ("... at").
            end = text.rfind(" ", start, end)
            if end <= start or not iban_valid(text[start:end]):
                continue
        yield Finding(IBAN, start, end)


def _iban_shapes(text: str, classes: bytes) -> Iterator[re.Match[str]]:
    """`_IBAN.finditer(text)`, tried only where `classes` (the text's `character_classes`) has two letters
    then two digits: every match's check digits stand there, and `bytes.find` reaches them in C."""
    end = 0
    for at in places(classes, _MAY_HOLD_IBAN):
        if at + 2 >= end:
            match = _IBAN.match(text, at + 2)
            if match is not None:
                yield match
                end = match.end()


def _cards(text: str, runs: list[tuple[int, int]]) -> Iterator[Finding]:
    for match in _in_windows(_CARD, text, runs):
        if text[match.start() - 1 : match.start()].isalpha():
            continue  # glued to letters: the digits of a code such as "ACCT30279227800368", not a card
        run = match.group(0)
        digits = run.replace(" ", "").replace("-", "")
        grouped = len(digits) == len(run) or _CARD_GROUPS.fullmatch(run) is not None
        if grouped and 12 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
            yield Finding(CREDIT_CARD, match.start(), match.end())


def _ssns(text: str, runs: list[tuple[int, int]]) -> Iterator[Finding]:
    for match in _in_windows(_SSN, text, runs):
        area, separator, group, serial = match.groups()
        if not ssn_valid(area, group, serial):
            continue
        # Nine bare digits are an SSN only when the text says so; with dashes the shape is telling enough.
        if separator or _SSN_CONTEXT.search(text, max(0, match.start() - 40), match.start()):
            yield Finding(US_SSN, match.start(), match.end())


def _ips(text: str, runs: list[tuple[int, int]]) -> Iterator[Finding]:
    if _IPV4_HINT.search(text):
        for match in _in_windows(_IPV4, text, runs):
            try:
                ipaddress.IPv4Address(match.group(0))
            except ValueError:
                continue
            yield Finding(IP_ADDRESS, match.start(), match.end())
    if ("::" in text or text.count(":") >= 7) and _IPV6_HINT.search(text):
        for match in _ipv6_candidates(text):
            try:
                ipaddress.IPv6Address(match.group(0))
            except ValueError:
                continue
            yield Finding(IP_ADDRESS, match.start(), match.end())


def _ipv6_candidates(text: str) -> Iterator[re.Match[str]]:
    # An address is at most 39 characters: looked for around each place the hint finds, not everywhere.
    # It holds "::" or seven colons, so a hint without them within reach (the time in "at 12:30:45") has
    # no address around it and is passed over.
    end = 0
    for hint in _IPV6_HINT.finditer(text):
        at = hint.start()
        if at < end:
            continue
        start, stop = max(0, at - IPV6_MAX_CHARS), at + IPV6_MAX_CHARS + 2
        if text.count(":", start, stop) < 7 and text.find("::", start, stop) == -1:
            continue
        for match in _IPV6.finditer(text, max(end, start), stop):
            if match.start() <= at < match.end():
                yield match
                end = match.end()
                break


IPV6_MAX_CHARS = 39


def _phones(text: str, windows: list[tuple[int, int]], taken: list[tuple[int, int]]) -> Iterator[Finding]:
    # A phone-shaped run that holds a finding of another type (`taken`, sorted spans; every other type
    # ranks above phone numbers) would lose to it, or to what that finding loses to: it is not checked.
    checks = 0
    for match in _in_windows(_PHONE, text, windows):
        start, end = match.span()
        i = bisect.bisect_left(taken, (start,))
        if i < len(taken) and taken[i][1] <= end:
            continue
        run = match.group(0)  # ASCII: digits, separators, an extension
        extension = _EXTENSION.search(run) if "x" in run or "X" in run or "#" in run else None
        number = run[: extension.start()] if extension else run
        digits = len(number) - len(number.encode().translate(None, b"0123456789"))
        if not 7 <= digits <= 16 or _DATE.match(run):
            continue
        # The shape of an SSN, valid or not, is not a phone number's; nine bare digits have it only where
        # the text says "SSN" before them, as for `_ssns`.
        if _SSN.fullmatch(run) and (
            not run.isdigit() or _SSN_CONTEXT.search(text, max(0, start - 40), start) is not None
        ):
            continue
        international = run.startswith("+") or (run.startswith("00") and run[2:3] not in ("0", ".", ""))
        context = text[max(0, start - 32) : start].lower()
        if (_NOT_PHONE_STEM.search(context) and _NOT_PHONE_BEFORE.search(context)) or _STREET_AFTER.match(
            text, end
        ):
            continue
        if not (
            international
            or _NANP.fullmatch(number.rstrip()) is not None
            or (_PHONE_STEM.search(context) and _PHONE_BEFORE.search(context) is not None)
            or _PHONE_AFTER.match(text, end) is not None
        ):
            continue
        checks += 1
        if checks > MAX_PHONE_CHECKS or _possible_phone(run, international):
            yield Finding(PHONE, start, end)


@functools.cache
def warm_up() -> None:
    """Load every numbering plan and compile its patterns now, once per process, rather than on the first
    prompt that holds a number of that country: a first sight costs up to 0.6 ms, later ones ~15 µs.

    `phonenumbers` compiles its patterns through the `re` module's cache, which holds 512 and is shared
    with the rest of the process; its own cache keeps them (about 2 MB for every region).
    """
    phonenumbers.enable_pattern_cache()
    PhoneMetadata.load_all()
    examples: list[tuple[str | None, PhoneNumber | None]] = [
        (region, phonenumbers.example_number(region)) for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    ]
    examples += [
        (None, phonenumbers.example_number_for_non_geo_entity(code))
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    for region, example in examples:
        if example is None:
            continue
        for style, read_in in ((PhoneNumberFormat.INTERNATIONAL, None), (PhoneNumberFormat.NATIONAL, region)):
            try:
                phonenumbers.is_possible_number(
                    phonenumbers.parse(phonenumbers.format_number(example, style), read_in)
                )
            except phonenumbers.NumberParseException:
                continue  # a national format that needs its region: non-geographic numbers have none
    for region in _PHONE_REGIONS:  # the regions local numbers are read in, with a number of each shape
        phonenumbers.is_possible_number(phonenumbers.parse("030 1234567", region))


# German numbering allows national numbers of 4 to 15 digits: a national-format run of 7 to 15 digits is a
# possible number there (the first region tried) unless its digits start with "00", which `phonenumbers`
# reads as an international prefix, or a tab makes it unparsable. Checked against `phonenumbers` over
# random runs; parsing is what costs, so such runs skip it.
_PARSE_FREE_MAX_DIGITS = 15


def _possible_phone(run: str, international: bool) -> bool:
    if not international and "\t" not in run:
        digits = "".join(filter(str.isdigit, run))
        if len(digits) <= _PARSE_FREE_MAX_DIGITS and not digits.startswith("00"):
            return True
    regions: tuple[str | None, ...] = (None,) if international and run.startswith("+") else _PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(run, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return True
    return False
