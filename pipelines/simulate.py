"""Drive the plant simulator into Kafka through the validated ingest path, paced in real time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from pipelines.ingest import IngestCounts, IngestProducer
from pipelines.plant import load_plant
from pipelines.settings import Settings
from pipelines.simulator import Simulator, TransportFaults

TICK_MS = 100
# transport faults that send a reading after readings younger than it (by design, its event time
# is older than its arrival by up to ~1 s for out_of_order and late_by_s for late)
DELAYING_FAULTS = ("out_of_order", "late")


def run_simulation(
    settings: Settings,
    scenario: str,
    duration_s: float,
    rate: float,
    seed: int,
    faults: TransportFaults,
    realtime: bool = True,
    start_ms: int | None = None,
    on_progress: Callable[[float, IngestCounts], None] | None = None,
    scheduled: list[tuple[float, str, Callable[[int], dict | None]]] | None = None,
) -> tuple[IngestCounts, dict]:
    """Stream `duration_s` of simulated plant into Kafka; return counts and run facts.

    With realtime=True the event clock is paced to the wall clock (event time = now), as a live
    plant would send; with realtime=False it runs as fast as possible from start_ms. `scheduled`
    holds (plant second, topic, make(event_time_ms) -> record) extras such as operator actions.
    """
    plant = load_plant(settings.simulator.plant_file)
    start = start_ms if start_ms is not None else int(time.time() * 1000)
    sim = Simulator(plant, scenario=scenario, seed=seed, rate=rate, start_ms=start, faults=faults)
    producer = IngestProducer(settings, source="simulator", known_tags=plant.tags.keys())
    run_id = uuid.uuid4().hex[:12]
    wall0 = time.monotonic()
    ticks = int(duration_s * 1000 // TICK_MS)
    faults_seen: dict[str, int] = {}
    delayed: list[tuple[str, int]] = []  # readings the transport faults held back on purpose
    pending = sorted(scheduled or [], key=lambda item: item[0])
    for i in range(ticks):
        while pending and pending[0][0] * 1000 <= (i + 1) * TICK_MS:
            at_s, topic, make = pending.pop(0)
            record = make(start + int(at_s * 1000))
            if record is not None:  # None: the scripted step found nothing to act on
                producer.submit(topic, record=record)
        for ev in sim.tick(TICK_MS):
            producer.submit(ev.topic, record=ev.record, raw=ev.raw)
            if ev.fault:
                faults_seen[ev.fault] = faults_seen.get(ev.fault, 0) + 1
                if ev.fault in DELAYING_FAULTS and isinstance(ev.record, dict):
                    delayed.append((ev.record.get("tag"), ev.record.get("event_time_ms")))
        producer.poll()
        if on_progress and i % 10 == 9:
            on_progress((i + 1) * TICK_MS / 1000, producer.counts)
        if realtime:
            ahead = (i + 1) * TICK_MS / 1000 - (time.monotonic() - wall0)
            if ahead > 0:
                time.sleep(ahead)
    producer.flush()
    producer.write_ledger(run_id)
    facts = {
        "run_id": run_id,
        "scenario": scenario,
        "seed": seed,
        "rate": rate,
        "start_ms": start,
        "end_ms": sim.now_ms,
        "wall_s": round(time.monotonic() - wall0, 2),
        "faults_injected": faults_seen,
        "delayed_readings": delayed,
        "timeline": sim.scenario_timeline(),
    }
    return producer.counts, facts
