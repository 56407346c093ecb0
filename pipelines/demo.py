"""`make demo`: a simulated plant through Kafka and the streaming alarm job,
ending with a summary."""

from __future__ import annotations

import json
import time
from collections import Counter

from pipelines.cli_support import UserError, info
from pipelines.demo_people import DemoApi, security_summary
from pipelines.ingest import IngestCounts
from pipelines.kafka_stats import committed_lag, read_since
from pipelines.settings import PROJECT_ROOT, Settings
from pipelines.simulator import TransportFaults
from pipelines.stats import percentile

DEMO_RISK_MODEL = PROJECT_ROOT / "pipelines" / "data" / "risk_model_demo.yaml"


def run_demo(
    settings: Settings,
    duration_s: float,
    rate: float,
    malformed_rate: float,
    with_lake: bool = True,
) -> str:
    """Run the whole flow and return the printed summary."""
    from pipelines.services import flink, kafka
    from pipelines.simulate import run_simulation
    from pipelines.topics import ensure_topics

    info("[1/5] Kafka: fetching (first run only) and starting a single-node KRaft broker...")
    info("      " + kafka.start(settings))
    ensure_topics(settings)
    info("      PostgreSQL (identity store) and the HTTPS API; the demo's people log in...")
    api = DemoApi(settings)
    api_since_ms = int(time.time() * 1000)
    info("      " + api.start())
    start_ms = int(time.time() * 1000)
    info("[2/5] Flink: starting the alarm job and the risk job (local mini-clusters)...")
    for name in ("alarms", "risk"):
        flink.stop_job(settings, name)  # a leftover job from an interrupted demo
    from_ts = ["--from-timestamp-ms", str(start_ms - 1000)]
    flink.start_job(settings, "alarms", from_ts)
    flink.start_job(settings, "risk", [*from_ts, "--model-file", str(DEMO_RISK_MODEL)])
    job = flink.job_process(settings, "alarms")
    risk_job = flink.job_process(settings, "risk")
    try:
        flink.wait_until_running(settings, "alarms")
        flink.wait_until_running(settings, "risk")
        info(f"[3/5] Simulator: `mixed` scenario, {duration_s:.0f} s at {rate:.0f} readings/s...")
        faults = TransportFaults(
            duplicate_rate=malformed_rate / 2,
            late_rate=malformed_rate / 4,
            late_by_s=30,
            out_of_order_rate=malformed_rate,
            malformed_rate=malformed_rate,
        )

        def progress(at_s: float, counts: IngestCounts) -> None:
            for proc in (job, risk_job):
                if proc.pid() is None:
                    raise UserError(f"a job stopped unexpectedly; see {proc.log_file}")
            if int(at_s) % 15 == 0:
                info(
                    f"      {at_s:>4.0f}/{duration_s:.0f} s"
                    f"  submitted {sum(counts.submitted.values()):>7}"
                    f"  dead-lettered {sum(counts.dead_lettered.values()):>5}"
                    f"  job {'running' if job.pid() else 'NOT RUNNING'}"
                )

        counts, facts = run_simulation(
            settings, "mixed", duration_s, rate, settings.simulator.seed, faults,
            on_progress=progress,
            scheduled=operator_script(api) + case_script(settings, start_ms, api),
        )  # fmt: skip
        api.drain()  # the people's last calls
        info("[4/5] Waiting for the jobs to catch up with their input topics...")
        _wait_for_job(settings, job)
        _wait_for_risk(settings, risk_job, facts["end_ms"])
    finally:
        info("[5/5] Stopping the jobs and summarising...")
        flink.stop_job(settings, "alarms")
        flink.stop_job(settings, "risk")
        api.stop()
    text = (
        summarise(settings, start_ms, counts, facts)
        + risk_summary(settings, start_ms, facts)
        + "\n".join(security_summary(settings, api_since_ms, api))
    )
    if not with_lake:
        return text
    return text + "\n" + run_lake(settings)


def run_lake(settings: Settings) -> str:
    """Land everything in the lake, gate, build and publish gold (`hazchem lake curate`'s path),
    answer 3 questions from the published gold."""
    from batch_jobs.bronze_ingest import bronze_ingest_main
    from pipelines.lake.demo_queries import format_table, run_duckdb
    from pipelines.lake.publish import GateFailed, curate
    from pipelines.lake.reference import main as write_reference

    info("[6/8] Lake: every topic (dead letters included) into Delta bronze with Spark...")
    code = bronze_ingest_main(["--available-now"])
    if code != 0:
        raise UserError("bronze ingest failed; see the lines above")
    info(
        "[7/8] Gate and publish (DuckDB): bronze checks, dbt build into a build schema,"
        " gold checks, then the swap..."
    )
    write_reference(settings)
    lines = ["", " Lakehouse", " " + "-" * 71]
    try:
        result = curate(settings, say=lambda text: info("      " + text))
        lines.append(
            f"   gold published: {len(result['tables'])} tables from {result['build_schema']}"
            " (bronze and gold checks and every dbt test passed)"
        )
    except GateFailed as exc:
        lines.append(f"   {exc}")
        lines.append("   the questions below are answered from the last good gold, if any")
    info("[8/8] Questions to the published gold...")
    import duckdb

    try:
        answers = run_duckdb(settings.lake.duckdb_path)
    except duckdb.CatalogException as exc:  # the gate has never let a build through
        answers = {}
        lines.append(f"   no published gold to query: {type(exc).__name__}: {exc}")
    for title, (columns, rows) in answers.items():
        lines += ["", f" {title}:"] + format_table(columns, rows)
    lines += [
        "",
        " Ask the lake yourself:",
        f"   duckdb -readonly {settings.lake.duckdb_path}"
        '   (or: .venv/bin/python -c "import duckdb; ...")',
        "   select * from gold.fct_alarm_kpis_daily;",
        "   Trino: hazchem up --with trino   (registers the bronze/reference Delta tables)",
        "          hazchem lake curate --target trino",
        "          then SELECT * FROM lake.gold.fct_alarm_kpis_daily"
        " (Python client: docs/trino.md)",
        "   (queries: pipelines/lake/demo_queries.py; models: dbt_project/, docs/dbt.md)",
    ]
    return "\n".join(lines)


def operator_script(api: DemoApi) -> list:
    """What the control room does through the API, logged in: the operator shelves a detector
    under calibration, acknowledges the leak alarms, and is refused shelving an HH alarm (a shift
    supervisor's right), which the supervisor then does with a reason."""

    def action(user: str, tag: str, cond: str, name: str, **fields) -> object:  # noqa: ANN003
        def call(_ts: int) -> None:
            body = {"tag": tag, "condition": cond, "action": name, **fields}
            api.later(lambda: api.act(user, f"{name} {tag} {cond}", "/v1/alarms/actions", body))

        return call

    return [
        (2.0, "alarm.actions", action("P012", "GD-TF17", "H", "shelve", shelve_duration_s=600,
                                      reason="探头校准中 detector under calibration (demo)")),
        (36.0, "alarm.actions", action("P012", "GD-TF10", "H", "acknowledge",
                                       comment="现场确认泄漏")),
        (37.0, "alarm.actions", action("P012", "GD-TF10", "HH", "acknowledge")),
        (38.0, "alarm.actions", action("P012", "GD-TF03", "HH", "shelve", shelve_duration_s=600,
                                       reason="想屏蔽高高报 (not an operator's right)")),
    ]  # fmt: skip


def case_script(settings: Settings, start_ms: int, api: DemoApi) -> list:
    """What the people of the 包保 chain do with the tank farm's warning case (found by lookup).

    The case is left unacknowledged until it has escalated to the technical lead, who
    acknowledges it; the operations lead records cause and measures; the technical lead
    verifies; the technical lead's attempt to close is refused (only a safety manager closes) and
    the safety manager closes it. Every step is a logged-in person's call to the API. The
    synthesis unit's case is left alone, so it escalates up to the principal head.
    """
    from pipelines.risk.service import current_cases

    def step(action: str, actor: str, **fields) -> object:  # noqa: ANN003
        def call(_ts: int) -> None:
            api.later(lambda: act())

        def act() -> None:
            cases = [c for c in current_cases(settings).values()
                     if c["subject_code"] == "HS-01" and c["opened_ms"] >= start_ms]  # fmt: skip
            if not cases:
                return
            case = max(cases, key=lambda c: c["opened_ms"])
            path = f"/v1/cases/{case['case_id']}/actions"
            api.act(actor, f"{action} case {case['case_id']}", path, {"action": action, **fields})

        return call

    return [
        (80.0, "case.actions", step("ack", "P004", comment="已通知罐区, 现场处置中")),
        (150.0, "case.actions", step(
            "handle", "P010",
            cause="T-505苯储罐罐根阀法兰垫片老化泄漏 / aged gasket on T-505 root valve flange",
            measures="紧急切断阀隔离, 倒罐, 更换垫片, 复测合格 / ESD isolation, tank emptied, "
            "gasket replaced, gas re-tested",
            attachments=["file:///demo/T-505-flange.jpg"],
        )),
        (182.0, "case.actions", step("verify", "P004", comment="现场复核合格")),
        (185.0, "case.actions", step("close", "P004")),  # refused: only a safety manager closes
        (186.0, "case.actions", step("close", "P002")),
    ]  # fmt: skip


def _wait_for_risk(settings: Settings, job, end_ms: int, timeout_s: float = 60.0) -> None:  # noqa: ANN001
    """Wait until the risk job has read its inputs (readings move its clock, the lag behind)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if job.pid() is None:
            raise UserError(f"the risk job stopped unexpectedly; see {job.log_file}")
        lags = [committed_lag(settings, settings.risk.consumer_group, t) for t in
                ("alarms", "readings", "positions", "case.actions")]  # fmt: skip
        if all(lag == 0 for lag in lags):
            time.sleep(settings.flink.checkpoint_interval_ms / 1000)
            return
        time.sleep(2)
    info("      (timed out waiting for the risk job; the summary shows what it had done)")


def _wait_for_job(settings: Settings, job, timeout_s: float = 90.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if job.pid() is None:
            raise UserError(f"the alarm job stopped unexpectedly; see {job.log_file}")
        lag = committed_lag(settings, settings.flink.consumer_group, "readings")
        if lag == 0:
            time.sleep(settings.flink.checkpoint_interval_ms / 1000)
            return
        time.sleep(2)
    info("      (timed out waiting; the summary shows what the job had processed)")


def collect(settings: Settings, since_ms: int) -> dict:
    """Read the demo window's alarm outputs and dead letters back from Kafka."""

    def read(topic: str) -> list[tuple[int, dict]]:
        return [(ts, json.loads(v)) for ts, v in read_since(settings, topic, since_ms)]

    dlq: Counter = Counter()
    dlq_by_reason: Counter = Counter()
    for topic in ("readings", "positions", "video.events", "work.permits", "work.gas_analyses",
                  "inspections", "hidden_dangers", "alarm.actions"):  # fmt: skip
        for _, env in read(f"{topic}.dlq"):
            dlq[topic] += 1
            dlq_by_reason[env["reason_code"]] += 1
    return {
        "alarms": read("alarms"),
        "kpis": [e for _, e in read("alarm.kpis")],
        "audit": [e for _, e in read("alarm.audit")],
        "notifications": [e for _, e in read("alarm.notifications")],
        "late": [e for _, e in read("readings.late")],
        "dlq": dlq,
        "dlq_by_reason": dlq_by_reason,
    }


def summarise(settings: Settings, since_ms: int, counts: IngestCounts, facts: dict) -> str:
    """Return the human summary of a demo run."""
    got = collect(settings, since_ms)
    events = [e for _, e in got["alarms"] if e["event_time_ms"] >= since_ms]
    raised = [e for e in events if e["event"] == "raised"]
    hidden = [e for e in raised if e.get("annunciated") is False]
    floods = [k for k in got["kpis"] if k["kind"] in ("flood_start", "flood_end")]
    lags = reading_to_alarm_lags(settings, since_ms, got["alarms"], facts)
    by_cond = Counter(e["condition"] for e in raised)
    by_area = Counter(e["area_code"] for e in raised)
    busiest = Counter(e["tag"] for e in events).most_common(5)
    lines = [
        "",
        "=" * 72,
        " HazChem demo summary",
        "=" * 72,
        f" scenario mixed, seed {facts['seed']}, {facts['rate']:.0f} readings/s, "
        f"{(facts['end_ms'] - facts['start_ms']) / 1000:.0f} s of plant time",
        "",
        " Ingest (submitted = accepted + dead-lettered):",
    ]
    for topic in sorted(counts.submitted):
        lines.append(
            f"   {topic:<20} {counts.submitted[topic]:>8} = {counts.accepted[topic]:>8} accepted"
            f" + {counts.dead_lettered[topic]:>5} dead-lettered"
        )
    lines.append(f" Dead letters read back from Kafka: {sum(got['dlq'].values())}; top reasons:")
    for reason, n in got["dlq_by_reason"].most_common(6):
        lines.append(f"   {reason:<20} {n:>6}")
    injected = facts.get("faults_injected", {})
    if injected:
        lines.append(
            " Transport faults injected by the simulator: "
            + ", ".join(f"{k} {v}" for k, v in sorted(injected.items()))
        )
    lines += [
        "",
        f" Alarms: {len(raised)} raised ({len(raised) - len(hidden)} annunciated,"
        f" {len(hidden)} recorded but not annunciated), {len(events) - len(raised)} cleared",
    ]
    lines.append("   by condition: " + ", ".join(f"{c} {n}" for c, n in sorted(by_cond.items())))
    lines.append("   by area:      " + ", ".join(f"{a} {n}" for a, n in by_area.most_common()))
    lines.append("   busiest tags: " + ", ".join(f"{t} ({n})" for t, n in busiest))
    for e in hidden:
        lines.append(
            f"   not annunciated: {e['tag']} {e['condition']} (suppressed by {e['suppressed_by']})"
        )
    for f in floods:
        lines.append(
            f"   ALARM FLOOD {f['kind'].split('_')[1]}: area {f['area_code']},"
            f" {f['raised']} raised in the 10-minute window"
        )
    lines.append(
        f" Notifications (critical/HH/LL) queued for the webhook: {len(got['notifications'])}"
    )
    for a in got["audit"]:
        lines.append(
            f"   audit: {a['action']} {a['tag']} {a['condition']} by {a['actor']} -> {a['result']}"
            f" ({a['detail']})"
        )
    if got["late"]:
        notified = sum(1 for n in got["notifications"] if n.get("late"))
        lines.append(
            f" Late readings (older than their tag's newest evaluated one) kept in readings.late:"
            f" {len(got['late'])}, {notified} over a limit and notified as critical"
        )
    if lags["platform"]:
        lines += [
            f" Reading -> alarm lag, {len(lags['platform'])} transitions caused by readings"
            f" (shipped defaults: arrival order, {settings.flink.batch_window_ms} ms batches,"
            " no watermark wait):",
            "   reading in Kafka -> alarm in Kafka (what the platform adds): "
            + _lag_text(lags["platform"]),
            "   reading event time -> alarm in Kafka (+ the simulator's 100 ms send ticks): "
            + _lag_text(lags["on_time"]),
        ]
        if lags["delayed"]:
            lines.append(
                f"   {len(lags['delayed'])} caused by readings the simulator delayed on purpose"
                " (out-of-order faults), from event time: " + _lag_text(lags["delayed"])
            )
    lines += [
        "",
        " Where to look next:",
        "   hazchem status                     topics, record counts, ingest reconciliation",
        "   hazchem schemas docs               writes docs/schema_catalog.md (topics and fields)",
        "   hazchem jobs run alarms            the alarm job in the foreground",
        "   hazchem alarms ack|shelve|close    operator actions (audited on alarm.audit)",
        "   hazchem alarms notify --webhook U  deliver critical/HH/LL notifications",
        "   hazchem kpi alarms --events F ...  ISA-18.2 KPIs over exported alarm events",
        "   hazchem ingest serve               HTTP ingest for edge gateways (see README)",
        f"   job log: {settings.run_dir / 'flink' / 'flink-alarms.log'}",
        "=" * 72,
    ]
    return "\n".join(lines)


def reading_to_alarm_lags(
    settings: Settings, since_ms: int, alarms: list[tuple[int, dict]], facts: dict
) -> dict[str, list[int]]:
    """Read the readings topic back and return `split_lags` of the demo's alarm transitions."""
    caused = _caused_by_readings(alarms, since_ms)
    wanted = {(e["tag"], e["reading_event_time_ms"]) for _, e in caused}
    arrived: dict[tuple[str, int], int] = {}
    for ts, value in read_since(settings, "readings", since_ms):
        try:
            rec = json.loads(value)
            key = (rec["tag"], rec["event_time_ms"])
        except (ValueError, TypeError, KeyError):
            continue  # dead-lettered input: it caused nothing
        if key in wanted and key not in arrived:  # a duplicate's first copy is the one evaluated
            arrived[key] = ts
    return split_lags(caused, arrived, {tuple(k) for k in facts.get("delayed_readings", [])})


def _caused_by_readings(alarms: list[tuple[int, dict]], since_ms: int) -> list[tuple[int, dict]]:
    # STALE and shelve expiries carry no reading: the timer clock raises them, trailing the
    # readings by design
    return [
        (kts, e)
        for kts, e in alarms
        if e["event_time_ms"] >= since_ms and e.get("reading_event_time_ms") is not None
    ]


def split_lags(
    caused: list[tuple[int, dict]],
    arrived: dict[tuple[str, int], int],
    delayed: set[tuple[str, int]],
) -> dict[str, list[int]]:
    """Return the lags (ms) of alarm transitions (Kafka timestamp, event) caused by readings.

    `platform`: the alarm's Kafka timestamp minus its reading's (`arrived`, by tag and event
    time): what the platform adds. `on_time`: minus the reading's event time, for readings sent on
    time; `delayed`: the same for the readings in `delayed` (held back on purpose by the
    simulator's transport faults).
    """
    out: dict[str, list[int]] = {"platform": [], "on_time": [], "delayed": []}
    for kts, e in caused:
        key = (e["tag"], e["reading_event_time_ms"])
        if key in arrived:
            out["platform"].append(kts - arrived[key])
        out["delayed" if key in delayed else "on_time"].append(kts - key[1])
    return out


def _lag_text(lags: list[int]) -> str:
    if not lags:
        return "none"
    return (
        f"p50 {percentile(lags, 50):.0f} ms, p95 {percentile(lags, 95):.0f} ms,"
        f" max {max(lags):.0f} ms"
    )


def _cause_text(factor: dict) -> str:
    named = factor.get("causes") or []
    more = " ..." if len(named) > 4 else ""
    return f"{factor['factor']} {factor['contribution']:+.0f}" + (
        f" [{', '.join(named[:4])}{more}]" if named else ""
    )


def risk_summary(settings: Settings, start_ms: int, facts: dict) -> str:
    """Return the four-color and case part of the summary, and whether replay reproduces it."""
    from pipelines.plant import load_plant
    from pipelines.risk.engine import risk_plant
    from pipelines.risk.model import load_model
    from pipelines.risk.replay import kafka_inputs, replay

    plant = load_plant(settings.simulator.plant_file)
    # partitions come back one after another: put the records back in event-time order
    streamed = sorted(
        (json.loads(v) for _ts, v in read_since(settings, "risk.levels", start_ms - 1000)),
        key=lambda r: (r["event_time_ms"], r["object_type"], r["object_code"]),
    )
    cases = sorted(
        (json.loads(v) for _ts, v in read_since(settings, "cases", start_ms - 1000)),
        key=lambda c: (c["event_time_ms"], c["case_id"], c["seq"]),
    )
    t0 = facts["start_ms"]
    lines = [
        "",
        " Four-color risk (model: pipelines/data/risk_model_demo.yaml, docs/risk_model.md):",
    ]
    for rec in streamed:
        if rec["object_type"] == "area":
            continue
        name = plant.hazard_sources[rec["object_code"]].name_en if rec["object_type"] == (
            "hazard_source") else "enterprise"  # fmt: skip
        causes = [_cause_text(f) for f in rec["factors"] if f["contribution"]]
        lines.append(
            f"   +{(rec['event_time_ms'] - t0) / 1000:6.1f} s  {rec['object_code']:<18}"
            f" {(rec['previous_level'] or '-'):>6} -> {rec['level']:<6} score {rec['score']:>5.1f}"
            f"  {name}"
        )
        if causes and rec["object_type"] == "hazard_source":
            lines.append("              because: " + "; ".join(causes))
    lines.append(" Warning cases (预警处置闭环):")
    for c in cases:
        lines.append(
            f"   +{(c['event_time_ms'] - t0) / 1000:6.1f} s  {c['case_id']:<30} {c['event']:<15}"
            f" -> {c['assignee']}" + (f"  ({c['detail']})" if c.get("detail") else "")
        )
    # Replay the same inputs, in the order Kafka received them, through the same engine (the job
    # applies inputs as they arrive): the timelines must be equal.
    cutoff = facts["end_ms"] - settings.risk.clock_lag_ms - 1000
    inputs = list(
        kafka_inputs(settings, 0, cutoff, written_since_ms=start_ms - 1000, arrival_order=True)
    )
    model = load_model(DEMO_RISK_MODEL)
    again = replay(inputs, risk_plant(plant), model, cutoff, arrival_order=True)

    def key(recs: list[dict]) -> list[tuple]:
        return sorted((r["event_time_ms"], r["object_code"], r["level"], r["score"]) for r in recs
                      if r["event_time_ms"] <= cutoff)  # fmt: skip

    same = key(streamed) == key([r.record for r in again if r.topic == "risk.levels"])
    lines.append(
        f" Replay of the same {len(inputs)} inputs in arrival order reproduces the streamed"
        f" color timeline: {'yes' if same else 'NO'} ({len(key(streamed))} changes)"
    )
    lines += [
        "   hazchem cases list / show CASE      the cases and their audit trail",
        "   hazchem audit verify                the hash chains of alarm.audit and cases",
        "   hazchem risk replay --day D --source kafka   the color timeline of a day",
    ]
    return "\n".join(lines)
