"""Start-up: a command loads only the libraries it uses (issue 7: a publish in under a second).

Every command is a process of its own, so what it imports is part of what it costs: the
poller's and the daemon's libraries added about half a second to a publish that uses none of
them. Each command runs here in a fresh interpreter, as a user runs it, and the test names the
libraries it must not have loaded, so that an import moved back to the top of a module fails
here instead of slowing every command down unnoticed (aggregator/cli/__init__.py says how
imports are placed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CONFIG = "config/sample.yaml"

# What polling, the daemon, the server, Hugo exports, PostgreSQL and the terminal tables use.
POLLER = ["aiohttp", "feedparser", "readability", "lxml.html", "nh3", "numpy", "multiprocessing"]
DAEMON = ["apscheduler", "prometheus_client", "pythonjsonlogger"]
OTHERS = ["html_to_markdown", "psycopg", "rich", "bs4", "sqlite_utils", "pandas"]
NOT_FOR_READERS = POLLER + DAEMON + OTHERS

# Runs the command line in this interpreter, then prints which of the named modules it imported.
PROBE = """
import json, sys
from aggregator.cli import main
code = main(sys.argv[2:])
print(json.dumps({"code": code, "loaded": [m for m in json.loads(sys.argv[1]) if m in sys.modules]}))
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory where `aggregator -c config/sample.yaml poll` has stored the sample
    feeds, so that the commands below have stories to publish, search and show."""
    folder = tmp_path_factory.mktemp("startup")
    shutil.copytree(ROOT / "config", folder / "config")
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "-q", "-c", CONFIG, "poll", "--no-progress"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return folder


def loaded(folder: Path, *args: str) -> tuple[list[str], str]:
    """(which of NOT_FOR_READERS `aggregator -c config/sample.yaml ARGS` imported, its output)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(NOT_FOR_READERS), "-c", CONFIG, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    *output, last = done.stdout.splitlines()
    result = json.loads(last)
    assert result["code"] == 0, done.stdout + done.stderr
    return result["loaded"], "\n".join(output)


def test_publish_loads_no_poller_daemon_or_terminal_library(sample: Path):
    shutil.rmtree(sample / "public", ignore_errors=True)  # every file rendered and written
    modules, output = loaded(sample, "publish")
    assert modules == []
    assert "published 6 topics" in output
    assert (sample / "public" / "ai.atom").read_bytes().startswith(b"<?xml")


@pytest.mark.parametrize(
    "args",
    [
        ["config", "check"],
        ["search", "rust"],
        ["topics", "test", "ai", "--limit", "5"],
        ["stories"],
        ["sources", "export"],
    ],
    ids=" ".join,
)
def test_commands_that_read_load_no_poller_or_daemon(sample: Path, args: list[str]):
    assert loaded(sample, *args)[0] == []


def test_the_probe_sees_what_a_command_imports(sample: Path):
    """The check above would pass if the probe saw nothing: a poll must show the poller's libraries."""
    modules, _ = loaded(sample, "poll", "--no-progress")
    assert {"aiohttp", "feedparser", "readability"} <= set(modules)
