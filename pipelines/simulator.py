"""Deterministic plant simulator: sensor readings, positions, video and business events.

Same plant, scenario, seed, rate, start_ms and faults give the same event sequence, whatever
tick sizes the caller uses (every random stream is drawn in event-time order). Sensor readings are
generated per tick as a numpy matrix (sample instants x tags) and turned into dicts in one pass.

Signal model (per tag, in its unit):
- controlled process values: setpoint + first-order (Ornstein-Uhlenbeck) deviation + white
  measurement noise, sized so that `normal` never crosses a low or high limit;
- tank levels (unit m): slow fill/drain triangle wave between the limits; temperatures of storage
  units follow a daily ambient cycle;
- gas detectors near zero with small noise, oxygen about 20.9 %VOL.
Scenario times are seconds after start_ms, so a two-minute run of `mixed` shows everything.
"""

from __future__ import annotations

import copy
import heapq
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from pipelines.plant import PLANT_TZ, Plant, Tag

SCENARIOS = ("normal", "leak", "overpressure", "offpost", "crowding", "mixed")
MALFORMED_KINDS = (
    "malformed_json",
    "wrong_type",
    "missing_field",
    "unknown_tag",
    "non_finite_value",
    "future_timestamp",
    "expired_timestamp",
    "oversized",
)
VALID_FAULTS = ("duplicate", "late", "out_of_order")

TOPIC_READINGS = "readings"
TOPIC_POSITIONS = "positions"
TOPIC_VIDEO = "video.events"
TOPIC_PERMITS = "work.permits"
TOPIC_GAS_ANALYSES = "work.gas_analyses"
TOPIC_CHECKINS = "inspections"
TOPIC_HIDDEN_DANGERS = "hidden_dangers"

POSITION_INTERVAL_MS = 5_000  # each person reports every 5 s of event time
INSPECTION_STEP_S = 20.0  # walking time between two check-in points
FUTURE_SKEW_MS = 10 * 60_000  # future_timestamp: 10 min ahead (> the 5 min ingest limit)
EXPIRED_AGE_MS = 9 * 86_400_000  # expired_timestamp: 9 days old (> the 8 day ingest limit)
OVERSIZED_PAD_BYTES = 70 * 1024  # oversized: raw record above 64 KiB
OUT_OF_ORDER_MAX_EXTRA_MS = 1_000  # out_of_order: delayed by one sample interval + up to 1 s
NIGHT_HOURS = (18, 8)  # work starting at or after 18:00 or before 08:00 counts as night work

# Ambient model: daily sine around AMBIENT_MEAN_C peaking at 15:00 local time.
AMBIENT_SWING_C = 6.0
TANK_FILL_RATE_M_PER_H = 1.2
# In `normal`, a value changes by less than roc_per_min over any window of this many seconds;
# the change between two consecutive samples is noise-dominated (ROC alarms need a window).
ROC_WINDOW_S = 10.0

# ---------------------------------------------------------------------------- the demo script
# Scenario script for the demo plant. Ids must exist in the plant for the scenarios that use them.
LEAK = {
    "area_code": "A-TF",
    "x_m": 157.0,  # T-505 benzene tank, root valve flange
    "y_m": 211.0,
    "equipment": "T-505",
    "gas": "benzene",
    "start_s": 20.0,
    "stop_s": 90.0,  # isolated by the emergency shut-off valve
    "source_pct_lel": 120.0,  # concentration at the source, in %LEL
    "source_pct_oel": 1200.0,  # same cloud, in %OEL of benzene
    "decay_length_m": 22.0,  # amplitude falls as exp(-d / decay_length_m)
    "spread_m_per_s": 1.0,  # the cloud front reaches a detector after d / spread seconds
    "rise_tau_s": 8.0,
    "fall_tau_s": 20.0,
    "reach_m": 60.0,  # detectors farther than this do not see the cloud
}
OVERPRESSURE = {
    "tag": "PI-R101-OUT",
    "follower": "PI-R101-IN",
    "follow_factor": 0.5,
    "start_s": 40.0,
    "peak_s": 55.0,
    "hold_until_s": 65.0,
    "rise": 0.8,  # MPa above normal at the peak
    "recovery_tau_s": 5.0,
}
OFFPOST = {
    "person_id": "P012",
    "camera_id": "CAM-CR01",
    "video_at_s": 55.0,
    "path": (
        (25.0, None),
        (45.0, (95.0, 45.0)),
        (65.0, (62.0, 45.0)),
        (100.0, (62.0, 45.0)),
        (120.0, (95.0, 45.0)),
        (140.0, None),
    ),
}
CROWDING = {
    "area_code": "A-LD",
    "center": (40.0, 248.0),
    "radius_m": 4.0,
    "walkers": ("P039", "P040", "P041", "P042", "P043", "P044"),  # drivers from the parking
    "walk_from_s": 15.0,
    "locals": ("P028", "P029"),  # loading operators already in the area
    "locals_from_s": 25.0,
    "gathered_s": 45.0,
    "leave_s": 135.0,
    "home_s": 165.0,
    "camera_id": "CAM-LD01",
    "video_at_s": 106.0,
}
SENSOR_FAULTS = {
    "stuck": {"tag": "TI-C101-B", "from_s": 30.0},
    "spikes": {"tag": "FI-501", "at_s": (45.0, 47.0, 49.0), "fraction_of_span": 0.95},
    "dropout": {"tag": "LI-508", "from_s": 60.0, "to_s": 90.0},
}
HOT_WORK = {
    "area_code": "A-TF",
    "unit_code": "U-TF",
    "location": "T-504 甲醇储罐进料管线法兰补焊（防火堤内）/ T-504 inlet line flange weld repair",
    "x_m": 262.0,
    "y_m": 258.0,
    "workers": ("P035", "P036"),
    "applicant": "P035",
    "approver": "P001",  # 特级: the plant's responsible leader approves
    "guardian": "P018",
    "contractor_id": "C001",
    "analyst": "P030",
    "approved_s": 5.0,
    "sampled_s": 10.0,
    "started_s": 15.0,
    "suspended_s": 30.0,  # stopped because of the gas alarm in the tank farm
    "duration_h": 4.0,
    "muster": (110.0, 150.0),
}
CONFINED_SPACE = {
    "area_code": "A-UT",
    "unit_code": "U-UT",
    "location": "循环水池清淤 / cooling-water basin desilting",
    "x_m": 400.0,
    "y_m": 60.0,
    "workers": ("P037", "P038"),
    "applicant": "P037",
    "approver": "P003",
    "guardian": "P032",
    "contractor_id": "C001",
    "analyst": "P030",
    "approved_s": 8.0,
    "sampled_s": 12.0,
    "started_s": 20.0,
    "duration_h": 8.0,
}
ABNORMAL_CHECKIN = {
    "point_id": "IP-TF-02",
    "note": "T-505罐根阀法兰渗漏，现场有苯味 / T-505 root valve flange seeping, benzene odour",
}
HIDDEN_DANGER = {
    "registered_after_s": 30.0,
    "rectifying_after_s": 60.0,
    "title": "T-505苯储罐罐根阀法兰泄漏 / T-505 benzene tank root valve flange leak",
    "liable_person": "P010",
    "measures": "关闭罐根阀，倒罐后更换法兰垫片 / close the root valve, empty the tank, "
    "replace the gasket",
    "deadline_h": 24.0,
}

_SCENARIO_PARTS = {
    "normal": frozenset(),
    "leak": frozenset({"leak"}),
    "overpressure": frozenset({"overpressure"}),
    "offpost": frozenset({"offpost"}),
    "crowding": frozenset({"crowding"}),
    "mixed": frozenset({"leak", "overpressure", "offpost", "crowding", "sensor_faults", "work"}),
}

_WANDER_M = {  # how far people stray from their post, by role
    "control_room_operator": 1.5,
    "shift_leader": 3.0,
    "field_operator": 10.0,
    "maintenance_technician": 6.0,
    "instrument_technician": 6.0,
    "contractor_worker": 5.0,
    "contractor_welder": 4.0,
    "loading_operator": 5.0,
    "tanker_driver": 4.0,
    "warehouse_keeper": 5.0,
    "utility_operator": 8.0,
    "safety_officer": 8.0,
}
_DEFAULT_WANDER_M = 3.0
_OU_TAU_S = {"temperature": 60.0, "pressure": 15.0, "flow": 5.0, "level": 30.0}


@dataclass(frozen=True)
class TransportFaults:
    """Per-reading probabilities of transport faults injected into the readings stream."""

    duplicate_rate: float = 0
    late_rate: float = 0
    late_by_s: float = 30
    out_of_order_rate: float = 0
    malformed_rate: float = 0

    def __post_init__(self) -> None:
        """Reject rates outside [0, 1], a total above 1 and a non-positive late_by_s."""
        rates = (self.duplicate_rate, self.late_rate, self.out_of_order_rate, self.malformed_rate)
        for name, v in zip(("duplicate", "late", "out_of_order", "malformed"), rates, strict=True):
            if not (isinstance(v, (int, float)) and 0 <= v <= 1):
                raise ValueError(f"{name}_rate must be a probability in [0, 1], got {v!r}")
        if sum(rates) > 1:
            raise ValueError(f"transport fault rates add up to {sum(rates):g}, above 1")
        if not (isinstance(self.late_by_s, (int, float)) and self.late_by_s > 0):
            raise ValueError(f"late_by_s must be > 0, got {self.late_by_s!r}")

    @property
    def any(self) -> bool:
        """True when any fault can be injected."""
        return (
            self.duplicate_rate + self.late_rate + self.out_of_order_rate + self.malformed_rate
        ) > 0


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One event for one topic: a record dict, or raw bytes for deliberately unparseable ones.

    fault is None for clean events, "duplicate"/"late"/"out_of_order" for valid records sent in a
    faulty way, or the dead-letter reason_code the ingest must assign to an invalid one.
    """

    topic: str
    record: dict | None
    raw: bytes | None
    fault: str | None


@dataclass
class _Walker:
    """Mutable movement state of one person."""

    index: int
    person_id: str
    tag_id: str
    person_type: str
    home_area: str
    post: tuple[float, float]
    wander_m: float
    x: float
    y: float
    battery0: float
    rng: np.random.Generator
    offset_ms: int
    next_j: int = 1


def _roc_sigma(roc_per_min: float) -> float:
    """Return a noise sigma whose change over any 10 s window stays well under roc_per_min."""
    return roc_per_min * (ROC_WINDOW_S / 60.0) / 12.0


def _local(ms: int) -> datetime:
    """Return the China local time of an epoch-ms instant."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(PLANT_TZ)


def _interp(path: list[tuple[float, float, float]], t_s: float) -> tuple[float, float] | None:
    """Return the position on a timed polyline [(t_s, x, y)...], or None outside its time span."""
    if not path or t_s < path[0][0] or t_s > path[-1][0]:
        return None
    for (t0, x0, y0), (t1, x1, y1) in zip(path, path[1:], strict=False):
        if t0 <= t_s <= t1:
            f = 0.0 if t1 == t0 else (t_s - t0) / (t1 - t0)
            return (x0 + f * (x1 - x0), y0 + f * (y1 - y0))
    return (path[-1][1], path[-1][2])


class Simulator:
    """Seeded plant simulator; call tick(dt_ms) repeatedly to advance the event clock."""

    def __init__(
        self,
        plant: Plant,
        scenario: str = "mixed",
        seed: int = 42,
        rate: float = 1000.0,
        start_ms: int | None = None,
        faults: TransportFaults = TransportFaults(),
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        n = len(plant.tags)
        if n == 0:
            raise ValueError("the plant has no tags to simulate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
            raise ValueError(f"rate must be a finite number of readings per second, got {rate!r}")
        if rate <= 0:
            raise ValueError(f"rate must be > 0 readings per second, got {rate!r}")
        if n * 1000.0 / rate < 1.0:
            raise ValueError(
                f"rate {rate:g}/s is too high for {n} tags: each tag would be sampled more than "
                f"once per millisecond (maximum {n * 1000}/s)"
            )
        if not isinstance(faults, TransportFaults):
            raise ValueError("faults must be a TransportFaults")
        self._plant = plant
        self._scenario = scenario
        self._parts = _SCENARIO_PARTS[scenario]
        self._seed = seed
        self._rate = float(rate)
        self._faults = faults
        self._start = int(time.time() * 1000) if start_ms is None else int(start_ms)
        if self._start < 0:
            raise ValueError(f"start_ms must be >= 0, got {start_ms!r}")
        self._now = self._start
        self._interval_ms = n * 1000.0 / self._rate
        self._k_next = 1
        self._stamp = _local(self._start).strftime("%Y%m%d-%H%M%S")
        self._ec = plant.enterprise_code

        streams = np.random.SeedSequence(seed).spawn(4 + len(plant.people))
        rng_init = np.random.default_rng(streams[0])
        self._rng_noise = np.random.default_rng(streams[1])
        self._rng_fault = np.random.default_rng(streams[2])
        self._malformed_seq = 0
        self._missing_seq = 0
        self._pending: list[tuple[Any, ...]] = []

        self._check_script()
        self._tags: list[Tag] = list(plant.tags.values())
        self._col = {t.tag: i for i, t in enumerate(self._tags)}
        self._metas = [
            (t.hazard_source_code, t.unit_code, t.tag, t.metric_code, t.unit) for t in self._tags
        ]
        self._init_signals(rng_init)
        self._init_sensor_faults()
        self._leak = self._init_leak() if "leak" in self._parts else None
        self._walkers = self._init_walkers(streams[4:])
        self._paths: dict[str, list[tuple[float, float, float]]] = {}
        self._timeline: list[dict[str, Any]] = []
        self._business: list[tuple[int, int, str, dict]] = []
        self._abnormal: tuple[str, str, int] | None = None
        self._init_script()
        self._business.sort(key=lambda e: (e[0], e[1]))
        self._business_next = 0
        self._timeline.sort(key=lambda e: (e["at_s"], e["what"]))

    # ------------------------------------------------------------------------- public API

    @property
    def now_ms(self) -> int:
        """The event clock: every event up to this instant has been returned."""
        return self._now

    @property
    def start_ms(self) -> int:
        """Event time the simulation started at."""
        return self._start

    @property
    def sample_interval_ms(self) -> float:
        """Milliseconds between two readings of one tag: len(tags) / rate seconds."""
        return self._interval_ms

    def scenario_timeline(self) -> list[dict]:
        """Return what the scenario does and when: [{"at_s", "what", "tags", "area", ...}]."""
        return copy.deepcopy(self._timeline)

    def tick(self, dt_ms: int) -> list[SimEvent]:
        """Advance the event clock by dt_ms; return the events in (now, now + dt] in time order.

        Late and out-of-order readings are returned in the tick in which they are sent, so they
        break the event-time order on purpose.
        """
        if isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, np.integer)) or dt_ms < 0:
            raise ValueError(f"dt_ms must be a non-negative integer, got {dt_ms!r}")
        end = self._now + int(dt_ms)
        rows_t, rows = self._readings(end)
        extras: list[tuple[tuple, SimEvent]] = []
        self._positions(end, extras)
        self._business_events(end, extras)
        self._inspections(end, extras)
        while self._pending and self._pending[0][0] <= end:
            item = heapq.heappop(self._pending)
            extras.append((item[:-1], item[-1]))
        extras.sort(key=lambda e: e[0])
        out: list[SimEvent] = []
        p, n_extra = 0, len(extras)
        for t, row in zip(rows_t, rows, strict=True):
            while p < n_extra and extras[p][0][0] < t:
                out.append(extras[p][1])
                p += 1
            out.extend(row)
        while p < n_extra:
            out.append(extras[p][1])
            p += 1
        self._now = end
        return out

    # ------------------------------------------------------------------------- set-up

    def _check_script(self) -> None:
        """Raise ValueError when the scenario refers to ids the plant lacks."""
        plant = self._plant
        need: list[tuple[str, str, Any]] = []
        if "leak" in self._parts:
            need.append(("area", LEAK["area_code"], plant.areas))
        if "overpressure" in self._parts:
            need += [("tag", OVERPRESSURE["tag"], plant.tags)]
            need += [("tag", OVERPRESSURE["follower"], plant.tags)]
        if "offpost" in self._parts:
            need += [("person", OFFPOST["person_id"], plant.people)]
            need += [("camera", OFFPOST["camera_id"], plant.cameras)]
        if "crowding" in self._parts:
            need.append(("area", CROWDING["area_code"], plant.areas))
            need.append(("camera", CROWDING["camera_id"], plant.cameras))
            for pid in (*CROWDING["walkers"], *CROWDING["locals"]):
                need.append(("person", pid, plant.people))
        if "sensor_faults" in self._parts:
            for fault in SENSOR_FAULTS.values():
                need.append(("tag", fault["tag"], plant.tags))
        if "work" in self._parts:
            for work in (HOT_WORK, CONFINED_SPACE):
                need.append(("area", work["area_code"], plant.areas))
                need.append(("unit", work["unit_code"], plant.units))
                for key in ("applicant", "approver", "guardian", "analyst"):
                    need.append(("person", work[key], plant.people))
                for pid in work["workers"]:
                    need.append(("person", pid, plant.people))
        if "leak" in self._parts and plant.routes:
            need.append(("person", HIDDEN_DANGER["liable_person"], plant.people))
        for what, ident, known in need:
            if ident not in known:
                raise ValueError(
                    f"scenario {self._scenario!r} needs {what} {ident!r}, which the plant lacks"
                )

    def _init_signals(self, rng: np.random.Generator) -> None:
        """Derive per-tag baseline, noise and behaviour arrays from the plant's tags."""
        n = len(self._tags)
        base = np.zeros(n)
        sigma_ou = np.zeros(n)
        sigma_white = np.zeros(n)
        tau = np.ones(n)
        lo = np.zeros(n)
        hi = np.zeros(n)
        decimals = np.zeros(n)
        tank_cols, tank_amp, tank_period, tank_phase = [], [], [], []
        amb_cols, amb_amp = [], []
        for i, t in enumerate(self._tags):
            lo[i], hi[i] = t.range_low, t.range_high
            span = t.range_high - t.range_low
            decimals[i] = max(1, 4 - math.floor(math.log10(span)))
            low = t.limits["l"] if t.limits["l"] is not None else t.limits["ll"]
            high = t.limits["h"] if t.limits["h"] is not None else t.limits["hh"]
            b = self._baseline(t, low, high)
            base[i] = b
            gap = min(
                b - (low if low is not None else t.range_low),
                (high if high is not None else t.range_high) - b,
            )
            if t.kind == "process" and t.metric_code == "level" and t.unit == "m":
                amp = 0.5 * gap
                slope = TANK_FILL_RATE_M_PER_H / 3600.0
                if t.roc_per_min:
                    slope = min(slope, t.roc_per_min / 60.0 / 4.0)
                tank_cols.append(i)
                tank_amp.append(amp)
                tank_period.append(4.0 * amp / slope)
                tank_phase.append(rng.random())
                sigma_white[i] = min(0.003, 0.5 * gap / 12.0)
                if t.roc_per_min:
                    sigma_white[i] = min(sigma_white[i], _roc_sigma(t.roc_per_min) / 1.5)
                continue
            if t.kind == "process":
                storage = self._plant.units[t.unit_code].unit_type == "storage"
                if t.metric_code == "temperature" and storage:
                    amp = min(AMBIENT_SWING_C, gap / 3.0)
                    amb_cols.append(i)
                    amb_amp.append(amp)
                    gap -= amp
                sigma = min(0.004 * span, gap / 12.0)
                if t.roc_per_min:
                    sigma = min(sigma, _roc_sigma(t.roc_per_min))
                sigma_ou[i] = 0.8 * sigma
                sigma_white[i] = 0.6 * sigma
                tau[i] = _OU_TAU_S.get(t.metric_code, 15.0)
            elif t.kind == "oxygen":
                sigma_white[i] = min(0.03, gap / 12.0)
            else:
                sigma_white[i] = min(0.5 * b, gap / 12.0)
        dt_s = self._interval_ms / 1000.0
        for i, t in enumerate(self._tags):
            if t.kind == "process" and t.roc_per_min:
                # The alarm engine's ROC compares consecutive readings (no window), so at any
                # sampling rate the sample-to-sample change in `normal` must stay well under
                # roc_per_min: no white noise, OU steps under a quarter of the budget, and
                # rounding fine enough not to create steps of its own.
                budget = t.roc_per_min * dt_s / 60.0
                sigma_white[i] = 0.0
                step = np.sqrt(max(1e-12, 1.0 - np.exp(-2.0 * dt_s / tau[i])))
                sigma_ou[i] = min(sigma_ou[i], budget / (16.0 * step))
                decimals[i] = max(decimals[i], math.ceil(-math.log10(budget / 20.0)))
        self._a = np.exp(-dt_s / tau)
        self._b = sigma_ou * np.sqrt(1.0 - self._a**2)
        self._sigma_white = sigma_white
        self._base = base
        self._lo, self._hi = lo, hi
        self._scale = 10.0**decimals
        self._ou = sigma_ou * rng.standard_normal(n)
        self._tank = (
            np.array(tank_cols, dtype=np.intp),
            np.array(tank_amp),
            np.array(tank_period),
            np.array(tank_phase),
        )
        self._amb = (np.array(amb_cols, dtype=np.intp), np.array(amb_amp))

    @staticmethod
    def _baseline(t: Tag, low: float | None, high: float | None) -> float:
        """Return the value a tag sits at in normal operation."""
        if t.normal is not None:
            return t.normal
        if t.kind == "gas_combustible":
            return 0.3
        if t.kind == "gas_toxic":
            return 0.02 * (high if high is not None else t.range_high)
        if t.kind == "oxygen":
            return 20.9
        lo = low if low is not None else t.range_low
        hi = high if high is not None else t.range_high
        return (lo + hi) / 2.0

    def _init_sensor_faults(self) -> None:
        """Prepare the stuck, spike and dropout sensor faults of `mixed`."""
        self._stuck: tuple[int, float] | None = None
        self._stuck_value: float | None = None
        self._spikes: list[tuple[float, int, float]] = []
        self._dropout: tuple[int, float, float] | None = None
        if "sensor_faults" not in self._parts:
            return
        stuck, spikes, dropout = (SENSOR_FAULTS[k] for k in ("stuck", "spikes", "dropout"))
        self._stuck = (self._col[stuck["tag"]], stuck["from_s"])
        col = self._col[spikes["tag"]]
        t = self._tags[col]
        value = t.range_low + spikes["fraction_of_span"] * (t.range_high - t.range_low)
        self._spikes = [(at, col, value) for at in spikes["at_s"]]
        self._dropout = (self._col[dropout["tag"]], dropout["from_s"], dropout["to_s"])
        active = [j for j in range(len(self._tags)) if j != self._dropout[0]]
        self._dropout_active = active
        self._dropout_metas = [self._metas[j] for j in active]

    def _init_leak(self) -> dict[str, Any]:
        """Return per-detector leak response parameters (distance, amplitude, arrival)."""
        cols, amps, arrive, end, dist = [], [], [], [], []
        for i, t in enumerate(self._tags):
            if t.x_m is None or t.y_m is None:
                continue
            if t.kind == "gas_combustible":
                source = LEAK["source_pct_lel"]
            elif t.kind == "gas_toxic" and t.gas == LEAK["gas"] and t.unit == "%OEL":
                source = LEAK["source_pct_oel"]
            else:
                continue
            d = math.hypot(t.x_m - LEAK["x_m"], t.y_m - LEAK["y_m"])
            if d > LEAK["reach_m"]:
                continue
            cols.append(i)
            dist.append(d)
            amps.append(source * math.exp(-d / LEAK["decay_length_m"]))
            arrive.append(LEAK["start_s"] + d / LEAK["spread_m_per_s"])
            end.append(LEAK["stop_s"] + d / LEAK["spread_m_per_s"])
        return {
            "cols": np.array(cols, dtype=np.intp),
            "amp": np.array(amps),
            "arrive": np.array(arrive),
            "end": np.array(end),
            "dist": dist,
        }

    def _init_walkers(self, streams: list[np.random.SeedSequence]) -> list[_Walker]:
        """Create one walker per person, each with its own random stream and report offset."""
        people = list(self._plant.people.values())
        walkers = []
        for i, (p, ss) in enumerate(zip(people, streams, strict=True)):
            rng = np.random.default_rng(ss)
            walkers.append(
                _Walker(
                    index=i,
                    person_id=p.person_id,
                    tag_id=p.tag_id,
                    person_type=p.person_type,
                    home_area=p.home_area,
                    post=(p.post_x_m, p.post_y_m),
                    wander_m=_WANDER_M.get(p.role, _DEFAULT_WANDER_M),
                    x=p.post_x_m,
                    y=p.post_y_m,
                    battery0=55.0 + 45.0 * rng.random(),
                    rng=rng,
                    offset_ms=(i * POSITION_INTERVAL_MS) // len(people),
                )
            )
        return walkers

    # ------------------------------------------------------------------------- the script

    def _at(self, at_s: float) -> int:
        """Return the epoch ms of a script time in seconds after start."""
        return self._start + round(at_s * 1000)

    def _note(self, at_s: float, what: str, tags=(), area=None, **extra: Any) -> None:  # noqa: ANN001
        """Add one entry to the scenario timeline."""
        entry = {"at_s": round(float(at_s), 1), "what": what, "tags": list(tags), "area": area}
        entry.update(extra)
        self._timeline.append(entry)

    def _emit(self, at_s: float, topic: str, record: dict) -> None:
        """Schedule one business/video event at a script time."""
        self._business.append((self._at(at_s), len(self._business), topic, record))

    def _path(self, person_id: str, path: list[tuple[float, tuple[float, float] | None]]) -> None:
        """Script a person's movement; None points mean the person's post."""
        person = self._plant.people[person_id]
        post = (person.post_x_m, person.post_y_m)
        self._paths[person_id] = [(t, *(xy if xy is not None else post)) for t, xy in path]

    def _init_script(self) -> None:
        """Build the timeline, scripted paths and one-off events of the scenario."""
        if "leak" in self._parts:
            self._script_leak()
        if "overpressure" in self._parts:
            self._script_overpressure()
        if "offpost" in self._parts:
            self._script_offpost()
        if "crowding" in self._parts:
            self._script_crowding()
        if "sensor_faults" in self._parts:
            self._script_sensor_faults()
        if "work" in self._parts:
            self._script_hot_work()
            self._script_confined_space()
        for i, route in enumerate(self._plant.routes.values()):
            self._note(
                self._route_offset_s(i),
                "inspection_round_started",
                area=route.area_code,
                route_id=route.route_id,
                person_id=route.inspector,
            )

    def _script_leak(self) -> None:
        """Leak timeline: start, expected H/HH crossings by detector, isolation, hidden danger."""
        leak = self._leak
        assert leak is not None
        self._note(
            LEAK["start_s"],
            "leak_started",
            tags=[self._tags[c].tag for c in leak["cols"]],
            area=LEAK["area_code"],
            x_m=LEAK["x_m"],
            y_m=LEAK["y_m"],
            equipment=LEAK["equipment"],
            gas=LEAK["gas"],
        )
        tau = LEAK["rise_tau_s"]
        for j, col in enumerate(leak["cols"]):
            t = self._tags[col]
            amp, arrive, end = leak["amp"][j], leak["arrive"][j], leak["end"][j]
            for cond in ("h", "hh"):
                limit = t.limits[cond]
                if limit is None or amp <= limit:
                    continue
                at = arrive - tau * math.log(1.0 - limit / amp)
                if at < end:
                    dist = round(leak["dist"][j], 1)
                    what = f"gas_above_{cond}_expected"
                    self._note(at, what, tags=[t.tag], area=t.area_code, distance_m=dist)
        self._note(LEAK["stop_s"], "leak_isolated", area=LEAK["area_code"])
        route = next(
            (r for r in self._plant.routes.values() if r.area_code == LEAK["area_code"]), None
        )
        if route is None:
            return
        idx = list(self._plant.routes).index(route.route_id)
        point_no = next(
            (k for k, p in enumerate(route.points) if p.point_id == ABNORMAL_CHECKIN["point_id"]),
            None,
        )
        if point_no is None:
            return
        found_s = self._route_offset_s(idx) + INSPECTION_STEP_S * (point_no + 1)
        self._abnormal = (route.route_id, ABNORMAL_CHECKIN["point_id"], self._at(found_s))
        self._note(
            found_s,
            "inspection_abnormal",
            area=route.area_code,
            point_id=ABNORMAL_CHECKIN["point_id"],
            person_id=route.inspector,
        )
        hd = HIDDEN_DANGER
        area = self._plant.areas[route.area_code]
        danger = {
            "danger_id": f"HD-{self._stamp}-01",
            "enterprise_code": self._ec,
            "area_code": area.area_code,
            "hazard_source_code": area.hazard_source_code,
            "title": hd["title"],
            "level": "general",
            "source": "inspection",
            "found_by": route.inspector,
            "found_at_ms": self._at(found_s),
            "deadline_ms": self._at(found_s + hd["deadline_h"] * 3600),
            "status": "open",
            "liable_person": hd["liable_person"],
            "measures": hd["measures"],
            "accepted_at_ms": None,
            "event_time_ms": self._at(found_s + hd["registered_after_s"]),
        }
        self._emit(found_s + hd["registered_after_s"], TOPIC_HIDDEN_DANGERS, danger)
        rectifying = {
            **danger,
            "status": "rectifying",
            "event_time_ms": self._at(found_s + hd["rectifying_after_s"]),
        }
        self._emit(found_s + hd["rectifying_after_s"], TOPIC_HIDDEN_DANGERS, rectifying)
        self._note(found_s + hd["registered_after_s"], "hidden_danger_opened", area=area.area_code)
        self._note(
            found_s + hd["rectifying_after_s"], "hidden_danger_rectifying", area=area.area_code
        )

    def _script_overpressure(self) -> None:
        """Overpressure timeline with the expected H/HH crossings and recoveries."""
        op = OVERPRESSURE
        t = self._plant.tags[op["tag"]]
        normal = self._base[self._col[op["tag"]]]
        rise_per_s = op["rise"] / (op["peak_s"] - op["start_s"])
        self._note(op["start_s"], "overpressure_started", tags=[t.tag], area=t.area_code)
        for cond in ("h", "hh"):
            limit = t.limits[cond]
            if limit is None or normal + op["rise"] <= limit:
                continue
            up = op["start_s"] + (limit - normal) / rise_per_s
            down = op["hold_until_s"] + op["recovery_tau_s"] * math.log(
                op["rise"] / (limit - normal)
            )
            self._note(up, f"pressure_above_{cond}_expected", tags=[t.tag], area=t.area_code)
            self._note(down, f"pressure_below_{cond}_expected", tags=[t.tag], area=t.area_code)
        self._note(op["hold_until_s"], "overpressure_recovering", tags=[t.tag], area=t.area_code)

    def _script_offpost(self) -> None:
        """The control-room operator walks out; the console camera reports off_post."""
        op = OFFPOST
        person = self._plant.people[op["person_id"]]
        camera = self._plant.cameras[op["camera_id"]]
        self._path(person.person_id, list(op["path"]))
        leave_s, back_s = op["path"][0][0], op["path"][-1][0]
        self._note(leave_s, "operator_left_post", area=person.home_area, person_id=person.person_id)
        self._note(
            back_s, "operator_back_on_post", area=person.home_area, person_id=person.person_id
        )
        self._video(op["video_at_s"], camera.camera_id, "off_post", 0.93)

    def _script_crowding(self) -> None:
        """People gather in one area, more than its headcount limit, for more than a minute."""
        cr = CROWDING
        cx, cy = cr["center"]
        members = (*cr["walkers"], *cr["locals"])
        for k, pid in enumerate(members):
            angle = 2 * math.pi * k / len(members)
            spot = (cx + cr["radius_m"] * math.cos(angle), cy + cr["radius_m"] * math.sin(angle))
            begin = cr["walk_from_s"] if pid in cr["walkers"] else cr["locals_from_s"]
            back = cr["home_s"] if pid in cr["walkers"] else cr["leave_s"] + 20.0
            path = [(begin, None), (cr["gathered_s"], spot), (cr["leave_s"], spot), (back, None)]
            self._path(pid, path)
        area = cr["area_code"]
        limit = self._plant.areas[area].headcount_limit
        self._note(cr["walk_from_s"], "crowd_gathering", area=area, people=list(members))
        self._note(cr["gathered_s"], "crowd_gathered", area=area, headcount_limit=limit)
        self._note(cr["gathered_s"] + 60.0, "crowd_over_one_minute", area=area)
        self._note(cr["leave_s"], "crowd_dispersing", area=area)
        self._video(cr["video_at_s"], cr["camera_id"], "crowding", 0.88)

    def _script_sensor_faults(self) -> None:
        """Timeline entries of the stuck, spiking and dropping-out tags."""
        stuck, spikes, dropout = (SENSOR_FAULTS[k] for k in ("stuck", "spikes", "dropout"))
        for what, spec in (("sensor_stuck", stuck), ("sensor_dropout_started", dropout)):
            tag = self._plant.tags[spec["tag"]]
            self._note(spec["from_s"], what, tags=[tag.tag], area=tag.area_code)
        tag = self._plant.tags[dropout["tag"]]
        self._note(dropout["to_s"], "sensor_dropout_ended", tags=[tag.tag], area=tag.area_code)
        stale_at = dropout["from_s"] + tag.stale_after_s
        self._note(stale_at, "sensor_stale_expected", tags=[tag.tag], area=tag.area_code)
        tag = self._plant.tags[stuck["tag"]]
        if tag.flatline_after_s is not None:
            flat_at = stuck["from_s"] + tag.flatline_after_s
            self._note(flat_at, "sensor_flatline_expected", tags=[tag.tag], area=tag.area_code)
        tag = self._plant.tags[spikes["tag"]]
        for at in spikes["at_s"]:
            self._note(at, "sensor_spike", tags=[tag.tag], area=tag.area_code)

    def _video(self, at_s: float, camera_id: str, event_type: str, confidence: float) -> None:
        """Schedule one video-analytics event."""
        camera = self._plant.cameras[camera_id]
        area = self._plant.areas[camera.area_code]
        at_ms = self._at(at_s)
        record = {
            "event_id": f"VE-{camera_id}-{at_ms}",
            "enterprise_code": self._ec,
            "camera_id": camera_id,
            "area_code": area.area_code,
            "event_type": event_type,
            "confidence": confidence,
            "event_time_ms": at_ms,
            "snapshot_uri": f"s3://hazchem-video/snapshots/{camera_id}/{at_ms}.jpg",
            "hazard_source_code": area.hazard_source_code,
        }
        self._emit(at_s, TOPIC_VIDEO, record)
        self._note(at_s, f"video_{event_type}", area=area.area_code, camera_id=camera_id)

    def _permit(self, spec: dict, permit_id: str, work_type: str, level: str | None) -> dict:
        """Return the base special-work permit record of a scripted permit."""
        area = self._plant.areas[spec["area_code"]]
        start = self._at(spec["started_s"])
        local = _local(start)
        night = local.hour >= NIGHT_HOURS[0] or local.hour < NIGHT_HOURS[1]
        return {
            "permit_id": permit_id,
            "enterprise_code": self._ec,
            "work_type": work_type,
            "hot_work_level": level,
            "area_code": area.area_code,
            "unit_code": spec["unit_code"],
            "hazard_source_code": area.hazard_source_code,
            "location": spec["location"],
            "x_m": spec["x_m"],
            "y_m": spec["y_m"],
            "planned_start_ms": start,
            "planned_end_ms": start + round(spec["duration_h"] * 3_600_000),
            "actual_start_ms": None,
            "actual_end_ms": None,
            "status": "approved",
            "applicant": spec["applicant"],
            "approver": spec["approver"],
            "guardian": spec["guardian"],
            "contractor_id": spec["contractor_id"],
            "workers": list(spec["workers"]),
            "lifting_weight_t": None,
            "height_m": None,
            "on_holiday_or_night": night or local.weekday() >= 5,
            "event_time_ms": self._at(spec["approved_s"]),
        }

    def _script_hot_work(self) -> None:
        """特级 hot work inside the tank-farm dyke: approved, gas-tested, started, suspended."""
        hw = HOT_WORK
        pid = f"PTW-{self._stamp}-01"
        base = self._permit(hw, pid, "hot_work", "special")
        self._emit(hw["approved_s"], TOPIC_PERMITS, base)
        started = {
            **base,
            "status": "in_progress",
            "actual_start_ms": self._at(hw["started_s"]),
            "event_time_ms": self._at(hw["started_s"]),
        }
        self._emit(hw["started_s"], TOPIC_PERMITS, started)
        suspended = {**started, "status": "suspended", "event_time_ms": self._at(hw["suspended_s"])}
        self._emit(hw["suspended_s"], TOPIC_PERMITS, suspended)
        analysis = {
            "analysis_id": f"GA-{self._stamp}-01",
            "permit_id": pid,
            "enterprise_code": self._ec,
            "sample_point": "作业点东侧3 m / 3 m east of the work point",
            "distance_to_work_point_m": 3.0,
            "gas": "methanol",
            "measured_value": 0.05,
            "measured_unit": "%VOL",
            "lel_pct_of_gas": 6.0,  # methanol LEL 6 % >= 4 % -> pass limit 0.5 %VOL
            "oxygen_pct": 20.9,
            "analyst": hw["analyst"],
            "sampled_at_ms": self._at(hw["sampled_s"]),
            "passed": True,
        }
        self._emit(hw["sampled_s"], TOPIC_GAS_ANALYSES, analysis)
        area = hw["area_code"]
        self._note(hw["approved_s"], "permit_approved", area=area, permit_id=pid, work="hot_work")
        self._note(hw["sampled_s"], "gas_analysis_passed", area=area, permit_id=pid)
        self._note(hw["started_s"], "permit_started", area=area, permit_id=pid)
        self._note(hw["suspended_s"], "permit_suspended", area=area, permit_id=pid)
        mx, my = hw["muster"]
        for k, worker in enumerate(hw["workers"]):
            spot = (hw["x_m"] - 2.0 + 4.0 * k, hw["y_m"])
            muster = (mx + 3.0 * k, my)
            path = [
                (hw["started_s"] - 5.0, None),
                (hw["started_s"], spot),
                (hw["suspended_s"], spot),
                (hw["suspended_s"] + 90.0, muster),
                (hw["suspended_s"] + 170.0, muster),
                (hw["suspended_s"] + 260.0, None),
            ]
            self._path(worker, path)
        self._note(hw["suspended_s"], "workers_evacuating", area=area, people=list(hw["workers"]))

    def _script_confined_space(self) -> None:
        """Confined-space entry in the utilities area, with oxygen and H2S analyses."""
        cs = CONFINED_SPACE
        pid = f"PTW-{self._stamp}-02"
        base = self._permit(cs, pid, "confined_space", None)
        self._emit(cs["approved_s"], TOPIC_PERMITS, base)
        started = {
            **base,
            "status": "in_progress",
            "actual_start_ms": self._at(cs["started_s"]),
            "event_time_ms": self._at(cs["started_s"]),
        }
        self._emit(cs["started_s"], TOPIC_PERMITS, started)
        common = {
            "permit_id": pid,
            "enterprise_code": self._ec,
            "sample_point": "池内中部 / basin centre",
            "distance_to_work_point_m": 0.0,
            "lel_pct_of_gas": None,
            "oxygen_pct": 20.8,
            "analyst": cs["analyst"],
            "sampled_at_ms": self._at(cs["sampled_s"]),
            "passed": True,
        }
        for k, (gas, value, unit) in enumerate((("O2", 20.8, "%VOL"), ("H2S", 0.5, "ppm")), 2):
            analysis = {"analysis_id": f"GA-{self._stamp}-{k:02d}", **common}
            analysis.update(gas=gas, measured_value=value, measured_unit=unit)
            ordered = {key: analysis[key] for key in _GAS_ANALYSIS_FIELDS}
            self._emit(cs["sampled_s"], TOPIC_GAS_ANALYSES, ordered)
        area = cs["area_code"]
        self._note(
            cs["approved_s"], "permit_approved", area=area, permit_id=pid, work="confined_space"
        )
        self._note(cs["sampled_s"], "gas_analysis_passed", area=area, permit_id=pid)
        self._note(cs["started_s"], "permit_started", area=area, permit_id=pid)

    # ------------------------------------------------------------------------- readings

    def _readings(self, end: int) -> tuple[list[int], list[list[SimEvent]]]:
        """Return the sample instants in (now, end] and the reading events of each instant."""
        iv = self._interval_ms
        k_hi = int((end - self._start) / iv) + 2
        if k_hi < self._k_next:
            return [], []
        ks = np.arange(self._k_next, k_hi + 1, dtype=np.float64)
        times = self._start + np.floor(ks * iv + 1e-6).astype(np.int64)
        times = times[times <= end]
        r = len(times)
        if r == 0:
            return [], []
        self._k_next += r
        values = self._values(times)
        times_list = times.tolist()
        rows = self._build_rows(times, times_list, values)
        if self._faults.any:
            rows = self._inject(times_list, rows)
        return times_list, rows

    def _values(self, times: np.ndarray) -> list[list[float]]:
        """Return the rounded values (rows x tags) at the given sample instants."""
        r, n = len(times), len(self._tags)
        t_s = (times - self._start) / 1000.0
        vals = np.empty((r, n))
        vals[:] = self._base
        cols, amp, period, phase = self._tank
        if len(cols):
            x = t_s[:, None] / period + phase
            tri = 4.0 * np.abs(x - np.floor(x + 0.5)) - 1.0  # triangle wave in [-1, 1]
            vals[:, cols] += amp * tri
        cols, amp = self._amb
        if len(cols):
            hours = (times / 3_600_000.0 + PLANT_TZ.utcoffset(None).total_seconds() / 3600) % 24
            vals[:, cols] += np.sin(2 * np.pi * (hours - 9.0) / 24.0)[:, None] * amp
        noise = self._rng_noise.standard_normal((r, 2, n))
        ou = np.empty((r, n))
        e, a, b = self._ou, self._a, self._b
        for i in range(r):
            e = a * e + b * noise[i, 0]
            ou[i] = e
        self._ou = e
        vals += ou
        vals += noise[:, 1] * self._sigma_white
        self._overlays(t_s, vals)
        np.clip(vals, self._lo, self._hi, out=vals)
        vals = np.round(vals * self._scale) / self._scale
        self._sensor_faults(t_s, vals)
        return vals.tolist()

    def _overlays(self, t_s: np.ndarray, vals: np.ndarray) -> None:
        """Add the scenario's process disturbances (leak cloud, overpressure) in place."""
        leak = self._leak
        if leak is not None and len(leak["cols"]):
            last = t_s[-1]
            horizon = LEAK["stop_s"] + LEAK["reach_m"] / LEAK["spread_m_per_s"]
            if last >= LEAK["start_s"] and t_s[0] <= horizon + 20 * LEAK["fall_tau_s"]:
                t = t_s[:, None]
                amp, arrive, end = leak["amp"], leak["arrive"], leak["end"]
                rise = amp * (1.0 - np.exp(-np.maximum(t - arrive, 0.0) / LEAK["rise_tau_s"]))
                at_end = amp * (1.0 - np.exp(-(end - arrive) / LEAK["rise_tau_s"]))
                fall = at_end * np.exp(-np.maximum(t - end, 0.0) / LEAK["fall_tau_s"])
                vals[:, leak["cols"]] += np.where(t <= end, rise, fall)
        if "overpressure" in self._parts:
            op = OVERPRESSURE
            if t_s[-1] >= op["start_s"]:
                ramp = np.clip((t_s - op["start_s"]) / (op["peak_s"] - op["start_s"]), 0.0, 1.0)
                decay = np.exp(-np.maximum(t_s - op["hold_until_s"], 0.0) / op["recovery_tau_s"])
                delta = op["rise"] * ramp * decay
                vals[:, self._col[op["tag"]]] += delta
                vals[:, self._col[op["follower"]]] += op["follow_factor"] * delta

    def _sensor_faults(self, t_s: np.ndarray, vals: np.ndarray) -> None:
        """Apply the stuck value and spikes of `mixed` in place."""
        if self._stuck is not None:
            col, from_s = self._stuck
            mask = t_s >= from_s
            if mask.any():
                if self._stuck_value is None:
                    self._stuck_value = float(vals[int(np.argmax(mask)), col])
                vals[mask, col] = self._stuck_value
        while self._spikes and t_s[-1] >= self._spikes[0][0]:
            at, col, value = self._spikes.pop(0)
            vals[int(np.argmax(t_s >= at)), col] = value

    def _build_rows(
        self, times: np.ndarray, times_list: list[int], values: list[list[float]]
    ) -> list[list[SimEvent]]:
        """Turn value rows into reading events (the hot loop: keep it allocation-light)."""
        ec, metas, ev = self._ec, self._metas, SimEvent
        dropout = self._dropout
        rows = []
        for t, row in zip(times_list, values, strict=True):
            m_row = metas
            if dropout is not None and dropout[1] <= (t - self._start) / 1000.0 < dropout[2]:
                m_row = self._dropout_metas
                row = [row[j] for j in self._dropout_active]
            rows.append(
                [
                    ev(
                        "readings",
                        {
                            "enterprise_code": ec,
                            "hazard_source_code": m[0],
                            "unit_code": m[1],
                            "tag": m[2],
                            "metric_code": m[3],
                            "value": v,
                            "unit": m[4],
                            "quality": "good",
                            "event_time_ms": t,
                        },
                        None,
                        None,
                    )
                    for m, v in zip(m_row, row, strict=True)
                ]
            )
        return rows

    def _inject(self, times: list[int], rows: list[list[SimEvent]]) -> list[list[SimEvent]]:
        """Apply transport faults, one uniform draw per reading, in event-time order."""
        f = self._faults
        sizes = [len(row) for row in rows]
        u = self._rng_fault.random(sum(sizes))
        c1 = f.duplicate_rate
        c2 = c1 + f.late_rate
        c3 = c2 + f.out_of_order_rate
        c4 = c3 + f.malformed_rate
        hits = np.flatnonzero(u < c4)
        if not len(hits):
            return rows
        bounds = np.cumsum(sizes)
        row_of = np.searchsorted(bounds, hits, side="right")
        starts = bounds - np.asarray(sizes)
        changed: dict[int, dict[int, list[SimEvent]]] = {}
        for flat, ri in zip(hits.tolist(), row_of.tolist(), strict=True):
            pos = flat - int(starts[ri])
            original = rows[ri][pos]
            x = u[flat]
            t = times[ri]
            col = self._col[original.record["tag"]]
            if x < c1:
                copy_ev = SimEvent(TOPIC_READINGS, dict(original.record), None, "duplicate")
                replacement = [original, copy_ev]
            elif x < c2:
                late = SimEvent(TOPIC_READINGS, original.record, None, "late")
                emit = t + round(f.late_by_s * 1000)
                heapq.heappush(self._pending, (emit, 0, t, col, late))
                replacement = []
            elif x < c3:
                frac = (x - c2) / f.out_of_order_rate
                delay = math.ceil(self._interval_ms) + 1 + int(frac * OUT_OF_ORDER_MAX_EXTRA_MS)
                ooo = SimEvent(TOPIC_READINGS, original.record, None, "out_of_order")
                heapq.heappush(self._pending, (t + delay, 0, t, col, ooo))
                replacement = []
            else:
                replacement = [self._malformed(original.record, t)]
            changed.setdefault(ri, {})[pos] = replacement
        for ri, edits in changed.items():
            new_row: list[SimEvent] = []
            for pos, ev in enumerate(rows[ri]):
                if pos in edits:
                    new_row.extend(edits[pos])
                else:
                    new_row.append(ev)
            rows[ri] = new_row
        return rows

    def _malformed(self, record: dict, t: int) -> SimEvent:
        """Return an invalid version of a reading; kinds rotate evenly through MALFORMED_KINDS."""
        kind = MALFORMED_KINDS[self._malformed_seq % len(MALFORMED_KINDS)]
        self._malformed_seq += 1
        rec = dict(record)
        if kind == "malformed_json":
            raw = orjson.dumps(rec)
            return SimEvent(TOPIC_READINGS, None, raw[: len(raw) // 2], kind)
        if kind == "wrong_type":
            rec["value"] = str(rec["value"])
        elif kind == "missing_field":
            missing = ("value", "quality", "unit", "metric_code")
            del rec[missing[self._missing_seq % len(missing)]]
            self._missing_seq += 1
        elif kind == "unknown_tag":
            rec["tag"] = f"XX-{rec['tag']}"
        elif kind == "non_finite_value":
            rec["value"] = (math.nan, math.inf, -math.inf)[self._malformed_seq // 8 % 3]
            return SimEvent(TOPIC_READINGS, None, json.dumps(rec).encode(), kind)
        elif kind == "future_timestamp":
            rec["event_time_ms"] = t + FUTURE_SKEW_MS
        elif kind == "expired_timestamp":
            rec["event_time_ms"] = t - EXPIRED_AGE_MS
        elif kind == "oversized":
            rec["padding"] = "x" * OVERSIZED_PAD_BYTES
            return SimEvent(TOPIC_READINGS, None, orjson.dumps(rec), kind)
        return SimEvent(TOPIC_READINGS, rec, None, kind)

    # ------------------------------------------------------------------------- people

    def _positions(self, end: int, extras: list) -> None:
        """Append every person's position reports in (now, end] to extras."""
        areas = self._plant.areas
        for w in self._walkers:
            while True:
                t = self._start + w.next_j * POSITION_INTERVAL_MS - w.offset_ms
                if t > end:
                    break
                w.next_j += 1
                if t <= self._now:
                    continue
                x, y = self._move(w, t)
                area_code = self._plant.area_at(x, y)
                floor = areas[area_code].floor if area_code is not None else None
                battery = max(5, int(w.battery0 - (t - self._start) / 600_000))
                record = {
                    "person_id": w.person_id,
                    "tag_id": w.tag_id,
                    "enterprise_code": self._ec,
                    "area_code": area_code,
                    "x_m": x,
                    "y_m": y,
                    "floor": floor,
                    "battery_pct": battery,
                    "sos": False,
                    "event_time_ms": t,
                    "person_type": w.person_type,
                }
                extras.append(((t, 1, w.index), SimEvent(TOPIC_POSITIONS, record, None, None)))

    def _move(self, w: _Walker, t_ms: int) -> tuple[float, float]:
        """Advance one walker to t_ms and return its rounded position."""
        noise = w.rng.standard_normal(2).tolist()  # plain floats: records must serialise as JSON
        t_s = (t_ms - self._start) / 1000.0
        scripted = self._scripted_position(w.person_id, t_s)
        if scripted is not None:
            w.x, w.y = scripted[0] + 0.3 * noise[0], scripted[1] + 0.3 * noise[1]
        else:
            a = math.exp(-POSITION_INTERVAL_MS / 1000.0 / 60.0)
            s = w.wander_m * math.sqrt(1.0 - a * a)
            px, py = w.post
            x = px + a * (w.x - px) + s * noise[0]
            y = py + a * (w.y - py) + s * noise[1]
            home = self._plant.areas[w.home_area]
            if home.contains(x, y):
                w.x, w.y = x, y
            elif not home.contains(w.x, w.y):
                w.x, w.y = px, py
        return (round(w.x, 1), round(w.y, 1))

    def _scripted_position(self, person_id: str, t_s: float) -> tuple[float, float] | None:
        """Return where a scenario or inspection round puts a person at t_s, else None."""
        path = self._paths.get(person_id)
        if path is not None:
            pos = _interp(path, t_s)
            if pos is not None:
                return pos
        for i, route in enumerate(self._plant.routes.values()):
            if route.inspector != person_id:
                continue
            offset, period = self._route_offset_s(i), route.period_h * 3600.0
            if t_s < offset:
                continue
            local = (t_s - offset) % period
            person = self._plant.people[person_id]
            post = (person.post_x_m, person.post_y_m)
            pts = [(0.0, *post)]
            pts += [(INSPECTION_STEP_S * (k + 1), p.x_m, p.y_m) for k, p in enumerate(route.points)]
            pts.append((INSPECTION_STEP_S * (len(route.points) + 1), *post))
            pos = _interp(pts, local)
            if pos is not None:
                return pos
        return None

    @staticmethod
    def _route_offset_s(index: int) -> float:
        """Seconds after start at which route number `index` leaves the inspector's post."""
        return 10.0 + 5.0 * index

    # ------------------------------------------------------------------------- business

    def _business_events(self, end: int, extras: list) -> None:
        """Append scheduled video and business events in (now, end] to extras."""
        while self._business_next < len(self._business):
            at, seq, topic, record = self._business[self._business_next]
            if at > end:
                break
            self._business_next += 1
            if at > self._now:
                extras.append(((at, 2, seq), SimEvent(topic, dict(record), None, None)))

    def _inspections(self, end: int, extras: list) -> None:
        """Append inspection check-ins in (now, end] to extras (rounds repeat every period)."""
        abnormal = self._abnormal
        for i, route in enumerate(self._plant.routes.values()):
            offset, period = self._route_offset_s(i), route.period_h * 3600.0
            first = max(0, math.floor(((self._now - self._start) / 1000.0 - offset) / period) - 1)
            last = math.floor(((end - self._start) / 1000.0 - offset) / period)
            for cycle in range(first, last + 1):
                for k, point in enumerate(route.points):
                    t = self._at(offset + cycle * period + INSPECTION_STEP_S * (k + 1))
                    if not self._now < t <= end:
                        continue
                    bad = abnormal is not None and abnormal == (route.route_id, point.point_id, t)
                    record = {
                        "checkin_id": f"CK-{point.point_id}-{t}",
                        "enterprise_code": self._ec,
                        "route_id": route.route_id,
                        "point_id": point.point_id,
                        "area_code": route.area_code,
                        "inspector": route.inspector,
                        "checkin_time_ms": t,
                        "result": "abnormal" if bad else "normal",
                        "note": ABNORMAL_CHECKIN["note"] if bad else None,
                        "x_m": point.x_m,
                        "y_m": point.y_m,
                    }
                    key = (t, 3, i, k)
                    extras.append((key, SimEvent(TOPIC_CHECKINS, record, None, None)))


_GAS_ANALYSIS_FIELDS = (
    "analysis_id",
    "permit_id",
    "enterprise_code",
    "sample_point",
    "distance_to_work_point_m",
    "gas",
    "measured_value",
    "measured_unit",
    "lel_pct_of_gas",
    "oxygen_pct",
    "analyst",
    "sampled_at_ms",
    "passed",
)

__all__ = [
    "MALFORMED_KINDS",
    "SCENARIOS",
    "SimEvent",
    "Simulator",
    "TransportFaults",
]
