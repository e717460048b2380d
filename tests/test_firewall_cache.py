from shared.firewall import FirewallResult
from shared.firewall.cache import ENTRY_BYTES, VerdictCache, digest

ALLOW = FirewallResult(action="allow")
BLOCK = FirewallResult(action="block", categories=("injection",))


def test_a_verdict_is_given_again_for_the_same_key_only() -> None:
    cache = VerdictCache()
    cache.put(("alice", "user", digest("hello")), BLOCK)
    assert cache.get(("alice", "user", digest("hello"))) is BLOCK
    assert cache.get(("bob", "user", digest("hello"))) is None
    assert cache.get(("alice", "user", digest("hello!"))) is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_texts_are_keyed_by_a_digest_of_a_fixed_size() -> None:
    assert len(digest("x" * 100_000)) == len(digest("")) == 16
    assert digest("a\ud800b") != digest("a?b")  # a lone surrogate, as JSON can carry, is digested too


def test_the_least_recently_used_go_first_once_the_entries_fill_the_budget() -> None:
    cache = VerdictCache(max_bytes=2 * ENTRY_BYTES)
    cache.put("a", ALLOW)
    cache.put("b", ALLOW)
    assert cache.get("a") is ALLOW  # now "b" is the least recently used
    cache.put("c", BLOCK)
    assert cache.get("b") is None and cache.get("a") is ALLOW and cache.get("c") is BLOCK
    assert (len(cache), cache.bytes) == (2, 2 * ENTRY_BYTES)
    cache.put("c", ALLOW)  # replaced: counted once
    assert (len(cache), cache.bytes, cache.get("c")) == (2, 2 * ENTRY_BYTES, ALLOW)
    # A redacted text is held by its verdict, and counted: this one leaves room for nothing else.
    redacted = FirewallResult(action="redact", categories=("pii",), text="x" * (ENTRY_BYTES // 4))
    cache.put("d", redacted)
    assert (len(cache), cache.get("d")) == (1, redacted)


def test_provisional_verdicts_and_ones_larger_than_the_budget_are_not_kept() -> None:
    cache = VerdictCache(max_bytes=ENTRY_BYTES)
    cache.put("unsure", FirewallResult(action="allow", undecided=True))
    cache.put("large", FirewallResult(action="redact", categories=("pii",), text="x"))
    assert cache.get("unsure") is None and cache.get("large") is None
    assert (len(cache), cache.bytes) == (0, 0)
