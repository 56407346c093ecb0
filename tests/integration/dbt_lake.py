"""A small bronze lake for the dbt tests, written exactly as the bronze job writes it.

`build_lake(root)` writes the plant reference tables and every bronze Delta table of
docs/lakehouse.md (payload columns typed from each topic's latest schema by
pipelines.lake.bronze_schema, Kafka metadata, event_date), every record validated against its
schema first. The records below are the scenario whose gold rows the tests derive by hand.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.plant import PLANT_TZ
from pipelines.settings import PROJECT_ROOT, Settings

DBT_DIR = PROJECT_ROOT / "dbt_project"
CST = PLANT_TZ  # plant local time (dbt: var plant_utc_offset_minutes = 480)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENTERPRISE = "91370612MA3C7H5Q21"  # the demo plant's enterprise code
AS_OF = "2026-03-02"
BATCH_1 = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)  # _ingested_at of the first bronze batch
BATCH_2 = datetime(2026, 3, 3, 12, 5, tzinfo=UTC)  # re-sent copies land later
BATCH_3 = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # late readings for the incremental run


def at(day: int, clock: str) -> int:
    """Epoch ms of 2026-03-0<day> <clock> plant local time (UTC+8)."""
    local = datetime.fromisoformat(f"2026-03-{day:02d}T{clock}").replace(tzinfo=CST)
    return (local - EPOCH) // timedelta(milliseconds=1)


def utc(day: int, clock: str) -> datetime:
    """Naive UTC datetime of a plant-local time (what the marts' *_at columns hold)."""
    local = datetime.fromisoformat(f"2026-03-{day:02d}T{clock}").replace(tzinfo=CST)
    return local.astimezone(UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- bronze lake writer


class BronzeLake:
    """Collects records per topic and writes them as bronze Delta tables (docs/lakehouse.md)."""

    def __init__(self, root: Path | str, storage_options: dict[str, str] | None = None) -> None:
        from pipelines.lake.bronze_schema import bronze_specs
        from pipelines.schema_registry import SchemaRegistry
        from pipelines.topics import load_topics

        self.root = str(root).rstrip("/")  # a folder or an s3:// URI
        self.storage_options = storage_options
        self.registry = SchemaRegistry.load()
        self.topics = {t.name: t for t in load_topics()}
        self.specs = {s.topic: s for s in bronze_specs(self.topics.values(), self.registry)}
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)

    def path(self, topic: str) -> str:
        return f"{self.root}/bronze/{self.specs[topic].table}"

    def create_all(self) -> None:
        """Create every bronze table, empty, as the bronze job does on start."""
        from deltalake import DeltaTable

        for topic in self.specs:
            DeltaTable.create(
                self.path(topic),
                self._arrow_schema(topic),
                partition_by=["event_date"],
                storage_options=self.storage_options,
            )

    def _arrow_schema(self, topic: str) -> Any:
        import pyarrow as pa

        types = {
            "string": pa.string(),
            "bigint": pa.int64(),
            "int": pa.int32(),
            "double": pa.float64(),
            "boolean": pa.bool_(),
            "timestamp": pa.timestamp("us", tz="UTC"),
            "date": pa.date32(),
        }
        return pa.schema([pa.field(c.name, types[c.type]) for c in self.specs[topic].columns])

    def append(
        self,
        topic: str,
        records: Iterable[dict[str, Any]],
        ingested_at: datetime,
        kafka_ms_field: str | None = None,
    ) -> None:
        """Land records of one topic as one bronze batch (validated against the schema first)."""
        import pyarrow as pa
        from deltalake import write_deltalake

        from pipelines.ingest import record_key

        spec, topic_spec = self.specs[topic], self.topics[topic]
        validate = self.registry.validator(spec.record_type)
        rows = []
        for record in records:
            validate(record)
            key = record_key(topic_spec, record)
            partition = zlib.crc32(key.encode()) % topic_spec.partitions if key else 0
            offset = self.offsets[(topic, partition)]
            self.offsets[(topic, partition)] += 1
            time_field = kafka_ms_field or spec.event_time_field
            kafka_ms = record[time_field] if time_field else _ms(ingested_at)
            kafka_ts = EPOCH + timedelta(milliseconds=kafka_ms)
            row: dict[str, Any] = {}
            for column in spec.payload:
                value = record.get(column.name)
                if isinstance(value, dict | list):
                    value = json.dumps(value, ensure_ascii=False)
                elif column.type == "double" and value is not None:
                    value = float(value)
                row[column.name] = value
            event_ms = record.get(spec.event_time_field) if spec.event_time_field else None
            day_ms = event_ms if event_ms is not None else kafka_ms
            row.update(
                _topic=topic,
                _partition=partition,
                _offset=offset,
                _kafka_timestamp=kafka_ts,
                _key=key,
                _value=json.dumps(record, ensure_ascii=False),
                _ingested_at=ingested_at,
                event_date=(EPOCH + timedelta(milliseconds=day_ms)).date(),
            )
            rows.append(row)
        table = pa.Table.from_pylist(rows, schema=self._arrow_schema(topic))
        write_deltalake(
            self.path(topic),
            table,
            mode="append",
            partition_by=["event_date"],
            storage_options=self.storage_options,
        )


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


# --------------------------------------------------------------------------------- fixture data


def reading(tag: str, ts: int, value: float | None, quality: str = "good") -> dict[str, Any]:
    from pipelines.plant import load_plant

    t = load_plant().tags[tag]
    return {
        "enterprise_code": ENTERPRISE,
        "hazard_source_code": t.hazard_source_code,
        "unit_code": t.unit_code,
        "tag": tag,
        "metric_code": t.metric_code,
        "value": value,
        "unit": t.unit,
        "quality": quality,
        "event_time_ms": ts,
    }


# Hours are plant-local; UTC hours are 8 earlier (08:00 local = 00:00 UTC).
READINGS = [
    # LI-501, hour 08 local: count 6, good 4 (6.0, 6.5, 7.0, 6.25), bad 2 (null; uncertain 5.5)
    reading("LI-501", at(2, "08:00:00"), 6.0),
    reading("LI-501", at(2, "08:00:30"), 6.5),
    reading("LI-501", at(2, "08:00:45"), None, "bad"),
    reading("LI-501", at(2, "08:01:10"), 7.0),
    reading("LI-501", at(2, "08:01:50"), 5.5, "uncertain"),
    reading("LI-501", at(2, "08:30:00"), 6.25),
    # LI-501, hour 09: 8.0, 7.5, 7.75 (a re-sent 09:15:00 copy lands later and is dropped)
    reading("LI-501", at(2, "09:00:00"), 8.0),
    reading("LI-501", at(2, "09:15:00"), 7.5),
    reading("LI-501", at(2, "09:15:20"), 7.75),
    # LI-501, hour 10: one reading without a value (bad quality although flagged good)
    reading("LI-501", at(2, "10:45:00"), None),
    reading("TI-501", at(2, "08:05:00"), 20.0),
    reading("TI-501", at(2, "08:05:30"), 21.5),
    reading("TI-501", at(2, "09:10:00"), 22.0),
    reading("TI-501", at(2, "09:10:30"), None, "bad"),
    reading("GD-RX01", at(2, "10:00:00"), 1.0),
    reading("GD-RX01", at(2, "10:00:30"), 2.0),
    reading("GD-RX01", at(2, "10:00:40"), 3.0, "uncertain"),
]
RESENT_READINGS = [reading("LI-501", at(2, "09:15:00"), 99.0)]
LATE_READINGS = [
    reading("LI-501", at(2, "08:00:50"), 5.5),  # into minute 00:00 UTC and hour 00 UTC
    reading("TI-501", at(2, "11:00:00"), 23.0),  # a new minute and a new hour
]

_AREA = {"LI-501": "A-TF", "TI-501": "A-TF"}


def alarm_episode(
    tag: str,
    condition: str,
    raised_ms: int,
    cleared_ms: int | None,
    priority: str | None,
    limit: float | None,
    value: float | None,
    annunciated: bool = True,
) -> list[dict[str, Any]]:
    """Return the raise (and clear) of one episode as alarm_event records."""
    from pipelines.plant import load_plant

    t = load_plant().tags[tag]
    episode_id = f"{tag}:{condition}:{raised_ms}"
    alarm_class = (
        "sensor_health"
        if condition in ("STALE", "FLATLINE", "RANGE")
        else "process"
        if t.kind == "process"
        else "gas"
    )
    events = []
    for event, ts in (("raised", raised_ms), ("cleared", cleared_ms)):
        if ts is None:
            continue
        events.append(
            {
                "event_id": f"{episode_id}:{event}",
                "episode_id": episode_id,
                "enterprise_code": ENTERPRISE,
                "hazard_source_code": t.hazard_source_code,
                "unit_code": t.unit_code,
                "area_code": t.area_code,
                "tag": tag,
                "condition": condition,
                "alarm_class": alarm_class,
                "event": event,
                "limit": limit,
                "value": value if event == "raised" else None,
                "unit": t.unit,
                "priority": priority,
                "event_time_ms": ts,
                "reading_event_time_ms": ts,
                "emitted_at_ms": ts + 150,
                "annunciated": annunciated,
                "suppressed_by": None if annunciated else "shelve",
                "state": "active_unacknowledged" if event == "raised" else "normal",
            }
        )
    return events


E1 = f"LI-501:H:{at(2, '08:10:00')}"  # the full lifecycle episode
E2 = f"TI-501:HH:{at(1, '07:00:00')}"  # raised on day 1, never cleared: stale from day 2
STALE_EPISODE = f"GD-RX05:STALE:{at(3, '12:00:00')}"


def alarm_events() -> list[dict[str, Any]]:
    """The `alarms` records: the scenario below, flags and states as the lifecycle decides them."""
    return _lifecycle_records()[0]


def alarm_audit() -> list[dict[str, Any]]:
    """The `alarm.audit` records the alarm job writes for alarm_actions() (and auto-unshelves)."""
    return _lifecycle_records()[1]


def _lifecycle_records() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Feed the scenario's transitions and actions, per tag in time order, to the lifecycle the
    alarm job runs (pipelines.alarms.lifecycle); return (alarm events, audit records) as the job
    routes them (pipelines.alarms.processor). The hand-set `annunciated` flags must agree."""
    from pipelines.alarms.engine import Transition
    from pipelines.alarms.lifecycle import ALARM, TagLifecycle

    events = _scenario_events()
    inputs: list[tuple[int, int, int, dict[str, Any]]] = []
    for number, event in enumerate(events):
        inputs.append((event["event_time_ms"], 0, number, event))
    for number, action in enumerate(alarm_actions()):
        inputs.append((action["action_time_ms"], 1, number, action))
    lifecycles: dict[str, TagLifecycle] = {}
    decided: dict[str, dict[str, Any]] = {}
    audit: list[dict[str, Any]] = []

    def place(tag: str) -> dict[str, Any]:
        first = next(e for e in events if e["tag"] == tag)
        return {k: first[k] for k in ("enterprise_code", "hazard_source_code", "unit_code",
                                      "area_code")}  # fmt: skip

    def route(tag: str, outs: list[Any]) -> None:
        for out in outs:
            if out.kind == ALARM:
                decided[out.record["event_id"]] = out.record
            elif out.kind in ("action", "rejected_action", "auto_unshelve"):
                audit.append({"kind": out.kind, **place(tag), "reannunciate": None, **out.record})

    for _, is_action, _, record in sorted(inputs, key=lambda i: i[:3]):
        tag = record["tag"]
        lifecycle = lifecycles.setdefault(tag, TagLifecycle(tag))
        if is_action:
            route(tag, lifecycle.on_action(record))
            continue
        raised_ms = int(record["episode_id"].rsplit(":", 1)[1])
        transition = Transition(
            tag, record["condition"], record["event"], record["event_time_ms"], record["value"],
            record["limit"], record["priority"], record["alarm_class"], raised_ms,
        )  # fmt: skip
        route(tag, lifecycle.on_transition(transition))
    for tag, lifecycle in lifecycles.items():  # the job's event-time timers: shelves expire
        due = lifecycle.next_timer_ms()
        if due is not None:
            route(tag, lifecycle.on_time(due))
    landed = []
    for event in events:
        verdict = decided[event["event_id"]]
        assert verdict["annunciated"] == event["annunciated"], event["event_id"]
        landed.append(
            dict(event, suppressed_by=verdict["suppressed_by"], state=verdict["state_after"])
        )
    return landed, audit


def _scenario_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    # A-TF, day 1: E2 raised 07:00 (17 h before the day ends: not yet stale).
    events += alarm_episode("TI-501", "HH", at(1, "07:00:00"), None, "medium", 45.0, 46.2)
    # A-TF, day 2: E1 raised 08:10, cleared 08:40.
    events += alarm_episode(
        "LI-501", "H", at(2, "08:10:00"), at(2, "08:40:00"), "medium", 10.5, 10.6
    )
    # TI-501 H chatters: 3 raises, the third exactly 60 s after the first (60 s counts).
    chatter = [("10:00:00", "10:00:10"), ("10:00:30", "10:00:40"), ("10:01:00", "10:01:05")]
    for raised, cleared in chatter:
        events += alarm_episode("TI-501", "H", at(2, raised), at(2, cleared), "low", 40.0, 41.0)
    # LI-501 L: 3 raises, the third 61 s after the first: not chattering.
    slower = [("11:00:00", "11:00:05"), ("11:00:30", "11:00:35"), ("11:01:01", "11:01:10")]
    for raised, cleared in slower:
        events += alarm_episode("LI-501", "L", at(2, raised), at(2, cleared), "low", 1.5, 1.4)
    # A-RX, day 2: flood, 12 H raises 09:00:00..09:03:40; GD-RX12 is shelved (not annunciated),
    # so the window 09:00-09:10 holds 11 annunciated raises (>= 10: a flood window).
    for i in range(12):
        tag = f"GD-RX{i + 1:02d}"
        raised = at(2, "09:00:00") + i * 20_000
        cleared = at(2, "09:05:00") + i * 10_000
        events += alarm_episode(
            tag, "H", raised, cleared, "high", 25.0, 30.0, annunciated=tag != "GD-RX12"
        )
    # 9 HH raises in the window 09:20-09:30: 9 is not a flood.
    for i in range(9):
        raised = at(2, "09:20:00") + i * 30_000
        cleared = at(2, "09:25:00") + i * 5_000
        events += alarm_episode(f"GD-RX{i + 1:02d}", "HH", raised, cleared, "critical", 50.0, 55.0)
    # GD-RX01 H once more: the most frequent pair of the day (2 raises).
    events += alarm_episode(
        "GD-RX01", "H", at(2, "09:40:00"), at(2, "09:41:00"), "high", 25.0, 26.0
    )
    # A-RX, day 3: a STALE alarm without priority, never cleared (12 h at day end: not stale).
    events += alarm_episode("GD-RX05", "STALE", at(3, "12:00:00"), None, None, None, None)
    return events


def alarm_action(
    action_id: str,
    tag: str,
    condition: str,
    action: str,
    actor: str,
    ts: int,
    episode_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    record = {
        "action_id": action_id,
        "enterprise_code": ENTERPRISE,
        "tag": tag,
        "condition": condition,
        "episode_id": episode_id,
        "action": action,
        "actor": actor,
        "action_time_ms": ts,
    }
    record.update(extra)
    return record


def alarm_actions() -> list[dict[str, Any]]:
    l1, l2 = f"LI-501:L:{at(2, '11:00:00')}", f"LI-501:L:{at(2, '11:00:30')}"
    return [
        alarm_action("A1", "TI-501", "HH", "acknowledge", "P013", at(1, "07:05:00"), E2),
        alarm_action("A2", "LI-501", "H", "acknowledge", "P012", at(2, "08:12:00"), E1),
        # no episode_id: applies to the condition's current episode (E1)
        alarm_action("A3", "LI-501", "H", "comment", "P012", at(2, "08:15:00"), comment="巡检确认"),
        alarm_action(
            "A4",
            "LI-501",
            "H",
            "close",
            "P016",
            at(2, "09:00:00"),
            E1,
            cause="进料阀开度过大",
            measures="关小进料阀, 校核液位计",
        ),  # fmt: skip
        # shelving ahead of any raise: no episode
        alarm_action(
            "A5",
            "GD-RX12",
            "H",
            "shelve",
            "P014",
            at(2, "08:30:00"),
            reason="探头标定",
            shelve_duration_s=3600.0,
        ),  # fmt: skip
        # close before the clear (11:00:05): not a close
        alarm_action(
            "A6", "LI-501", "L", "close", "P016", at(2, "11:00:03"), l1, cause="c", measures="m"
        ),
        # close without measures: not a close
        alarm_action(
            "A7", "LI-501", "L", "close", "P016", at(2, "11:00:50"), l2, cause="c", measures=""
        ),
    ]


def tag_configs() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return (first batch, later batch) of tag_metadata records: LI-501 H moved to 10.5."""
    from pipelines.plant import load_plant

    records = {r["tag"]: r for r in load_plant().tag_records()}
    li = dict(records["LI-501"], limits={**records["LI-501"]["limits"], "h": 10.5})
    ti_old = dict(records["TI-501"], deadband=0.5)
    ti_new = dict(records["TI-501"], deadband=0.8)
    return [li, ti_old], [ti_new]


def dead_letters() -> list[tuple[str, dict[str, Any]]]:
    """Return (dlq topic, envelope) pairs made by the ingest code itself."""
    from pipelines.ingest import Verdict, dead_letter

    def letter(topic: str, raw: bytes, code: str, reason: str, received: int) -> dict[str, Any]:
        envelope = dead_letter(topic, raw, Verdict(None, code, reason), "simulator", "LI-501")
        envelope["received_at_ms"] = received
        return envelope

    bad_type = b'{"tag":"LI-501","value":"abc"}'  # 30 bytes
    future = b'{"tag":"LI-501","event_time_ms":9999999999999}'  # 46 bytes
    unknown = b'{"tag":"XX-999","action":"acknowledge"}'  # 39 bytes
    why = "telemetry/sensor_reading.v1: field 'value' must be number or null, got str"
    letters = [
        # 07:30 local on day 2 is 23:30 UTC on day 1: it belongs to plant day 2
        ("readings", bad_type, "wrong_type", why, at(2, "07:30:00")),
        ("readings", bad_type, "wrong_type", why, at(2, "09:30:00")),
        ("readings", future, "future_timestamp", "too far ahead", at(2, "10:00:00")),
        ("readings", bad_type, "wrong_type", why, at(3, "08:00:00")),
        ("alarm.actions", unknown, "unknown_tag", "unknown tag 'XX-999'", at(2, "11:00:00")),
    ]
    return [(topic + ".dlq", letter(topic, *rest)) for topic, *rest in letters]


def certificate(
    cid: str, holder: tuple[str, str], cert_type: str, expires: str, status: str, day: int
) -> dict[str, Any]:
    """A certificate expiring at the end of `expires` (China time), stated on plant day `day`."""
    expiry = datetime.fromisoformat(f"{expires}T23:59:59.999").replace(tzinfo=CST)
    return {
        "certificate_id": cid,
        "enterprise_code": ENTERPRISE,
        "holder_type": holder[0],
        "holder_id": holder[1],
        "cert_type": cert_type,
        "cert_no": f"NO-{cid}",
        "issued_by": "烟台市应急管理局",
        "issued_on_ms": at(1, "00:00:00") - 3 * 365 * 86_400_000,
        "expires_on_ms": _ms(expiry),
        "status": status,
        "event_time_ms": at(day, "09:00:00"),
    }


def certificates() -> list[dict[str, Any]]:
    company, welder, tank = ("enterprise", ENTERPRISE), ("person", "P035"), ("equipment", "T-501")
    return [
        # expired 2026-02-28: -2 days -> overdue
        certificate("CERT-001", company, "安全生产许可证", "2026-02-28", "expired", 1),
        # 2026-04-01 is 30 days after as_of: due_30d (30 counts)
        certificate("CERT-002", welder, "特种作业操作证", "2026-04-01", "expiring", 1),
        # renewed: the older state (2026-03-10) is replaced by 2026-04-02 (31 days: ok)
        certificate("CERT-003", tank, "压力容器使用登记证", "2026-03-10", "expiring", 1),
        certificate("CERT-003", tank, "压力容器使用登记证", "2026-04-02", "valid", 2),
        # revoked: never due
        certificate("CERT-004", ("person", "P033"), "特种作业操作证", "2026-03-05", "revoked", 1),
    ]


def equipment_item(eid: str, etype: str, name: str, status: str, **due: str) -> dict[str, Any]:
    """An equipment item in A-TF; due dates are midnight China time of the given dates."""
    record: dict[str, Any] = {
        "equipment_id": eid,
        "enterprise_code": ENTERPRISE,
        "unit_code": "U-TF",
        "area_code": "A-TF",
        "hazard_source_code": "HS-01",
        "name": name,
        "equipment_type": etype,
        "status": status,
        "event_time_ms": at(1, "10:00:00"),
    }
    for field, day in due.items():
        record[field] = _ms(datetime.fromisoformat(day).replace(tzinfo=CST))
    return record


def equipment() -> list[dict[str, Any]]:
    calibration, replacement = "next_calibration_due_ms", "replacement_due_ms"
    return [
        # due today (0 days): due_30d; note midnight China time is the previous UTC day
        equipment_item("SV-101", "safety_valve", "T-501 呼吸阀组安全阀", "in_service",
                       **{calibration: "2026-03-02", "last_calibration_ms": "2025-03-02"}),
        equipment_item("SV-102", "safety_valve", "T-502 安全阀", "in_service",
                       **{calibration: "2026-03-01"}),
        equipment_item("BD-101", "bursting_disc", "T-505 爆破片", "in_service",
                       **{replacement: "2027-03-02"}),
        equipment_item("SV-103", "safety_valve", "旧安全阀", "retired",
                       **{calibration: "2025-01-01"}),
        equipment_item("P-501A", "pump", "P-501A 甲醇输送泵", "in_service"),
    ]  # fmt: skip


def other_records() -> dict[str, list[dict[str, Any]]]:
    """One record for each remaining staged topic, so every staging model sees typed rows."""
    t = at(2, "08:20:00")
    return {
        "positions": [{
            "person_id": "P017", "tag_id": "UWB-1017", "enterprise_code": ENTERPRISE,
            "person_type": "employee", "area_code": "A-TF", "x_m": 175.0, "y_m": 205.0,
            "floor": None, "battery_pct": 81.0, "sos": False, "event_time_ms": t,
        }],
        "video.events": [{
            "event_id": "V-1", "enterprise_code": ENTERPRISE, "camera_id": "CAM-LD01",
            "area_code": "A-LD", "hazard_source_code": None, "event_type": "no_helmet",
            "confidence": 0.91, "event_time_ms": t, "snapshot_uri": None,
        }],
        "work.permits": [{
            "permit_id": "HW-001", "enterprise_code": ENTERPRISE, "work_type": "hot_work",
            "hot_work_level": "level1", "area_code": "A-RX", "unit_code": "U-RX",
            "hazard_source_code": "HS-02", "location": "R-101 平台", "x_m": 250.0, "y_m": 100.0,
            "planned_start_ms": t, "planned_end_ms": t + 8 * 3_600_000, "actual_start_ms": None,
            "actual_end_ms": None, "status": "approved", "applicant": "P033",
            "approver": "P005", "guardian": "P020", "contractor_id": "C001",
            "workers": ["P033", "P034"], "lifting_weight_t": None, "height_m": None,
            "on_holiday_or_night": False, "event_time_ms": t,
        }],
        "work.gas_analyses": [{
            "analysis_id": "GA-1", "permit_id": "HW-001", "enterprise_code": ENTERPRISE,
            "sample_point": "R-101 平台 1 m", "distance_to_work_point_m": 1.0, "gas": "methanol",
            "measured_value": 0.1, "measured_unit": "%VOL", "lel_pct_of_gas": 6.0,
            "oxygen_pct": 20.9, "analyst": "P027", "sampled_at_ms": t, "passed": True,
        }],
        "inspections": [{
            "checkin_id": "CK-1", "enterprise_code": ENTERPRISE, "route_id": "R-TF-01",
            "point_id": "IP-TF-01", "area_code": "A-TF", "inspector": "P017",
            "checkin_time_ms": t, "result": "normal", "note": None, "x_m": 150.0, "y_m": 187.0,
        }],
        "hidden_dangers": [{
            "danger_id": "HD-1", "enterprise_code": ENTERPRISE, "area_code": "A-TF",
            "hazard_source_code": "HS-01", "title": "T-501 防火堤排水阀未关", "level": "general",
            "source": "inspection", "found_by": "P017", "found_at_ms": t,
            "deadline_ms": t + 86_400_000, "status": "open", "liable_person": "P010",
            "measures": None, "accepted_at_ms": None, "event_time_ms": t,
        }],
    }  # fmt: skip


LEVEL_ZH = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}
LEVEL_CODE = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}


def risk_factor(name: str, value: Any, contribution: float, *causes: str) -> dict[str, Any]:
    return {"factor": name, "value": value, "contribution": contribution, "causes": list(causes)}


def risk_change_id(object_type: str, code: str, ts: int, level: str) -> str:
    """The risk engine's event_id of a level change."""
    return hashlib.sha1(f"{object_type}:{code}:{ts}:{level}".encode()).hexdigest()[:20]


def risk_level(
    object_type: str,
    code: str,
    level: str,
    previous: str | None,
    ts: int,
    score: float,
    factors: list[dict[str, Any]],
    v1: bool = False,
) -> dict[str, Any]:
    """A risk_level record; v1=True: as written before v2 (no event_id, version or causes)."""
    record: dict[str, Any] = {
        "event_id": risk_change_id(object_type, code, ts, level),
        "object_type": object_type,
        "object_code": code,
        "enterprise_code": ENTERPRISE,
        "level": level,
        "level_zh": LEVEL_ZH[level],
        "risk_level_code": LEVEL_CODE[level],
        "previous_level": previous,
        "score": score,
        "factors": factors,
        "model_version": 1,
        "event_time_ms": ts,
    }
    if v1:
        del record["event_id"], record["model_version"]
        record["factors"] = [{k: v for k, v in f.items() if k != "causes"} for f in factors]
    return record


INHERENT = risk_factor("inherent_gb18218_level", "三级", -6.0)
ONE_ALARM = risk_factor("gas_alarms", 1, -20.0, "LI-501 H medium")
TWO_ALARMS = risk_factor("gas_alarms", 2, -35.0, "LI-501 H medium", "TI-501 HH medium")


def risk_levels() -> list[dict[str, Any]]:
    """HS-01 blue -> orange -> red -> blue, A-TF yellow, the enterprise blue (v1 record) -> red."""
    worst = risk_factor("worst_object", "hazard_source:HS-01", 0.0)
    hot_work = risk_factor("special_work", 1, -7.0, "HW-001 hot_work level1")
    return [
        risk_level("hazard_source", "HS-01", "blue", None, at(1, "10:00:00"), 94.0, [INHERENT]),
        risk_level("hazard_source", "HS-01", "orange", "blue", at(2, "09:00:00"), 74.0,
                   [INHERENT, ONE_ALARM]),
        risk_level("hazard_source", "HS-01", "red", "orange", at(2, "09:30:00"), 59.0,
                   [INHERENT, TWO_ALARMS]),
        risk_level("hazard_source", "HS-01", "blue", "red", at(2, "11:00:00"), 94.0, [INHERENT]),
        risk_level("area", "A-TF", "yellow", None, at(2, "09:00:00"), 87.0, [INHERENT, hot_work]),
        risk_level("enterprise", ENTERPRISE, "blue", None, at(1, "10:00:00"), 94.0,
                   [worst, INHERENT], v1=True),
        risk_level("enterprise", ENTERPRISE, "red", "blue", at(2, "09:30:00"), 59.0,
                   [worst, INHERENT, TWO_ALARMS]),
    ]  # fmt: skip


CASE_1 = f"CASE-HS-01-{at(2, '09:00:00')}"  # closed within 24 h
CASE_2 = f"CASE-{ENTERPRISE}-{at(2, '23:58:00')}"  # acknowledged after local midnight
CASE_3 = f"CASE-HS-02-{at(1, '08:00:00')}"  # closed after 25 h


def case_events() -> list[dict[str, Any]]:
    """Three warning cases as the risk engine records them (包保 chains of the demo plant)."""
    cases = {CASE_1: ("hazard_source", "HS-01"), CASE_2: ("enterprise", ENTERPRISE),
             CASE_3: ("hazard_source", "HS-02")}  # fmt: skip
    steps = [
        # case, event, status, level, assignee, escalation level, time, actor, detail, action
        (CASE_1, "opened", "open", "orange", "P010", 0, at(2, "09:00:00"), None,
         "HS-01 blue->orange", None),
        (CASE_1, "escalated", "open", "orange", "P004", 1, at(2, "09:05:00"), None,
         "acknowledge overdue; escalated to P004", None),
        (CASE_1, "level_raised", "open", "red", "P004", 1, at(2, "09:30:00"), None,
         "HS-01 orange->red", None),
        (CASE_1, "acknowledged", "acknowledged", "red", "P004", 1, at(2, "09:40:00"), "P004",
         None, "CA-1"),
        (CASE_1, "handled", "handled", "red", "P004", 1, at(2, "10:00:00"), "P004", None, "CA-2"),
        (CASE_1, "action_rejected", "handled", "red", "P004", 1, at(2, "10:10:00"), "P004",
         "the verifier must not be the person who handled the case", "CA-3"),
        (CASE_1, "verified", "verified", "red", "P004", 1, at(2, "10:20:00"), "P001", None,
         "CA-4"),
        (CASE_1, "closed", "closed", "red", "P004", 1, at(2, "10:30:00"), "P001", "闭环", "CA-5"),
        (CASE_2, "opened", "open", None, "P003", 0, at(2, "23:58:00"), None,
         "critical alarm GD-RX01 HH", None),
        (CASE_2, "acknowledged", "acknowledged", None, "P003", 0, at(3, "00:01:00"), "P003",
         None, "CB-1"),
        (CASE_3, "opened", "open", "orange", "P011", 0, at(1, "08:00:00"), None,
         "HS-02 yellow->orange", None),
        (CASE_3, "acknowledged", "acknowledged", "orange", "P011", 0, at(1, "08:03:00"), "P011",
         None, "CC-1"),
        (CASE_3, "handled", "handled", "orange", "P011", 0, at(1, "09:00:00"), "P011", None,
         "CC-2"),
        (CASE_3, "escalated", "handled", "orange", "P005", 1, at(2, "08:00:00"), None,
         "close overdue; escalated to P005", None),
        (CASE_3, "verified", "verified", "orange", "P005", 1, at(2, "08:30:00"), "P005", None,
         "CC-3"),
        (CASE_3, "closed", "closed", "orange", "P005", 1, at(2, "09:00:00"), "P005", None,
         "CC-4"),
    ]  # fmt: skip
    events, seqs = [], defaultdict(int)
    for case_id, event, status, level, assignee, escalation, ts, actor, detail, action in steps:
        seqs[case_id] += 1
        subject_type, subject_code = cases[case_id]
        events.append({
            "event_id": hashlib.sha1(f"{case_id}:{seqs[case_id]}".encode()).hexdigest()[:20],
            "case_id": case_id, "seq": seqs[case_id], "enterprise_code": ENTERPRISE,
            "subject_type": subject_type, "subject_code": subject_code, "event": event,
            "status": status, "level": level, "assignee": assignee,
            "escalation_level": escalation, "actor": actor, "detail": detail,
            "action_id": action, "event_time_ms": ts,
        })  # fmt: skip
    return events


def cases_current() -> list[dict[str, Any]]:
    """`cases.current` snapshots as the risk job's CaseBook writes them, ran with the shipped risk
    model (close deadline = opening + cases.close_within_s): one per case after its latest event,
    and an earlier one of CASE_1 (landed first) that the latest replaces."""
    from pipelines.plant import load_plant
    from pipelines.risk.model import load_model

    close_within_ms = int(load_model().cases.close_within_s * 1000)
    plant = load_plant()
    chains = {code: [hs.responsibility[r] for r in ("operations_lead", "technical_lead",
                                                     "principal_head")]
              for code, hs in plant.hazard_sources.items()}  # fmt: skip
    snapshots = []
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in case_events():
        by_case[event["case_id"]].append(event)
    for case_id, events in by_case.items():
        for upto in [2, len(events)] if case_id == CASE_1 else [len(events)]:
            seen, last = events[:upto], events[upto - 1]
            steps = {e["event"]: e for e in seen}
            opened = steps["opened"]["event_time_ms"]
            closed = steps.get("closed")
            snapshots.append({
                "case_id": case_id, "enterprise_code": ENTERPRISE,
                "subject_type": last["subject_type"], "subject_code": last["subject_code"],
                "status": last["status"], "level": last["level"],
                "triggers": [steps["opened"]["detail"]], "assignee": last["assignee"],
                "escalation_level": last["escalation_level"],
                "responsibility_chain": chains.get(last["subject_code"], [last["assignee"]]),
                "opened_ms": opened, "close_due_ms": opened + close_within_ms,
                "closed_ms": closed["event_time_ms"] if closed else None,
                "closed_by": closed["actor"] if closed else None,
                "closed_on_time": (closed["event_time_ms"] <= opened + close_within_ms
                                   if closed else None),
                "attachments": [], "overdue_steps": [],
            })  # fmt: skip
    return snapshots


def case_actions() -> list[dict[str, Any]]:
    """The operator actions on CASE_1 (CA-3, a verify by the handler, was rejected)."""

    def act(action_id: str, kind: str, actor: str, clock: str, **extra: Any) -> dict[str, Any]:
        return {"action_id": action_id, "case_id": CASE_1, "action": kind, "actor": actor,
                "action_time_ms": at(2, clock), **extra}  # fmt: skip

    return [
        act("CA-1", "ack", "P004", "09:40:00"),
        act("CA-2", "handle", "P004", "10:00:00", cause="LI-501 进料阀开度过大",
            measures="关小进料阀", attachments=["file:///photos/ca-2.jpg"]),
        act("CA-3", "verify", "P004", "10:10:00"),
        act("CA-4", "verify", "P001", "10:20:00"),
        act("CA-5", "close", "P001", "10:30:00", comment="闭环"),
    ]  # fmt: skip


def build_lake(root: Path | str, storage_options: dict[str, str] | None = None) -> BronzeLake:
    """Write the reference tables and every bronze table of the fixture under `root`."""
    from pipelines.lake.reference import write_reference_tables

    write_reference_tables(str(root), loaded_at=BATCH_1, storage_options=storage_options)
    lake = BronzeLake(root, storage_options)
    lake.create_all()
    lake.append("readings", READINGS, BATCH_1)
    lake.append("readings", RESENT_READINGS, BATCH_2)
    events = alarm_events()
    lake.append("alarms", events, BATCH_1)
    lake.append("alarms", [e for e in events if e["episode_id"] == E1][:1], BATCH_2)  # a replay
    lake.append("alarm.actions", alarm_actions(), BATCH_1)
    audit = alarm_audit()
    lake.append("alarm.audit", audit, BATCH_1)
    lake.append("alarm.audit", audit[:1], BATCH_2)  # a replayed audit record
    first, later = tag_configs()
    lake.append("tags", first, BATCH_1)
    lake.append("tags", later, BATCH_2)
    letters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic, envelope in dead_letters():
        letters[topic].append(envelope)
    for topic, envelopes in letters.items():
        lake.append(topic, envelopes, BATCH_1, kafka_ms_field="received_at_ms")
    lake.append("certificates", certificates(), BATCH_1)
    lake.append("equipment", equipment(), BATCH_1)
    for topic, records in other_records().items():
        lake.append(topic, records, BATCH_1)
    changes = risk_levels()
    lake.append("risk.levels", changes, BATCH_1)
    lake.append("risk.levels", changes[1:2], BATCH_2)  # a replayed change
    case_records = case_events()
    lake.append("cases", case_records, BATCH_1)
    lake.append("cases", case_records[3:4], BATCH_2)  # a replayed event
    lake.append("case.actions", case_actions(), BATCH_1)
    snapshots = cases_current()
    lake.append("cases.current", snapshots[:1], BATCH_1)  # CASE_1 after its second event
    lake.append("cases.current", snapshots[1:], BATCH_2)
    return lake


def lake_settings(settings: Settings, root: Path) -> Settings:
    """Settings pointing the lake, the DuckDB file and dbt's target/logs at `root`."""
    lake = settings.lake.model_copy(
        update={"root": str(root / "lake"), "duckdb_path": root / "hazchem.duckdb"}
    )
    return settings.model_copy(update={"lake": lake, "cache_dir": root / "cache"})


def query(path: Path, sql: str) -> list[dict[str, Any]]:
    """Rows of a query on the DuckDB file, as dicts."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
