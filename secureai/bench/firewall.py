"""`secureai bench firewall`: the first tier's time on prompts of 4 KiB, the size its budget is set for.

The rows of each folder's `*.jsonl` files are joined in order into prompts of 4 KiB, as `secureai firewall
eval` joins them, and each prompt is scanned as the gate scans it on its event loop (the first tier:
rules, readings of obfuscations, the learned models, personal data; the encoder's second look is left
out, as the gate runs it off the loop). After one untimed pass over all of them (a running gateway's
interpreter has specialised its code paths), two figures per prompt, in CPU time of this thread: one
scan of each in order (what a stream of prompts sees: each one's data cold in the CPU's caches after the
last one's), and the best of `--repeat` scans in a row (the prompt's own cost, without interference).
The slowest prompts are listed with what made them slow: the obfuscations undone and the findings.

Then `--conversations` chats are replayed as a chat client sends them: a system message and `--turns`
messages taken in order from the folders' rows (user and assistant in turn), each request carrying the
whole conversation so far, every message of it scanned by the gate's own `scan` (both tiers: the second
look where the first is unsure). Each request's wall time is measured without the gate's verdict cache and
with it, and the scans and second looks each took.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from secureai.bench.harness import machine
from secureai.firewall_cli import LONG_PROMPT_CHARS, folder_texts, latency_cells, long_prompts, print_table
from shared.firewall import Firewall
from shared.firewall.cache import VerdictCache

SYSTEM = "You are a helpful assistant. Answer briefly and politely."


def run(
    *, folders: list[Path], repeat: int = 7, top: int = 3, conversations: int = 0, turns: int = 12
) -> int:
    texts = {str(folder): folder_texts(folder) for folder in folders}
    corpora = [(name, long_prompts(rows, limit=10_000)) for name, rows in texts.items()]
    firewall = Firewall(semantic="off")
    for _, prompts in corpora:  # untimed: the interpreter specialises the code paths a gateway runs warm
        for prompt in prompts:
            firewall.scan(prompt, second_look=False)
    print(
        f"firewall: first tier on prompts of {LONG_PROMPT_CHARS // 1024} KiB joined from each folder's rows;",
        machine(),
    )
    lines = [("folder", "prompts", "one pass p50", "p99", "max", f"best of {repeat} p50", "p99", "max")]
    every_pass: list[float] = []
    every_best: list[float] = []
    slowest: list[tuple[float, str, str]] = []
    for name, prompts in corpora:
        if not prompts:
            lines.append((name, "0", "-", "-", "-", "-", "-", "-"))
            continue
        one_pass = [_cpu_us(firewall, prompt) for prompt in prompts]
        best = [min(_cpu_us(firewall, prompt) for _ in range(repeat)) for prompt in prompts]
        lines.append((name, str(len(prompts)), *latency_cells(one_pass), *latency_cells(best)))
        every_pass += one_pass
        every_best += best
        slowest += [(us, name, prompt) for us, prompt in zip(best, prompts, strict=True)]
    if len(corpora) > 1:
        lines.append(("all", str(len(every_best)), *latency_cells(every_pass), *latency_cells(every_best)))
    print("CPU time of one thread per prompt (µs):")
    print_table(lines)
    slowest.sort(key=lambda entry: entry[0], reverse=True)
    if slowest[:top]:
        print(f"Slowest {min(top, len(slowest))} (best of {repeat}), and what they hold:")
    for us, name, prompt in slowest[:top]:
        result = firewall.scan(prompt, second_look=False)
        tricks = ", ".join(result.obfuscations) or "no obfuscation"
        ascii_only = "ASCII" if prompt.isascii() else "not all ASCII"
        found = len(result.findings)
        print(f"  {us:8.0f} µs  {name}: {tricks}; {found} finding{'' if found == 1 else 's'}; {ascii_only}")
    if conversations:
        rows = [row for folder_rows in texts.values() for row in folder_rows]
        chats = [rows[i * turns : (i + 1) * turns] for i in range(conversations)]
        _print_conversations([chat for chat in chats if len(chat) == turns], turns)
    return 0


@dataclass
class _Replay:
    """What replaying the conversations took: each request's wall time, the scans and the second looks."""

    request_ms: list[float] = field(default_factory=list)
    scans: int = 0
    second_looks: int = 0


class _Counted:
    """The firewall, counting the scans the gate asks of it."""

    def __init__(self, firewall: Firewall, replay: _Replay) -> None:
        self.firewall = firewall
        self.replay = replay

    def scan(self, text: str, **kwargs: Any) -> Any:
        if kwargs.get("second_look", True):
            self.replay.second_looks += 1
        else:
            self.replay.scans += 1
        return self.firewall.scan(text, **kwargs)


def _print_conversations(chats: list[list[str]], turns: int) -> None:
    if not chats:
        print(f"conversations: the folders hold fewer than {turns} rows")
        return

    firewall = Firewall()  # both tiers, as the gate runs them
    print()
    print(
        f"{len(chats)} chat conversations of a system message and {turns} messages, each request carrying"
        f" all of them so far ({'with' if firewall.second_tier else 'without'} the second tier):"
    )
    lines = [("verdict cache", "requests", "p50", "p99", "max", "last turn p50", "scans", "second looks")]
    warm = SimpleNamespace(firewall=firewall, verdicts=VerdictCache(max_bytes=0))
    asyncio.run(_replay(warm, chats[:1], _Replay()))  # untimed: the encoder's tables loaded, as in a gateway
    for cached in (False, True):
        replay = _Replay()
        verdicts = VerdictCache() if cached else VerdictCache(max_bytes=0)
        services = SimpleNamespace(firewall=_Counted(firewall, replay), verdicts=verdicts)
        asyncio.run(_replay(services, chats, replay))
        p50, p99, slowest = latency_cells(replay.request_ms, "ms", 2)
        last = latency_cells(replay.request_ms[turns - 1 :: turns], "ms", 2)[0]
        lines.append(
            (
                "on" if cached else "off",
                str(len(replay.request_ms)),
                p50,
                p99,
                slowest,
                last,
                str(replay.scans),
                str(replay.second_looks),
            )
        )
    print("wall time per request (ms):")
    print_table(lines)


async def _replay(services: Any, chats: list[list[str]], replay: _Replay) -> None:
    from api.gate.llm import scan

    for number, chat in enumerate(chats):
        user = f"user{number}"
        messages = [("system", SYSTEM)]
        for turn, text in enumerate(chat):
            messages.append(("user" if turn % 2 == 0 else "assistant", text))
            started = time.perf_counter()
            for role, content in messages:
                await scan(services, content, user=user, role="user", turn=role, operator=SYSTEM)
            replay.request_ms.append((time.perf_counter() - started) * 1000)


def _cpu_us(firewall: Firewall, prompt: str) -> float:
    started = time.thread_time_ns()
    firewall.scan(prompt, second_look=False)
    return (time.thread_time_ns() - started) / 1000
