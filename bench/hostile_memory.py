"""Peak memory and time of `aggregator poll` over a world of hostile servers (all on 127.0.0.1).

    python bench/hostile_memory.py                          # 50 sources, as tests/test_hostile_servers.py
    python bench/hostile_memory.py --sources 200 --timeout 20s --repeat 3

Every hostile case of tests/test_hostile_servers.py (drips, endless bodies, gzip bombs, 5 MB
single-line documents, redirect loops, ...) is served by one loopback server, the heavy cases
three times as often; polling allows every request in flight at once (concurrency and per_host
equal to the number of sources). Prints the peak RSS (wait4), the wall time and the outcome
count of each run.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile_server import HostileServer
from test_hostile_servers import hostile_world, run_measured


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--timeout", default="8s", help="polling.timeout")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    server = HostileServer().start()
    try:
        for run in range(args.repeat):
            folder = Path(tempfile.mkdtemp(prefix="hostile-"))
            sources = hostile_world(server, args.sources)
            config = folder / "aggregator.yaml"
            config.write_text(
                "\n".join(
                    [
                        f"database: {folder / 'db.sqlite'}",
                        f"output: {{dir: {folder / 'public'}, base_url: 'http://127.0.0.1:8080/'}}",
                        f"polling: {{timeout: {args.timeout}, concurrency: {args.sources}, per_host: {args.sources}}}",
                        "sources:",
                        *[f"  - {{id: {sid}, url: '{url}'}}" for sid, url in sources],
                        "topics:",
                        "  everything: {title: Everything}",
                        "",
                    ]
                ),
                encoding="utf-8",
            )
            command = [sys.executable, "-m", "aggregator", "-c", str(config), "poll", "--no-progress"]
            code, peak_mb, seconds, output = run_measured(command, timeout=600)
            summary = re.search(r"polled .*", output)
            print(
                f"run {run + 1}: exit {code}, peak RSS {peak_mb:.0f} MB, {seconds:.1f}s; "
                f"{summary.group(0) if summary else output[-300:]}"
            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
