"""Tests of the plant model loader (pipelines/plant.py) and the demo plant YAML."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pipelines.hazard.gb18218 import REFERENCE_DIR
from pipelines.plant import DEMO_PLANT_PATH, Plant, load_plant

ROOT = Path(__file__).resolve().parents[2]
TAG_SCHEMA = ROOT / "schemas" / "telemetry" / "tag_metadata.v1.json"
# the copy in the repository that pipelines.hazard.gb18218 reads (never skipped)
TABLE1_CSV = REFERENCE_DIR / "gb18218_2018_table1_named_substances.csv"


@pytest.fixture(scope="module")
def plant() -> Plant:
    """The demo plant, loaded once."""
    return load_plant()


@pytest.fixture
def demo_yaml() -> dict[str, Any]:
    """A fresh, mutable copy of the demo plant YAML."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(DEMO_PLANT_PATH.read_text(encoding="utf-8"), Loader=loader)


def _dump(doc: dict[str, Any]) -> str:
    """Serialise a plant mapping back to YAML (C dumper when available)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False)


def _tag(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the raw YAML mapping of one tag."""
    return next(t for t in doc["tags"] if t["tag"] == name)


def test_demo_plant_has_198_tags_each_in_a_known_area_and_unit(plant: Plant) -> None:
    """GIVEN the demo plant WHEN loaded THEN it has 198 tags, each in a known area and unit."""
    assert len(plant.tags) == 198
    assert plant.enterprise_code == "91370612MA3C7H5Q21"
    assert all(t.area_code in plant.areas for t in plant.tags.values())
    assert all(t.unit_code in plant.units for t in plant.tags.values())
    kinds = {k: sum(t.kind == k for t in plant.tags.values()) for k in ("process", "oxygen")}
    assert kinds == {"process": 129, "oxygen": 6}
    assert len(plant.people) == 45
    assert len(plant.cameras) == 13


def test_tag_records_are_valid_tag_metadata_v1(plant: Plant) -> None:
    """GIVEN the demo plant WHEN its tag records are built THEN each is valid tag_metadata.v1."""
    schema = json.loads(TAG_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    records = plant.tag_records()
    assert len(records) == 198
    errors = [(r["tag"], e.message) for r in records for e in validator.iter_errors(r)]
    assert errors == []
    assert {r["tag"] for r in records} == set(plant.tags)


def test_hazard_sources_list_table1_substances_exactly_as_printed(plant: Plant) -> None:
    """GIVEN GB 18218 Table 1 WHEN the hazard sources are read THEN names and CAS match rows."""
    with TABLE1_CSV.open(encoding="utf-8") as fh:
        rows = {(r["name_zh"], r["cas_no"]) for r in csv.DictReader(fh)}
    substances = [s for hs in plant.hazard_sources.values() for s in hs.substances]
    assert [(s.name_zh, s.cas_no) for s in substances if (s.name_zh, s.cas_no) not in rows] == []
    assert [hs.kind for hs in plant.hazard_sources.values()] == ["storage", "production"]
    for hs in plant.hazard_sources.values():
        assert set(hs.responsibility) == {"operations_lead", "technical_lead", "principal_head"}
        assert all(pid in plant.people for pid in hs.responsibility.values())
        assert all(0 < s.actual_t <= s.design_max_t for s in hs.substances)


def test_gas_detector_set_points_follow_gb_t_50493(plant: Plant) -> None:
    """GIVEN the detectors WHEN their limits are read THEN they use the GB/T 50493 set points."""
    by_kind: dict[str, set[tuple[Any, ...]]] = {}
    for t in plant.tags.values():
        if t.kind != "process":
            key = (t.unit, t.limits["l"], t.limits["h"], t.limits["hh"])
            by_kind.setdefault(t.kind, set()).add(key)
    assert by_kind == {
        "gas_combustible": {("%LEL", None, 25.0, 50.0)},
        "gas_toxic": {("mg/m3", None, 20.0, 40.0), ("%OEL", None, 100.0, 200.0)},
        "oxygen": {("%VOL", 19.5, 23.5, None)},
    }


def test_process_limits_are_ordered_inside_the_range(plant: Plant) -> None:
    """GIVEN every process tag WHEN its limits are read THEN ll < l < h < hh inside the range."""
    for t in plant.tags.values():
        values = [v for v in (t.limits[k] for k in ("ll", "l", "h", "hh")) if v is not None]
        assert values == sorted(set(values)), t.tag
        assert all(t.range_low <= v <= t.range_high for v in values), t.tag
        assert set(t.priority) == {k for k, v in t.limits.items() if v is not None} | (
            {"roc"} if t.roc_per_min else set()
        ), t.tag


def test_area_contains_points_inside_and_on_the_edge(plant: Plant) -> None:
    """GIVEN the tank farm polygon WHEN points are tested THEN inside and edge are in."""
    tank_farm = plant.areas["A-TF"]
    assert tank_farm.contains(157, 211) is True
    assert tank_farm.contains(120, 200) is True  # on the west edge
    assert tank_farm.contains(119.9, 200) is False
    assert plant.area_at(157, 211) == "A-TF"
    assert plant.area_at(125, 20) == "A-CR"
    assert plant.area_at(95, 45) is None


def test_load_plant_accepts_a_path_string(tmp_path: Path, demo_yaml: dict[str, Any]) -> None:
    """GIVEN a copy of the demo YAML WHEN loaded by path string THEN it loads the same tags."""
    path = tmp_path / "plant.yaml"
    path.write_text(_dump(demo_yaml), encoding="utf-8")
    plant = load_plant(str(path))
    assert list(plant.tags) == list(load_plant().tags)
    assert plant.source_path == str(path)


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    """Return a mutator setting doc[path...] = value."""

    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _on_tag(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    """Return a mutator updating one tag's mapping."""

    def mutate(doc: dict[str, Any]) -> None:
        _tag(doc, name).update(changes)

    return mutate


def _duplicate_tag(doc: dict[str, Any]) -> None:
    doc["tags"].append(dict(_tag(doc, "LI-501")))


def _rename_key(doc: dict[str, Any]) -> None:
    tag = _tag(doc, "LI-501")
    tag["limts"] = tag.pop("limits")


BAD_PLANTS = [
    (_on_tag("LI-501", area_code="A-XX"), "tag LI-501: unknown area_code 'A-XX'"),
    (_duplicate_tag, "duplicate tag 'LI-501'"),
    (
        _on_tag("LI-501", limits={"ll": 1.0, "l": 11.0, "h": 10.8, "hh": 11.4}),
        "tag LI-501: limits out of order: l=11 must be below h=10.8",
    ),
    (
        _on_tag("LI-501", limits={"ll": 1.0, "l": 1.5, "h": 10.8, "hh": 12.5}),
        "tag LI-501: limit hh=12.5 outside range [0, 12]",
    ),
    (_rename_key, "tag LI-501: unknown key 'limts'"),
    (
        _on_tag("LI-501", normal=11.0),
        "tag LI-501: normal 11 is not between its low and high limits",
    ),
    (_on_tag("LI-501", unit_code="U-XX"), "tag LI-501: unknown unit_code 'U-XX'"),
    (_on_tag("LI-501", template="nope"), "tag LI-501: unknown template 'nope'"),
    (_on_tag("LI-501", x_m=500), "tag LI-501: location (500, 270) lies outside area A-TF"),
    (
        _on_tag("GD-TF01", limits={"h": 30, "hh": 50}),
        "tag GD-TF01: combustible H must be <= 25 %LEL (GB/T 50493), got 30.0",
    ),
    (
        _on_tag("LI-501", priority={"ll": "high", "l": "low", "h": "medium"}),
        "tag LI-501: no priority for configured condition 'hh'",
    ),
    (
        _on_tag("LI-501", kind="gauge"),
        "tag LI-501: kind must be one of "
        "('process', 'gas_combustible', 'gas_toxic', 'oxygen'), got 'gauge'",
    ),
    (
        _set(["hazard_sources", 0, "responsibility", "principal_head"], "P999"),
        "hazard source HS-01: responsibility.principal_head: unknown person 'P999'",
    ),
    (
        _set(["areas", 0, "polygon"], [[0, 0], [1, 1]]),
        "area A-OF: polygon needs at least 3 points, got 2",
    ),
    (
        _set(["people", 0, "home_area"], "A-TF"),
        "person P001: post (10, 10) lies outside home_area A-TF",
    ),
    (_set(["people", 1, "tag_id"], "UWB-1001"), "duplicate positioning tag_id 'UWB-1001'"),
    (
        _set(["units", 0, "hazard_source_code"], "HS-09"),
        "unit U-TF: unknown hazard_source_code 'HS-09'",
    ),
    (_set(["cameras", 0, "area_code"], "A-XX"), "camera CAM-CR01: unknown area_code 'A-XX'"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_PLANTS)
def test_load_plant_names_the_problem_in_one_line(
    tmp_path: Path,
    demo_yaml: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    """GIVEN a demo YAML with one defect WHEN loaded THEN ValueError names it in one line."""
    mutate(demo_yaml)
    path = tmp_path / "plant.yaml"
    path.write_text(_dump(demo_yaml), encoding="utf-8")
    with pytest.raises(ValueError) as excinfo:
        load_plant(path)
    assert str(excinfo.value) == message


def test_load_plant_reports_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    """GIVEN a missing file or broken YAML WHEN loaded THEN ValueError says which."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ValueError) as excinfo:
        load_plant(missing)
    assert str(excinfo.value) == f"plant file not found: {missing}"
    broken = tmp_path / "broken.yaml"
    broken.write_text("tags: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError) as excinfo:
        load_plant(broken)
    assert str(excinfo.value).startswith("plant file broken.yaml is not valid YAML: ")
    assert "\n" not in str(excinfo.value)
