"""Verdicts the gate has reached, kept per user: a chat client sends the whole conversation with each turn.

A request to the chat API carries every earlier message again, so a conversation of `n` turns would have
its first message scanned `n` times, and a message the first tier was unsure of given the encoder's second
look (tens of milliseconds) on every turn after it. A scan is deterministic for a given firewall, so the
verdict on the same text, read in the same place (role, chat role, unchecked categories, the operator's
instructions beside it), is kept and given again.

Entries are kept per user: a verdict served from memory is faster than a scan, and a cache shared by all
users would let one of them time whether a text (another tenant's system prompt, say) had been sent
before. Least recently used entries go first once the texts held reach `max_chars`; a text longer than
`max_text_chars` is not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from shared.firewall.engine import FirewallResult

MAX_CHARS = 4_000_000  # characters of text held in all; at most 16 MB however wide the characters
MAX_TEXT_CHARS = 65_536


class VerdictCache:
    """The verdicts on texts seen lately, by key (whose key holds the user, the text and what it was read
    with); not thread-safe: the gate uses it from its event loop only."""

    def __init__(self, max_chars: int = MAX_CHARS, max_text_chars: int = MAX_TEXT_CHARS) -> None:
        self.max_chars = max_chars
        self.max_text_chars = max_text_chars
        self._entries: OrderedDict[Hashable, tuple[FirewallResult, int]] = OrderedDict()
        self._chars = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def chars(self) -> int:
        """Characters of text the entries hold."""
        return self._chars

    def get(self, key: Hashable) -> FirewallResult | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: Hashable, verdict: FirewallResult, chars: int) -> None:
        """Keep `verdict` under `key`, whose texts are `chars` characters long (not kept when too long, or
        when the verdict is provisional: the second look was not taken)."""
        if verdict.undecided or chars > self.max_text_chars:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._chars -= old[1]
        self._entries[key] = (verdict, chars)
        self._chars += chars
        while self._chars > self.max_chars:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._chars -= dropped
