"""B7 binds: the same messages over 1 bind and over 4 binds of one connector, each bind capped.

Operators cap each bind's throughput (100–150 messages/s is common), so a connector's throughput
grows with its binds. The simulator caps each bind at BIND_TPS answers per second
(`hirondelle smsc-sim --bind-tps`): 1,000 by default, so that 100,000 messages take minutes,
not hours; the ratio between the two runs is the figure, not the absolute numbers. The cap must
stay below what the store sustains (B3), or the store is the bound and binds show nothing: on a
loaded machine use a realistic operator cap (BENCH_B7_BIND_TPS=150) and fewer messages
(BENCH_B7_MESSAGES). `hirondelle
serve` on SQLite, window 100 per bind, receipts stored (B3's path).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from b3_end_to_end import end_to_end
from harness import report

MESSAGES = int(os.environ.get("BENCH_B7_MESSAGES", "100000"))
BIND_TPS = float(os.environ.get("BENCH_B7_BIND_TPS", "1000"))


def main() -> dict[str, object]:
    figures: dict[str, object] = {"messages": MESSAGES, "bind_tps_cap": BIND_TPS}
    for binds in (1, 4):
        figures.update(
            end_to_end(None, f"binds_{binds}", binds=binds, bind_tps=BIND_TPS, messages=MESSAGES)
        )
    one, four = figures["binds_1_messages_per_s"], figures["binds_4_messages_per_s"]
    assert isinstance(one, int) and isinstance(four, int)
    figures["speed_up"] = round(four / one, 2)
    figures["target"] = "4 binds near 4 x the cap of one, up to what the store allows"
    return report("B7 binds", figures)


if __name__ == "__main__":
    main()
