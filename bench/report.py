"""The benchmark's results and their Markdown report: the machine, the targets, one table per size."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import daemon
from floors import DocumentCosts
from measure import Summary
from million import Checkpoint

import aggregator

MB = 1024 * 1024
TARGET_SOURCES = 1000
COLD_LIMIT = 10.0  # x lxml's raw parse of the same documents
CHANGED_LIMIT = 10.0  # x lxml's raw parse of the changed document
IDLE_LIMIT = 2.0  # seconds for an all-304 poll of TARGET_SOURCES
PUBLISH_LIMIT = 1.0  # seconds for 50 topics x 50 entries
MEMORY_LIMIT = 300 * MB  # with a million stored items
FLAT_LIMIT = 2.0  # changed-source store cost at the largest store / at the smallest


@dataclass
class SizeResult:
    """Everything measured for one number of sources."""

    sources: int
    items_per_source: int
    rounds: int
    document_size: int = 0  # median bytes of a feed document
    stored_items: int = 0
    db_bytes: int = 0
    startup: Summary | None = None  # `aggregator config check`: interpreter, imports, config load
    cold: Summary | None = None
    idle: Summary | None = None  # all-304 poll
    bare: Summary | None = None  # bare_get.py, the floor of the all-304 poll
    bare_loop: float = 0.0  # bare_get.py's GET loop alone, seconds
    steady: Summary | None = None
    changed_sources: int = 0  # per steady round
    incremental_publish: float = 0.0  # in-process wall seconds, touched topics after a steady poll
    publish: Summary | None = None
    publish_bytes: int = 0
    publish_files: int = 0
    write_floor: float = 0.0  # plain open/write of the published bytes
    lxml_all: float = 0.0  # lxml's raw parse of every document of the world, CPU seconds
    lxml_sampled: int = 0  # documents actually parsed for lxml_all (scaled up beyond)
    cold_document: DocumentCosts | None = None
    changed_document: DocumentCosts | None = None
    latency: daemon.Latency | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class MillionResult:
    """The store grown to about a million items, and the world polled and published against it."""

    sources: int
    timeout: float  # seconds each command may take before it is killed
    checkpoints: list[Checkpoint] = field(default_factory=list)
    build_seconds: float = 0.0
    stored_items: int = 0
    db_bytes: int = 0
    cold: Summary | None = None
    steady: Summary | None = None
    publish: Summary | None = None
    killed: list[str] = field(default_factory=list)  # names of the commands killed at the timeout
    scan: list[tuple[int, float]] = field(default_factory=list)  # (stories read, seconds)


def machine() -> str:
    """One line about the machine, the interpreter and the code measured."""
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; aggregator at {_revision()}"
    )


def _revision() -> str:
    """The code measured: the aggregator package this interpreter imports, and its git commit."""
    package = Path(aggregator.__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return f"{package} (not a git checkout)"
    changed = git("status", "--porcelain", "--", ".")
    dirty = f", with uncommitted changes to {len(changed.splitlines())} paths" if changed else ""
    return f"{package}, commit {commit}{dirty}"


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _x(value: float, floor: float) -> str:
    return f"{value / floor:.1f}×" if floor else "—"


def _mb(size: int) -> str:
    return f"{size / MB:.0f} MB"


def _verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def targets(sizes: list[SizeResult], million: MillionResult | None) -> list[str]:
    """The issue's targets, each with its figure and pass/fail."""
    rows = ["| target | measured | limit | result |", "|---|---|---|---|"]
    at_target = [r for r in sizes if r.sources == TARGET_SOURCES] or sizes[-1:]
    for r in at_target:
        n = f"{r.sources:,} sources"
        if r.cold:
            rows.append(
                f"| cold poll, {n} × {r.items_per_source} items | {_s(r.cold.wall)} wall = "
                f"{_x(r.cold.wall, r.lxml_all)} lxml ({_s(r.lxml_all)}) | ≤ {COLD_LIMIT:g}× lxml = "
                f"{_s(COLD_LIMIT * r.lxml_all)} | {_verdict(r.cold.wall <= COLD_LIMIT * r.lxml_all)} |"
            )
        if r.changed_document:
            d = r.changed_document
            rows.append(
                f"| CPU of a changed {r.items_per_source}-item source (parse + normalize + store) | "
                f"{_s(d.pipeline)} = {_x(d.pipeline, d.lxml)} lxml ({_s(d.lxml)}) | ≤ {CHANGED_LIMIT:g}× lxml | "
                f"{_verdict(d.pipeline <= CHANGED_LIMIT * d.lxml)} |"
            )
        if r.idle:
            rows.append(
                f"| all-304 poll, {n} | {_s(r.idle.wall)} | < {_s(IDLE_LIMIT)} | {_verdict(r.idle.wall < IDLE_LIMIT)} |"
            )
        if r.publish:
            rows.append(
                f"| `aggregator publish`, 50 topics × 50 entries, {n} | {_s(r.publish.wall)} | "
                f"< {_s(PUBLISH_LIMIT)} | {_verdict(r.publish.wall < PUBLISH_LIMIT)} |"
            )
    if million is None:
        rows.append("| peak memory with 1M stored items | not run (`--million`) | < 300 MB | — |")
        rows.append("| changed-source store cost flat as the store grows | not run (`--million`) | — | — |")
        return rows
    peaks = [s.peak_rss for s in (million.cold, million.steady, million.publish) if s]
    if peaks:
        rows.append(
            f"| peak memory with {million.stored_items:,} stored items (poll, publish) | {_mb(max(peaks))} | "
            f"< {_mb(MEMORY_LIMIT)} | {_verdict(max(peaks) < MEMORY_LIMIT)} |"
        )
    if len(million.checkpoints) >= 2:
        first, last = million.checkpoints[0], million.checkpoints[-1]
        growth = last.changed_store / first.changed_store
        rows.append(
            f"| changed-source store cost (save_poll: key, URL and story lookups) flat, "
            f"{first.items:,} → {last.items:,} items | "
            f"{_s(first.changed_store)} → {_s(last.changed_store)} ({growth:.2f}×) | ≤ {FLAT_LIMIT:g}× | "
            f"{_verdict(growth <= FLAT_LIMIT)} |"
        )
    return rows


def size_table(r: SizeResult) -> list[str]:
    """The figures for one size, each beside its floor from the same run."""
    items = r.sources * r.items_per_source
    lines = [
        f"## {r.sources:,} sources × {r.items_per_source} items ({items:,} items; "
        f"documents {r.document_size / 1024:.0f} KB median; medians of {r.rounds} "
        f"{'round' if r.rounds == 1 else 'rounds'})",
        "",
        "| figure | wall | CPU | peak RSS | floor, same run | ratio |",
        "|---|---:|---:|---:|---|---:|",
    ]

    def row(name: str, s: Summary | None, floor: str = "", ratio: str = "") -> None:
        if s is not None:
            lines.append(f"| {name} | {_s(s.wall)} | {_s(s.cpu)} | {_mb(s.peak_rss)} | {floor} | {ratio} |")

    row("start-up + config load (`config check`)", r.startup)
    if r.cold:
        sampled = "" if r.lxml_sampled >= r.sources else f", scaled from {r.lxml_sampled:,} documents"
        row(
            "cold poll (everything new)",
            r.cold,
            f"lxml parse of all documents {_s(r.lxml_all)} CPU{sampled}",
            f"{_x(r.cold.wall, r.lxml_all)} wall, {_x(r.cold.cpu, r.lxml_all)} CPU",
        )
        lines.append(f"| … per source | {_s(r.cold.wall / r.sources)} | {_s(r.cold.cpu / r.sources)} | | | |")
    if r.steady and r.idle and r.changed_document:
        marginal = (r.steady.cpu - r.idle.cpu) / max(r.changed_sources, 1)
        row(
            f"steady poll ({r.changed_sources} of {r.sources} sources changed, one new item each)",
            r.steady,
            f"lxml parse of a changed document {_s(r.changed_document.lxml)}",
            f"{_x(marginal, r.changed_document.lxml)} (extra CPU per changed source: {_s(marginal)})",
        )
    if r.idle and r.bare:
        row(
            "all-304 poll",
            r.idle,
            f"bare conditional GETs {_s(r.bare.wall)} wall, {_s(r.bare.cpu)} CPU (GET loop {_s(r.bare_loop)})",
            f"{_x(r.idle.wall, r.bare.wall)} wall, {_x(r.idle.cpu, r.bare.cpu)} CPU",
        )
    if r.publish:
        row(
            f"`aggregator publish` (all 50 topics, {r.publish_files} files, {r.publish_bytes / MB:.1f} MB)",
            r.publish,
            f"open/write of the same bytes {_s(r.write_floor)}",
            _x(r.publish.wall, r.write_floor),
        )
        lines.append(
            f"| incremental publish after the steady poll (in-process, topics touched) | "
            f"{_s(r.incremental_publish)} | | | open/write of all published bytes {_s(r.write_floor)} | "
            f"{_x(r.incremental_publish, r.write_floor)} |"
        )
    if r.latency:
        lat = r.latency
        stop = _s(lat.stop) if lat.stop is not None else f"> {_s(daemon.STOP_SECONDS)}, killed"
        lines.append(
            f"| daemon: source changed → topic feed served updated (median of {lat.changes}; worst {_s(lat.worst)}) "
            f"| {_s(lat.total)} | | {_mb(lat.peak_rss)} | waiting for the schedule {_s(lat.schedule)}, "
            f"the daemon's work {_s(lat.work)} | |"
        )
        lines.append(f"| daemon: SIGTERM → exit | {stop} | | | | |")
    if r.db_bytes:
        lines.append(
            f"| database size ({r.stored_items:,} items) | {_mb(r.db_bytes)} | | | "
            f"{r.db_bytes / max(r.stored_items, 1) / 1024:.1f} KB per item | |"
        )
    lines += [""] + [f"- {note}" for note in r.notes] + ([""] if r.notes else [])
    return lines


def stage_table(sizes: list[SizeResult]) -> list[str]:
    """Per-document CPU of each stage, in this process, beside lxml's raw parse of the same bytes
    (measured at the last size; a document costs the same whatever the number of sources)."""
    lines = [
        "## Per document, by stage (in-process CPU, medians)",
        "",
        "| document | lxml parse | parse | normalize + dedup | store | our total | ratio to lxml |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sizes[-1:]:
        for name, d in (
            ("new (cold poll)", r.cold_document),
            ("changed (1 new item of 50)", r.changed_document),
        ):
            if d:
                lines.append(
                    f"| {name}, {d.documents} documents of {d.size / 1024:.0f} KB | {_s(d.lxml)} | {_s(d.parse)} | "
                    f"{_s(d.normalize)} | {_s(d.store)} | {_s(d.pipeline)} | {_x(d.pipeline, d.lxml)} |"
                )
    return [*lines, ""]


def million_table(m: MillionResult) -> list[str]:
    history = m.checkpoints[-2].items if len(m.checkpoints) >= 2 else m.stored_items
    lines = [
        f"## A store of {m.stored_items:,} items ({m.sources:,} sources polled against it; one run each)",
        "",
        f"Grown to {history:,} items (history and probes) through `Store.save_poll` in "
        f"{_s(m.build_seconds)} ({history / max(m.build_seconds, 1e-9):,.0f} items/s, articles written by a "
        "second process); "
        f"database {_mb(m.db_bytes)} ({m.db_bytes / max(m.stored_items, 1) / 1024:.1f} KB per item).",
        "",
        "| stored items | changed-source store CPU (save_poll: 49 known + 1 new) |",
        "|---:|---:|",
        *(f"| {c.items:,} | {_s(c.changed_store)} |" for c in m.checkpoints),
        "",
        "| figure | wall | CPU | peak RSS |",
        "|---|---:|---:|---:|",
    ]
    for name, label, s in (
        ("cold", "cold poll of the world into the store", m.cold),
        ("steady", "steady poll (5% of sources changed)", m.steady),
        ("publish", "`aggregator publish`", m.publish),
    ):
        if s:
            wall = f"> {_s(m.timeout)} (killed)" if name in m.killed else _s(s.wall)
            lines.append(f"| {label} | {wall} | {_s(s.cpu)} | {_mb(s.peak_rss)} |")
    if m.killed:
        lines += ["", f"Killed at the {_s(m.timeout)} deadline: CPU and peak RSS are up to then."]
    if m.scan:
        lines += [
            "",
            "`Store.stories()` read newest first, as a publish reads it when a topic does not fill up:",
            "",
            "| stories read | seconds | seconds for the last 10,000 |",
            "|---:|---:|---:|",
        ]
        previous = 0.0
        for count, seconds in m.scan:
            lines.append(f"| {count:,} | {seconds:.1f} | {seconds - previous:.1f} |")
            previous = seconds
    return [*lines, ""]


def render(command: str, world_line: str, sizes: list[SizeResult], million: MillionResult | None) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- World: {world_line}",
        "",
        "## Targets (issue 7)",
        "",
        *targets(sizes, million),
        "",
    ]
    for r in sizes:
        lines += size_table(r)
    lines += stage_table(sizes)
    if million:
        lines += million_table(million)
    return "\n".join(lines)
