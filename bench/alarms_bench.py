"""Benchmark of the streaming alarm path; writes bench/results/alarms.json. Not a test.

One run on this machine measures, on the real broker and the real Flink job:
- sustained_readings_per_s: a preloaded backlog of readings through Kafka -> alarm job (bounded
  mode) -> alarm topics, divided by the time the job's tasks were running;
- p50/p99 latency from a reading's event time to its alarm event in Kafka, with readings produced
  in real time for 90 s at 5,000/s (and at the highest rate that keeps up), from tags flapping
  across a limit; steady state, the first 6 s (the job's warm-up) reported apart;
- raw_consume_per_s: a plain confluent-kafka consumer reading the same backlog;
- python_baseline_per_s: one Python process consuming the backlog and applying the same rules
  (pipelines.alarms.processor.TagProcessor), with no Flink.

Run with `make bench` (it starts Kafka). Topics are prefixed and deleted afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid

import orjson
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pipelines.alarms.processor import TagProcessor, plant_processors
from pipelines.kafka_stats import read_since
from pipelines.plant import load_plant
from pipelines.services import flink, kafka
from pipelines.settings import PROJECT_ROOT, get_settings
from pipelines.simulator import Simulator
from pipelines.stats import percentile
from streaming_jobs.alarms_job import JOB_TOPICS as TOPICS

RESULTS = PROJECT_ROOT / "bench" / "results" / "alarms.json"
# The first flapping cycle (6 s) after the job starts is its warm-up; reported apart.
WARMUP_S = 6.0
LATENCY_RUN_S = 90  # ~2,000 steady-state alarm events per latency run
TARGETS = {"sustained_readings_per_s": 50_000, "p99_latency_ms_at_5000": 500,
           "share_of_raw_consume_pct": 50}  # fmt: skip


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Run:
    """One prefixed set of topics on the local broker."""

    def __init__(self, settings) -> None:  # noqa: ANN001
        self.settings = settings
        self.prefix = f"bench{uuid.uuid4().hex[:6]}."
        self.admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
        new = [NewTopic(self.prefix + t, num_partitions=4 if t == "readings" else 1,
                        replication_factor=1) for t in TOPICS]  # fmt: skip
        for fut in self.admin.create_topics(new).values():
            fut.result()

    def topic(self, name: str) -> str:
        return self.prefix + name

    def drop(self) -> None:
        for fut in self.admin.delete_topics([self.topic(t) for t in TOPICS]).values():
            try:
                fut.result()
            except Exception:  # noqa: BLE001 - best effort
                pass


def preload(settings, run: Run, n: int, rate: float) -> int:  # noqa: ANN001
    """Produce n simulated readings (event times just behind now) as fast as possible."""
    plant = load_plant()
    seconds = n / rate
    sim = Simulator(
        plant, "mixed", seed=1, rate=rate, start_ms=int(time.time() * 1000 - seconds * 1000 - 5000)
    )
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 50,
                         "batch.num.messages": 10000, "compression.type": "lz4",
                         "queue.buffering.max.messages": 1_000_000})  # fmt: skip
    topic = run.topic("readings")
    count = 0
    while count < n:
        for ev in sim.tick(1000):
            if ev.topic != "readings" or ev.record is None or ev.fault:
                continue
            while True:
                try:
                    producer.produce(topic, orjson.dumps(ev.record), key=ev.record["tag"].encode())
                    break
                except BufferError:
                    producer.poll(0.1)
            count += 1
        producer.poll(0)
    producer.flush(120)
    return count


def raw_consume(settings, topic: str, n: int) -> float:  # noqa: ANN001
    """Records/s of a plain Python consumer reading the topic from the beginning."""
    c = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers,
                  "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    c.subscribe([topic])
    got = 0
    t0 = None
    while got < n:
        for m in c.consume(10000, timeout=1.0):
            if m.error():
                continue
            t0 = t0 or time.perf_counter()
            got += 1
    elapsed = time.perf_counter() - t0
    c.close()
    return got / elapsed


def python_baseline(settings, topic: str, n: int) -> float:  # noqa: ANN001
    """Records/s of one Python process consuming and applying the same rules (no Flink)."""
    configs, contexts = plant_processors()
    procs = {t: TagProcessor(configs[t], contexts[t]) for t in configs}
    c = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers,
                  "group.id": uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    c.subscribe([topic])
    got = 0
    t0 = None
    outputs = 0
    while got < n:
        for m in c.consume(10000, timeout=1.0):
            if m.error():
                continue
            t0 = t0 or time.perf_counter()
            r = orjson.loads(m.value())
            outputs += len(procs[r["tag"]].on_reading(r["event_time_ms"], r["value"]))
            got += 1
    elapsed = time.perf_counter() - t0
    c.close()
    return got / elapsed


def job_env(watermark_ms: int) -> dict[str, str]:
    env = flink.job_env()
    env["HAZCHEM_FLINK__WATERMARK_DELAY_MS"] = str(watermark_ms)
    env["HAZCHEM_FLINK__SOURCE_IDLE_TIMEOUT_MS"] = "500"
    return env


def start_job(settings, run: Run, bounded: bool, watermark_ms: int) -> subprocess.Popen:  # noqa: ANN001
    argv = flink.job_argv("alarms", ["--topic-prefix", run.prefix, "--group", run.prefix + "g"]
                          + (["--bounded"] if bounded else []))  # fmt: skip
    log_file = open(settings.run_dir / "flink" / f"{run.prefix}log", "w")  # noqa: SIM115
    return subprocess.Popen(argv, env=job_env(watermark_ms), cwd=PROJECT_ROOT, stdout=log_file,
                            stderr=subprocess.STDOUT)  # fmt: skip


def wait_running(settings, proc: subprocess.Popen, timeout_s: float = 240) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("job exited during start-up")
        for job in flink.job_overview(settings):
            tasks = job.get("tasks", {})
            if job.get("state") in ("RUNNING", "FINISHED") and tasks.get("running", 0) + tasks.get(
                "finished", 0
            ) == tasks.get("total"):
                return
        time.sleep(0.2)
    raise RuntimeError("job not running in time")


def sustained(settings, n: int) -> dict:  # noqa: ANN001
    run = Run(settings)
    try:
        log(f"preloading {n} readings")
        loaded = preload(settings, run, n, rate=5000)
        log("raw consume")
        raw = raw_consume(settings, run.topic("readings"), loaded)
        log("python baseline")
        base = python_baseline(settings, run.topic("readings"), loaded)
        log("alarm job, bounded, over the backlog")
        proc = start_job(settings, run, bounded=True, watermark_ms=2000)
        wait_running(settings, proc)
        t0 = time.perf_counter()
        proc.wait(timeout=1800)
        elapsed = time.perf_counter() - t0
        late = len(read_since(settings, run.topic("readings.late"), 0))
        # Only readings the job evaluated count: a backlog read unevenly across partitions makes
        # some arrive after their window closed (readings.late), and those were not evaluated.
        return {"readings": loaded, "sustained_readings_per_s": round((loaded - late) / elapsed),
                "read_per_s": round(loaded / elapsed),
                "late_not_evaluated": late,
                "raw_consume_per_s": round(raw), "python_baseline_per_s": round(base),
                "job_seconds": round(elapsed, 1)}  # fmt: skip
    finally:
        run.drop()


def flapping_latency(  # noqa: ANN001
    settings, rate: float, seconds: float, watermark_ms: int, warmup_s: float = WARMUP_S
) -> dict:
    """Produce in real time at `rate`; 40 tags cross their H limit every 6 s; measure latency.

    Latency is the alarm's Kafka timestamp minus the event time of the reading that raised or
    cleared it (a raise waits for its 2 s delay-on by definition, so it counts from that reading).
    p50/p99 are over the steady state: alarms from readings of the first `warmup_s` seconds
    after production starts (the job's first transitions, while its JVM and Python workers
    warm up) are reported apart, as `warmup_*`. `bursts` lists, per second of event time with
    alarms, how many there were and their largest latency, to see where a tail comes from.
    """
    configs, contexts = plant_processors()
    flappers = [t for t, c in sorted(configs.items())
                if c.kind == "process" and "H" in c.limits and c.delay_on_s <= 2
                and not c.delay_off_s and c.roc_per_min is None][:40]  # fmt: skip
    mids = {
        t: (c.limits.get("L", c.range_low or 0) + c.limits.get("H")) / 2
        for t, c in configs.items()
        if "H" in c.limits
    }
    tags = list(mids)
    run = Run(settings)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 5})
    proc = start_job(settings, run, bounded=False, watermark_ms=watermark_ms)
    try:
        wait_running(settings, proc)
        since = int(time.time() * 1000)
        per_tick = max(1, int(rate / 100))  # 10 ms ticks
        wall0 = time.perf_counter()
        i = 0
        sent = 0
        while time.perf_counter() - wall0 < seconds:
            now = int(time.time() * 1000)
            for _ in range(per_tick):
                tag = tags[i % len(tags)]
                c = configs[tag]
                value = mids[tag]
                if tag in flappers:
                    high = (now // 3000) % 2 == 0  # 3 s above H (delay-on 2 s), 3 s below
                    value = c.limits["H"] + 1.0 if high else c.limits["H"] - c.deadband - 1.0
                rec = {"enterprise_code": contexts[tag].enterprise_code, "hazard_source_code": None,
                       "unit_code": contexts[tag].unit_code, "tag": tag, "metric_code": "pressure",
                       "value": value, "unit": c.unit or "", "quality": "good",
                       "event_time_ms": now}  # fmt: skip
                producer.produce(run.topic("readings"), orjson.dumps(rec), key=tag.encode())
                i += 1
                sent += 1
            producer.poll(0)
            ahead = (sent / rate) - (time.perf_counter() - wall0)
            if ahead > 0:
                time.sleep(ahead)
        producer.flush(30)
        time.sleep(watermark_ms / 1000 + 3)
        events = [(ts, json.loads(v)) for ts, v in read_since(settings, run.topic("alarms"), since)]
        timed = [(e["event_time_ms"], ts - e["event_time_ms"]) for ts, e in events
                 if e["condition"] in ("H", "HH")]  # fmt: skip
        steady_from = since + int(warmup_s * 1000)
        lat = [t for ev, t in timed if ev >= steady_from]
        warm = [t for ev, t in timed if ev < steady_from]
        bursts: dict[int, list[int]] = {}
        for ev, t in timed:
            bursts.setdefault(ev // 1000 - since // 1000, []).append(t)
        return {"rate": rate, "readings": sent, "alarm_events": len(lat),
                "achieved_rate": round(sent / (time.perf_counter() - wall0)),
                "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                "max_ms": max(lat, default=None),
                "warmup_s": warmup_s, "warmup_alarm_events": len(warm),
                "warmup_max_ms": max(warm, default=None),
                "bursts": [[second, len(v), max(v)] for second, v in sorted(bursts.items())],
                "watermark_delay_ms": watermark_ms}  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        run.drop()


def main() -> None:
    settings = get_settings()
    log(kafka.start(settings))
    flink.fetch_jars(settings)
    n = int(os.environ.get("HAZCHEM_BENCH_READINGS", "1500000"))
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    results.update(sustained(settings, n))
    log("latency at 5000/s")
    at5000 = flapping_latency(settings, 5000, LATENCY_RUN_S, watermark_ms=200)
    results["p50_latency_ms_at_5000"] = at5000["p50_ms"]
    results["p99_latency_ms_at_5000"] = at5000["p99_ms"]
    results["latency_run_at_5000"] = at5000
    # The backlog rate is not sustainable live here: the live producer shares the 2 cores. Step
    # down from 80 % of it until the job keeps up (p99 within 1 s); report that rate.
    tries = []
    for fraction in (0.8, 0.6, 0.4, 0.25):
        top = int(results["sustained_readings_per_s"] * fraction)
        log(f"latency at {fraction:.0%} of sustained ({top}/s)")
        at_max = flapping_latency(settings, top, LATENCY_RUN_S, watermark_ms=200)
        tries.append(at_max)
        if (at_max["p99_ms"] or 1e9) <= 1000:
            break
    results["latency_tries_at_max"] = tries
    results["p50_latency_ms_at_max"] = at_max["p50_ms"]
    results["p99_latency_ms_at_max"] = at_max["p99_ms"]
    results["latency_run_at_max"] = at_max
    results["share_of_raw_consume_pct"] = round(
        100 * results["sustained_readings_per_s"] / results["raw_consume_per_s"], 1
    )
    results["targets"] = TARGETS
    results["meets"] = {
        "sustained_readings_per_s": results["sustained_readings_per_s"]
        >= TARGETS["sustained_readings_per_s"],
        "p99_latency_ms_at_5000": (results["p99_latency_ms_at_5000"] or 1e9)
        <= TARGETS["p99_latency_ms_at_5000"],
        "share_of_raw_consume_pct": results["share_of_raw_consume_pct"]
        >= TARGETS["share_of_raw_consume_pct"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
