"""Profile an `aggregator` command with cProfile and summarise where its time goes.

The summary is Markdown: the functions with the most time of their own (tottime), and those with
the most time under them (cumtime), each as a share of the whole run. With asyncio, a coroutine's
cumulative time counts only while it runs, not while it awaits, so it is CPU-like.
"""

from __future__ import annotations

import pstats
import sys
from pathlib import Path

import measure

TOP = 30


def profile(config: Path, args: list[str], output: Path, timeout: float) -> measure.Run:
    """Run `aggregator -c config ARGS` under cProfile; write output.prof and output.md."""
    stats_file = output.with_suffix(".prof")
    argv = [
        sys.executable,
        "-m",
        "cProfile",
        "-o",
        str(stats_file),
        "-m",
        "aggregator",
        "-c",
        str(config),
        *args,
    ]
    run = measure.run(argv, timeout=timeout)
    output.with_suffix(".md").write_text(summarise(stats_file, " ".join(args)), encoding="utf-8")
    return run


def _where(function: tuple[str, int, str]) -> str:
    """file:line(name), the file relative to the aggregator package, site-packages or the stdlib."""
    path, line, name = function
    if "/site-packages/" in path:
        path = path.rsplit("/site-packages/", 1)[1]
    elif "/aggregator/" in path:
        path = "aggregator/" + path.rsplit("/aggregator/", 1)[1]
    elif sys.prefix in path or sys.base_prefix in path:
        path = Path(path).name
    return f"{path}:{line}({name})" if line else name


def summarise(stats_file: Path, title: str) -> str:
    """The top functions by own time and by cumulative time, as Markdown tables."""
    stats = pstats.Stats(str(stats_file))
    total = stats.total_tt
    rows = stats.stats  # function -> (primitive calls, calls, tottime, cumtime, callers)
    lines = [f"# cProfile of `aggregator {title}`", "", f"Total profiled time: {total:.2f} s", ""]
    for heading, column in (("own time (tottime)", 2), ("cumulative time (cumtime)", 3)):
        lines += [
            f"## Top {TOP} by {heading}",
            "",
            "| share | seconds | calls | function |",
            "|---:|---:|---:|---|",
        ]
        ranked = sorted(rows.items(), key=lambda entry: entry[1][column], reverse=True)[:TOP]
        for function, values in ranked:
            seconds = values[column]
            lines.append(
                f"| {100 * seconds / total:.1f}% | {seconds:.2f} | {values[1]} | `{_where(function)}` |"
            )
        lines.append("")
    return "\n".join(lines)
