"""Errors, each carrying the stage that raised it.

    AggregatorError
     ├── ConfigError      the config file is unreadable or invalid (file, line, key)
     ├── FetchError       a source could not be fetched (reason: dns, refused, timeout, ...)
     ├── ParseError       the body is not a feed we can read
     ├── StoreError       the database cannot be opened or written
     │    └── LockLost    another daemon took the database while our connection was lost
     ├── LeaseLost        a worker's claim on a source ended before its poll was saved
     └── PublishError     an output file cannot be written

A FetchError or ParseError is recorded on the source's row and the poll goes on; the others
stop the run, because nothing useful can happen without a config, a database or an output folder.
"""

from __future__ import annotations

from .characters import xml_safe


class AggregatorError(Exception):
    """Base class of every error this program raises on purpose."""

    stage = "aggregator"

    def __str__(self) -> str:
        # Messages quote what servers and documents sent (a reason phrase, a URL in a page), and
        # they are stored (last_error), logged and printed: without what XML refuses (characters.py).
        return xml_safe(f"{self.stage}: {super().__str__()}")


class ConfigError(AggregatorError):
    stage = "config"

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, key: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.problems: list[ConfigError] = [self]

    @classmethod
    def many(cls, problems: list[ConfigError]) -> ConfigError:
        """One error standing for several located problems; str() lists them one per line."""
        error = problems[0]
        error.problems = problems
        return error

    def __str__(self) -> str:
        return "\n".join(problem.location() for problem in self.problems)

    def location(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class FetchError(AggregatorError):
    """A fetch failed. `reason` is a short machine-readable word; `status` the HTTP status if any."""

    stage = "fetch"

    def __init__(
        self, reason: str, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after  # seconds, from a Retry-After header


class ParseError(AggregatorError):
    stage = "parse"


class StoreError(AggregatorError):
    stage = "store"


class LockLost(StoreError):
    """The lock that keeps a daemon alone on its database (or workers among themselves) went with
    a lost connection, and another process took it meanwhile: this process must stop."""


class LeaseLost(AggregatorError):
    """An `aggregator worker` may not save its poll of a source: its claim ran out, or another
    worker claimed the source since (store/leases.py). Nothing of the poll was saved."""

    stage = "store"


class PublishError(AggregatorError):
    stage = "publish"
