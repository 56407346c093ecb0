"""Benchmark: sensor readings generated per second of wall time by pipelines.simulator (one core).

Writes bench/results/simulator.json (machine, git commit and settings inside) and prints it. Not
a test: run it with `.venv/bin/python bench/simulator_bench.py`.
"""

from __future__ import annotations

import argparse
import json
import time

from _meta import bench_meta, write_result  # sibling bench module

from pipelines.plant import load_plant
from pipelines.simulator import SCENARIOS, Simulator, TransportFaults

TARGET_READINGS_PER_S = 50_000


def measure(scenario: str, rate: float, seconds: float, tick_ms: int, malformed: float) -> dict:
    """Return the generation rate of `seconds` of event time ticked in tick_ms steps."""
    plant = load_plant()
    faults = TransportFaults(
        duplicate_rate=malformed / 2, out_of_order_rate=malformed, malformed_rate=malformed
    )
    sim = Simulator(plant, scenario, seed=42, rate=rate, start_ms=1_764_300_000_000, faults=faults)
    readings = events = 0
    wall0 = time.perf_counter()
    for _ in range(int(seconds * 1000) // tick_ms):
        batch = sim.tick(tick_ms)
        events += len(batch)
        readings += sum(1 for e in batch if e.topic == "readings")
    wall = time.perf_counter() - wall0
    return {
        "scenario": scenario,
        "rate": rate,
        "tags": len(plant.tags),
        "event_seconds": seconds,
        "tick_ms": tick_ms,
        "malformed_rate": malformed,
        "readings": readings,
        "events": events,
        "wall_s": round(wall, 3),
        "readings_per_s": round(readings / wall),
        "events_per_s": round(events / wall),
        "target_readings_per_s": TARGET_READINGS_PER_S,
        "meets_target": readings / wall >= TARGET_READINGS_PER_S,
    }


def main() -> None:
    """Parse arguments, run the benchmark and print its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    parser.add_argument("--rate", type=float, default=50_000.0, help="readings/s of event time")
    parser.add_argument("--seconds", type=float, default=20.0, help="event seconds to generate")
    parser.add_argument("--tick-ms", type=int, default=100)
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    args = parser.parse_args()
    used = {"scenario": args.scenario, "rate": args.rate, "seconds": args.seconds,
            "tick_ms": args.tick_ms, "malformed_rate": args.malformed_rate, "seed": 42}  # fmt: skip
    non_defaults = {
        f"--{k.replace('_', '-')}": {"used": v, "default": parser.get_default(k)}
        for k, v in vars(args).items()
        if v != parser.get_default(k)
    }
    result = {"meta": bench_meta(used, non_defaults)}
    result |= measure(args.scenario, args.rate, args.seconds, args.tick_ms, args.malformed_rate)
    write_result("simulator", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
