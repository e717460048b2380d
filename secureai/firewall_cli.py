"""`secureai firewall scan` and `secureai firewall eval`: the firewall on JSON Lines, and measured on data."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from shared.firewall import Firewall, FirewallResult
from shared.firewall.policy import ROLES

# Labels of the evaluation data (see the data README): which category a label is positive for.
POSITIVE = {"injection": "injection", "toxic": "toxicity", "pii": "pii"}
BENIGN = {"benign", "not_toxic", "no_pii"}
EVAL_CATEGORIES = ("injection", "toxicity", "pii")
# The categories decided by a score against a threshold, whose recall is also given at a fixed share of the
# benign prompts flagged, whatever the threshold (`recall_at_flagged`): the firewall's aim is set that way.
SCORED_CATEGORIES = ("injection", "toxicity")
FLAGGED_SHARES = (0.01, 0.02, 0.03)
# Span-level PII is scored on the structured types; names and addresses are out of the firewall's scope.
STRUCTURED_PII = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
LONG_PROMPT_CHARS = 4096
LONG_PROMPTS = 200


def add_commands(commands: Any) -> None:
    firewall = commands.add_parser("firewall", help="scan prompts with the firewall, or measure it on data")
    actions = firewall.add_subparsers(dest="action", metavar="ACTION", parser_class=type(firewall))
    actions.required = True

    scan = actions.add_parser("scan", help='JSON Lines {"id", "text"} in (FILE or stdin), verdicts out')
    scan.add_argument("file", nargs="?", type=Path, help="JSON Lines file (default: stdin)")
    scan.add_argument("--role", default="user", choices=ROLES, help="the role whose policy applies")
    _semantic_option(scan)
    scan.set_defaults(handler=_scan)

    evaluate = actions.add_parser(
        "eval", help="precision, recall, false positives and latency on every *.jsonl in DIR"
    )
    evaluate.add_argument(
        "dir", type=Path, nargs="+", help="folder of labelled JSON Lines files (several: measured together)"
    )
    evaluate.add_argument("--role", default="user", choices=ROLES, help="the role whose policy applies")
    _semantic_option(evaluate)
    evaluate.set_defaults(handler=_eval)


def _semantic_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--semantic",
        default="auto",
        choices=("auto", "on", "off"),
        help="the second tier for unsure prompts, as FIREWALL_SEMANTIC (default: auto, when installed)",
    )


def _usage(message: str) -> Exception:
    from secureai.cli import UsageError

    return UsageError(message)


def _records(stream: TextIO, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is a usage error naming it."""
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise _usage(f"{where}:{number}: not valid JSON") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise _usage(f'{where}:{number}: expected an object with a string "text"')
            yield number, record
    except UnicodeDecodeError:
        raise _usage(f"{where}: not UTF-8 text") from None


def _open(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise _usage(f"cannot read {path}: {exc.strerror or exc}") from None


def _scan(args: argparse.Namespace) -> int:
    firewall = Firewall(semantic=args.semantic)
    stream = _open(args.file) if args.file else sys.stdin
    where = str(args.file) if args.file else "stdin"
    with stream:
        for _, record in _records(stream, where):
            verdict = firewall.scan(record["text"], role=args.role)
            out: dict[str, Any] = {
                "id": record.get("id"),
                "action": verdict.action,
                "categories": list(verdict.categories),
                "scores": verdict.scores,
            }
            if verdict.action == "redact":
                out["text"] = verdict.text
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


@dataclass
class Tally:
    """Counts for one file and one category."""

    positives: int = 0
    hits: int = 0  # positives flagged
    benign: int = 0
    benign_flagged: int = 0
    other_flagged: int = 0  # flagged rows that are neither positive nor benign (harmful requests, ...)
    other: int = 0

    def row(self) -> tuple[str, str, str, str, str]:
        flagged = self.hits + self.benign_flagged + self.other_flagged
        precision = self.hits / flagged if flagged and self.positives else None
        recall = self.hits / self.positives if self.positives else None
        fpr = self.benign_flagged / self.benign if self.benign else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
        if self.positives and f1 is None:
            f1 = 0.0
        return (
            _pct(precision),
            _pct(recall),
            _pct(fpr),
            _num(f1),
            _pct(self.other_flagged / self.other if self.other else None),
        )


@dataclass
class SpanTally:
    gold: int = 0
    found: int = 0
    gold_matched: int = 0
    found_matched: int = 0


@dataclass
class FileReport:
    name: str
    folder: str = ""
    rows: int = 0
    latencies_us: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    second_looks: list[bool] = field(default_factory=list)  # per row: did the second tier look at it
    tallies: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in EVAL_CATEGORIES})
    spans: dict[str, SpanTally] = field(default_factory=dict)
    # Per scored category, the scores of its positive rows and of the benign ones.
    scores: dict[str, tuple[list[float], list[float]]] = field(
        default_factory=lambda: {c: ([], []) for c in SCORED_CATEGORIES}
    )


def _eval(args: argparse.Namespace) -> int:
    paths = [path for folder in args.dir for path in _jsonl_files(folder)]
    firewall = Firewall(semantic=args.semantic)
    reports = []
    texts: list[str] = []
    several = len(args.dir) > 1  # files then named by their paths, and grouped by folder
    for path in paths:
        report = FileReport(str(path) if several else path.name, str(path.parent) if several else "")
        with _open(path) as stream:
            for number, record in _records(stream, str(path)):
                label = record.get("label")
                if not isinstance(label, str):
                    raise _usage(f'{path}:{number}: expected a string "label"')
                text = record["text"]
                texts.append(text)
                started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
                verdict, second = _scan_as_the_gate(firewall, text, args.role)
                report.cpu_us.append((time.thread_time_ns() - cpu_started) / 1000)
                report.latencies_us.append((time.perf_counter_ns() - started) / 1000)
                report.second_looks.append(second)
                report.rows += 1
                if label == "pii" and not _has_structured(record):
                    label = "pii_out_of_scope"  # names, addresses, dates only: neither positive nor benign
                _count(report, label, verdict)
                if "entities" in record:
                    _count_spans(report, record, verdict.findings, path, number)
        reports.append(report)
    _print_reports(reports)
    _print_curves(reports)
    _print_long_prompt_latency(firewall, texts, args.role)
    return 0


def _scan_as_the_gate(firewall: Firewall, text: str, role: str) -> tuple[FirewallResult, bool]:
    """The verdict as the gate reaches it, the first tier and then, if it was unsure, the second look;
    and whether the second look was needed."""
    verdict = firewall.scan(text, role=role, second_look=False)
    if not verdict.undecided:
        return verdict, False
    return firewall.scan(text, role=role), True


def _count(report: FileReport, label: str, verdict: FirewallResult) -> None:
    for category, tally in report.tallies.items():
        flagged = category in verdict.categories
        scores = report.scores.get(category)  # the scored categories': (positive rows', benign rows')
        if POSITIVE.get(label) == category:
            tally.positives += 1
            tally.hits += flagged
            if scores is not None:
                scores[0].append(verdict.scores[category])
        elif label in BENIGN:
            tally.benign += 1
            tally.benign_flagged += flagged
            if scores is not None:
                scores[1].append(verdict.scores[category])
        elif label not in POSITIVE:
            tally.other += 1
            tally.other_flagged += flagged
        # A row positive for another category is not counted for this one.


def recall_at_flagged(positive: Sequence[float], benign: Sequence[float], share: float) -> float | None:
    """The share of `positive` scores flagged at the lowest threshold that flags at most `share` of the
    `benign` ones (a score flagged when above the threshold, so ties with a benign score left unflagged
    go unflagged too); None without both."""
    if not positive or not benign:
        return None
    allowed = int(share * len(benign) + 1e-9)  # benign prompts that may be flagged
    ordered = sorted(benign, reverse=True)
    if allowed >= len(ordered):
        return 1.0
    above = ordered[allowed]  # the highest benign score that must stay unflagged
    return sum(score > above for score in positive) / len(positive)


def _has_structured(record: dict[str, Any]) -> bool:
    entities = record.get("entities")
    if not isinstance(entities, list):
        return True
    return any(isinstance(e, dict) and e.get("type") in STRUCTURED_PII for e in entities)


def _count_spans(
    report: FileReport, record: dict[str, Any], findings: tuple[Any, ...], path: Path, n: int
) -> None:
    entities = record["entities"]
    if not isinstance(entities, list):
        raise _usage(f'{path}:{n}: "entities" must be a list')
    gold = []
    for entity in entities:
        try:
            kind, start, end = str(entity["type"]), int(entity["start"]), int(entity["end"])
        except (KeyError, TypeError, ValueError):
            raise _usage(f"{path}:{n}: an entity needs type, start and end") from None
        if kind in STRUCTURED_PII:
            gold.append((kind, start, end))
    found = [(f.type, f.start, f.end) for f in findings if f.type in STRUCTURED_PII]
    for kind in STRUCTURED_PII:
        tally = report.spans.setdefault(kind, SpanTally())
        mine = [g for g in gold if g[0] == kind]
        theirs = [f for f in found if f[0] == kind]
        tally.gold += len(mine)
        tally.found += len(theirs)
        tally.gold_matched += sum(1 for g in mine if any(_overlap(g, f) for f in theirs))
        tally.found_matched += sum(1 for f in theirs if any(_overlap(g, f) for g in mine))


def _overlap(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def _print_reports(reports: list[FileReport]) -> None:
    print("Prompt categories (row level; FPR = flagged share of benign rows; other = flagged share of rows")
    print("labelled neither positive nor benign, e.g. harmful_request):")
    print()
    lines: list[tuple[str, ...]] = [
        ("file", "category", "positives", "benign", "precision", "recall", "FPR", "F1", "other")
    ]
    for report in reports:
        for category, tally in report.tallies.items():
            if not (tally.positives or tally.benign or tally.other):
                continue
            lines.append((report.name, category, str(tally.positives), str(tally.benign), *tally.row()))
    if len(reports) > 1:
        for category in EVAL_CATEGORIES:
            counts = [vars(report.tallies[category]) for report in reports]
            summed = Tally(**{name: sum(count[name] for count in counts) for name in counts[0]})
            if summed.positives or summed.benign or summed.other:
                lines.append(
                    ("all files", category, str(summed.positives), str(summed.benign), *summed.row())
                )
    print_table(lines)
    spans = [r for r in reports if r.spans]
    if spans:
        print()
        print("PII spans (a span counts when a finding of the same type overlaps it):")
        print()
        span_lines: list[tuple[str, ...]] = [("file", "type", "gold", "found", "precision", "recall", "F1")]
        for report in spans:
            total = SpanTally()
            for kind, span in report.spans.items():
                span_lines.append((report.name, kind, *_span_row(span)))
                total.gold += span.gold
                total.found += span.found
                total.gold_matched += span.gold_matched
                total.found_matched += span.found_matched
            span_lines.append((report.name, "all structured", *_span_row(total)))
        print_table(span_lines)
    print()
    print("Latency per prompt, one thread (wall clock, and the thread's CPU time, which leaves out the time")
    print("other processes held the core):")
    print()
    latency_lines: list[tuple[str, ...]] = [
        ("file", "rows", "p50", "p99", "max", "CPU p50", "CPU p99", "CPU max")
    ]
    wall: list[float] = []
    cpu: list[float] = []
    for report in reports:
        wall.extend(report.latencies_us)
        cpu.extend(report.cpu_us)
        wall_cells, cpu_cells = latency_cells(report.latencies_us), latency_cells(report.cpu_us)
        latency_lines.append((report.name, str(report.rows), *wall_cells, *cpu_cells))
    latency_lines.append(("all files", str(len(wall)), *latency_cells(wall), *latency_cells(cpu)))
    looked = [s for r in reports for s in r.second_looks]
    if any(looked):
        for name, second in (("first tier alone", False), ("with the second look", True)):
            rows = [i for i, s in enumerate(looked) if s == second]
            latency_lines.append(
                (
                    name,
                    f"{len(rows)} ({100 * len(rows) / len(looked):.1f}%)",
                    *latency_cells([wall[i] for i in rows]),
                    *latency_cells([cpu[i] for i in rows]),
                )
            )
    print_table(latency_lines)


def _print_curves(reports: list[FileReport]) -> None:
    shares = " / ".join(f"{100 * share:g}" for share in FLAGGED_SHARES)
    lines: list[tuple[str, ...]] = [
        ("file", "category", "positives", "benign", f"recall at {shares}% flagged")
    ]
    folders: dict[str, list[FileReport]] = {}
    for report in reports:
        folders.setdefault(report.folder, []).append(report)
    for category in SCORED_CATEGORIES:
        for folder, members in folders.items():
            for report in members:
                if all(report.scores[category]):
                    lines.append((report.name, category, *_curve_cells(*report.scores[category])))
            if folder and len(members) > 1:  # several folders given: each one's files together too
                _pooled_line(lines, f"{folder}/*.jsonl", category, members)
        if len(reports) > 1:
            _pooled_line(lines, "all files", category, reports)
    if len(lines) == 1:
        return
    print()
    print("Recall at a share of the benign rows flagged, whatever the threshold (each category's score")
    print("ranks the rows; the threshold is the lowest that flags no more of the benign rows than that):")
    print()
    print_table(lines)


def _pooled_line(lines: list[tuple[str, ...]], name: str, category: str, reports: list[FileReport]) -> None:
    positive = [score for report in reports for score in report.scores[category][0]]
    benign = [score for report in reports for score in report.scores[category][1]]
    if positive and benign:
        lines.append((name, category, *_curve_cells(positive, benign)))


def _curve_cells(positive: list[float], benign: list[float]) -> tuple[str, str, str]:
    recalls = [recall_at_flagged(positive, benign, share) for share in FLAGGED_SHARES]
    return str(len(positive)), str(len(benign)), " / ".join(_pct(recall) for recall in recalls)


def long_prompts(texts: Iterable[str], limit: int = LONG_PROMPTS) -> list[str]:
    """Prompts of 4 KiB (`LONG_PROMPT_CHARS`) made by joining `texts` in order, one line each: the size
    the firewall's latency budget is set for. At most `limit`; what is left over at the end is dropped."""
    prompts: list[str] = []
    joined = ""
    for text in texts:
        joined += text + "\n"
        if len(joined) >= LONG_PROMPT_CHARS:
            prompts.append(joined[:LONG_PROMPT_CHARS])
            joined = ""
            if len(prompts) >= limit:
                break
    return prompts


def folder_texts(folder: Path) -> list[str]:
    """The "text" of every row of every `*.jsonl` file in `folder`, files in name order; a missing folder,
    a folder without such files or a bad row is a usage error that names it."""
    texts: list[str] = []
    for path in _jsonl_files(folder):
        with _open(path) as stream:
            texts.extend(record["text"] for _, record in _records(stream, str(path)))
    return texts


def _jsonl_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise _usage(f"{folder} is not a folder")
    paths = sorted(folder.glob("*.jsonl"))
    if not paths:
        raise _usage(f"no *.jsonl files in {folder}")
    return paths


def _print_long_prompt_latency(firewall: Firewall, texts: list[str], role: str) -> None:
    prompts = long_prompts(texts)
    if not prompts:
        return
    latencies, cpu = [], []
    seconds = 0
    for prompt in prompts:
        started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
        seconds += _scan_as_the_gate(firewall, prompt, role)[1]
        cpu.append((time.thread_time_ns() - cpu_started) / 1000)
        latencies.append((time.perf_counter_ns() - started) / 1000)
    print()
    print_table(
        [
            ("4 KiB prompts (rows joined)", "rows", "p50", "p99", "max", "CPU p50", "CPU p99", "CPU max"),
            ("", str(len(latencies)), *latency_cells(latencies), *latency_cells(cpu)),
        ]
    )
    if seconds:
        print(f"({seconds} of them given the second look)")


def _span_row(tally: SpanTally) -> tuple[str, str, str, str, str]:
    precision = tally.found_matched / tally.found if tally.found else None
    recall = tally.gold_matched / tally.gold if tally.gold else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return str(tally.gold), str(tally.found), _pct(precision), _pct(recall), _num(f1)


def latency_cells(values: list[float], unit: str = "µs", digits: int = 0) -> tuple[str, str, str]:
    """p50, p99 and max of `values` (in `unit`), as table cells."""
    if not values:
        return "-", "-", "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median, top = statistics.median(ordered), ordered[-1]
    return f"{median:.{digits}f} {unit}", f"{p99:.{digits}f} {unit}", f"{top:.{digits}f} {unit}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(lines: Sequence[tuple[str, ...]]) -> None:
    """`lines` as left-aligned columns, the first line the heading."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
