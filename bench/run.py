"""Benchmark the aggregator on a synthetic loopback world and write the results as Markdown.

    python bench/run.py --sizes 100,1000 --rounds 3 --out bench/results/RESULTS.md

For each size N, a feed server process (server.py) serves N sources of --items items on
127.0.0.1, and a generated config (configgen.py) points the aggregator at it with 50 topics. Each
round, in a fresh database, runs `aggregator poll` cold (everything new), again (every source
answers 304; then bare_get.py sends the same conditional GETs alone, the floor), again after
--share of the sources got one new item (steady), and `aggregator publish` into an empty folder
(then the same bytes are written with open/write, the floor). Figures are medians of the rounds.
Then, in this process: lxml's raw parse of the world's documents (the floor of the cold poll) and
what each of our stages costs per document, new and changed; and, unless --no-daemon, the latency
from a change to the daemon serving it. --million grows a store to a million items and polls and
publishes the 1000-source world against it; --profile writes cProfile summaries of a cold and a
steady poll beside the results.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import configgen
import daemon
import floors
import measure
import million
import profiling
import report
import world

from aggregator import config as aggregator_config
from aggregator.publish.selection import publish
from aggregator.republish import settings_for
from aggregator.store import Store
from aggregator.topics import compile_topics

HERE = Path(__file__).resolve().parent
STAGE_DOCUMENTS = 20  # documents for the per-stage costs
MILLION = 1_000_000
MILLION_CHECKPOINTS = [10_000, 100_000]


def log(message: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {message}", file=sys.stderr, flush=True)


class WorldServer:
    """server.py in a child process, for the length of a `with` block."""

    def __init__(self, sources: int, items: int, epoch: float) -> None:
        argv = [
            sys.executable,
            str(HERE / "server.py"),
            f"--sources={sources}",
            f"--items={items}",
            f"--epoch={epoch}",
        ]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()  # the port, once it listens; "" if it died
        if not line.strip().isdigit():
            self.process.kill()
            raise RuntimeError(f"the world server did not start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line)}"

    def __enter__(self) -> WorldServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def change(self, share: float) -> int:
        """Give a random `share` of the sources one new item each; return how many changed."""
        request = urllib.request.Request(
            self.base + "/_change", data=json.dumps({"share": share}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return len(json.loads(response.read())["changed"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _database_bytes(config: aggregator_config.Config) -> int:
    return sum(
        path.stat().st_size
        for path in config.database.parent.glob(config.database.name + "*")
        if path.suffix != ".lock"
    )


def _incremental_publish(config: aggregator_config.Config, since: str) -> float:
    """Wall seconds of the publish a poll runs for the stories first seen since `since`.

    The files are already up to date, so this is the cost of choosing and rendering the touched
    topics; writing is the floor's business.
    """
    settings = settings_for(config)
    with Store(config.database) as store:
        changed = [row[0] for row in store.db.execute("SELECT id FROM items WHERE first_seen >= ?", [since])]
        started = time.perf_counter()
        publish(store, compile_topics(config.topics), settings, changed)
        return time.perf_counter() - started


class Bench:
    """One run of the benchmark, configured by the command line."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.epoch = world.starting_epoch(args.items, time.time())

    def config(self, server: WorldServer, sources: int, data_dir: Path) -> aggregator_config.Config:
        path = data_dir.with_suffix(".yaml")
        configgen.write_config(
            path,
            sources=sources,
            feed_base=server.base,
            data_dir=data_dir,
            port=_free_port(),
            interval=self.args.interval,
            concurrency=self.args.concurrency,
        )
        return aggregator_config.load(path)

    def poll(self, config: aggregator_config.Config, timeout: float | None = None) -> measure.Run:
        argv = measure.aggregator(config.path, "poll", "--no-progress")
        return measure.run(argv, timeout=timeout or self.args.timeout)

    def publish(self, config: aggregator_config.Config, timeout: float | None = None) -> measure.Run:
        shutil.rmtree(config.output.dir, ignore_errors=True)  # every file written, none compared
        return measure.run(measure.aggregator(config.path, "publish"), timeout=timeout or self.args.timeout)

    def size(self, sources: int) -> report.SizeResult:
        args = self.args
        result = report.SizeResult(sources, args.items, args.rounds)
        root = _fresh(args.work / f"n{sources}")
        with WorldServer(sources, args.items, self.epoch) as server:
            runs: dict[str, list[measure.Run]] = {
                name: [] for name in ("startup", "cold", "idle", "bare", "steady", "publish")
            }
            bare_loops, incremental, write_floors = [], [], []
            for round_number in range(args.rounds):
                log(f"N={sources}: round {round_number + 1} of {args.rounds}")
                config = self.config(server, sources, root / f"round{round_number}")
                runs["startup"].append(
                    measure.run(measure.aggregator(config.path, "config", "check"), timeout=600)
                )
                runs["cold"].append(self.poll(config))
                runs["idle"].append(self.poll(config))
                bare = measure.run(
                    [
                        sys.executable,
                        str(HERE / "bare_get.py"),
                        server.base,
                        f"--concurrency={args.concurrency}",
                    ],
                    timeout=600,
                )
                runs["bare"].append(bare)
                bare_loops.append(json.loads(bare.stdout)["seconds"])
                since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                result.changed_sources = server.change(args.share)
                runs["steady"].append(self.poll(config))
                incremental.append(_incremental_publish(config, since))
                runs["publish"].append(self.publish(config))
                write_floors.append(floors.write_seconds(config.output.dir))
                result.db_bytes = _database_bytes(config)
                with Store(config.database) as store:
                    result.stored_items = store.count_items()
                if round_number < args.rounds - 1:
                    shutil.rmtree(config.database.parent)
            for name, done in runs.items():
                setattr(result, name, measure.Summary.of(done))
            result.bare_loop = statistics.median(bare_loops)
            result.incremental_publish = statistics.median(incremental)
            result.write_floor = statistics.median(write_floors)
            published = [p for p in config.output.dir.iterdir() if p.is_file()]
            result.publish_files = len(published)
            result.publish_bytes = sum(p.stat().st_size for p in published)
            self.floors(result, config)
            if not args.no_daemon:
                log(f"N={sources}: daemon latency")
                try:
                    result.latency = daemon.measure_latency(
                        config.path, server.base, config.server.port, sources, args.changes
                    )
                except (TimeoutError, measure.CommandFailed) as error:
                    result.notes.append(f"daemon latency not measured: {str(error).splitlines()[0]}")
            if args.profile:
                self.profile(server, sources)
        return result

    def floors(self, result: report.SizeResult, config: aggregator_config.Config) -> None:
        """lxml's raw parse of the world's documents, and our stages per document, in this process."""
        log(f"N={result.sources}: floors and per-stage costs")
        local = world.World(result.sources, self.args.items, self.epoch)
        sample = min(result.sources, self.args.sample)
        documents = [local.document(s) for s in range(sample)]
        result.lxml_all = floors.lxml_seconds(documents) * result.sources / sample
        result.lxml_sampled = sample
        result.document_size = sorted(len(d) for d in documents)[sample // 2]
        del documents
        sources = list(config.sources[:STAGE_DOCUMENTS])
        with tempfile.TemporaryDirectory() as scratch, Store(Path(scratch) / "stages.db") as store:
            store.sync_sources(sources)
            result.cold_document = floors.document_costs(local, sources, store)
            local.change(list(range(len(sources))), time.time())
            result.changed_document = floors.document_costs(local, sources, store)

    def profile(self, server: WorldServer, sources: int) -> None:
        log(f"N={sources}: profiling a cold and a steady poll")
        config = self.config(server, sources, _fresh(self.args.work / f"n{sources}" / "profile"))
        out = self.args.out.parent
        profiling.profile(
            config.path, ["poll", "--no-progress"], out / f"profile-cold-n{sources}", self.args.timeout
        )
        server.change(self.args.share)
        profiling.profile(
            config.path, ["poll", "--no-progress"], out / f"profile-steady-n{sources}", self.args.timeout
        )

    def million(self) -> report.MillionResult:
        """Grow a store to a million items, then poll and publish the 1000-source world on top of them.

        Each command may take --million-timeout seconds; one killed at its deadline is reported
        as such, with its CPU and peak memory up to then.
        """
        args = self.args
        sources = report.TARGET_SOURCES
        result = report.MillionResult(sources, timeout=args.million_timeout)
        with WorldServer(sources, args.items, self.epoch) as server:
            config = self.config(server, sources, _fresh(args.work / "million"))
            local = world.World(sources, args.items, self.epoch)
            log(f"million: storing history until the store holds {MILLION:,} items")
            started = time.perf_counter()
            with Store(config.database) as store:
                result.checkpoints = million.build(
                    store, local, list(config.sources), MILLION, MILLION_CHECKPOINTS
                )
            result.build_seconds = time.perf_counter() - started
            for name in ("cold", "steady", "publish"):
                log(f"million: {name} (at most {args.million_timeout:g} s)")
                if name == "steady":
                    server.change(args.share)
                try:
                    run = (self.publish if name == "publish" else self.poll)(config, args.million_timeout)
                except measure.CommandFailed as error:
                    if not error.timed_out:
                        raise
                    run = error.run
                    result.killed.append(name)
                setattr(result, name, measure.Summary.of([run]))
            with Store(config.database) as store:
                result.stored_items = store.count_items()
                cost = million.changed_store_cost(store, local, config.sources[0], len(result.checkpoints))
                result.checkpoints.append(million.Checkpoint(result.stored_items, result.build_seconds, cost))
                log("million: reading stories newest first")
                result.scan = million.scan(store, args.scan_budget)
            result.db_bytes = _database_bytes(config)
        return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: python bench/run.py --sizes 100,1000 --rounds 3 --out bench/results/RESULTS.md",
    )
    parser.add_argument(
        "--sizes", default="100,1000", help="numbers of sources, comma-separated (default 100,1000)"
    )
    parser.add_argument("--items", type=int, default=50, help="items per source (default 50)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per size; figures are medians (default 3)"
    )
    parser.add_argument("--share", type=float, default=0.05, help="share of sources changed per steady poll")
    parser.add_argument("--concurrency", type=int, default=20, help="polling.concurrency (and per_host)")
    parser.add_argument(
        "--interval", default="10s", help="polling.interval, for the daemon latency (default 10s)"
    )
    parser.add_argument("--changes", type=int, default=5, help="changes timed through the daemon (default 5)")
    parser.add_argument("--sample", type=int, default=1000, help="documents lxml parses for the cold floor")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds any one command may take")
    parser.add_argument("--no-daemon", action="store_true", help="skip the daemon latency")
    parser.add_argument("--million", action="store_true", help="also grow a store to 1M items and measure it")
    parser.add_argument(
        "--million-timeout", type=float, default=600, help="seconds each command may take against 1M items"
    )
    parser.add_argument(
        "--scan-budget", type=float, default=120, help="seconds to read stories newest first from 1M items"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also write cProfile summaries of cold and steady polls"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE / "results" / "RESULTS.md", help="the Markdown report"
    )
    parser.add_argument("--work", type=Path, default=HERE / "results" / "work", help="databases and outputs")
    args = parser.parse_args(argv)
    args.sizes = [int(n) for n in args.sizes.split(",")]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out = args.out.resolve()
    args.work = args.work.resolve()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    # Children run `python -m aggregator`, which puts the current folder first on sys.path: run
    # them from the work folder, so they import the installed package (or PYTHONPATH's), the same
    # one this process imports.
    os.chdir(args.work)
    # Children start from the package's bytecode, as an installed program does (pip compiles it
    # on install): under PYTHONDONTWRITEBYTECODE, which our shells set, each would otherwise
    # compile the package's modules from source, some 70 ms of every command's start-up.
    compileall.compile_dir(Path(aggregator_config.__file__).parent.parent, quiet=1)
    bench = Bench(args)
    command = "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    world_line = (
        f"{args.items} items per source of 3-6 KB article HTML (3/5 of sources Chinese; 4/5 RSS 2.0, 1/5 Atom); "
        f"{len(configgen.TOPICS)} topics; polling.concurrency = per_host = {args.concurrency}; "
        f"{args.share:.0%} of sources changed per steady poll; daemon interval {args.interval}"
    )
    sizes: list[report.SizeResult] = []
    million_result = None
    for sources in args.sizes:
        sizes.append(bench.size(sources))
        args.out.write_text(report.render(command, world_line, sizes, None), encoding="utf-8")
    if args.million:
        million_result = bench.million()
    args.out.write_text(report.render(command, world_line, sizes, million_result), encoding="utf-8")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
