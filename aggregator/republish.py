"""After a publish, everywhere else a change goes: static-site folders, the WebSub hub and the
topics' webhook receivers. `republish` is the whole step for `aggregator poll` and `publish`;
the daemon runs the same parts, the hub and the webhooks in background tasks of its own.
"""

from __future__ import annotations

import asyncio

from .config import Config
from .publish import PublishSettings
from .publish.selection import PublishReport, publish
from .publish.static_site import export_after_publish
from .store import Store
from .topics import compile_topics
from .webhooks import after_publish as deliver_webhooks

PING_TIMEOUT = 10.0  # seconds `poll` and `publish` wait for the WebSub hub; the daemon retries later


def settings_for(config: Config) -> PublishSettings:
    """The publish settings the config describes: its `output` section, and `polling.workers`
    for the processes a large membership build may use."""
    output = config.output
    return PublishSettings(
        dir=output.dir,
        base_url=output.base_url,
        max_items=output.max_items,
        title=output.title,
        websub_hub=output.websub_hub,
        processes=config.polling.workers,
    )


# Changes one publish lists (Store.unpublished). A longer backlog, left by storing without
# publishing (an import, days of failing publishes), is published whole and forgotten this many
# at a time: listing a million changes at once cost 180 MB.
LISTED = 20_000


def listed_changes(store: Store, everything: bool) -> tuple[dict[str, int], list[str] | None]:
    """(the changes a publish now covers, for Store.mark_published afterwards; the ids to publish
    incrementally, or None for a publish of everything)."""
    seen = store.unpublished(LISTED)
    return seen, None if everything or len(seen) >= LISTED else list(seen)


def republish(config: Config, store: Store, everything: bool) -> tuple[PublishReport, list[str]]:
    """Publish the topics the items listed unpublished touch (all topics when `everything`),
    then bring the static sites, the WebSub hub and the webhook receivers up to date.

    The changes are marked published once the files and the static sites are written: the hub
    and the receivers have queues of their own in the store, retried later on failure. Returns
    the publish report and what to tell the user of the rest, one line each.
    """
    topics = compile_topics(config.topics)
    settings = settings_for(config)
    seen, changed = listed_changes(store, everything)
    report = publish(store, topics, settings, changed)
    lines = [
        export.summary()
        for export in export_after_publish(store, topics, config.output, changed, settings.processes)
    ]
    store.mark_published(seen)
    lines += _ping_hub(config, store)
    delivered = deliver_webhooks(store, config.topics, settings, report.chosen, config.polling.user_agent)
    return report, [*lines, delivered] if delivered else lines


def _ping_hub(config: Config, store: Store) -> list[str]:
    """Tell the WebSub hub which feeds the publish rewrote (it queued them), with those earlier
    runs could not tell it of. A failed ping stays queued for the next run or the daemon."""
    hub = config.output.websub_hub
    if not hub:
        return []
    # Imported here, with the HTTP client, so that a publish without a hub does not load them.
    from .refresh import fetcher_for
    from .websub import publisher

    if not publisher.pings_due(store):
        return []

    async def ping() -> tuple[int, int]:
        timeout = min(config.polling.timeout, PING_TIMEOUT)
        async with fetcher_for(config.polling, timeout=timeout) as fetcher:
            return await publisher.send_pings(store, fetcher, hub)

    sent, failed = asyncio.run(ping())
    lines = [f"told WebSub hub {hub} that {sent} feeds changed"] if sent else []
    if failed:
        lines.append(f"could not tell WebSub hub {hub} of {failed} changed feeds (retried later)")
    return lines
