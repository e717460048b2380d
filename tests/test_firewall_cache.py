from shared.firewall import FirewallResult
from shared.firewall.cache import VerdictCache

ALLOW = FirewallResult(action="allow")
BLOCK = FirewallResult(action="block", categories=("injection",))


def test_a_verdict_is_given_again_for_the_same_key_only() -> None:
    cache = VerdictCache()
    cache.put(("alice", "user", "hello"), BLOCK, 5)
    assert cache.get(("alice", "user", "hello")) is BLOCK
    assert cache.get(("bob", "user", "hello")) is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_the_least_recently_used_go_first_once_the_texts_fill_the_budget() -> None:
    cache = VerdictCache(max_chars=10)
    cache.put("a", ALLOW, 4)
    cache.put("b", ALLOW, 4)
    assert cache.get("a") is ALLOW  # now "b" is the least recently used
    cache.put("c", BLOCK, 4)
    assert cache.get("b") is None and cache.get("a") is ALLOW and cache.get("c") is BLOCK
    assert (len(cache), cache.chars) == (2, 8)
    cache.put("c", ALLOW, 2)  # replaced: its characters counted once
    assert (len(cache), cache.chars, cache.get("c")) == (2, 6, ALLOW)


def test_long_texts_and_provisional_verdicts_are_not_kept() -> None:
    cache = VerdictCache(max_chars=100, max_text_chars=10)
    cache.put("long", ALLOW, 11)
    cache.put("unsure", FirewallResult(action="allow", undecided=True), 3)
    assert cache.get("long") is None and cache.get("unsure") is None
    assert (len(cache), cache.chars) == (0, 0)
