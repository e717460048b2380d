"""`secureai bench memory`: the resident memory of a gateway process that has run the firewall.

A fresh interpreter (a child process, so that nothing of the command's own is counted) imports the API's
modules, builds the firewall, scans every row of the folders' `*.jsonl` files as the gate scans a prompt
(`api.gate.llm.scan`: the first tier on the event loop, the encoder's second look in the gate's threads,
the gate's verdict cache filling to its bound of 2 MiB), drops the rows and rests `--rest` seconds, the
time the gate gives itself to hand the heap's free pages back after its last second look. The resident
size is printed after each step, with its anonymous part (the heap: objects, arrays, the tokenizer) and
its part mapped from files (shared libraries and the encoder's weights, pages the kernel can drop and
read again), and the largest files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from secureai.bench.harness import machine
from secureai.firewall_cli import folder_texts


def run(*, folders: list[Path], semantic: str = "on", rest_s: float = 1.5, repeat: int = 1) -> int:
    for folder in folders:
        folder_texts(folder)  # a usage error for a missing folder or a bad row, before any child starts
    print(f"memory: a gateway process after scanning the folders' rows (second tier {semantic});", machine())
    runs = [_child(folders, semantic, rest_s) for _ in range(repeat)]
    stages = [name for name, _ in runs[0]["stages"]]
    print("resident MiB (anonymous + mapped from files); one column per run:")
    width = max(len(name) for name in stages)
    for i, name in enumerate(stages):
        cells = [_cell(run["stages"][i][1]) for run in runs]
        print(f"  {name:<{width}}  " + "   ".join(cells))
    print("largest files mapped, resident MiB (last run):")
    for path, mib in runs[-1]["files"]:
        print(f"  {mib:6.1f}  {path}")
    return 0


def _cell(status: dict[str, float]) -> str:
    return f"{status['VmRSS']:6.1f} ({status['RssAnon']:.1f} + {status['RssFile']:.1f})"


def _child(folders: list[Path], semantic: str, rest_s: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "secureai.bench.memory_probe", semantic, str(rest_s), *map(str, folders)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the measuring process failed:\n{done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
