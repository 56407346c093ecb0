"""Tag alarm configuration (位号报警配置): limits, deadband, delays, priorities and gas defaults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONDITION_ORDER = ("LL", "L", "H", "HH", "ROC", "STALE", "FLATLINE", "RANGE")
LIMIT_CONDITIONS = ("LL", "L", "H", "HH")
HIGH_LIMITS = frozenset({"H", "HH"})
KINDS = ("process", "gas_combustible", "gas_toxic", "oxygen")
GAS_KINDS = frozenset({"gas_combustible", "gas_toxic", "oxygen"})
PRIORITIES = ("critical", "high", "medium", "low")

# GB/T 50493-2019 first/second alarm set points, used only when a gas tag configures no limit.
GAS_DEFAULT_LIMITS: dict[str, dict[str, float]] = {
    "gas_combustible": {"H": 25.0, "HH": 50.0},  # %LEL
    "oxygen": {"L": 19.5, "H": 23.5},  # %vol
    "gas_toxic": {"H": 100.0, "HH": 200.0},  # %OEL, only when the tag's unit is %OEL
}

DEFAULT_PRIORITY: dict[str, str] = {
    "LL": "high",
    "L": "medium",
    "H": "medium",
    "HH": "high",
    "ROC": "medium",
    "STALE": "low",
    "FLATLINE": "low",
    "RANGE": "low",
}
GAS_DEFAULT_PRIORITY: dict[str, str] = {**DEFAULT_PRIORITY, "H": "high", "HH": "critical"}

# Fields of schemas/telemetry/tag_metadata.v1.json that describe where a tag is, not how it alarms.
_IGNORED_METADATA_KEYS = frozenset(
    {
        "enterprise_code",
        "hazard_source_code",
        "unit_code",
        "area_code",
        "description",
        "metric_code",
        "gas",
        "x_m",
        "y_m",
    }
)
_CONFIG_KEYS = frozenset(
    {
        "tag",
        "kind",
        "unit",
        "limits",
        "deadband",
        "delay_on_s",
        "delay_off_s",
        "roc_per_min",
        "priority",
        "range_low",
        "range_high",
        "expected_interval_s",
        "stale_after_s",
        "flatline_after_s",
    }
)


def _is_percent_oel(unit: str | None) -> bool:
    """Return True when `unit` spells %OEL (case and spaces ignored)."""
    return unit is not None and unit.replace(" ", "").upper() == "%OEL"


def _number(tag: str, name: str, value: Any) -> float | None:
    """Return `value` as a finite float (None stays None); ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"tag {tag!r}: {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"tag {tag!r}: {name} must be finite, got {value!r}")
    return number


def _condition_keyed(tag: str, name: str, raw: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Return a mapping re-keyed by upper-case condition name; ValueError for unknown keys."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"tag {tag!r}: {name} must be a mapping, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        cond = str(key).upper()
        if cond not in allowed:
            raise ValueError(f"tag {tag!r}: unknown {name} key {key!r}")
        out[cond] = value
    return out


@dataclass(frozen=True)
class TagConfig:
    """Alarm configuration of one tag, normalised: upper-case condition keys, defaults applied."""

    tag: str
    kind: str = "process"
    unit: str | None = None
    limits: dict[str, float] = field(default_factory=dict)
    deadband: float = 0.0
    delay_on_s: float = 0.0
    delay_off_s: float = 0.0
    roc_per_min: float | None = None
    priority: dict[str, str] = field(default_factory=dict)
    range_low: float | None = None
    range_high: float | None = None
    expected_interval_s: float | None = None
    stale_after_s: float | None = None
    flatline_after_s: float | None = None

    def __post_init__(self) -> None:
        """Validate, apply gas default limits and default priorities (ValueError, one line)."""
        tag = self.tag
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tag must be a non-empty string, got {tag!r}")
        if self.kind not in KINDS:
            raise ValueError(f"tag {tag!r}: unknown kind {self.kind!r} (expected one of {KINDS})")
        if self.unit is not None and not isinstance(self.unit, str):
            raise ValueError(f"tag {tag!r}: unit must be a string, got {self.unit!r}")

        raw_limits = _condition_keyed(tag, "limits", self.limits, LIMIT_CONDITIONS)
        limits: dict[str, float] = {}
        for cond in LIMIT_CONDITIONS:
            value = _number(tag, f"limit {cond}", raw_limits.get(cond))
            if value is not None:
                limits[cond] = value
        if not limits:
            if self.kind in ("gas_combustible", "oxygen") or (
                self.kind == "gas_toxic" and _is_percent_oel(self.unit)
            ):
                limits = dict(GAS_DEFAULT_LIMITS[self.kind])
        ordered = [(cond, limits[cond]) for cond in LIMIT_CONDITIONS if cond in limits]
        for (low_cond, low), (high_cond, high) in zip(ordered, ordered[1:], strict=False):
            if low > high:
                raise ValueError(
                    f"tag {tag!r}: limits out of order, {low_cond}={low:g} > {high_cond}={high:g}"
                    " (need ll <= l <= h <= hh)"
                )
        object.__setattr__(self, "limits", limits)

        for name in ("deadband", "delay_on_s", "delay_off_s"):
            value = _number(tag, name, getattr(self, name))
            value = 0.0 if value is None else value
            if value < 0:
                raise ValueError(f"tag {tag!r}: {name} must be >= 0, got {value:g}")
            object.__setattr__(self, name, value)

        for name in ("roc_per_min", "expected_interval_s", "stale_after_s", "flatline_after_s"):
            value = _number(tag, name, getattr(self, name))
            if value is not None and value <= 0:
                raise ValueError(f"tag {tag!r}: {name} must be > 0, got {value:g}")
            object.__setattr__(self, name, value)

        range_low = _number(tag, "range_low", self.range_low)
        range_high = _number(tag, "range_high", self.range_high)
        if range_low is not None and range_high is not None and range_low > range_high:
            raise ValueError(
                f"tag {tag!r}: range_low {range_low:g} is above range_high {range_high:g}"
            )
        object.__setattr__(self, "range_low", range_low)
        object.__setattr__(self, "range_high", range_high)

        defaults = GAS_DEFAULT_PRIORITY if self.kind in GAS_KINDS else DEFAULT_PRIORITY
        given = _condition_keyed(tag, "priority", self.priority, CONDITION_ORDER)
        priority: dict[str, str] = {}
        for cond in CONDITION_ORDER:
            value = given.get(cond)
            if value is None:
                value = defaults[cond]
            elif value not in PRIORITIES:
                raise ValueError(
                    f"tag {tag!r}: unknown priority {value!r} for {cond} (expected one of "
                    f"{PRIORITIES})"
                )
            priority[cond] = value
        object.__setattr__(self, "priority", priority)

    @property
    def alarm_class(self) -> str:
        """Return the alarm class of the tag's value conditions: "gas" or "process"."""
        return "gas" if self.kind in GAS_KINDS else "process"

    @property
    def effective_stale_after_s(self) -> float | None:
        """Return stale_after_s, else 3 x expected_interval_s, else None (STALE disabled)."""
        if self.stale_after_s is not None:
            return self.stale_after_s
        if self.expected_interval_s is not None:
            return 3.0 * self.expected_interval_s
        return None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TagConfig:
        """Return the config of a TAGS.yaml entry or a tag_metadata.v1 record; ValueError if bad."""
        if not isinstance(d, Mapping):
            raise ValueError(f"tag config must be a mapping, got {type(d).__name__}")
        tag = d.get("tag")
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tag config needs a non-empty string 'tag', got {tag!r}")
        unknown = sorted(str(k) for k in d if k not in _CONFIG_KEYS | _IGNORED_METADATA_KEYS)
        if unknown:
            raise ValueError(f"tag {tag!r}: unknown key(s) {', '.join(map(repr, unknown))}")
        kwargs: dict[str, Any] = {k: d[k] for k in _CONFIG_KEYS if k in d and d[k] is not None}
        kwargs["limits"] = _condition_keyed(tag, "limits", d.get("limits"), LIMIT_CONDITIONS)
        kwargs["priority"] = _condition_keyed(tag, "priority", d.get("priority"), CONDITION_ORDER)
        return cls(**kwargs)


def load_tag_configs(path: str | Path) -> dict[str, TagConfig]:
    """Return configs by tag from a YAML file with a top-level `tags:` list (ValueError if bad)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValueError(f"{path.name}: invalid YAML ({problem}{where})") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("tags"), list):
        raise ValueError(f"{path.name}: expected a top-level 'tags:' list")
    configs: dict[str, TagConfig] = {}
    for number, entry in enumerate(doc["tags"], start=1):
        try:
            config = TagConfig.from_dict(entry)
        except ValueError as exc:
            raise ValueError(f"{path.name} tags entry {number}: {exc}") from None
        if config.tag in configs:
            raise ValueError(f"{path.name} tags entry {number}: duplicate tag {config.tag!r}")
        configs[config.tag] = config
    return configs
