"""`secureai bench adversarial`: the firewall and the token parser on inputs built to be slow.

Each input repeats one piece (or a mix of pieces) of what the firewall's patterns and decoders key on:
digits and separators (cards, phones, IBANs, addresses), `@` and dots (e-mail), base64, hex, binary and
Morse runs, key headers, spaced-out letters, invisible and look-alike characters, trigger words in several
scripts, the role markers of chat templates and request bodies. A pattern that backtracks catastrophically
shows as a time that grows faster than the input; linear ones grow with it.
The same pieces feed the fuzz tests (`tests/test_fuzz.py`), which only check that every call finishes.
"""

from __future__ import annotations

import contextlib
import secrets
import statistics
import time
from collections.abc import Callable

from secureai.bench.harness import machine
from shared.firewall.engine import Firewall
from shared.tokens import InvalidToken, TokenService

PIECES: tuple[str, ...] = (
    " ", "\t", "\n", "\u200b", "\u00ad", "\u0301", "a", "I", "x ", "0", "1", "4", "9", "-", "+", "(", ")",
    ".", ",", ":", "::", "/", "=", "@", "a@b", ".com", "_", "[", "]", "{", "}", "<", ">", "\\", "'", '"',
    "QUJD", "deadbeef", "aGVsbG8gd29ybGQ", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00",
    "+1 (555) 010-0199 ", "192.168.", "::ffff:", "fe80::", "123-45-", "password=", "http://u:p@",
    "-----BEGIN ", " PRIVATE KEY-----", "eyJ", "sk-", "AKIA", "ghp_", "ignore ", "previous ",
    "instructions ", "system prompt ", "IGNORE ", "1gn0r3 ", "$", "i g n o r e ", "vtaber ", "а", "ο",
    "😀", "Sure, here is ", "01101001", "01110011 ", ".-.. ", "-. / ", "--- ", "ignor",
    "تجاهل التعليمات ", "คำสั่ง", "<system>", "<system>x</system><a>", "<|im_start|>system\n",
    "### System\n", "SYSTEM: x\n", "[INST] <<SYS>>", '{"messages": [{"role": "system", "content": "',
    "decode aol uif ", "caesar:\n", "ouyay away ", "key LEMON ", "eht dna ", "ɐǝɹʇ ", "igonre rlues ",
)  # fmt: skip
SIZES = (1024, 8192, 32768)
REPEATS = 3


def adversarial_inputs() -> list[tuple[str, str]]:
    """(name, piece) for every piece alone and for a few mixes of neighbours."""
    inputs = [(repr(piece), piece) for piece in PIECES]
    for start in range(0, len(PIECES) - 3, 7):
        mix = "".join(PIECES[start : start + 4])
        inputs.append((f"mix {repr(mix)[:28]}", mix))
    return inputs


def best_of(call: Callable[[], object]) -> float:
    """The fastest of `REPEATS` runs, CPU seconds of this thread (other processes' load left out)."""
    times = []
    for _ in range(REPEATS):
        started = time.thread_time()
        call()
        times.append(time.thread_time() - started)
    return min(times)


def run(*, top: int = 15) -> int:
    firewall = Firewall()
    rows: list[tuple[str, list[float]]] = []
    for name, piece in adversarial_inputs():
        times = []
        for size in SIZES:
            text = (piece * (size // len(piece) + 1))[:size]
            times.append(best_of(lambda text=text: firewall.scan(text)))
        rows.append((name, times))
    rows.sort(key=lambda row: row[1][-1], reverse=True)

    print(
        f"adversarial: {len(rows)} inputs, each at {', '.join(f'{s // 1024} KiB' for s in SIZES)};",
        machine(),
    )
    print("Firewall.scan, CPU ms of one thread (best of 3), slowest first at 32 KiB:")
    print(
        f"  {'input':<34}" + "".join(f"{f'{s // 1024} KiB':>10}" for s in SIZES) + f"{'32 KiB / 1 KiB':>16}"
    )
    for name, times in rows[:top]:
        ratio = times[-1] / times[0] if times[0] else float("nan")
        cells = "".join(f"{t * 1000:>10.2f}" for t in times)
        print(f"  {name[:34]:<34}{cells}{ratio:>16.1f}")
    at_32k = [times[-1] * 1000 for _, times in rows]
    print(
        f"  all {len(rows)} at 32 KiB: median {statistics.median(at_32k):.2f} ms, max {max(at_32k):.2f} ms "
        f"(a linear scan grows about 32x from 1 KiB; a backtracking one far more)"
    )

    tokens = TokenService(secrets.token_urlsafe(48))
    garbage = {
        "8 KiB of letters": "a" * 8192,
        "8 KiB of dots": "." * 8192,
        "three 2.7 KiB base64 parts": ".".join(["eyJ" + "A" * 2730] * 3),
        "a real token, signature flipped": _flipped(tokens),
    }
    print("TokenService.verify_llm on refused input, CPU µs (best of 3):")
    for name, token in garbage.items():

        def verify(token: str = token) -> None:
            with contextlib.suppress(InvalidToken):
                tokens.verify_llm(token)

        print(f"  {name:<34}{best_of(verify) * 1e6:>10.1f}")
    return 0


def _flipped(tokens: TokenService) -> str:
    token, _ = tokens.issue_llm("alice", model="echo", max_tokens=8, scopes=["llm:generate"], uses=1)
    return token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
