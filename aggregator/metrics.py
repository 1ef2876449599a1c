"""Metrics: counters and gauges about the daemon, rendered for Prometheus.

Text exposition format: https://prometheus.io/docs/instrumenting/exposition_formats/
Each Metrics instance owns its own prometheus_client CollectorRegistry, never the process-global
one, so several instances (tests, a config reload) never collide over metric names.

Series (counters also get the `_created` series prometheus_client adds):

    aggregator_polls_total{outcome}               polls by outcome: ok, not_modified, failed
    aggregator_source_errors_total{source_id}     failed polls per source
    aggregator_items_stored_total{kind}           items written: new, updated
    aggregator_poll_duration_seconds              histogram of one poll, fetch to store
    aggregator_publish_duration_seconds           histogram of one publish pass
    aggregator_topics_published_total             topics written by publish passes
    aggregator_sources                            sources configured
    aggregator_sources_failing / _dead / _gone    sources in each unhealthy state
    aggregator_items                              items in the database

The unhealthy states are separate gauges rather than one `state` label beside the total, so that a
sum over labels never counts a source twice.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

__all__ = ["POLL_OUTCOMES", "Metrics"]

POLL_OUTCOMES = ("ok", "not_modified", "failed")

# A poll is mostly network time: a 304 takes milliseconds, a slow source up to the fetch timeout.
_POLL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Publishing renders every changed topic in three formats: milliseconds to seconds.
_PUBLISH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """An in-memory metrics registry for one daemon; safe to update from several threads."""

    # The plain text format 0.0.4, which every Prometheus version reads; it is what
    # prometheus_client itself answers with when a scraper does not ask for OpenMetrics.
    content_type: str = CONTENT_TYPE_PLAIN_0_0_4

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._polls = Counter(
            "aggregator_polls", "Polls finished, by outcome.", ["outcome"], registry=registry
        )
        self._source_errors = Counter(
            "aggregator_source_errors", "Failed polls, by source.", ["source_id"], registry=registry
        )
        self._items_stored = Counter(
            "aggregator_items_stored", "Items written to the database, by kind.", ["kind"], registry=registry
        )
        self._poll_duration = Histogram(
            "aggregator_poll_duration_seconds",
            "Time one poll took, fetch to store.",
            buckets=_POLL_BUCKETS,
            registry=registry,
        )
        self._publish_duration = Histogram(
            "aggregator_publish_duration_seconds",
            "Time one publish pass took.",
            buckets=_PUBLISH_BUCKETS,
            registry=registry,
        )
        self._topics_published = Counter(
            "aggregator_topics_published", "Topics written by publish passes.", registry=registry
        )
        self._sources = Gauge("aggregator_sources", "Sources configured.", registry=registry)
        self._sources_failing = Gauge(
            "aggregator_sources_failing", "Sources whose last polls failed.", registry=registry
        )
        self._sources_dead = Gauge(
            "aggregator_sources_dead", "Sources no longer polled after failing too long.", registry=registry
        )
        self._sources_gone = Gauge(
            "aggregator_sources_gone", "Sources whose server answered 410 Gone.", registry=registry
        )
        self._items = Gauge("aggregator_items", "Items in the database.", registry=registry)
        # Every outcome and kind shows from the start, at 0: a series that appears only on its first
        # increment makes rate() miss that increment.
        for outcome in POLL_OUTCOMES:
            self._polls.labels(outcome=outcome)
        for kind in ("new", "updated"):
            self._items_stored.labels(kind=kind)

    def poll_finished(
        self,
        source_id: str,
        outcome: str,
        items_new: int = 0,
        items_updated: int = 0,
        duration: float = 0.0,
    ) -> None:
        """Count one finished poll of `source_id`.

        `outcome` is "ok", "not_modified" or "failed" (anything else raises ValueError);
        `duration` is in seconds.
        """
        if outcome not in POLL_OUTCOMES:
            raise ValueError(f"metrics: unknown poll outcome {outcome!r}, expected one of {POLL_OUTCOMES}")
        self._polls.labels(outcome=outcome).inc()
        if outcome == "failed":
            self._source_errors.labels(source_id=source_id).inc()
        if items_new:
            self._items_stored.labels(kind="new").inc(items_new)
        if items_updated:
            self._items_stored.labels(kind="updated").inc(items_updated)
        self._poll_duration.observe(duration)

    def publish_finished(self, duration: float, topics: int) -> None:
        """Count one publish pass that took `duration` seconds and wrote `topics` topics."""
        self._publish_duration.observe(duration)
        if topics:
            self._topics_published.inc(topics)

    def set_sources(self, total: int, failing: int, dead: int, gone: int) -> None:
        """Set how many sources are configured, and how many are in each unhealthy state."""
        self._sources.set(total)
        self._sources_failing.set(failing)
        self._sources_dead.set(dead)
        self._sources_gone.set(gone)

    def set_items(self, total: int) -> None:
        """Set how many items the database holds."""
        self._items.set(total)

    def render(self) -> bytes:
        """Every series in the Prometheus text format (serve it with `content_type`)."""
        return generate_latest(self.registry)
