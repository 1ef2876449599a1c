"""Sudden death: SIGKILL `aggregator poll`, `run` and `publish` at random moments, many times over.

Afterwards the database passes PRAGMA integrity_check, every item ever seen committed is still
there, no reader ever saw a published file partly written (a thread reads and parses every file
all through the loop), and the next run finishes the work: every item of every source is stored,
and the published files are exactly what a fresh publish from the database writes. Temporary
files of killed publishers are never served and are cleaned up once stale.

CI runs KILLS rounds against a world of a hundred sources; the long version is
`python bench/kill_loop.py --rounds 200` (see that script).
"""

from __future__ import annotations

import filecmp
import random
import subprocess
import time
import urllib.error
import urllib.request

from kill_world import Reader, World, age, check_file, integrity, leftover_temporaries, stored_keys

KILLS = 15
SOURCES = 100
# Kill moments are random within what each command does after starting up (World.kill_moment).
KINDS = ["poll", "run", "poll", "publish", "run"]


def served(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_kill_loop(tmp_path):
    world = World(tmp_path / "world", sources=SOURCES, seed=6).start()
    rng = random.Random(6)
    reader = Reader(world.output, world.database, seconds=600).start()
    try:
        startup = world.startup_seconds()
        started = time.monotonic()
        first = world.run("poll")  # one whole poll, to know how long one takes
        assert first.returncode == 0
        poll_seconds = time.monotonic() - started
        outcomes = []
        for n in range(KILLS):
            kind = KINDS[n % len(KINDS)]
            outcome = world.kill_round(kind, world.kill_moment(kind, rng, startup, poll_seconds))
            outcomes.append(outcome)
            # After every kill: an intact database that still holds all that was ever committed.
            assert integrity(world.database) == "ok", outcome
            keys = stored_keys(world.database)
            assert reader.committed <= keys, (outcome, sorted(reader.committed - keys)[:5])
            reader.committed |= keys
        killed = sum(o.killed for o in outcomes)
        assert killed >= KILLS // 2, outcomes  # most rounds really died mid-way

        # The next run finishes the work.
        assert world.run("poll").returncode == 0
        assert integrity(world.database) == "ok"
        assert world.expected_keys() <= stored_keys(world.database)
        fresh = tmp_path / "fresh"
        world.write_config(tmp_path / "fresh.yaml", fresh)
        assert (
            subprocess.run(world.command("publish", tmp_path / "fresh.yaml"), capture_output=True).returncode
            == 0
        )
        published = sorted(p.name for p in world.output.iterdir() if not p.name.startswith("."))
        assert published == sorted(p.name for p in fresh.iterdir())
        _, mismatch, errors = filecmp.cmpfiles(world.output, fresh, published, shallow=False)
        assert (mismatch, errors) == ([], []), "published files lag behind the database"
    finally:
        reader.stop()
    assert reader.failures == [], reader.failures[:5]
    assert reader.reads > 100 and reader.database_reads > 10
    for path in world.output.iterdir():
        if not path.name.startswith("."):
            assert check_file(path.name, path.read_bytes()) is None, path.name

    # Temporary files a killed publisher left are never served, and a later publish removes them
    # once stale. (A kill between mkstemp and rename is rare: make one if the loop left none.)
    leftovers = leftover_temporaries(world.output)
    if not leftovers:
        (world.output / ".everything.xml.deadbeef.tmp").write_bytes(b"<rss><channel><tit")
        leftovers = leftover_temporaries(world.output)
    server = subprocess.Popen(world.command("serve"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if served(world.port, "/everything.xml") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        for path in leftovers:
            assert served(world.port, f"/{path.name}") == 404, path.name
    finally:
        server.terminate()
        server.wait(timeout=20)
    fresh_temporary = world.output / ".everything.atom.fresh.tmp"
    fresh_temporary.write_bytes(b"a writer may still be here")
    age(leftovers, 3600)
    assert world.run("publish").returncode == 0
    assert leftover_temporaries(world.output) == [fresh_temporary]
    world.stop()
