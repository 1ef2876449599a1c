"""The long sudden-death loop: SIGKILL `aggregator poll`, `run` and `publish` at random moments.

    python bench/kill_loop.py --rounds 200               # a hundred sources, about 10 minutes
    python bench/kill_loop.py --rounds 50 --sources 300 --seed 7

The CI version is tests/test_sudden_death.py (15 rounds); both use tests/kill_world.py. After every
round the database must pass PRAGMA integrity_check and still hold every (source, key) a reader
ever saw committed; all through the loop a reader thread parses every published file; at the end
one more poll must store every item of every source and publish exactly what a fresh publish
from the database writes. Prints one line per round and a summary; exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import filecmp
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from kill_world import Reader, World, integrity, leftover_temporaries, stored_keys


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed at the end)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kill-loop-"))
    world = World(folder / "world", sources=args.sources, seed=args.seed).start()
    rng = random.Random(args.seed)
    reader = Reader(world.output, world.database, seconds=args.rounds * 60 + 600).start()
    problems: list[str] = []
    outcomes = []
    started = time.monotonic()
    try:
        startup = world.startup_seconds()
        first = time.monotonic()
        if world.run("poll").returncode != 0:
            problems.append("the first poll failed")
        poll_seconds = time.monotonic() - first
        print(f"start-up {startup:.1f}s; first poll of {args.sources} sources: {poll_seconds:.1f}s")
        kinds = ["poll", "run", "poll", "publish", "run"]
        for n in range(args.rounds):
            kind = kinds[n % len(kinds)]
            outcome = world.kill_round(kind, world.kill_moment(kind, rng, startup, poll_seconds))
            outcomes.append(outcome)
            check = integrity(world.database)
            keys = stored_keys(world.database)
            lost = reader.committed - keys
            reader.committed |= keys
            state = "killed" if outcome.killed else f"ended {outcome.returncode}"
            print(
                f"round {n + 1:3d} {kind:7s} {state:9s} after {outcome.seconds:5.2f}s  integrity {check}  "
                f"items {len(keys)}  lost {len(lost)}  temporaries {len(leftover_temporaries(world.output))}",
                flush=True,
            )
            if check != "ok":
                problems.append(f"round {n + 1}: integrity_check says {check}")
            if lost:
                problems.append(f"round {n + 1}: lost {len(lost)} committed items, e.g. {sorted(lost)[:3]}")
        if world.run("poll").returncode != 0:
            problems.append("the final poll failed")
        missing = world.expected_keys() - stored_keys(world.database)
        if missing:
            problems.append(f"the final poll left {len(missing)} items unstored")
        fresh = folder / "fresh"
        world.write_config(folder / "fresh.yaml", fresh)
        subprocess.run(world.command("publish", folder / "fresh.yaml"), capture_output=True, check=True)
        names = sorted(p.name for p in fresh.iterdir())
        _, mismatch, errors = filecmp.cmpfiles(world.output, fresh, names, shallow=False)
        if mismatch or errors:
            problems.append(f"published files lag behind the database: {mismatch + errors}")
    finally:
        reader.stop()
        world.stop()
    problems += [f"reader saw {name}: {why}" for name, why in reader.failures[:10]]

    count = Counter((o.kind, o.killed) for o in outcomes)
    print(
        f"\n{len(outcomes)} rounds in {time.monotonic() - started:.0f}s: "
        + ", ".join(
            f"{kind} {'killed' if killed else 'ended'} {n}" for (kind, killed), n in sorted(count.items())
        )
    )
    print(
        f"reader: {reader.reads} file reads, {len(reader.failures)} partial or invalid; "
        f"{reader.database_reads} database reads, {len(reader.committed)} items seen committed"
    )
    print(f"temporary files left by killed publishers: {len(leftover_temporaries(world.output))}")
    print("OK" if not problems else "PROBLEMS:\n  " + "\n  ".join(problems))
    if args.keep:
        print(f"work folder: {folder}")
    else:
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
