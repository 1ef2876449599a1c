"""A throwaway PostgreSQL cluster for the tests: the server binaries of Debian's postgresql
package (/usr/lib/postgresql/*/bin), a data folder in a temporary directory, loopback only.

initdb and postgres refuse to run as root, and the tests run as root in CI, so the cluster is
made and run by an unprivileged user (Debian's `postgres`, else one created here) that owns the
data folder. The server listens on 127.0.0.1 on a free port and on a socket in that folder;
fsync is off, since nothing here needs to survive a crash of the machine.

The store connects as `aggregator`, an ordinary role (not a superuser) that owns its database,
with a password over TCP: what a real deployment gives it (README: PostgreSQL).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from itertools import count
from pathlib import Path

ADMIN = "postgres"  # the cluster's superuser, trusted on the socket only
ROLE, PASSWORD = "aggregator", "s3cret:/@pw"  # a password that needs escaping in a URL
_UNPRIVILEGED = "aggregator-test"  # made when the machine has no `postgres` user


def binaries() -> Path | None:
    """The newest PostgreSQL server's bin folder (Debian's layout), or the one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Cluster:
    """One running PostgreSQL server; `database()` makes an empty database and gives its URL."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="aggregator-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._names = count(1)
        if self.user:
            shutil.chown(self.root, self.user)

    def start(self) -> None:
        (self.root / "pw").write_text(PASSWORD + "\n")
        if self.user:
            shutil.chown(self.root / "pw", self.user)
        self._run(
            "initdb", "-D", self.data, "-U", ADMIN, "--pwfile", self.root / "pw", "--auth-local=trust",
            "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        for attempt in range(3):  # another process may take the free port before the server does
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            # -w: pg_ctl waits until the server accepts connections, up to -t seconds
            result = self._run(
                "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "log", "-w", "-t", "60", "start",
                check=attempt == 2,
            )  # fmt: skip
            if result.returncode == 0:
                break
        self.admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")

    def restart(self) -> None:
        """Restart the server with the options it started with, so that settings only read at
        start (ALTER SYSTEM SET shared_preload_libraries ...) apply; bench/workers.py uses it."""
        self._run(
            "pg_ctl", "-D", self.data, "-l", self.root / "log", "-m", "fast", "-w", "-t", "60", "restart"
        )

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser (outside any transaction: CREATE DATABASE)."""
        self._run("psql", "-h", self.root, "-p", str(self.port), "-U", ADMIN, "-d", "postgres",
                  "-v", "ON_ERROR_STOP=1", "-qc", sql)  # fmt: skip

    def database(self) -> str:
        """A new empty database owned by the store's role; its postgresql:// URL."""
        name = f"test_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name} OWNER {ROLE} TEMPLATE template0")
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop the database of this URL, closing any connection a test left open."""
        self.admin(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def url(self, name: str) -> str:
        from urllib.parse import quote

        return f"postgresql://{ROLE}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/{name}"

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, program: str, *args: object, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / program), *map(str, args)]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr}\n{self.log()}")
        return result


def _server_user() -> str | None:
    """The unprivileged user to run the server as; None when the tests do not run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", _UNPRIVILEGED):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", _UNPRIVILEGED], check=True)
    return _UNPRIVILEGED


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
