"""A loopback provider server in its own process, for the teacher benchmarks.

The client under test (tinyreason's engine, or Curator in its own interpreter) gets the machine's
other core instead of sharing a GIL with the server's threads. It prints one JSON line with the
server's ``base_url``, then answers commands read from stdin, one per line:

* ``stats``: one JSON line with the requests received, the 429s of the in-flight limit, the most
  requests it served at once, and how many questions were served (charged) more than once;
* ``reset``: forget the counts (and restart the limit's), keeping the port;
* end of input: stop.

Run by ``benchmarks/teacher_rate_limits.py``; on its own:
``.venv/bin/python benchmarks/_teacher_server.py --latency 0.2 --limit 8 --retry-after 1``
"""

from __future__ import annotations

import argparse
import json
import sys

from tinyreason.testing import ProviderServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--limit", type=int, default=None, help="requests served at once")
    parser.add_argument("--retry-after", default="1", help="Retry-After of the limit's 429s")
    args = parser.parse_args()

    with ProviderServer(latency=args.latency, retry_after=args.retry_after) as server:

        def limit() -> None:
            server.limit_in_flight(args.limit, retry_after=args.retry_after)

        limit()
        print(json.dumps({"base_url": server.base_url}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                stats = server.limit_stats
                successes = server.successes
                print(
                    json.dumps(
                        {
                            "requests": len(server.requests),
                            "refused": stats.refused if stats else 0,
                            "peak": stats.peak if stats else None,
                            "served": sum(successes.values()),
                            "questions": len(successes),
                            "charged_twice": sum(1 for n in successes.values() if n > 1),
                        }
                    ),
                    flush=True,
                )
            elif command == "reset":
                server.reset()
                limit()
                print(json.dumps({"reset": True}), flush=True)


if __name__ == "__main__":
    main()
