"""Plant model (工厂模型): load and validate a plant YAML into frozen dataclasses.

The demo plant (``pipelines/data/plants/demo_plant.yaml``) is the single source of the site's
hazard sources, units, areas, tags, cameras, people and inspection routes used by the simulator,
the tag-metadata topic and the tests. ``load_plant`` raises ``ValueError`` with a one-line message
naming the first problem it finds (unknown reference, duplicate id, limits out of order, ...).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

# The C loader is ~10x faster on the 400-line demo plant; fall back to pure Python without libyaml.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEMO_PLANT_PATH: Path = Path(__file__).resolve().parent / "data" / "plants" / "demo_plant.yaml"

TAG_KINDS = ("process", "gas_combustible", "gas_toxic", "oxygen")
METRIC_CODES = (
    "level",
    "temperature",
    "pressure",
    "flow",
    "gas_combustible",
    "gas_toxic",
    "oxygen",
)
PRIORITIES = ("critical", "high", "medium", "low")
LIMIT_KEYS = ("ll", "l", "h", "hh")
PERSON_TYPES = ("employee", "contractor", "visitor")
UNIT_TYPES = ("production", "storage", "auxiliary")
HAZARD_SOURCE_KINDS = ("production", "storage")
RESPONSIBILITY_ROLES = ("operations_lead", "technical_lead", "principal_head")

# The plant's local time (China Standard Time): plant days, night work.
PLANT_TZ = timezone(timedelta(hours=8))

# GB/T 50493-2019 set points: alarms must fire no later than these values.
MAX_COMBUSTIBLE_H_PCT_LEL = 25.0
MAX_COMBUSTIBLE_HH_PCT_LEL = 50.0
MAX_TOXIC_H_PCT_OEL = 100.0
MAX_TOXIC_HH_PCT_OEL = 200.0
OXYGEN_LOW_PCT_VOL = 19.5
OXYGEN_HIGH_PCT_VOL = 23.5


@dataclass(frozen=True)
class Substance:
    """A GB 18218 Table 1 substance held in a hazard source (危险化学品)."""

    name_zh: str
    cas_no: str
    name_en: str
    hazard_categories: tuple[str, ...]  # Table 2 symbols, e.g. ("W5.3",) -> beta for grading
    design_max_t: float  # 设计最大量, used for identification (S = sum q/Q)
    actual_t: float  # 实际存在量, used for grading (R)


@dataclass(frozen=True)
class HazardSource:
    """A major hazard source (重大危险源) with its substances and 包保 responsibility chain."""

    code: str
    name: str
    name_en: str
    kind: str  # "storage" (储存单元) or "production" (生产单元)
    unit_code: str
    residents_within_500m: int
    responsibility: dict[str, str]  # operations_lead / technical_lead / principal_head -> person_id
    substances: tuple[Substance, ...]

    def grading_input(self) -> dict[str, Any]:
        """Return this source as the input of `pipelines.hazard.gb18218.grade_unit`."""
        return {
            "unit_id": self.code,
            "unit_type": self.kind,
            "residents_within_500m": self.residents_within_500m,
            "substances": [
                {
                    "name": s.name_zh,
                    "cas_no": s.cas_no,
                    "hazard_categories": list(s.hazard_categories),
                    "design_max_t": s.design_max_t,
                    "actual_t": s.actual_t,
                }
                for s in self.substances
            ],
        }


@dataclass(frozen=True)
class Unit:
    """A production or storage unit (生产单元/储存单元) or auxiliary facility."""

    unit_code: str
    name: str
    name_en: str
    unit_type: str
    hazard_source_code: str | None


@dataclass(frozen=True)
class Area:
    """An area (区域) on the plant grid: alarm console and positioning fence."""

    area_code: str
    name: str
    name_en: str
    unit_code: str
    polygon: tuple[tuple[float, float], ...]
    headcount_limit: int  # 定员
    is_fire_explosion_area: bool
    hazard_source_code: str | None
    floor: int | None = None

    def contains(self, x: float, y: float) -> bool:
        """Return True when (x, y) lies inside the polygon or on its boundary."""
        return _point_in_polygon(x, y, self.polygon)


@dataclass(frozen=True)
class Tag:
    """A tag (位号): one measured point with its range and alarm configuration."""

    tag: str
    kind: str
    metric_code: str
    unit: str
    unit_code: str
    area_code: str
    hazard_source_code: str | None
    description: str
    gas: str | None
    range_low: float
    range_high: float
    limits: dict[str, float | None]  # ll / l / h / hh (低低报/低报/高报/高高报)
    deadband: float
    delay_on_s: float
    delay_off_s: float
    roc_per_min: float | None
    priority: dict[str, str]  # per configured condition: ll/l/h/hh/roc -> priority
    expected_interval_s: float
    stale_after_s: float
    flatline_after_s: float | None
    x_m: float | None
    y_m: float | None
    equipment: str | None = None
    normal: float | None = None  # design operating value (设计操作值), used by the simulator

    def record(self, enterprise_code: str) -> dict[str, Any]:
        """Return this tag as a tag_metadata.v1 record."""
        return {
            "enterprise_code": enterprise_code,
            "hazard_source_code": self.hazard_source_code,
            "unit_code": self.unit_code,
            "area_code": self.area_code,
            "tag": self.tag,
            "description": self.description,
            "kind": self.kind,
            "metric_code": self.metric_code,
            "unit": self.unit,
            "gas": self.gas,
            "range_low": self.range_low,
            "range_high": self.range_high,
            "limits": dict(self.limits),
            "deadband": self.deadband,
            "delay_on_s": self.delay_on_s,
            "delay_off_s": self.delay_off_s,
            "roc_per_min": self.roc_per_min,
            "priority": dict(self.priority),
            "expected_interval_s": self.expected_interval_s,
            "stale_after_s": self.stale_after_s,
            "flatline_after_s": self.flatline_after_s,
            "x_m": self.x_m,
            "y_m": self.y_m,
        }


@dataclass(frozen=True)
class Camera:
    """A video camera (摄像头) with AI analytics."""

    camera_id: str
    name: str
    area_code: str
    x_m: float
    y_m: float


@dataclass(frozen=True)
class Contractor:
    """A contractor company (承包商)."""

    contractor_id: str
    name: str
    name_en: str


@dataclass(frozen=True)
class Person:
    """A person on site (人员); name is PII. tag_id is the positioning tag (定位卡)."""

    person_id: str
    name: str
    tag_id: str
    role: str
    person_type: str
    contractor_id: str | None
    home_area: str
    post_x_m: float
    post_y_m: float


@dataclass(frozen=True)
class InspectionPoint:
    """A check-in point (巡检点) of an inspection route."""

    point_id: str
    name: str
    x_m: float
    y_m: float


@dataclass(frozen=True)
class InspectionRoute:
    """An inspection route (巡检路线) walked by one inspector every period_h hours."""

    route_id: str
    name: str
    area_code: str
    inspector: str
    period_h: float
    points: tuple[InspectionPoint, ...]


@dataclass(frozen=True)
class Plant:
    """The whole site model; mappings keep the YAML order."""

    enterprise_code: str
    name: str
    name_en: str
    hazard_sources: dict[str, HazardSource]
    units: dict[str, Unit]
    areas: dict[str, Area]
    tags: dict[str, Tag]
    cameras: dict[str, Camera]
    contractors: dict[str, Contractor]
    people: dict[str, Person]
    routes: dict[str, InspectionRoute] = field(default_factory=dict)
    source_path: str | None = None

    def tag_records(self) -> list[dict[str, Any]]:
        """Return one tag_metadata.v1 record per tag, in YAML order."""
        return [t.record(self.enterprise_code) for t in self.tags.values()]

    def area_at(self, x: float, y: float) -> str | None:
        """Return the code of the first area containing (x, y), or None outside every area."""
        for area in self.areas.values():
            if area.contains(x, y):
                return area.area_code
        return None


def _point_in_polygon(x: float, y: float, polygon: tuple[tuple[float, float], ...]) -> bool:
    """Return True when (x, y) is inside the polygon (ray casting) or on an edge."""
    n = len(polygon)
    inside = False
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        # On-edge test: collinear and within the segment's bounding box.
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if (
            abs(cross) <= 1e-9
            and min(x1, x2) - 1e-9 <= x <= max(x1, x2) + 1e-9
            and min(y1, y2) - 1e-9 <= y <= max(y1, y2) + 1e-9
        ):
            return True
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


# --------------------------------------------------------------------------------------- parsing


class _Ctx:
    """Typed accessors over one YAML mapping that raise ValueError naming `where`."""

    def __init__(self, data: Any, where: str, allowed: Iterable[str]):
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}")
        self.data = data
        self.where = where

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise ValueError(f"{self.where}: missing key {key!r}")
            return None
        return self.data[key]

    def str(self, key: str, required: bool = True, nullable: bool = False) -> Any:
        value = self._get(key, required)
        if value is None:
            if required and not nullable:
                raise ValueError(f"{self.where}: {key} must not be null")
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{self.where}: {key} must be a non-empty string, got {value!r}")
        return value

    def num(self, key: str, required: bool = True, nullable: bool = False) -> Any:
        value = self._get(key, required)
        if value is None:
            if required and not nullable:
                raise ValueError(f"{self.where}: {key} must not be null")
            return None
        return _number(value, f"{self.where}: {key}")

    def int(self, key: str, required: bool = True, nullable: bool = False) -> Any:
        value = self._get(key, required)
        if value is None:
            if required and not nullable:
                raise ValueError(f"{self.where}: {key} must not be null")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.where}: {key} must be an integer, got {value!r}")
        return value

    def bool(self, key: str) -> bool:
        value = self._get(key, True)
        if not isinstance(value, bool):
            raise ValueError(f"{self.where}: {key} must be true or false, got {value!r}")
        return value

    def list(self, key: str, required: bool = True) -> list[Any]:
        value = self._get(key, required)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise ValueError(f"{self.where}: {key} must be a list")
        return value


def _number(value: Any, where: str) -> float:
    """Return value as a finite float or raise ValueError naming `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value!r}")
    return float(value)


def _point(value: Any, where: str) -> tuple[float, float]:
    """Return an [x, y] pair as floats."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where} must be an [x_m, y_m] pair, got {value!r}")
    return (_number(value[0], where), _number(value[1], where))


def _unique(items: Iterable[Any], key: str, what: str) -> dict[str, Any]:
    """Index items by attribute `key`, raising on duplicates."""
    out: dict[str, Any] = {}
    for item in items:
        k = getattr(item, key)
        if k in out:
            raise ValueError(f"duplicate {what} {k!r}")
        out[k] = item
    return out


def _ref(value: str | None, known: Mapping[str, Any], where: str, what: str) -> None:
    """Raise when a non-null reference is not among the known ids."""
    if value is not None and value not in known:
        raise ValueError(f"{where}: unknown {what} {value!r}")


_TOP_KEYS = (
    "enterprise",
    "hazard_sources",
    "units",
    "areas",
    "tag_templates",
    "tags",
    "cameras",
    "contractors",
    "people",
    "inspection_routes",
)
_TAG_KEYS = (
    "tag",
    "template",
    "kind",
    "metric_code",
    "unit",
    "unit_code",
    "area_code",
    "hazard_source_code",
    "equipment",
    "description",
    "gas",
    "range",
    "limits",
    "normal",
    "deadband",
    "delay_on_s",
    "delay_off_s",
    "roc_per_min",
    "priority",
    "expected_interval_s",
    "stale_after_s",
    "flatline_after_s",
    "x_m",
    "y_m",
)


def load_plant(path: Path | str | None = None) -> Plant:
    """Load and validate a plant YAML (default: the demo plant); raise ValueError on any problem."""
    p = Path(path) if path is not None else DEMO_PLANT_PATH
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"plant file not found: {p}") from None
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise ValueError(f"plant file {p.name} is not valid YAML: {first}") from None
    top = _Ctx(data, "plant", _TOP_KEYS)
    plant = _build(top)
    return replace(plant, source_path=str(p))


def _build(top: _Ctx) -> Plant:
    """Build and cross-check every section of the plant mapping."""
    ent = _Ctx(top.data.get("enterprise"), "enterprise", ("code", "name", "name_en", "address"))
    code = ent.str("code")
    if len(code) > 32:
        raise ValueError(f"enterprise: code {code!r} is longer than 32 characters")

    contractors = _unique(
        (_contractor(c, i) for i, c in enumerate(top.list("contractors", required=False))),
        "contractor_id",
        "contractor",
    )
    hazard_sources = _unique(
        (_hazard_source(h, i) for i, h in enumerate(top.list("hazard_sources"))),
        "code",
        "hazard source",
    )
    units = _unique((_unit(u, i) for i, u in enumerate(top.list("units"))), "unit_code", "unit")
    areas = _unique((_area(a, i) for i, a in enumerate(top.list("areas"))), "area_code", "area")
    people = _unique(
        (_person(p, i) for i, p in enumerate(top.list("people"))), "person_id", "person"
    )
    _unique(people.values(), "tag_id", "positioning tag_id")
    cameras = _unique(
        (_camera(c, i) for i, c in enumerate(top.list("cameras", required=False))),
        "camera_id",
        "camera",
    )
    templates = top.data.get("tag_templates") or {}
    if not isinstance(templates, Mapping):
        raise ValueError("tag_templates: expected a mapping of template name -> defaults")
    tags = _unique(
        (_tag(t, i, templates, units) for i, t in enumerate(top.list("tags"))), "tag", "tag"
    )
    routes = _unique(
        (_route(r, i) for i, r in enumerate(top.list("inspection_routes", required=False))),
        "route_id",
        "inspection route",
    )

    for hs in hazard_sources.values():
        where = f"hazard source {hs.code}"
        _ref(hs.unit_code, units, where, "unit_code")
        for role, pid in hs.responsibility.items():
            _ref(pid, people, f"{where}: responsibility.{role}", "person")
    for u in units.values():
        _ref(u.hazard_source_code, hazard_sources, f"unit {u.unit_code}", "hazard_source_code")
    for a in areas.values():
        _ref(a.unit_code, units, f"area {a.area_code}", "unit_code")
        _ref(a.hazard_source_code, hazard_sources, f"area {a.area_code}", "hazard_source_code")
    for pe in people.values():
        where = f"person {pe.person_id}"
        _ref(pe.home_area, areas, where, "home_area")
        _ref(pe.contractor_id, contractors, where, "contractor_id")
        if pe.person_type == "contractor" and pe.contractor_id is None:
            raise ValueError(f"{where}: person_type contractor needs a contractor_id")
        if not areas[pe.home_area].contains(pe.post_x_m, pe.post_y_m):
            raise ValueError(
                f"{where}: post ({pe.post_x_m:g}, {pe.post_y_m:g}) lies outside home_area "
                f"{pe.home_area}"
            )
    for c in cameras.values():
        _ref(c.area_code, areas, f"camera {c.camera_id}", "area_code")
        _inside(areas[c.area_code], c.x_m, c.y_m, f"camera {c.camera_id}")
    for t in tags.values():
        where = f"tag {t.tag}"
        _ref(t.area_code, areas, where, "area_code")
        _ref(t.hazard_source_code, hazard_sources, where, "hazard_source_code")
        if t.x_m is not None and t.y_m is not None:
            _inside(areas[t.area_code], t.x_m, t.y_m, where)
    for r in routes.values():
        where = f"inspection route {r.route_id}"
        _ref(r.area_code, areas, where, "area_code")
        _ref(r.inspector, people, where, "inspector")
        for pt in r.points:
            _inside(areas[r.area_code], pt.x_m, pt.y_m, f"{where} point {pt.point_id}")
    _unique((pt for r in routes.values() for pt in r.points), "point_id", "inspection point")

    return Plant(
        enterprise_code=code,
        name=ent.str("name"),
        name_en=ent.str("name_en"),
        hazard_sources=hazard_sources,
        units=units,
        areas=areas,
        tags=tags,
        cameras=cameras,
        contractors=contractors,
        people=people,
        routes=routes,
    )


def _inside(area: Area, x: float, y: float, where: str) -> None:
    """Raise when (x, y) is outside the area polygon."""
    if not area.contains(x, y):
        raise ValueError(f"{where}: location ({x:g}, {y:g}) lies outside area {area.area_code}")


def _contractor(raw: Any, i: int) -> Contractor:
    """Parse one contractor."""
    c = _Ctx(raw, f"contractors[{i}]", ("contractor_id", "name", "name_en"))
    return Contractor(c.str("contractor_id"), c.str("name"), c.str("name_en"))


def _hazard_source(raw: Any, i: int) -> HazardSource:
    """Parse one hazard source with its substances and responsibility chain."""
    keys = (
        "code",
        "name",
        "name_en",
        "kind",
        "unit_code",
        "residents_within_500m",
        "responsibility",
        "substances",
    )
    c = _Ctx(raw, f"hazard_sources[{i}]", keys)
    code = c.str("code")
    where = f"hazard source {code}"
    c.where = where
    kind = c.str("kind")
    if kind not in HAZARD_SOURCE_KINDS:
        raise ValueError(f"{where}: kind must be one of {HAZARD_SOURCE_KINDS}, got {kind!r}")
    residents = c.int("residents_within_500m")
    if residents < 0:
        raise ValueError(f"{where}: residents_within_500m must be >= 0")
    resp = _Ctx(c.data.get("responsibility"), f"{where}: responsibility", RESPONSIBILITY_ROLES)
    chain = {role: resp.str(role) for role in RESPONSIBILITY_ROLES}
    substances = []
    for j, s_raw in enumerate(c.list("substances")):
        s = _Ctx(
            s_raw,
            f"{where}: substances[{j}]",
            ("name_zh", "cas_no", "name_en", "hazard_categories", "design_max_t", "actual_t"),
        )
        cats = s.list("hazard_categories")
        if not cats or not all(isinstance(x, str) and x for x in cats):
            raise ValueError(f"{s.where}: hazard_categories must be a non-empty list of symbols")
        design, actual = s.num("design_max_t"), s.num("actual_t")
        if not 0 <= actual <= design:
            raise ValueError(f"{s.where}: need 0 <= actual_t ({actual:g}) <= design_max_t")
        substances.append(
            Substance(
                name_zh=s.str("name_zh"),
                cas_no=s.str("cas_no"),
                name_en=s.str("name_en"),
                hazard_categories=tuple(cats),
                design_max_t=design,
                actual_t=actual,
            )
        )
    if not substances:
        raise ValueError(f"{where}: substances must not be empty")
    return HazardSource(
        code=code,
        name=c.str("name"),
        name_en=c.str("name_en"),
        kind=kind,
        unit_code=c.str("unit_code"),
        residents_within_500m=residents,
        responsibility=chain,
        substances=tuple(substances),
    )


def _unit(raw: Any, i: int) -> Unit:
    """Parse one unit."""
    keys = ("unit_code", "name", "name_en", "unit_type", "hazard_source_code")
    c = _Ctx(raw, f"units[{i}]", keys)
    unit_type = c.str("unit_type")
    if unit_type not in UNIT_TYPES:
        raise ValueError(f"units[{i}]: unit_type must be one of {UNIT_TYPES}, got {unit_type!r}")
    return Unit(
        unit_code=c.str("unit_code"),
        name=c.str("name"),
        name_en=c.str("name_en"),
        unit_type=unit_type,
        hazard_source_code=c.str("hazard_source_code", required=False, nullable=True),
    )


def _area(raw: Any, i: int) -> Area:
    """Parse one area and its polygon."""
    keys = (
        "area_code",
        "name",
        "name_en",
        "unit_code",
        "polygon",
        "headcount_limit",
        "is_fire_explosion_area",
        "hazard_source_code",
        "floor",
    )
    c = _Ctx(raw, f"areas[{i}]", keys)
    code = c.str("area_code")
    c.where = f"area {code}"
    polygon = tuple(_point(p, f"area {code}: polygon point") for p in c.list("polygon"))
    if len(polygon) < 3:
        raise ValueError(f"area {code}: polygon needs at least 3 points, got {len(polygon)}")
    limit = c.int("headcount_limit")
    if limit < 1:
        raise ValueError(f"area {code}: headcount_limit must be >= 1")
    return Area(
        area_code=code,
        name=c.str("name"),
        name_en=c.str("name_en"),
        unit_code=c.str("unit_code"),
        polygon=polygon,
        headcount_limit=limit,
        is_fire_explosion_area=c.bool("is_fire_explosion_area"),
        hazard_source_code=c.str("hazard_source_code", required=False, nullable=True),
        floor=c.int("floor", required=False, nullable=True),
    )


def _person(raw: Any, i: int) -> Person:
    """Parse one person."""
    keys = (
        "person_id",
        "name",
        "tag_id",
        "role",
        "person_type",
        "contractor_id",
        "home_area",
        "post",
    )
    c = _Ctx(raw, f"people[{i}]", keys)
    pid = c.str("person_id")
    c.where = f"person {pid}"
    ptype = c.str("person_type")
    if ptype not in PERSON_TYPES:
        raise ValueError(f"person {pid}: person_type must be one of {PERSON_TYPES}, got {ptype!r}")
    x, y = _point(c.data.get("post"), f"person {pid}: post")
    return Person(
        person_id=pid,
        name=c.str("name"),
        tag_id=c.str("tag_id"),
        role=c.str("role"),
        person_type=ptype,
        contractor_id=c.str("contractor_id", required=False, nullable=True),
        home_area=c.str("home_area"),
        post_x_m=x,
        post_y_m=y,
    )


def _camera(raw: Any, i: int) -> Camera:
    """Parse one camera."""
    c = _Ctx(raw, f"cameras[{i}]", ("camera_id", "name", "area_code", "x_m", "y_m"))
    return Camera(c.str("camera_id"), c.str("name"), c.str("area_code"), c.num("x_m"), c.num("y_m"))


def _route(raw: Any, i: int) -> InspectionRoute:
    """Parse one inspection route."""
    keys = ("route_id", "name", "area_code", "inspector", "period_h", "points")
    c = _Ctx(raw, f"inspection_routes[{i}]", keys)
    rid = c.str("route_id")
    c.where = f"inspection route {rid}"
    period = c.num("period_h")
    if period <= 0:
        raise ValueError(f"inspection route {rid}: period_h must be > 0")
    points = []
    for j, p_raw in enumerate(c.list("points")):
        p = _Ctx(p_raw, f"inspection route {rid}: points[{j}]", ("point_id", "name", "x_m", "y_m"))
        points.append(InspectionPoint(p.str("point_id"), p.str("name"), p.num("x_m"), p.num("y_m")))
    if not points:
        raise ValueError(f"inspection route {rid}: points must not be empty")
    return InspectionRoute(
        route_id=rid,
        name=c.str("name"),
        area_code=c.str("area_code"),
        inspector=c.str("inspector"),
        period_h=period,
        points=tuple(points),
    )


def _tag(raw: Any, i: int, templates: Mapping[str, Any], units: Mapping[str, Unit]) -> Tag:
    """Merge a tag with its template, then parse and validate it."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"tags[{i}]: expected a mapping, got {type(raw).__name__}")
    name = raw.get("tag", f"tags[{i}]")
    where = f"tag {name}"
    merged: dict[str, Any] = {}
    template_name = raw.get("template")
    if template_name is not None:
        if template_name not in templates:
            raise ValueError(f"{where}: unknown template {template_name!r}")
        template = templates[template_name]
        if not isinstance(template, Mapping):
            raise ValueError(f"tag_templates.{template_name}: expected a mapping")
        merged.update(template)
    merged.update(raw)
    merged.pop("template", None)
    c = _Ctx(merged, where, _TAG_KEYS)

    tag = c.str("tag")
    kind = c.str("kind")
    if kind not in TAG_KINDS:
        raise ValueError(f"{where}: kind must be one of {TAG_KINDS}, got {kind!r}")
    metric = c.str("metric_code")
    if metric not in METRIC_CODES:
        raise ValueError(f"{where}: metric_code must be one of {METRIC_CODES}, got {metric!r}")
    if kind != "process" and metric != kind:
        raise ValueError(f"{where}: a {kind} detector must have metric_code {kind}, got {metric!r}")
    if kind == "process" and metric not in ("level", "temperature", "pressure", "flow"):
        raise ValueError(f"{where}: a process tag cannot have metric_code {metric!r}")
    unit = c.str("unit")
    unit_code = c.str("unit_code")
    _ref(unit_code, units, where, "unit_code")

    range_low, range_high = _point(c.data.get("range"), f"{where}: range")
    if not range_low < range_high:
        raise ValueError(f"{where}: range low {range_low:g} must be below high {range_high:g}")

    raw_limits = c.data.get("limits") or {}
    lc = _Ctx(raw_limits, f"{where}: limits", LIMIT_KEYS)
    limits = {k: lc.num(k, required=False, nullable=True) for k in LIMIT_KEYS}
    configured = [(k, v) for k, v in limits.items() if v is not None]
    for (k1, v1), (k2, v2) in zip(configured, configured[1:], strict=False):
        if not v1 < v2:
            raise ValueError(f"{where}: limits out of order: {k1}={v1:g} must be below {k2}={v2:g}")
    for k, v in configured:
        if not range_low <= v <= range_high:
            raise ValueError(
                f"{where}: limit {k}={v:g} outside range [{range_low:g}, {range_high:g}]"
            )
    _check_gas_set_points(where, kind, unit, limits)

    normal = c.num("normal", required=False, nullable=True)
    if normal is not None:
        lo = limits["l"] if limits["l"] is not None else limits["ll"]
        hi = limits["h"] if limits["h"] is not None else limits["hh"]
        if not range_low <= normal <= range_high:
            raise ValueError(f"{where}: normal {normal:g} outside range")
        if (lo is not None and normal <= lo) or (hi is not None and normal >= hi):
            raise ValueError(f"{where}: normal {normal:g} is not between its low and high limits")

    roc = c.num("roc_per_min", required=False, nullable=True)
    if roc is not None and roc <= 0:
        raise ValueError(f"{where}: roc_per_min must be > 0 or null")
    deadband = c.num("deadband")
    delay_on, delay_off = c.num("delay_on_s"), c.num("delay_off_s")
    for key, v in (("deadband", deadband), ("delay_on_s", delay_on), ("delay_off_s", delay_off)):
        if v < 0:
            raise ValueError(f"{where}: {key} must be >= 0")
    expected = c.num("expected_interval_s")
    if expected <= 0:
        raise ValueError(f"{where}: expected_interval_s must be > 0")
    stale = c.num("stale_after_s", required=False, nullable=True)
    stale = 3.0 * expected if stale is None else stale
    flatline = c.num("flatline_after_s", required=False, nullable=True)
    for key, v in (("stale_after_s", stale), ("flatline_after_s", flatline)):
        if v is not None and v <= 0:
            raise ValueError(f"{where}: {key} must be > 0 or null")

    raw_priority = c.data.get("priority") or {}
    pc = _Ctx(raw_priority, f"{where}: priority", (*LIMIT_KEYS, "roc"))
    conditions = [k for k, _ in configured] + (["roc"] if roc is not None else [])
    priority: dict[str, str] = {}
    for cond in conditions:
        value = pc.data.get(cond)
        if value is None:
            raise ValueError(f"{where}: no priority for configured condition {cond!r}")
        if value not in PRIORITIES:
            raise ValueError(f"{where}: priority {cond} must be one of {PRIORITIES}, got {value!r}")
        priority[cond] = value

    x_m = c.num("x_m", required=False, nullable=True)
    y_m = c.num("y_m", required=False, nullable=True)
    if (x_m is None) != (y_m is None):
        raise ValueError(f"{where}: give both x_m and y_m or neither")
    hazard_source = (
        c.str("hazard_source_code", required=False, nullable=True)
        if "hazard_source_code" in c.data
        else units[unit_code].hazard_source_code
    )
    gas = c.str("gas", required=False, nullable=True)
    if kind != "process" and gas is None:
        raise ValueError(f"{where}: a gas detector needs gas")
    return Tag(
        tag=tag,
        kind=kind,
        metric_code=metric,
        unit=unit,
        unit_code=unit_code,
        area_code=c.str("area_code"),
        hazard_source_code=hazard_source,
        description=c.str("description"),
        gas=gas,
        range_low=range_low,
        range_high=range_high,
        limits=limits,
        deadband=deadband,
        delay_on_s=delay_on,
        delay_off_s=delay_off,
        roc_per_min=roc,
        priority=priority,
        expected_interval_s=expected,
        stale_after_s=stale,
        flatline_after_s=flatline,
        x_m=x_m,
        y_m=y_m,
        equipment=c.str("equipment", required=False, nullable=True),
        normal=normal,
    )


def _check_gas_set_points(
    where: str, kind: str, unit: str, limits: dict[str, float | None]
) -> None:
    """Enforce GB/T 50493-2019 set points: detectors alarm no later than the standard allows."""
    h, hh = limits["h"], limits["hh"]
    if kind == "gas_combustible":
        if unit != "%LEL":
            raise ValueError(f"{where}: a combustible gas detector must read %LEL, got {unit!r}")
        if h is None or h > MAX_COMBUSTIBLE_H_PCT_LEL:
            raise ValueError(f"{where}: combustible H must be <= 25 %LEL (GB/T 50493), got {h}")
        if hh is None or hh > MAX_COMBUSTIBLE_HH_PCT_LEL:
            raise ValueError(f"{where}: combustible HH must be <= 50 %LEL (GB/T 50493), got {hh}")
    elif kind == "gas_toxic":
        if h is None or hh is None:
            raise ValueError(f"{where}: a toxic gas detector needs H and HH limits")
        if unit == "%OEL" and (h > MAX_TOXIC_H_PCT_OEL or hh > MAX_TOXIC_HH_PCT_OEL):
            raise ValueError(f"{where}: toxic limits must be <= 100/200 %OEL (GB/T 50493)")
    elif kind == "oxygen":
        if unit != "%VOL":
            raise ValueError(f"{where}: an oxygen detector must read %VOL, got {unit!r}")
        low, high = limits["l"], limits["h"]
        if low is None or low < OXYGEN_LOW_PCT_VOL or high is None or high > OXYGEN_HIGH_PCT_VOL:
            raise ValueError(f"{where}: oxygen limits must be L >= 19.5 and H <= 23.5 %VOL")
