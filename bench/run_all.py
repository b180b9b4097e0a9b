"""`make bench`: run the benchmarks in turn and print their figures (one JSON line each)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import b1_accept
import b2_small_sends
import b3_end_to_end
import b4_footprint
import b5_smpp_codec
import b6_customer_area
import b7_binds
import b8_smpp_server
import b9_webhooks
import b10_hostile_bodies
import b11_purge
from harness import machine


def main() -> None:
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} — {machine()}", flush=True)
    started = time.perf_counter()
    benches = (
        b1_accept,
        b2_small_sends,
        b3_end_to_end,
        b4_footprint,
        b5_smpp_codec,
        b6_customer_area,
        b7_binds,
        b8_smpp_server,
        b10_hostile_bodies,
        b9_webhooks,
        b11_purge,
    )
    for bench in benches:
        bench.main()
    print(f"# all benchmarks: {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
