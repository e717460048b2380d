"""The measuring process of `secureai bench memory` (`memory.py`): it imports nothing beyond the standard
library before its first reading, and then only what an API process imports, and the rows' reader."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Literal

STATUS_FIELDS = ("VmRSS", "RssAnon", "RssFile")


def status() -> dict[str, float]:
    """This process's resident memory, MiB, by the fields of /proc/self/status in `STATUS_FIELDS`."""
    found: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in STATUS_FIELDS:
            found[name] = int(value.split()[0]) / 1024
    return found


def largest_files(count: int = 3) -> list[tuple[str, float]]:
    """The files mapped into this process with the most resident memory, MiB."""
    resident: dict[str, float] = {}
    mapping = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            mapping = fields[5] if len(fields) > 5 and fields[5].startswith("/") else ""
        elif fields and fields[0] == "Rss:" and mapping:
            resident[mapping] = resident.get(mapping, 0.0) + int(fields[1]) / 1024
    ranked = sorted(resident.items(), key=lambda item: item[1], reverse=True)
    return [(path, round(mib, 1)) for path, mib in ranked[:count]]


def _measure(semantic: Literal["on", "off"], rest_s: float, folders: list[str]) -> dict[str, object]:
    """The child's work (see the module's docstring)."""
    import asyncio
    from types import SimpleNamespace

    stages: list[tuple[str, dict[str, float]]] = [("interpreter started", status())]
    import api.main  # noqa: F401  (what an API process imports)

    stages.append(("API's modules imported", status()))
    from api.gate.llm import scan
    from shared.firewall import Firewall
    from shared.firewall.cache import VerdictCache

    firewall = Firewall(semantic=semantic)
    stages.append(("firewall built", status()))
    from secureai.firewall_cli import folder_texts

    rows = [text for folder in folders for text in folder_texts(Path(folder))]
    services = SimpleNamespace(firewall=firewall, verdicts=VerdictCache())  # as the gate keeps it

    async def scan_all(texts: list[str]) -> None:
        for text in texts:
            await scan(services, text, user="bench", role="user")  # type: ignore[arg-type]

    asyncio.run(scan_all(rows))
    stages.append((f"{len(rows)} rows scanned", status()))
    rows.clear()
    time.sleep(rest_s)
    stages.append((f"after {rest_s:g} s at rest", status()))
    return {"stages": stages, "files": largest_files()}


if __name__ == "__main__":
    mode, rest, *paths = sys.argv[1:]
    print(json.dumps(_measure("off" if mode == "off" else "on", float(rest), paths)))
