"""Several `aggregator worker` processes on one PostgreSQL database (issue 9): how polling scales
with workers, what a claim costs among a million sources, and how many commits a poll takes.

    python bench/workers.py --rounds 3 --out bench/results/WORKERS.md

A throwaway PostgreSQL cluster (tests/pg.py, with pg_stat_statements loaded) and a feed server
(server.py) answering every feed `--latency` seconds late on `--hosts` loopback addresses, so
that the per-host cap is not what limits. Then:

- **Cold rounds.** For each worker count, each round in a fresh database: the sources are
  synced and put off, the workers (`aggregator worker` subprocesses, default config but for
  `concurrency` and the database) start and settle, then every source is made due at once and
  timed until each has been polled and saved. Polls per second are medians of the rounds. The
  floor is the same GETs alone (bare_get.get_all) at the workers' total concurrency and the same
  per-host cap: what the network allows. Then a 304 round with fresh workers: every source due
  again, each answering 304, so that a save is one row.
- **Commits per poll.** pg_stat_database.xact_commit of the round's database from the moment the
  sources fall due until the workers have exited (a backend reports its counts at the latest
  when it exits), less the bench's own, divided by the polls; pg_stat_statements says what they
  are (an autocommit statement is one transaction, a BEGIN ... COMMIT block another), and its
  time for the write lock is the time saves waited for each other.
- **Claims.** `--claim-sources` rows copied into `sources` (COPY): most not due, `--due` due
  and free, `--leased` due but claimed by a live worker (the most overdue, so every claim walks
  past them, as in a real backlog). `leases.claim` of 50 sources is timed `--claims` times by 1,
  2 and 4 claimers at once (threads, one connection each); after each claim its sources are
  saved (untimed, as a poll's save does: put off, claim ended), so the due set drains as it would.

Nothing leaves the machine. The report is printed and written to --out (bench/results/ is
git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bare_get
import configgen
import psycopg
import world

from aggregator import config as aggregator_config
from aggregator.store import Store, leases
from aggregator.store.rows import _format_time

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from pg import ADMIN, Cluster, binaries  # noqa: E402  (the tests' throwaway cluster)

SETTLE_SECONDS = 3.0  # after the workers start: their first ticks (a full publish of an empty store)
ROUND_TIMEOUT = 600.0
BENCH = "/* bench */ "  # marks the bench's own statements, left out of pg_stat_statements' list
CLAIM = 50  # sources per claim (a worker claims up to 2 x polling.concurrency, 20 by default)
LEASE = 120.0


def log(message: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {message}", file=sys.stderr, flush=True)


@dataclass
class Round:
    """One cold round of `workers` workers."""

    workers: int
    seconds: float
    polls: int
    failed: int
    commits: int
    cpu: float  # the workers' CPU seconds (with their pool processes) during the round
    statements: dict[str, tuple[int, float]] = field(default_factory=dict)  # see _statements
    not_modified: float = 0.0  # seconds of the next round, where every source answers 304


# -- the world -------------------------------------------------------------------------------------


class LatentServer:
    """server.py with --latency and --hosts, in a child process for the length of a `with`."""

    def __init__(self, sources: int, items: int, hosts: int, latency: float) -> None:
        epoch = world.starting_epoch(items, time.time())
        argv = [sys.executable, str(HERE / "server.py"), f"--sources={sources}", f"--items={items}"]
        argv += [f"--epoch={epoch}", f"--hosts={hosts}", f"--latency={latency}"]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.process.kill()
            raise RuntimeError(f"the feed server did not start: {line!r}")
        self.bases = [f"http://127.0.0.{h}:{int(line)}" for h in range(1, hosts + 1)]

    def __enter__(self) -> LatentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# -- cold rounds -----------------------------------------------------------------------------------


def cold_round(
    cluster: Cluster, admin: psycopg.Connection, server: LatentServer, args, workers: int
) -> Round:
    url = cluster.database()
    name = url.rsplit("/", 1)[1]
    folder = Path(tempfile.mkdtemp(prefix=f"workers-{workers}-", dir=args.work))
    config_path = folder / "aggregator.yaml"
    configgen.write_config(
        config_path,
        sources=args.sources,
        feed_base=server.bases,
        data_dir=folder,
        port=1,  # workers serve nothing
        interval="1h",
        concurrency=args.concurrency,
        per_host=2,  # the default: shared by all the workers
        database=url,
        topics=args.topics,
    )
    with Store(url) as store:  # closed before counting starts, so its commits are reported
        store.sync_sources(aggregator_config.load(config_path).sources)
        store.db.execute("UPDATE sources SET next_check_at = ?", ["2999-01-01T00:00:00+00:00"])
    with _running(config_path, workers, "cold") as children, psycopg.connect(url, autocommit=True) as db:
        before = _commits(admin, name)
        admin.execute("SELECT pg_stat_statements_reset()")
        cpu = _cpu(children)
        seconds, own = _all_polled(db, args.sources, children)
        cpu = _cpu(children) - cpu
    # Every backend of the round has ended, and so reported its transactions.
    _wait(lambda: not _backends(admin, name), 30, "the workers' connections to close")
    commits = _commits(admin, name) - before - own
    statements = _statements(admin, name)
    # Every source again, with workers started afresh: each answers 304 now (its ETag).
    with _running(config_path, workers, "304") as children, psycopg.connect(url, autocommit=True) as db:
        db.execute(BENCH + "UPDATE sources SET last_checked_at = NULL")
        again, _ = _all_polled(db, args.sources, children)
        failed = db.execute(BENCH + "SELECT count(*) FROM sources WHERE last_success_at IS NULL").fetchone()[
            0
        ]
    _wait(lambda: not _backends(admin, name), 30, "the workers' connections to close")
    cluster.drop(url)
    return Round(workers, seconds, args.sources, failed, commits, cpu, statements, again)


@contextmanager
def _running(config_path: Path, workers: int, tag: str) -> Iterator[list[subprocess.Popen]]:
    """`workers` workers on this config, started and settled, for the length of a `with`."""
    logs = [config_path.parent / f"{tag}-worker-{i}.log" for i in range(workers)]
    children = [_spawn(config_path, f"bench-{i}", log_path) for i, log_path in enumerate(logs)]
    try:
        for child, log_path in zip(children, logs, strict=True):
            _wait(lambda c=child, p=log_path: _started(c, p), 60, f"worker {log_path} to start")
        time.sleep(SETTLE_SECONDS)
        yield children
        for child, log_path in zip(children, logs, strict=True):
            if child.poll() is not None:
                raise RuntimeError(f"a worker exited: {log_path.read_text()[-2000:]}")
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=30)


def _backends(admin: psycopg.Connection, name: str) -> int:
    return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]).fetchone()[0]


def _all_polled(db: psycopg.Connection, sources: int, children: list[subprocess.Popen]) -> tuple[float, int]:
    """Make every source due and wait until each has been polled: (seconds, the bench's commits)."""
    started = time.perf_counter()
    db.execute(BENCH + "UPDATE sources SET next_check_at = NULL")
    own = 1
    while True:
        own += 1
        done = db.execute(BENCH + "SELECT count(*) FROM sources WHERE last_checked_at IS NOT NULL")
        if done.fetchone()[0] >= sources:
            return time.perf_counter() - started, own
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a worker exited (its log is in --out's folder, under work/)")
        if time.perf_counter() - started > ROUND_TIMEOUT:
            raise RuntimeError(f"{len(children)} workers did not poll every source in {ROUND_TIMEOUT:g}s")
        time.sleep(0.02)


def _spawn(config_path: Path, name: str, log_path: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "aggregator", "-c", str(config_path), "worker", "--name", name]
    with open(log_path, "wb") as out:
        return subprocess.Popen([*argv, "--log-format", "json"], stdout=out, stderr=out)


def _started(child: subprocess.Popen, log_path: Path) -> bool:
    if child.poll() is not None:
        raise RuntimeError(f"a worker exited: {log_path.read_text()[-2000:]}")
    return " started: " in log_path.read_text(errors="replace")


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _commits(admin: psycopg.Connection, name: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    return admin.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [name]).fetchone()[0]


def _statements(admin: psycopg.Connection, name: str) -> dict[str, tuple[int, float]]:
    """Each statement the workers ran in the round: (calls, milliseconds on the server)."""
    rows = admin.execute(
        "SELECT query, calls, total_exec_time FROM pg_stat_statements s JOIN pg_database d "
        "ON d.oid = s.dbid WHERE d.datname = %s AND query NOT LIKE %s ORDER BY calls DESC",
        [name, BENCH.strip() + "%"],
    ).fetchall()
    return {" ".join(query.split()): (calls, ms) for query, calls, ms in rows}


def _cpu(children: list[subprocess.Popen]) -> float:
    """User + system CPU seconds of these processes and their live descendants (the pools)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        # utime, stime, and the reaped children's cutime, cstime
        ticks[pid] = sum(int(f) for f in fields[11:15])
    roots = {child.pid for child in children}

    def under(pid: int) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(t for pid, t in ticks.items() if under(pid)) / os.sysconf("SC_CLK_TCK")


def floor(server: LatentServer, args, workers: int) -> float:
    """Seconds for the same cold GETs alone at `workers` x concurrency, 2 per host."""
    urls = [(server.bases[s % len(server.bases)] + world.feed_path(s), {}) for s in range(args.sources)]
    result = asyncio.run(bare_get.get_all(urls, workers * args.concurrency, per_host=2))
    return result["seconds"]


# -- claims among a million sources -------------------------------------------------------------


def fill(url: str, total: int, due: int, leased: int) -> None:
    """`total` sources: the first `leased` (most overdue) claimed by a live worker, then `due`
    free and due, the rest due in the next 30 minutes; interleaved across the table's pages."""
    now = datetime.now(UTC)
    with Store(url):  # the schema
        pass
    until = now + timedelta(hours=1)
    with psycopg.connect(url, autocommit=True) as db:
        columns = "id, url, config_url, title, next_check_at, lease_owner, lease_token, lease_until"
        with db.cursor() as cursor, cursor.copy(f"COPY sources ({columns}) FROM STDIN") as copy:
            every_leased, every_due = total // leased, total // due
            rank = Counter()
            for i in range(total):
                kind = "leased" if i % every_leased == 0 else "due" if i % every_due == 1 else "later"
                k = rank[kind]
                rank[kind] += 1
                if kind == "leased":
                    at, owner, lease_until = (
                        now - timedelta(hours=2) + timedelta(milliseconds=k),
                        "other",
                        until,
                    )
                elif kind == "due":
                    at, owner, lease_until = now - timedelta(hours=1) + timedelta(milliseconds=k), None, None
                else:
                    at, owner, lease_until = now + timedelta(seconds=1 + k * 1800 / total), None, None
                feed = f"https://feeds{i % 5000}.example.com/{i}.xml"
                copy.write_row(
                    (f"s{i:07d}", feed, feed, f"Source {i}", _format_time(at), owner, 1, lease_until)
                )
        db.execute("VACUUM ANALYZE sources")


def claims(url: str, claimers: int, calls: int) -> list[float]:
    """Seconds of each of `calls` claims of CLAIM sources by each of `claimers` at once."""
    stores = [Store(url) for _ in range(claimers)]
    barrier = threading.Barrier(claimers)
    times: list[list[float]] = [[] for _ in range(claimers)]
    later = _format_time(datetime.now(UTC) + timedelta(days=1))

    def claimer(n: int) -> None:
        store = stores[n]
        barrier.wait()
        for _ in range(calls):
            started = time.perf_counter()
            got = leases.claim(store, f"claimer-{n}", LEASE, datetime.now(UTC), CLAIM)
            times[n].append(time.perf_counter() - started)
            if len(got) < CLAIM:
                raise RuntimeError(f"claimed {len(got)} sources: raise --due")
            store.db.execute(  # what the polls' saves do, in one statement
                "UPDATE sources SET next_check_at = ?, lease_owner = NULL, lease_until = NULL "
                "WHERE id = ANY(?)",
                [later, list(got)],
            )

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(claimers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for store in stores:
            store.close()
    if sum(map(len, times)) != claimers * calls:
        raise RuntimeError("a claimer failed (see its traceback above)")
    return [t for per in times for t in per]


def _server_claim_ms(admin: psycopg.Connection, name: str) -> float:
    """The claim statement's mean execution time on the server, in milliseconds."""
    row = admin.execute(
        "SELECT sum(total_exec_time) / sum(calls) FROM pg_stat_statements s JOIN pg_database d "
        "ON d.oid = s.dbid WHERE d.datname = %s AND query LIKE 'UPDATE sources SET lease_owner%%'",
        [name],
    ).fetchone()
    return row[0] or 0.0


# -- the report ----------------------------------------------------------------------------------


def report(args, rounds: list[Round], floors: dict[int, list[float]], claim_rows: list[tuple]) -> str:
    lines = [
        "# Several workers on one PostgreSQL database",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; `python bench/workers.py "
        + " ".join(sys.argv[1:])
        + "`",
    ]
    if rounds:
        lines += _rounds_table(args, rounds, floors)
    if claim_rows:
        lines += _claims_table(args, claim_rows)
    return "\n".join(lines) + "\n"


# What the transactions of a round are: (what, the starts of the statements that count one each).
TRANSACTIONS = [
    (
        "write transactions (saves, publish bookkeeping): each takes the write lock first",
        ("SELECT pg_advisory_xact_lock(",),
    ),
    (
        "host slots taken and freed (store/leases.py SharedHostSlots)",
        ("SELECT slot FROM unnest(", "SELECT pg_advisory_unlock($1, $2)"),
    ),
    ("a source's state read before its poll", ("SELECT * FROM sources WHERE id IN",)),
    ("claims (one per tick and worker)", ("UPDATE sources SET lease_owner",)),
    (
        "publish and prune try-locks and unlocks",
        ("SELECT pg_try_advisory_lock($1)", "SELECT pg_advisory_unlock($1)"),
    ),
]


def _rounds_table(args, rounds: list[Round], floors: dict[int, list[float]]) -> list[str]:
    lines = [
        "",
        f"Cold round: {args.sources} sources x {args.items} new items on {args.hosts} loopback hosts, "
        f"every answer {args.latency * 1000:g} ms late; `polling.concurrency` {args.concurrency}, `per_host` 2 "
        f"(across workers), {args.topics} topics; medians of {args.rounds} rounds, each in a fresh database. "
        "Not-modified round: right after, every source due again, every answer a 304.",
        "",
        "| workers | cold polls/s | x 1 worker | floor polls/s (bare GETs, workers x concurrency) | "
        "share of floor | worker CPU ms/poll | write-lock wait ms/poll | commits/poll | failed "
        "| 304 polls/s | x 1 worker |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    counts = sorted({r.workers for r in rounds})

    def median(values) -> float:
        return statistics.median(list(values))

    rate = {w: median(r.polls / r.seconds for r in rounds if r.workers == w) for w in counts}
    again = {w: median(r.polls / r.not_modified for r in rounds if r.workers == w) for w in counts}
    for w in counts:
        mine = [r for r in rounds if r.workers == w]
        floor_rate = args.sources / median(floors[w])
        wait = median(_calls(r, TRANSACTIONS[0][1][0])[1] / r.polls for r in mine)
        lines.append(
            f"| {w} | {rate[w]:.1f} | {rate[w] / rate[counts[0]]:.2f} | {floor_rate:.1f} | "
            f"{rate[w] / floor_rate:.0%} | {median(1000 * r.cpu / r.polls for r in mine):.1f} | {wait:.1f} | "
            f"{median(r.commits / r.polls for r in mine):.2f} | {max(r.failed for r in mine)} | "
            f"{again[w]:.1f} | {again[w] / again[counts[0]]:.2f} |"
        )
    last = [r for r in rounds if r.workers == counts[-1]][-1]
    (args.out.parent / "statements.txt").write_text(
        "calls/poll  server ms/poll  statement\n"
        + "".join(
            f"{calls / last.polls:10.3f}  {ms / last.polls:14.3f}  {query}\n"
            for query, (calls, ms) in last.statements.items()
        ),
        encoding="utf-8",
    )
    lines += [
        "",
        f"What the commits are (the last cold round of {last.workers} workers, per poll; every statement "
        "outside a BEGIN ... COMMIT block is a transaction of its own; all statements in statements.txt):",
        "",
        "| per poll | transactions |",
        "| ---: | --- |",
    ]
    named = 0.0
    for what, starts in TRANSACTIONS:
        per_poll = sum(_calls(last, start)[0] for start in starts) / last.polls
        named += per_poll
        lines.append(f"| {per_poll:.2f} | {what} |")
    lines.append(
        f"| {last.commits / last.polls - named:.2f} | the rest: reads outside transactions (publishing's "
        "queries, the unpublished list, health counts) |"
    )
    lines.append(f"| **{last.commits / last.polls:.2f}** | all |")
    return lines


def _calls(r: Round, start: str) -> tuple[int, float]:
    """Calls and server milliseconds of the statements of round `r` that begin with `start`."""
    found = [v for query, v in r.statements.items() if query.startswith(start)]
    return sum(c for c, _ in found), sum(ms for _, ms in found)


def _claims_table(args, claim_rows: list[tuple]) -> list[str]:
    lines = [
        "",
        f"Claims: `leases.claim` of {CLAIM} sources among {args.claim_sources:,} "
        f"({args.due:,} due, {args.leased:,} due but claimed, the rest not due), {args.claims} claims "
        "per claimer, each followed by the save of what it claimed (untimed).",
        "",
        "| claimers at once | median ms | p95 ms | max ms | server ms (mean, pg_stat_statements) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for claimers, times, server_ms in claim_rows:
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)))]
        lines.append(
            f"| {claimers} | {1000 * statistics.median(ordered):.2f} | {1000 * p95:.2f} | "
            f"{1000 * ordered[-1]:.2f} | {server_ms:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--items", type=int, default=5, help="items per feed document")
    parser.add_argument("--hosts", type=int, default=100, help="loopback hosts the feeds are spread over")
    parser.add_argument("--latency", type=float, default=0.25, help="seconds each feed answer takes")
    parser.add_argument("--concurrency", type=int, default=5, help="polling.concurrency of each worker")
    parser.add_argument("--topics", type=int, default=50, help="topics published (of configgen's 50)")
    parser.add_argument("--claim-sources", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--leased", type=int, default=2_000)
    parser.add_argument("--claims", type=int, default=200, help="claims timed per claimer")
    parser.add_argument("--no-claims", action="store_true", help="skip the million-source claims")
    parser.add_argument("--no-rounds", action="store_true", help="skip the cold rounds")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "WORKERS.md")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    if not args.no_claims and args.due < CLAIM * args.claims * (1 + 2 + 4):
        parser.error(f"--due must be at least {CLAIM} x --claims x 7 (every claim takes due sources)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.work = args.out.parent / "work"
    args.work.mkdir(exist_ok=True)

    # SIGTERM ends the bench as Ctrl-C does: the workers, the feed server and the cluster stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    bin_dir = binaries()
    if bin_dir is None:
        sys.exit("PostgreSQL server binaries not found (apt-get install postgresql)")
    cluster = Cluster(bin_dir)
    cluster.start()
    try:
        cluster.admin("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        cluster.restart()
        cluster.admin("CREATE EXTENSION pg_stat_statements")
        admin = psycopg.connect(host=str(cluster.root), port=cluster.port, user=ADMIN, dbname="postgres")
        admin.autocommit = True
        rounds: list[Round] = []
        floors: dict[int, list[float]] = {w: [] for w in counts}
        if not args.no_rounds:
            with LatentServer(args.sources, args.items, args.hosts, args.latency) as server:
                for n in range(args.rounds):
                    for w in counts:  # interleaved, so that a noisy minute hits every count alike
                        rounds.append(cold_round(cluster, admin, server, args, w))
                        floors[w].append(floor(server, args, w))
                        r = rounds[-1]
                        log(
                            f"round {n + 1}, {w} workers: {r.polls / r.seconds:.1f} polls/s, "
                            f"floor {args.sources / floors[w][-1]:.1f}/s, {r.commits / r.polls:.2f} commits/poll"
                        )
        claim_rows = []
        if not args.no_claims:
            url = cluster.database()
            log(f"filling {args.claim_sources:,} sources")
            fill(url, args.claim_sources, args.due, args.leased)
            for claimers in (1, 2, 4):
                admin.execute("SELECT pg_stat_statements_reset()")
                times = claims(url, claimers, args.claims)
                claim_rows.append((claimers, times, _server_claim_ms(admin, url.rsplit("/", 1)[1])))
                log(f"{claimers} claimers: median {1000 * statistics.median(times):.2f} ms")
            cluster.drop(url)
        admin.close()
    finally:
        cluster.stop()
    text = report(args, rounds, floors, claim_rows)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
