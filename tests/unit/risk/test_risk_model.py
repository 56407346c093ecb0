"""The four-color risk model: colors by score band, each factor's points, caps and causes."""

from __future__ import annotations

import copy

import pytest
import yaml

from pipelines.risk.model import (
    DEFAULT_MODEL_FILE,
    Exposure,
    RiskModelError,
    load_model,
    parse_model,
    score,
)

MODEL = load_model()


def _contrib(factors, name):
    return next(f["contribution"] for f in factors if f["factor"] == name)


@pytest.mark.parametrize(
    ("value", "level"),
    [(0, "red"), (59.999, "red"), (60, "orange"), (74.999, "orange"), (75, "yellow"),
     (89.999, "yellow"), (90, "blue"), (100, "blue")],
)  # fmt: skip
def test_score_bands_follow_the_2018_diagnosis_guide(value, level):
    """GIVEN a score WHEN colored THEN red < 60 <= orange < 75 <= yellow < 90 <= blue."""
    assert MODEL.level_for(value) == level


@pytest.mark.parametrize(
    ("grade", "points", "at_rest"),
    [(1, 20, "yellow"), (2, 12, "yellow"), (3, 6, "blue"), (4, 3, "blue"), (None, 0, "blue")],
)
def test_inherent_risk_by_gb18218_grade(grade, points, at_rest):
    """GIVEN only the GB 18218 grade WHEN scored THEN 100 minus the grade's points: a 一级 or
    二级 source is yellow even at rest, a 三级 or 四级 one blue."""
    value, level, factors = score(MODEL, Exposure(grade=grade))
    assert value == 100 - points
    assert level == at_rest
    assert factors == [
        {
            "factor": "inherent_gb18218_level",
            "value": {1: "一级", 2: "二级", 3: "三级", 4: "四级"}.get(grade),
            "contribution": -float(points),
            "causes": [],
        }
    ]


def test_gas_alarms_add_by_priority_and_name_their_causes():
    """GIVEN a 三级 source with two high and one critical gas alarm WHEN scored
    THEN 100 - 6 - (12 + 12 + 20) = 50, red, and the three alarms are the causes."""
    exp = Exposure(
        grade=3,
        alarms=(("gas", "high", "GD-TF10", "H"), ("gas", "critical", "GD-TF10", "HH"),
                ("gas", "high", "GD-TF11", "H")),
    )  # fmt: skip
    value, level, factors = score(MODEL, exp)
    assert (value, level) == (50.0, "red")
    gas = factors[1]
    assert gas == {
        "factor": "gas_alarms",
        "value": 3,
        "contribution": -44.0,
        "causes": ["GD-TF10 H high", "GD-TF10 HH critical", "GD-TF11 H high"],
    }


def test_each_factor_is_capped():
    """GIVEN ten critical process alarms (10 x 12 = 120) WHEN scored THEN the class cap 40."""
    exp = Exposure(alarms=tuple(("process", "critical", f"T{i}", "HH") for i in range(10)))
    value, level, factors = score(MODEL, exp)
    assert _contrib(factors, "process_alarms") == -40.0
    assert (value, level) == (60.0, "orange")


def test_video_work_crowding_routes_and_dangers():
    """GIVEN one of every other factor WHEN scored THEN each deducts its configured points."""
    exp = Exposure(
        grade=4,
        video=(("smoke", "CAM-1@A-TF"),),
        work=(("hot_work", "special", "WP-1"), ("confined_space", None, "WP-2")),
        crowding=(("A-TF", 11, 8),),
        overdue_routes=("R-TF-01",),
        dangers=(("general", False, "HD-1"), ("major", True, "HD-2")),
    )
    value, level, factors = score(MODEL, exp)
    assert {f["factor"]: f["contribution"] for f in factors} == {
        "inherent_gb18218_level": -3.0,
        "video_events": -30.0,
        "special_work_in_progress": -17.0,  # 10 (特级 hot work) + 7 (confined space)
        "people_over_limit": -11.0,  # 5 + 2 x 3 extra people
        "overdue_inspections": -4.0,
        "open_hidden_dangers": -19.0,  # 2 + (12 + 5 overdue)
    }
    assert value == 100 - 3 - 30 - 17 - 11 - 4 - 19 == 16
    assert level == "red"
    people = next(f for f in factors if f["factor"] == "people_over_limit")
    assert (people["value"], people["causes"]) == (3, ["A-TF 11/8"])


def _raw():
    return yaml.safe_load(DEFAULT_MODEL_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("hold_lower_s"), "risk model: missing 'hold_lower_s'"),
        (lambda d: d["alarms"]["gas"].update(high=-1),
         "risk model.alarms.gas.high: expected a number >= 0, got -1"),
        (lambda d: d["bands"].update(red=80),
         "risk model.bands: need red <= orange <= yellow <= 100"),
        (lambda d: d["cases"].update(open_on_levels=["purple"]),
         "risk model.cases.open_on_levels: a list of red, orange, yellow, blue"),
        (lambda d: d["video"].pop("fire"), "risk model.video: 'fire' must be a mapping"),
    ],
)  # fmt: skip
def test_a_bad_model_file_names_the_key(edit, message):
    """GIVEN the shipped model with one key broken WHEN parsed THEN the error names the key."""
    data = copy.deepcopy(_raw())
    edit(data)
    with pytest.raises(RiskModelError) as err:
        parse_model(data)
    assert str(err.value).startswith(message)


def test_missing_model_file_is_one_clear_error(tmp_path):
    """GIVEN a path that does not exist WHEN loaded THEN RiskModelError says it cannot be read."""
    with pytest.raises(RiskModelError, match=r"cannot read risk model .*nope.yaml"):
        load_model(tmp_path / "nope.yaml")
