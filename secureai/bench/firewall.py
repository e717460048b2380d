"""`secureai bench firewall`: the first tier's time on prompts of 4 KiB, the size its budget is set for.

The rows of each folder's `*.jsonl` files are joined in order into prompts of 4 KiB, as `secureai firewall
eval` joins them, and each prompt is scanned as the gate scans it on its event loop (the first tier:
rules, readings of obfuscations, the learned models, personal data; the encoder's second look is left
out, as the gate runs it off the loop). After one untimed pass over all of them (a running gateway's
interpreter has specialised its code paths), two figures per prompt, in CPU time of this thread: one
scan of each in order (what a stream of prompts sees: each one's data cold in the CPU's caches after the
last one's), and the best of `--repeat` scans in a row (the prompt's own cost, without interference).
The slowest prompts are listed with what made them slow: the obfuscations undone and the findings.
"""

from __future__ import annotations

import time
from pathlib import Path

from secureai.bench.harness import machine
from secureai.firewall_cli import LONG_PROMPT_CHARS, folder_texts, latency_cells, long_prompts, print_table
from shared.firewall import Firewall


def run(*, folders: list[Path], repeat: int = 7, top: int = 3) -> int:
    corpora = [(str(folder), long_prompts(folder_texts(folder), limit=10_000)) for folder in folders]
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
    return 0


def _cpu_us(firewall: Firewall, prompt: str) -> float:
    started = time.thread_time_ns()
    firewall.scan(prompt, second_look=False)
    return (time.thread_time_ns() - started) / 1000
