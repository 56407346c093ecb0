"""Live four-color risk of every major hazard source, area and the enterprise, with warning cases.

`RiskEngine` is the one implementation the streaming risk job and `hazchem risk replay` share.
It applies inputs in the order it is given them, and `on_time` lets time-based changes happen
(video events ageing out, hidden dangers and inspections falling overdue, a lower level that has
held long enough, a case step left undone) at their exact event time.

The ordering rule (one rule, for the job and replay alike): an input is *in order* when it sorts
(`input_order`: event time, kind, canonical JSON) at or after the last input applied and its event
time is not before the engine clock (the newest input or time-based change applied). Replay sorts
its inputs, so all are in order; the streaming job applies each input as it arrives, so for
inputs that arrive in order the two produce identical records. An input that is not in order is
*late*: it is applied at once at the engine clock (its state change takes effect now; colors
already published are never rewritten), counted in `RiskState.late_inputs`, never dropped.
Pure: no I/O. The static plant and model live on the engine; everything that changes lives in
`RiskState`, a small picklable object the streaming job keeps in keyed state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipelines.alarms.processor import Routed
from pipelines.plant import Plant
from pipelines.risk.cases import CaseBook
from pipelines.risk.model import LEVEL_CODE, LEVEL_ZH, LEVELS, Exposure, RiskModel, score

RISK_LEVELS = "risk.levels"
RISK_CURRENT = "risk.current"

# Input kinds and their processing order within one millisecond: state first, then actions.
KIND_ORDER = {
    "alarm": 0, "video": 1, "permit": 2, "position": 3, "hidden_danger": 4, "inspection": 5,
    "case_action": 6, "clock": 7,
}  # fmt: skip
TOPIC_KINDS = {
    "alarms": "alarm", "video.events": "video", "work.permits": "permit", "positions": "position",
    "hidden_dangers": "hidden_danger", "inspections": "inspection", "case.actions": "case_action",
}  # fmt: skip
TIME_FIELD = {"inspection": "checkin_time_ms", "case_action": "action_time_ms"}


def event_time(kind: str, record: dict[str, Any]) -> int:
    """Return the event time (ms) of an input record of this kind."""
    return int(record[TIME_FIELD.get(kind, "event_time_ms")])


def input_order(kind: str, record: dict[str, Any]) -> tuple[int, int, bytes]:
    """Return the sort key that fixes the processing order of inputs (streaming = replay).

    Event time, then kind, then the record's canonical JSON (sorted keys), so two inputs of the
    same millisecond are applied in the same order however they were serialised or delivered.
    """
    return (
        event_time(kind, record),
        KIND_ORDER[kind],
        orjson.dumps(record, option=orjson.OPT_SORT_KEYS),
    )


@dataclass(frozen=True)
class RiskPlant:
    """What the risk model needs of the plant: grades, areas, limits, routes, 包保 chains."""

    enterprise_code: str
    grades: dict[str, int | None]  # hazard source -> GB 18218 level (None: not a major hazard)
    chains: dict[str, tuple[str, ...]]  # hazard source -> (operations, technical, principal)
    area_hs: dict[str, str | None]
    area_limits: dict[str, int]
    routes: dict[str, tuple[str, int]]  # route -> (area, period ms)
    point_route: dict[str, str]


def risk_plant(plant: Plant) -> RiskPlant:
    """Return the RiskPlant of a plant model, grading its hazard sources by GB 18218-2018."""
    from pipelines.hazard.gb18218 import grade_unit

    grades: dict[str, int | None] = {}
    for hs in plant.hazard_sources.values():
        graded = grade_unit(hs.grading_input())
        grades[hs.code] = graded["level"]
    roles = ("operations_lead", "technical_lead", "principal_head")
    return RiskPlant(
        enterprise_code=plant.enterprise_code,
        grades=grades,
        chains={
            hs.code: tuple(hs.responsibility[r] for r in roles if hs.responsibility.get(r))
            for hs in plant.hazard_sources.values()
        },
        area_hs={a.area_code: a.hazard_source_code for a in plant.areas.values()},
        area_limits={a.area_code: a.headcount_limit for a in plant.areas.values()},
        routes={
            r.route_id: (r.area_code, int(r.period_h * 3_600_000)) for r in plant.routes.values()
        },
        point_route={p.point_id: r.route_id for r in plant.routes.values() for p in r.points},
    )


@dataclass
class Rating:
    """The displayed level of one object and a pending drop waiting out the hold time."""

    level: str
    score: float
    pending_since: int | None = None


@dataclass
class RiskState:
    """Everything that changes; picklable."""

    started_ms: int | None = None
    now_ms: int | None = None
    alarms: dict[tuple[str, str], tuple[str, str, str | None, str]] = field(default_factory=dict)
    video: list[tuple[int, str, str, str]] = field(default_factory=list)  # until, kind, area, cam
    permits: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)  # person -> area
    route_last: dict[str, int] = field(default_factory=dict)
    dangers: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # level, area, deadline
    ratings: dict[tuple[str, str], Rating] = field(default_factory=dict)
    cases: CaseBook = field(default_factory=CaseBook)
    late_inputs: int = 0
    last_input: tuple[int, int, bytes] | None = None  # input_order key of the last input applied


class RiskEngine:
    """Apply inputs in event-time order; return the routed risk and case records."""

    def __init__(self, plant: RiskPlant, model: RiskModel, state: RiskState | None = None):
        self.plant = plant
        self.model = model
        self.state = state or RiskState()
        self.objects: list[tuple[str, str]] = (
            [("hazard_source", hs) for hs in sorted(plant.grades)]
            + [("area", a) for a in sorted(plant.area_hs)]
            + [("enterprise", plant.enterprise_code)]
        )

    # -- inputs --------------------------------------------------------------------------------

    def is_late(self, kind: str, record: dict[str, Any]) -> bool:
        """Return True when the input sorts before what the engine has already applied."""
        return self._late(input_order(kind, record))

    def _late(self, order: tuple[int, int, bytes]) -> bool:
        st = self.state
        if st.now_ms is not None and order[0] < st.now_ms:
            return True
        return st.last_input is not None and order < st.last_input

    def on_input(self, kind: str, record: dict[str, Any]) -> list[Routed]:
        """Apply one input record (of an input kind) at its event time, or at the engine clock
        when it is late (counted in `late_inputs`)."""
        ts = event_time(kind, record)
        st = self.state
        order = input_order(kind, record)
        if self._late(order):
            st.late_inputs += 1
        else:
            st.last_input = order
        out = self.on_time(ts)
        if st.started_ms is None:
            st.started_ms = ts
            st.route_last = {r: ts for r in self.plant.routes}  # assume rounds done at start
        st.now_ms = max(st.now_ms or ts, ts)
        now = st.now_ms
        extra: list[Routed] = []
        if kind == "alarm":
            key = (record["tag"], record["condition"])
            if record["event"] == "raised" and record.get("suppressed_by") != "unit_state":
                prio = record.get("priority") or "none"
                st.alarms[key] = (record["alarm_class"], prio, record.get("hazard_source_code"),
                                  record["area_code"])  # fmt: skip
                if prio in self.model.cases.open_on_alarm_priorities:
                    subject = record.get("hazard_source_code")
                    extra += self._open_case(
                        now,
                        subject,
                        f"alarm {record['tag']} {record['condition']} {prio}",
                        record.get("area_code"),
                    )
            else:
                st.alarms.pop(key, None)
        elif kind == "video":
            points_s = self.model.video.get(record["event_type"])
            if points_s and points_s[1] > 0:
                until = ts + int(points_s[1] * 1000)
                st.video.append((until, record["event_type"], record["area_code"],
                                 record.get("camera_id") or ""))  # fmt: skip
                st.video.sort()
        elif kind == "permit":
            if record["status"] == "in_progress":
                st.permits[record["permit_id"]] = (record["work_type"],
                                                   record.get("hot_work_level"),
                                                   record["area_code"])  # fmt: skip
            else:
                st.permits.pop(record["permit_id"], None)
        elif kind == "position":
            area = record.get("area_code")
            if area:
                st.people[record["person_id"]] = area
            else:
                st.people.pop(record["person_id"], None)
        elif kind == "hidden_danger":
            if record["status"] in ("open", "rectifying", "overdue"):
                st.dangers[record["danger_id"]] = (record["level"], record["area_code"],
                                                   int(record["deadline_ms"]))  # fmt: skip
            else:
                st.dangers.pop(record["danger_id"], None)
        elif kind == "inspection":
            route = record.get("route_id") or self.plant.point_route.get(record.get("point_id", ""))
            if route in self.plant.routes:
                st.route_last[route] = max(st.route_last.get(route, ts), ts)
        elif kind == "case_action":
            extra += st.cases.on_action(record, now, self.model.cases)
        return out + extra + self._evaluate(now)

    def on_time(self, ts: int) -> list[Routed]:
        """Let every time-based change due at or before ts happen, in time order."""
        out: list[Routed] = []
        while True:
            due = self.next_timer_ms()
            if due is None or due > ts:
                break
            self.state.now_ms = due
            out += self._evaluate(due)
            out += self.state.cases.on_time(due, self.model.cases)
        return out

    def next_timer_ms(self) -> int | None:
        """Return the earliest event time at which on_time has something to do."""
        st = self.state
        if st.started_ms is None:
            return None
        dues: list[int] = []
        now = st.now_ms or 0
        if st.video:
            dues.append(st.video[0][0])
        dues += [d for _lv, _a, d in st.dangers.values() if d > now]
        after = self.model.overdue_inspections["overdue_after_periods"]
        for route, last in st.route_last.items():
            at = last + int(self.plant.routes[route][1] * after)
            if at > now:
                dues.append(at)
        hold = int(self.model.hold_lower_s * 1000)
        dues += [r.pending_since + hold for r in st.ratings.values() if r.pending_since is not None]
        case_due = st.cases.next_timer_ms()
        if case_due is not None:
            dues.append(case_due)
        return min(dues) if dues else None

    # -- evaluation ----------------------------------------------------------------------------

    def exposures(self, now: int) -> dict[tuple[str, str], Exposure]:
        """Return the live exposure of every hazard source and area at `now`."""
        st, plant, model = self.state, self.plant, self.model
        per: dict[tuple[str, str], dict[str, list]] = {o: {} for o in self.objects[:-1]}

        def add(area: str | None, hs: str | None, what: str, item: Any, to_all_hs=False) -> None:
            hs = hs or plant.area_hs.get(area or "")
            targets = []
            if area in plant.area_hs:
                targets.append(("area", area))
            if to_all_hs:
                targets += [("hazard_source", h) for h in plant.grades]
            elif hs in plant.grades:
                targets.append(("hazard_source", hs))
            for t in targets:
                per[t].setdefault(what, []).append(item)

        for (tag, cond), (cls, prio, hs, area) in sorted(st.alarms.items()):
            add(area, hs, "alarms", (cls, prio, tag, cond))
        for until, kind, area, cam in st.video:
            if until <= now:
                continue
            room = area in model.control_room_areas
            if kind == "off_post" and not room:
                continue
            add(area, None, "video", (kind, f"{cam}@{area}"), to_all_hs=kind == "off_post")
        for pid, (kind, level, area) in sorted(st.permits.items()):
            add(area, None, "work", (kind, level, pid))
        present: dict[str, int] = {}
        for area in st.people.values():
            present[area] = present.get(area, 0) + 1
        for area, n in sorted(present.items()):
            limit = plant.area_limits.get(area)
            if limit is not None and n > limit:
                add(area, None, "crowding", (area, n, limit))
        after = model.overdue_inspections["overdue_after_periods"]
        for route, last in sorted(st.route_last.items()):
            area, period = plant.routes[route]
            if now >= last + int(period * after):
                add(area, None, "overdue_routes", route)
        for did, (level, area, deadline) in sorted(st.dangers.items()):
            add(area, None, "dangers", (level, now >= deadline, did))
        out = {}
        for (otype, code), items in per.items():
            hs = code if otype == "hazard_source" else plant.area_hs.get(code)
            out[(otype, code)] = Exposure(
                grade=plant.grades.get(hs) if hs else None,
                **{k: tuple(v) for k, v in items.items()},
            )
        return out

    def _evaluate(self, now: int) -> list[Routed]:
        st, model = self.state, self.model
        hold = int(model.hold_lower_s * 1000)
        st.video = [v for v in st.video if v[0] > now]
        scored = {o: score(model, e) for o, e in self.exposures(now).items()}
        worst = min(scored, key=lambda o: (scored[o][0], o))
        w_score, w_level, w_factors = scored[worst]
        scored[self.objects[-1]] = (
            w_score,
            w_level,
            [
                {
                    "factor": "worst_object",
                    "value": f"{worst[0]}:{worst[1]}",
                    "contribution": 0.0,
                    "causes": [],
                }
            ]
            + w_factors,  # fmt: skip
        )
        out: list[Routed] = []
        for obj in self.objects:
            value, level, factors = scored[obj]
            rating = st.ratings.get(obj)
            if rating is None:
                st.ratings[obj] = Rating(level, value)
                out += self._emit(obj, now, value, level, None, factors)
                continue
            rank, shown = LEVELS.index(level), LEVELS.index(rating.level)
            if rank < shown or (rank > shown and rating.pending_since is not None
                                and now >= rating.pending_since + hold):  # fmt: skip
                previous = rating.level
                st.ratings[obj] = Rating(level, value)
                out += self._emit(obj, now, value, level, previous, factors)
            elif rank > shown:
                if rating.pending_since is None:
                    rating.pending_since = now
                    if hold == 0:
                        st.ratings[obj] = Rating(level, value)
                        out += self._emit(obj, now, value, level, rating.level, factors)
            else:
                rating.pending_since = None
                rating.score = value
        return out

    def _emit(
        self, obj: tuple[str, str], now: int, value: float, level: str, previous: str | None,
        factors: list[dict[str, Any]],
    ) -> list[Routed]:  # fmt: skip
        otype, code = obj
        record = {
            "event_id": hashlib.sha1(f"{otype}:{code}:{now}:{level}".encode()).hexdigest()[:20],
            "object_type": otype,
            "object_code": code,
            "enterprise_code": self.plant.enterprise_code,
            "level": level,
            "level_zh": LEVEL_ZH[level],
            "risk_level_code": LEVEL_CODE[level],
            "previous_level": previous,
            "score": value,
            "factors": factors,
            "model_version": self.model.version,
            "event_time_ms": now,
        }
        out = [
            Routed(RISK_LEVELS, code, record),
            Routed(RISK_CURRENT, f"{otype}|{code}", record),
        ]
        if otype == "hazard_source":
            out += self.state.cases.on_level(
                code, level, previous, now, self.model.cases,
                self.plant.chains.get(code) or self.model.cases.default_chain,
                self.plant.enterprise_code,
            )  # fmt: skip
        return out

    def _open_case(self, now: int, hs: str | None, trigger: str, area: str | None) -> list[Routed]:
        chain = self.plant.chains.get(hs or "") or self.model.cases.default_chain
        subject = hs or self.plant.enterprise_code
        return self.state.cases.open_or_attach(
            subject, "hazard_source" if hs else "enterprise", trigger, None, now,
            self.model.cases, chain, self.plant.enterprise_code,
        )  # fmt: skip
