"""Verdicts the gate has reached, kept per user: a chat client sends the whole conversation with each turn.

A request to the chat API carries every earlier message again, so a conversation of `n` turns would have
its first message scanned `n` times, and a message the first tier was unsure of given the encoder's second
look (tens of milliseconds) on every turn after it. A scan is deterministic for a given firewall, so the
verdict on the same text, read in the same place (role, chat role, unchecked categories, the operator's
instructions beside it), is kept and given again.

Entries are kept per user: a verdict served from memory is faster than a scan, and a cache shared by all
users would let one of them time whether a text (another tenant's system prompt, say) had been sent
before. The texts are kept as digests (BLAKE2b, 128 bits), so an entry's size does not grow with its
text's; the least recently used entries go first once they fill `max_bytes`.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Hashable

from shared.firewall.engine import FirewallResult

MAX_BYTES = 2 << 20  # about 2,000 verdicts
ENTRY_BYTES = 1024  # what an entry holds besides a redacted text: its key of digests, the verdict's fields


def digest(text: str) -> bytes:
    """A text's key: 16 bytes, whatever its length (lone surrogates, which JSON can carry, included)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


# The operator's instructions are the same string for every message of a request: digested once.
operator_digest = functools.lru_cache(maxsize=16)(digest)


class VerdictCache:
    """The verdicts on texts seen lately, by key (the user, the digests of the texts and what they were read
    with); not thread-safe: the gate uses it from its event loop only."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[FirewallResult, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """About how much memory the entries hold."""
        return self._bytes

    def get(self, key: Hashable) -> FirewallResult | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def put(self, key: Hashable, verdict: FirewallResult) -> None:
        """Keep `verdict` under `key` (not when it is provisional: the second look was not taken)."""
        if verdict.undecided:
            return
        size = ENTRY_BYTES + 4 * len(verdict.text or "")  # a redacted text, at four bytes a character at most
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        self._entries[key] = (verdict, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped
