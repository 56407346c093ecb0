"""The four-color risk model (四色风险动态评估模型): configuration, scoring and colors.

Pure functions: the streaming risk job, `hazchem risk replay` and the API all score through
`score()`. The model and its defaults are documented in docs/risk_model.md; its numbers live in
`pipelines/data/risk_model.yaml` (override with HAZCHEM_RISK__MODEL_FILE).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MODEL_FILE = Path(__file__).resolve().parents[1] / "data" / "risk_model.yaml"

LEVELS = ("red", "orange", "yellow", "blue")  # worst first
LEVEL_ZH = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}
LEVEL_CODE = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}  # dual-prevention riskLevel
GRADE_ZH = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
PRIORITIES = ("critical", "high", "medium", "low", "none")
ALARM_CLASSES = ("gas", "process", "sensor_health")
VIDEO_TYPES = ("fire", "smoke", "person_down", "off_post", "intrusion", "crowding", "no_helmet")
WORK_TYPES = (
    "hot_work", "confined_space", "blinding", "work_at_height", "lifting", "temporary_power",
    "excavation", "road_closure",
)  # fmt: skip
HOT_WORK_LEVELS = ("special", "level1", "level2")


class RiskModelError(ValueError):
    """The risk model file is invalid; the message names the key."""


@dataclass(frozen=True)
class CasePolicy:
    """When warning cases open and how long each step may take before it escalates."""

    open_on_levels: tuple[str, ...]
    open_on_alarm_priorities: tuple[str, ...]
    ack_within_s: float
    handle_within_s: float
    close_within_s: float
    default_chain: tuple[str, ...]


@dataclass(frozen=True)
class RiskModel:
    """The weights and thresholds of the risk model (all points deducted from 100)."""

    version: int
    bands: dict[str, float]  # red/orange/yellow: score strictly below -> that color
    hold_lower_s: float
    inherent_by_level: dict[int, float]
    alarms: dict[str, dict[str, float]]  # class -> priority -> points, plus "max"
    video: dict[str, tuple[float, float]]  # event type -> (points, active_s)
    video_max: float
    control_room_areas: frozenset[str]
    special_work: dict[str, Any]
    special_work_max: float
    overcrowding: dict[str, float]
    overdue_inspections: dict[str, float]
    hidden_dangers: dict[str, float]
    cases: CasePolicy

    def level_for(self, score: float) -> str:
        """Return the color of a score: red < bands.red <= orange < bands.orange <= yellow ..."""
        for level in ("red", "orange", "yellow"):
            if score < self.bands[level]:
                return level
        return "blue"


def _num(data: Mapping[str, Any], key: str, where: str) -> float:
    if key not in data:
        raise RiskModelError(f"{where}: missing '{key}'")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RiskModelError(f"{where}.{key}: expected a number >= 0, got {value!r}")
    return float(value)


def _map(data: Any, key: str, where: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, Mapping):
        raise RiskModelError(f"{where}: '{key}' must be a mapping")
    return dict(value)


def parse_model(data: Any, where: str = "risk model") -> RiskModel:
    """Return the RiskModel of a parsed YAML mapping; raise RiskModelError naming the bad key."""
    if not isinstance(data, Mapping):
        raise RiskModelError(f"{where}: expected a mapping at the top level")
    bands_raw = _map(data, "bands", where)
    bands = {lv: _num(bands_raw, lv, f"{where}.bands") for lv in ("red", "orange", "yellow")}
    if not bands["red"] <= bands["orange"] <= bands["yellow"] <= 100:
        raise RiskModelError(f"{where}.bands: need red <= orange <= yellow <= 100, got {bands}")
    inherent_raw = _map(data, "inherent_by_level", where)
    inherent = {g: _num(inherent_raw, g, f"{where}.inherent_by_level") for g in (1, 2, 3, 4)}
    alarms_raw = _map(data, "alarms", where)
    alarms = {}
    for cls in ALARM_CLASSES:
        row = _map(alarms_raw, cls, f"{where}.alarms")
        alarms[cls] = {p: _num(row, p, f"{where}.alarms.{cls}") for p in (*PRIORITIES, "max")}
    video_raw = _map(data, "video", where)
    video = {}
    for kind in VIDEO_TYPES:
        row = _map(video_raw, kind, f"{where}.video")
        video[kind] = (_num(row, "points", f"{where}.video.{kind}"),
                       _num(row, "active_s", f"{where}.video.{kind}"))  # fmt: skip
    work_raw = _map(data, "special_work", where)
    hot = _map(work_raw, "hot_work", f"{where}.special_work")
    work: dict[str, Any] = {
        "hot_work": {lv: _num(hot, lv, f"{where}.special_work.hot_work") for lv in HOT_WORK_LEVELS}
    }
    for kind in WORK_TYPES[1:]:
        work[kind] = _num(work_raw, kind, f"{where}.special_work")
    crowd = _map(data, "overcrowding", where)
    insp = _map(data, "overdue_inspections", where)
    hd = _map(data, "hidden_dangers", where)
    cases = _map(data, "cases", where)
    levels = cases.get("open_on_levels")
    if not isinstance(levels, list) or any(lv not in LEVELS for lv in levels):
        raise RiskModelError(f"{where}.cases.open_on_levels: a list of {', '.join(LEVELS)}")
    prios = cases.get("open_on_alarm_priorities")
    if not isinstance(prios, list) or any(p not in PRIORITIES for p in prios):
        raise RiskModelError(f"{where}.cases.open_on_alarm_priorities: a list of priorities")
    chain = cases.get("default_chain")
    if not isinstance(chain, list) or not chain or not all(isinstance(p, str) for p in chain):
        raise RiskModelError(f"{where}.cases.default_chain: a non-empty list of person ids")
    rooms = data.get("control_room_areas", [])
    if not isinstance(rooms, list):
        raise RiskModelError(f"{where}.control_room_areas: a list of area codes")
    return RiskModel(
        version=int(_num(data, "version", where)),
        bands=bands,
        hold_lower_s=_num(data, "hold_lower_s", where),
        inherent_by_level=inherent,
        alarms=alarms,
        video=video,
        video_max=_num(video_raw, "max", f"{where}.video"),
        control_room_areas=frozenset(rooms),
        special_work=work,
        special_work_max=_num(work_raw, "max", f"{where}.special_work"),
        overcrowding={
            k: _num(crowd, k, f"{where}.overcrowding") for k in ("base", "per_extra_person", "max")
        },  # fmt: skip
        overdue_inspections={
            k: _num(insp, k, f"{where}.overdue_inspections")
            for k in ("points_per_route", "overdue_after_periods", "max")
        },  # fmt: skip
        hidden_dangers={
            k: _num(hd, k, f"{where}.hidden_dangers")
            for k in ("general", "major", "overdue_extra", "max")
        },  # fmt: skip
        cases=CasePolicy(
            open_on_levels=tuple(levels),
            open_on_alarm_priorities=tuple(prios),
            ack_within_s=_num(cases, "ack_within_s", f"{where}.cases"),
            handle_within_s=_num(cases, "handle_within_s", f"{where}.cases"),
            close_within_s=_num(cases, "close_within_s", f"{where}.cases"),
            default_chain=tuple(chain),
        ),
    )


def _merge(base: Any, override: Any) -> Any:
    """Return base with override's keys replaced, mappings merged key by key."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        return {k: _merge(base.get(k), v) if k in base else v for k, v in override.items()} | {
            k: v for k, v in base.items() if k not in override
        }
    return override


def _read_yaml(file: Path, seen: tuple[Path, ...] = ()) -> Any:
    """Return the parsed file; a `base: other.yaml` key (relative path) is merged underneath."""
    if file in seen:
        raise RiskModelError(f"risk model {file}: 'base' files form a cycle")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RiskModelError(f"cannot read risk model {file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RiskModelError(f"risk model {file} is not valid YAML: {exc}") from None
    if isinstance(data, Mapping) and "base" in data:
        overrides = {k: v for k, v in data.items() if k != "base"}
        return _merge(_read_yaml(file.parent / str(data["base"]), (*seen, file)), overrides)
    return data


def load_model(path: Path | str | None = None) -> RiskModel:
    """Return the risk model from a YAML file (default: the shipped model).

    A file may start from another with `base: risk_model.yaml` and override only some keys.
    """
    file = Path(path) if path else DEFAULT_MODEL_FILE
    return parse_model(_read_yaml(file), str(file.name))


# -- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposure:
    """What is live in one rated object right now (the inputs of `score`)."""

    grade: int | None = None  # GB 18218 level 1..4 of its major hazard source, None when none
    alarms: tuple[tuple[str, str, str, str], ...] = ()  # (class, priority, tag, condition)
    video: tuple[tuple[str, str], ...] = ()  # (event type, camera/area)
    work: tuple[tuple[str, str | None, str], ...] = ()  # (work type, hot-work level, permit id)
    crowding: tuple[tuple[str, int, int], ...] = ()  # (area, people present, headcount limit)
    overdue_routes: tuple[str, ...] = ()
    dangers: tuple[tuple[str, bool, str], ...] = ()  # (level general|major, overdue, danger id)


def _capped(points: float, cap: float) -> float:
    return min(points, cap)


def _factor(name: str, value: Any, points: float, causes: Iterable[str]) -> dict[str, Any]:
    return {"factor": name, "value": value, "contribution": -round(points, 3),
            "causes": sorted(causes)}  # fmt: skip


def score(model: RiskModel, exp: Exposure) -> tuple[float, str, list[dict[str, Any]]]:
    """Return (score 0..100, color, factors) of one object; factors list only what deducts.

    The inherent factor is always listed (with 0 contribution outside a major hazard source), so a
    reader sees the baseline; every other factor appears only when it deducts points, with the
    alarms, events, permits, areas, routes or dangers that caused it.
    """
    factors = []
    inherent = model.inherent_by_level[exp.grade] if exp.grade else 0.0
    factors.append(
        _factor(
            "inherent_gb18218_level", GRADE_ZH.get(exp.grade) if exp.grade else None, inherent, []
        )  # fmt: skip
    )
    for cls in ALARM_CLASSES:
        mine = [a for a in exp.alarms if a[0] == cls]
        if mine:
            weights = model.alarms[cls]
            pts = _capped(sum(weights[a[1]] for a in mine), weights["max"])
            causes = [f"{tag} {cond} {prio}" for _c, prio, tag, cond in mine]
            factors.append(_factor(f"{cls}_alarms", len(mine), pts, causes))
    if exp.video:
        pts = _capped(sum(model.video[kind][0] for kind, _w in exp.video), model.video_max)
        factors.append(_factor("video_events", len(exp.video), pts,
                               [f"{kind} {where}" for kind, where in exp.video]))  # fmt: skip
    if exp.work:
        total = 0.0
        for kind, level, _pid in exp.work:
            w = model.special_work[kind]
            total += w[level or "level2"] if kind == "hot_work" else w
        factors.append(_factor("special_work_in_progress", len(exp.work),
                               _capped(total, model.special_work_max),
                               [f"{pid} {kind}{'/' + lv if lv else ''}"
                                for kind, lv, pid in exp.work]))  # fmt: skip
    if exp.crowding:
        c = model.overcrowding
        total = sum(
            c["base"] + c["per_extra_person"] * (n - limit) for _a, n, limit in exp.crowding
        )
        factors.append(_factor("people_over_limit",
                               sum(n - limit for _a, n, limit in exp.crowding),
                               _capped(total, c["max"]),
                               [f"{a} {n}/{limit}" for a, n, limit in exp.crowding]))  # fmt: skip
    if exp.overdue_routes:
        c = model.overdue_inspections
        factors.append(_factor("overdue_inspections", len(exp.overdue_routes),
                               _capped(c["points_per_route"] * len(exp.overdue_routes), c["max"]),
                               exp.overdue_routes))  # fmt: skip
    if exp.dangers:
        c = model.hidden_dangers
        total = sum(c[lv] + (c["overdue_extra"] if late else 0) for lv, late, _d in exp.dangers)
        factors.append(_factor("open_hidden_dangers", len(exp.dangers), _capped(total, c["max"]),
                               [f"{d} {lv}{' overdue' if late else ''}"
                                for lv, late, d in exp.dangers]))  # fmt: skip
    total = sum(-f["contribution"] for f in factors)
    value = round(max(0.0, 100.0 - total), 3)
    return value, model.level_for(value), factors
