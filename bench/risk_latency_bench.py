"""Benchmark of the risk job's latency; writes bench/results/risk_latency.json. Not a test.

On the real broker and the real risk job at the shipped settings (`HAZCHEM_RISK__*` defaults and
the shipped risk model), alarm events are fed live on `alarms` while readings (the clock) and
personnel positions flow in the background. For every alarm event that changes a color, the
latency is the time from the alarm record's Kafka timestamp to the first `risk.levels` record it
caused (its area or hazard source, stamped at the alarm's event time, or up to 2 s later when
the alarm arrived late), by that record's Kafka timestamp; p50/p99 are reported.

Each cycle raises a high then a critical gas alarm in every area (two color changes per area),
clears them, and waits out the anti-flapping hold so the next cycle starts from rest.

Run: `python bench/risk_latency_bench.py` (starts Kafka when down). Topics are prefixed and
deleted afterwards. HAZCHEM_BENCH_RISK_CYCLES sets the number of cycles (default 5).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from pipelines.kafka_acls import admin_client, grant_acls, revoke_acls
from pipelines.kafka_client import client_config
from pipelines.kafka_stats import read_since
from pipelines.plant import load_plant
from pipelines.risk.engine import risk_plant
from pipelines.risk.model import load_model
from pipelines.services import flink, kafka
from pipelines.settings import PROJECT_ROOT, get_settings
from pipelines.stats import percentile
from streaming_jobs.risk_job import JOB_TOPICS

RESULTS = PROJECT_ROOT / "bench" / "results" / "risk_latency.json"
ALARM_GAP_S = 0.5  # between alarm events
READINGS_PER_S = 200  # background clock traffic
PEOPLE = 20  # background positions, one per person per second
TARGET_P99_MS = 1000


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def machine() -> dict:
    """Return the machine's cores, memory, load and the git commit measured."""
    mem_kb = next(
        int(line.split()[1])
        for line in open("/proc/meminfo").read().splitlines()
        if line.startswith("MemTotal:")
    )
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
    ).stdout.strip()  # fmt: skip
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "load_average_1_5_15": list(os.getloadavg()),
        "python": platform.python_version(),
        "git_commit": commit,
        "git_dirty": bool(dirty),
    }


def alarm(area: str, hs: str | None, cond: str, prio: str, event: str, ts: int, n: int) -> dict:
    tag = f"GD-BENCH-{area}"
    return {
        "event_id": f"b{n}", "episode_id": f"{tag}:{cond}:{n}", "enterprise_code": "E",
        "hazard_source_code": hs, "unit_code": "U-BENCH", "area_code": area, "tag": tag,
        "condition": cond, "alarm_class": "gas", "event": event, "limit": 25.0, "value": 30.0,
        "unit": "%LEL", "priority": prio, "event_time_ms": ts,
    }  # fmt: skip


class Background(threading.Thread):
    """Readings (the risk clock) and positions at live event times until stopped."""

    def __init__(self, producer: Producer, prefix: str) -> None:
        super().__init__(daemon=True)
        self.producer, self.prefix, self.stop = producer, prefix, threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.stop.is_set():
            now = int(time.time() * 1000)
            for i in range(READINGS_PER_S // 10):
                reading = {"tag": f"T{i}", "value": 1.0, "event_time_ms": now}
                self.producer.produce(self.prefix + "readings", orjson.dumps(reading))
            if tick % 10 == 0:
                for p in range(PEOPLE):
                    position = {
                        "person_id": f"P{p:03d}", "tag_id": f"UWB-{p}", "enterprise_code": "E",
                        "person_type": "employee", "area_code": "A-OF", "x_m": 1.0, "y_m": 1.0,
                        "sos": False, "event_time_ms": now,
                    }  # fmt: skip
                    self.producer.produce(self.prefix + "positions", orjson.dumps(position))
            self.producer.poll(0)
            tick += 1
            time.sleep(0.1)


def main() -> None:
    settings = get_settings()
    log(kafka.start(settings))
    flink.fetch_jars(settings)
    cycles = int(os.environ.get("HAZCHEM_BENCH_RISK_CYCLES", "5"))
    plant = risk_plant(load_plant(settings.simulator.plant_file))
    model = load_model(settings.risk.model_file)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    admin = admin_client(settings)
    grant_acls(settings, topic_prefix=prefix)  # the risk job's principal on the bench's topics
    names = [prefix + t for t in JOB_TOPICS] + [prefix + t + ".dlq" for t in JOB_TOPICS]
    for fut in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
        fut.result()
    # stands in for the alarm job and the gateways: the admin writes every topic
    producer = Producer(client_config(settings, "admin", **{"linger.ms": 0}))
    background = Background(producer, prefix)
    sent: list[dict] = []
    started = time.time()
    try:
        flink.start_job(settings, "risk", ["--topic-prefix", prefix, "--group", prefix + "g"])
        flink.wait_until_running(settings, "risk", timeout_s=420)
        log("job running; warming up 10 s")
        background.start()
        time.sleep(10)
        n = 0
        for cycle in range(cycles):
            log(f"cycle {cycle + 1}/{cycles}")
            raised = []
            for cond, prio in (("H", "high"), ("HH", "critical")):
                for area, hs in sorted(plant.area_hs.items()):
                    n += 1
                    rec = alarm(area, hs, cond, prio, "raised", int(time.time() * 1000), n)
                    producer.produce(prefix + "alarms", orjson.dumps(rec), key=rec["tag"])
                    producer.flush()
                    sent.append(rec)
                    raised.append(rec)
                    time.sleep(ALARM_GAP_S)
            for rec in raised:
                n += 1
                clear = {**rec, "event": "cleared", "event_id": f"b{n}",
                         "event_time_ms": int(time.time() * 1000)}  # fmt: skip
                producer.produce(prefix + "alarms", orjson.dumps(clear), key=clear["tag"])
                producer.flush()
                time.sleep(0.05)
            time.sleep(model.hold_lower_s + 5)  # every color back to rest
        time.sleep(5)
    finally:
        background.stop.set()
        flink.stop_job(settings, "risk")
        producer.flush()
    alarms_ts = {orjson.loads(v)["event_id"]: ts
                 for ts, v in read_since(settings, prefix + "alarms", 0)}  # fmt: skip
    levels = []
    for ts, v in read_since(settings, prefix + "risk.levels", 0, timeout_s=60):
        rec = orjson.loads(v)
        levels.append((rec["event_time_ms"], rec["object_code"], ts))
    latencies = []
    for rec in sent:
        # its change is stamped at its event time, or a little later when it arrived late
        at, objects = rec["event_time_ms"], (rec["area_code"], rec["hazard_source_code"])
        caused = [kts for et, obj, kts in levels if obj in objects and at <= et < at + 2000]
        if caused:
            latencies.append(min(caused) - alarms_ts[rec["event_id"]])
    log_file = flink.job_process(settings, "risk").log_file
    late = sum(1 for line in log_file.read_text(errors="replace").splitlines()
               if line.startswith("late risk input") and f" on {prefix}" in line)  # fmt: skip
    revoke_acls(settings, prefix)
    admin.delete_topics(names)
    results = {
        "what": "alarm record Kafka timestamp -> first risk.levels record it caused (Kafka ts)",
        "settings": {
            "shipped_defaults": True,
            "clock_lag_ms": settings.risk.clock_lag_ms,
            "risk_model": str(settings.risk.model_file or "pipelines/data/risk_model.yaml"),
            "hold_lower_s": model.hold_lower_s,
        },
        "load": {
            "readings_per_s": READINGS_PER_S,
            "positions_per_s": PEOPLE,
            "alarm_events_raised": len(sent),
            "alarm_gap_s": ALARM_GAP_S,
        },  # fmt: skip
        "color_changes_measured": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else None,
        "samples_ms": latencies,
        "target_p99_ms": TARGET_P99_MS,
        "meets": bool(latencies) and (percentile(latencies, 99) or 1e9) <= TARGET_P99_MS,
        "run_s": round(time.time() - started, 1),
        "late_inputs": late,
        "machine": machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
