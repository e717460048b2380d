"""Rule-based detection of instruction overrides, role-play jailbreaks and prompt extraction."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["allow", "block", "redact"]

# Zero-width and bidirectional control characters are stripped before matching: they are invisible to a
# reader and exist in attacks only to split trigger words.
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_SPACES = re.compile(r"\s+")

_INJECTION_PATTERNS = [
    # Overrides of earlier instructions, in English and German.
    r"\b(ignore|disregard|forget|skip|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|preceding|"
    r"all|any|your|the|system)\b.{0,30}\b(instructions?|prompts?|rules|directions|guidelines|tasks?|context)",
    r"\b(ignorier\w*|vergiss|vergessen)\b.{0,60}\b(anweisung\w*|instruktion\w*|vorgaben|regeln|aufgabe\w*|"
    r"befehl\w*)",
    # Requests for the hidden prompt.
    r"\b(reveal|show|print|repeat|output|display|tell me|leak)\b.{0,40}\b(system|initial|hidden|secret|"
    r"original)\s+(prompt|instructions?|message)",
    r"\b(zeig\w*|gib)\b.{0,40}\b(system-?prompt|prompt-?texte?|anweisungen)\b",
    # Role-play framings that switch the model's rules off.
    r"\b(developer|god|jailbreak|dan|unrestricted|unfiltered)\s+mode\b",
    r"\bdo anything now\b",
    r"\b(you are|act as|pretend to be|you're)\b.{0,40}\b(no|without)\s+(restrictions|filters|rules|"
    r"limitations|guidelines|ethics)",
    r"\bnew (instructions?|rules|task)\s*:",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE | re.DOTALL)


def normalize(text: str) -> str:
    """NFKC-fold `text`, drop invisible characters and collapse whitespace."""
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return _SPACES.sub(" ", folded)


@dataclass(frozen=True)
class FirewallResult:
    """What the firewall decided about one prompt."""

    action: Action
    categories: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    text: str | None = None  # the redacted prompt, when action is "redact"


class Firewall:
    """Scans prompts; one instance is shared by every request of a process."""

    def scan(self, text: str, *, role: str = "user") -> FirewallResult:
        """The verdict on `text` for a user of `role` (policies may differ per role)."""
        normalized = normalize(text)
        injection = 1.0 if _INJECTION.search(normalized) else 0.0
        scores = {"injection": injection}
        if injection >= 0.5:
            return FirewallResult(action="block", categories=("injection",), scores=scores)
        return FirewallResult(action="allow", scores=scores)
