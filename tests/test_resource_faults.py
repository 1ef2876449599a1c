"""Resource faults: a full disk, a read-only output folder, a database locked by another process.

Each gives a clear error, is retried later (by the next `aggregator poll`, or by the daemon on its
own once the fault clears), corrupts nothing and loses nothing.

How the faults are made (the tests run as root in CI, where chmod stops nothing):
- a full disk: a small tmpfs mounted for the test and filled with a file (`mount -t tmpfs -o
  size=...`); where mounting is not permitted, a subprocess limited by RLIMIT_FSIZE, whose
  writes past the limit fail with EFBIG instead of ENOSPC (the same code paths);
- a read-only folder: that tmpfs remounted read-only; where mounting is not permitted, a file
  where the folder should be;
- a locked database: another process holding `BEGIN EXCLUSIVE` on it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import lxml.etree
import pytest
from conftest import FeedServer, wait_for

from aggregator.cli import main
from aggregator.errors import StoreError
from aggregator.models import Source
from aggregator.store import Store


def rss(*numbers: int, size: int = 200) -> str:
    items = "".join(
        f"<item><guid>https://news.example.com/{n}</guid><title>AI story {n}</title>"
        f"<link>https://news.example.com/{n}</link><description>{f'word{n} ' * (size // 6)}</description>"
        f"<pubDate>Fri, 01 Mar 2024 {n % 24:02d}:00:00 GMT</pubDate></item>"
        for n in numbers
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.example.com/</link>{items}</channel></rss>"
    )


def write_config(
    path: Path, database: Path, output: Path, url: str, port: int = 8080, interval: str = "30m"
) -> Path:
    path.write_text(
        "\n".join(
            [
                f"database: {database}",
                f"output: {{dir: {output}, base_url: 'http://127.0.0.1:{port}/'}}",
                f"server: {{host: 127.0.0.1, port: {port}}}",
                f"polling: {{interval: {interval}, timeout: 5s}}",
                "sources:",
                f"  - {{id: news, url: '{url}'}}",
                "topics:",
                "  everything: {title: Everything}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def integrity(database: Path) -> str:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def stored_keys(database: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return {row[0] for row in db.execute("SELECT key FROM item_sources")}


def published_titles(output: Path) -> list[str]:
    root = lxml.etree.fromstring((output / "everything.xml").read_bytes())
    return [title.text for title in root.iter("title")][1:]  # the first is the feed's


# -- faults -----------------------------------------------------------------------------------------


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = Path(f"/tmp/aggregator-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True
        )
        if done.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


CAN_MOUNT = _can_mount()
needs_mount = pytest.mark.skipif(not CAN_MOUNT, reason="mounting a tmpfs is not permitted here")


class Disk:
    """A small tmpfs mounted at `path` for one test; fill() takes its last byte, clear() gives it back."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write zeros until the disk says ENOSPC: in large blocks, then smaller, to the last byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 20, 4096, 64, 1):
                for _ in range(100_000):  # bounded: a tmpfs of a few MB is full long before
                    try:
                        os.write(fd, bytes(size))
                    except OSError as error:
                        assert error.errno == errno.ENOSPC, error
                        break
        finally:
            os.close(fd)

    def clear(self) -> None:
        self.filler.unlink(missing_ok=True)

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def disks() -> Iterator[Callable[[Path, str], Disk]]:
    mounted: list[Disk] = []

    def mount(path: Path, size: str = "1m") -> Disk:
        mounted.append(Disk(path, size))
        return mounted[-1]

    yield mount
    for disk in reversed(mounted):
        disk.unmount()


@contextlib.contextmanager
def locked(database: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the database's write lock (BEGIN EXCLUSIVE) until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"db = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
            "db.execute('ROLLBACK')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def poll(config: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "-c", str(config), "poll", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


# -- a locked database ------------------------------------------------------------------------------


def test_locked_database_is_waited_for_then_written(tmp_path, feed_server: FeedServer):
    config = write_config(
        tmp_path / "a.yaml", tmp_path / "db.sqlite", tmp_path / "public", feed_server.serve("/rss", rss(1))
    )
    assert poll(config).returncode == 0
    feed_server.serve("/rss", rss(1, 2))
    with locked(tmp_path / "db.sqlite"):
        process = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "-c", str(config), "poll", "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)  # the poll is waiting for the lock now (store.BUSY_TIMEOUT is 30 s)
        assert process.poll() is None
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "1 new" in out
    assert stored_keys(tmp_path / "db.sqlite") == {"https://news.example.com/1", "https://news.example.com/2"}
    assert integrity(tmp_path / "db.sqlite") == "ok"


def test_locked_database_past_the_busy_timeout_is_a_clear_error(
    tmp_path, feed_server: FeedServer, monkeypatch, capsys
):
    database = tmp_path / "db.sqlite"
    config = write_config(
        tmp_path / "a.yaml", database, tmp_path / "public", feed_server.serve("/rss", rss(1))
    )
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    feed_server.serve("/rss", rss(1, 2))
    monkeypatch.setitem(Store.__init__.__kwdefaults__, "busy_timeout", 1.0)
    capsys.readouterr()
    with locked(database):
        assert main(["-c", str(config), "poll", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"aggregator: store: database {database} is locked by another process (waited 1s" in err
    assert "Traceback" not in err
    assert integrity(database) == "ok" and stored_keys(database) == {"https://news.example.com/1"}
    # Retried later: the fault has cleared, and nothing was lost.
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert stored_keys(database) == {"https://news.example.com/1", "https://news.example.com/2"}
    assert published_titles(tmp_path / "public") == ["AI story 2", "AI story 1"]


def test_a_store_whose_write_failed_can_write_again(tmp_path):
    """A failed write (here: BEGIN, locked) leaves no transaction open behind it."""
    with Store(tmp_path / "db.sqlite", busy_timeout=0.2) as store:
        store.sync_sources([Source("a", "https://a.example/rss")])
        with locked(tmp_path / "db.sqlite"), pytest.raises(StoreError, match="is locked by another process"):
            store.save_state(store.source_state("a"))
        assert not store.db.conn.in_transaction
        store.save_state(store.source_state("a"))


# -- a full disk ------------------------------------------------------------------------------------


def limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@needs_mount  # RLIMIT_FSIZE cannot stand in here: the database's files outgrow the feeds first
def test_full_disk_under_the_output_folder(tmp_path, feed_server: FeedServer, disks):
    disk_path = tmp_path / "disk"
    output = disk_path / "public"
    database = tmp_path / "db.sqlite"
    config = write_config(tmp_path / "a.yaml", database, output, feed_server.serve("/rss", rss(1)))
    disk = disks(disk_path, "2m")
    assert poll(config).returncode == 0
    before = {path.name: path.read_bytes() for path in output.iterdir()}

    feed_server.serve("/rss", rss(*range(1, 40), size=4000))  # the new files are larger than the old
    disk.fill()
    done = poll(config)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"aggregator: publish: cannot write {output}/" in done.stderr
    assert "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
    # The old files are whole and untouched, no temporary file is left, and the items are stored.
    assert {path.name: path.read_bytes() for path in output.iterdir()} == before
    assert len(stored_keys(database)) == 39 and integrity(database) == "ok"

    disk.clear()
    done = poll(config)  # the next run finishes the work: nothing new to fetch, all to publish
    assert done.returncode == 0, done.stderr
    assert len(published_titles(output)) == 39


@pytest.mark.parametrize("fault", ["tmpfs", "rlimit"])
def test_full_disk_under_the_database(tmp_path, feed_server: FeedServer, disks, fault):
    if fault == "tmpfs" and not CAN_MOUNT:
        pytest.skip("mounting a tmpfs is not permitted here")
    disk_path = tmp_path / "disk"
    database = disk_path / "db.sqlite"
    output = tmp_path / "public"
    config = write_config(tmp_path / "a.yaml", database, output, feed_server.serve("/rss", rss(1, 2)))
    disk = disks(disk_path, "4m") if fault == "tmpfs" else None
    assert poll(config).returncode == 0
    first = stored_keys(database)

    feed_server.serve("/rss", rss(*range(1, 60), size=2000))
    if disk:
        disk.fill()
        done = poll(config)
    else:
        done = poll(config, preexec_fn=limit_file_size(database.stat().st_size + 64 * 1024))
    assert done.returncode == 1, done.stdout + done.stderr
    # Opening fails when WAL's shared-memory file cannot be made; else the first write fails.
    assert (
        f"cannot open database {database}" in done.stderr
        or f"cannot write database {database}" in done.stderr
    )
    assert ("the disk is full" if disk else "disk I/O error") in done.stderr
    assert "Traceback" not in done.stderr
    if disk:
        disk.clear()  # (even to check it: opening a WAL database needs room for its -shm file)
        disk.remount("size=64m")
    assert integrity(database) == "ok" and stored_keys(database) == first  # nothing lost, nothing half-saved

    done = poll(config)
    assert done.returncode == 0, done.stderr
    assert len(stored_keys(database)) == 59 and integrity(database) == "ok"
    assert len(published_titles(output)) == 50  # output.max_items


def test_output_folder_that_is_a_file(tmp_path, feed_server: FeedServer, capsys):
    """Where no read-only mount can be made: a file where the output folder should be."""
    output = tmp_path / "public"
    output.write_text("not a folder")
    config = write_config(
        tmp_path / "a.yaml", tmp_path / "db.sqlite", output, feed_server.serve("/rss", rss(1))
    )
    assert main(["-c", str(config), "poll", "--no-progress"]) == 1
    assert f"aggregator: publish: cannot create {output}" in capsys.readouterr().err
    output.unlink()
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert published_titles(output) == ["AI story 1"]


@needs_mount
def test_read_only_output_folder(tmp_path, feed_server: FeedServer, disks, capsys):
    disk = disks(tmp_path / "disk", "4m")
    output = tmp_path / "disk" / "public"
    config = write_config(
        tmp_path / "a.yaml", tmp_path / "db.sqlite", output, feed_server.serve("/rss", rss(1))
    )
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    before = {path.name: path.read_bytes() for path in output.iterdir()}
    feed_server.serve("/rss", rss(1, 2))
    disk.remount("ro")
    capsys.readouterr()
    assert main(["-c", str(config), "poll", "--no-progress"]) == 1
    assert "Read-only file system" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in output.iterdir()} == before
    disk.remount("rw")
    assert main(["-c", str(config), "poll", "--no-progress"]) == 0
    assert published_titles(output) == ["AI story 2", "AI story 1"]


# -- the daemon rides them out --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served_titles(port: int) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/everything.json", timeout=5) as response:
            return [item["title"] for item in json.load(response)["items"]]
    except OSError:
        return []


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@needs_mount
def test_daemon_rides_out_a_full_disk_a_read_only_folder_and_a_locked_database(
    tmp_path, feed_server: FeedServer, disks
):
    port = free_port()
    db_disk = disks(tmp_path / "dbdisk", "8m")
    out_disk = disks(tmp_path / "outdisk", "2m")
    database, output = db_disk.path / "db.sqlite", out_disk.path / "public"
    config = write_config(
        tmp_path / "a.yaml", database, output, feed_server.serve("/rss", rss(1)), port, interval="1s"
    )
    log = tmp_path / "daemon.log"
    with open(log, "ab") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "-c", str(config), "run"],
            stdout=log_file,
            stderr=log_file,
        )
    try:
        wait_for(lambda: served_titles(port) == ["AI story 1"], what="first publish")

        # 1. The output folder's disk is full: the old files are still served, the new item waits.
        out_disk.fill()
        feed_server.serve("/rss", rss(1, 2, size=4000))
        wait_for(lambda: "No space left on device" in log.read_text(), what="publish failure logged")
        assert served_titles(port) == ["AI story 1"] and healthy(port)
        out_disk.clear()
        wait_for(
            lambda: served_titles(port) == ["AI story 2", "AI story 1"], what="publish after space freed"
        )

        # 2. The output folder is read-only.
        out_disk.remount("ro")
        feed_server.serve("/rss", rss(1, 2, 3))
        wait_for(lambda: "Read-only file system" in log.read_text(), what="read-only failure logged")
        assert served_titles(port) == ["AI story 2", "AI story 1"]
        out_disk.remount("rw")
        wait_for(lambda: served_titles(port)[:1] == ["AI story 3"], what="publish after remount")

        # 3. Another process holds the database's write lock longer than the daemon waits for it.
        with locked(database):
            feed_server.serve("/rss", rss(1, 2, 3, 4))
            wait_for(lambda: "is locked by another process" in log.read_text(), what="lock failure logged")
            assert healthy(port) and "AI story 4" not in served_titles(port)
        wait_for(lambda: served_titles(port)[:1] == ["AI story 4"], what="saved after the lock is released")

        # 4. The database's disk is full.
        db_disk.fill()
        feed_server.serve("/rss", rss(*range(1, 60), size=3000))
        wait_for(lambda: "the disk is full" in log.read_text(), what="database full logged")
        db_disk.clear()
        wait_for(lambda: len(served_titles(port)) == 50, what="saved after space freed")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=20)
    assert code == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "retrying in" in text and "polls resume in" in text
    assert integrity(database) == "ok" and len(stored_keys(database)) == 59
