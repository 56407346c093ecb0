"""Tag alarm configuration: both input shapes, GB/T 50493-2019 gas defaults, priorities, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.alarms.config import CONDITION_ORDER, TagConfig, load_tag_configs

FIXTURES = Path(__file__).parent / "fixtures"


def test_tags_yaml_entry_shape_is_normalised() -> None:
    """GIVEN a TAGS.yaml entry with lower-case keys WHEN parsed THEN upper-case keys, all fields."""
    config = TagConfig.from_dict(
        {
            "tag": "LT-101",
            "kind": "process",
            "unit": "m",
            "limits": {"ll": 0.5, "l": 1.0, "h": 8.0, "hh": 9.0},
            "deadband": 0.1,
            "delay_on_s": 5,
            "delay_off_s": 10,
            "roc_per_min": 2,
            "priority": {"hh": "critical", "roc": "low"},
        }
    )
    assert config.limits == {"LL": 0.5, "L": 1.0, "H": 8.0, "HH": 9.0}
    assert (config.deadband, config.delay_on_s, config.delay_off_s) == (0.1, 5.0, 10.0)
    assert config.roc_per_min == 2.0
    assert config.priority == {
        "LL": "high",
        "L": "medium",
        "H": "medium",
        "HH": "critical",
        "ROC": "low",
        "STALE": "low",
        "FLATLINE": "low",
        "RANGE": "low",
    }
    assert config.alarm_class == "process"


def test_tag_metadata_record_shape_is_accepted() -> None:
    """GIVEN a tag_metadata.v1 record WHEN parsed THEN location fields are ignored, health kept."""
    record = {
        "enterprise_code": "91310000MA1234567X",
        "hazard_source_code": "HS-01",
        "unit_code": "U-TANKFARM",
        "area_code": "A-01",
        "tag": "GT-201",
        "description": "甲醇罐区可燃气体探测器",
        "kind": "gas_combustible",
        "metric_code": "gas_combustible",
        "unit": "%LEL",
        "gas": "methanol",
        "range_low": 0,
        "range_high": 100,
        "limits": {"ll": None, "l": None, "h": 20, "hh": 40},
        "deadband": 1,
        "delay_on_s": 2,
        "delay_off_s": 0,
        "roc_per_min": None,
        "priority": {"h": "high", "hh": "critical"},
        "expected_interval_s": 2,
        "stale_after_s": None,
        "flatline_after_s": 600,
        "x_m": 12.5,
        "y_m": 40.0,
    }
    config = TagConfig.from_dict(record)
    assert config.limits == {"H": 20.0, "HH": 40.0}  # explicit limits win over 25/50
    assert (config.range_low, config.range_high) == (0.0, 100.0)
    assert config.expected_interval_s == 2.0 and config.stale_after_s is None
    assert config.effective_stale_after_s == 6.0
    assert config.flatline_after_s == 600.0
    assert config.alarm_class == "gas"


@pytest.mark.parametrize(
    ("kind", "unit", "limits"),
    [
        ("gas_combustible", "%LEL", {"H": 25.0, "HH": 50.0}),
        ("gas_combustible", None, {"H": 25.0, "HH": 50.0}),
        ("oxygen", "%VOL", {"L": 19.5, "H": 23.5}),
        ("gas_toxic", "%OEL", {"H": 100.0, "HH": 200.0}),
        ("gas_toxic", "% oel", {"H": 100.0, "HH": 200.0}),
        ("gas_toxic", "ppm", {}),
        ("gas_toxic", None, {}),
        ("process", "%LEL", {}),
    ],
)
def test_gas_default_limits(kind: str, unit: str | None, limits: dict[str, float]) -> None:
    """GIVEN a tag with no limits WHEN parsed THEN GB/T 50493-2019 defaults apply by kind/unit."""
    assert TagConfig.from_dict({"tag": "X-1", "kind": kind, "unit": unit}).limits == limits


def test_explicit_limits_replace_gas_defaults_entirely() -> None:
    """GIVEN a combustible tag configuring only HH=40 WHEN parsed THEN H is not defaulted to 25."""
    config = TagConfig.from_dict({"tag": "GT-1", "kind": "gas_combustible", "limits": {"hh": 40}})
    assert config.limits == {"HH": 40.0}


def test_all_null_limits_count_as_no_limits() -> None:
    """GIVEN an oxygen tag whose limits are all null WHEN parsed THEN the defaults apply."""
    config = TagConfig.from_dict(
        {"tag": "AT-1", "kind": "oxygen", "limits": {"l": None, "h": None}}
    )
    assert config.limits == {"L": 19.5, "H": 23.5}


def test_gas_default_priorities() -> None:
    """GIVEN a gas tag without priorities WHEN parsed THEN HH critical, H high, others general."""
    config = TagConfig(tag="GT-1", kind="gas_toxic", unit="%OEL")
    assert [config.priority[c] for c in CONDITION_ORDER] == [
        "high",
        "medium",
        "high",
        "critical",
        "medium",
        "low",
        "low",
        "low",
    ]


def test_direct_construction_applies_the_same_normalisation() -> None:
    """GIVEN TagConfig built directly with lower-case keys WHEN read THEN same as from_dict."""
    direct = TagConfig(tag="GT-1", kind="gas_combustible", limits={"h": 20})
    assert direct == TagConfig.from_dict(
        {"tag": "GT-1", "kind": "gas_combustible", "limits": {"h": 20}}
    )
    assert direct.limits == {"H": 20.0}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"tag": "X-1", "kind": "steam"}, "tag 'X-1': unknown kind 'steam'"),
        ({"tag": "X-1", "deadband": -0.1}, "tag 'X-1': deadband must be >= 0, got -0.1"),
        ({"tag": "X-1", "delay_on_s": -1}, "tag 'X-1': delay_on_s must be >= 0, got -1"),
        ({"tag": "X-1", "delay_off_s": -5}, "tag 'X-1': delay_off_s must be >= 0, got -5"),
        (
            {"tag": "X-1", "limits": {"l": 10, "h": 5}},
            "tag 'X-1': limits out of order, L=10 > H=5 (need ll <= l <= h <= hh)",
        ),
        (
            {"tag": "X-1", "limits": {"h": 95, "hh": 90}},
            "tag 'X-1': limits out of order, H=95 > HH=90 (need ll <= l <= h <= hh)",
        ),
        ({"tag": "X-1", "limits": {"hhh": 1}}, "tag 'X-1': unknown limits key 'hhh'"),
        (
            {"tag": "X-1", "limits": {"h": "high"}},
            "tag 'X-1': limit H must be a number, got 'high'",
        ),
        ({"tag": "X-1", "priority": {"h": "urgent"}}, "tag 'X-1': unknown priority 'urgent' for H"),
        ({"tag": "X-1", "roc_per_min": 0}, "tag 'X-1': roc_per_min must be > 0, got 0"),
        ({"tag": "X-1", "range_low": 10, "range_high": 0}, "tag 'X-1': range_low 10 is above"),
        ({"tag": "X-1", "delay_on": 5}, "tag 'X-1': unknown key(s) 'delay_on'"),
        ({"kind": "process"}, "tag config needs a non-empty string 'tag', got None"),
    ],
)
def test_bad_config_raises_one_line_value_error(entry: dict, message: str) -> None:
    """GIVEN a bad config entry WHEN parsed THEN ValueError whose one-line message names it."""
    with pytest.raises(ValueError) as excinfo:
        TagConfig.from_dict(entry)
    text = str(excinfo.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_equal_limits_are_in_order() -> None:
    """GIVEN H == HH WHEN parsed THEN accepted (the order check is <=)."""
    assert TagConfig.from_dict({"tag": "X-1", "limits": {"h": 90, "hh": 90}}).limits == {
        "H": 90.0,
        "HH": 90.0,
    }


def test_load_tag_configs_reads_the_fixture() -> None:
    """GIVEN the fixture TAGS.yaml WHEN loaded THEN configs by tag with defaults applied."""
    configs = load_tag_configs(FIXTURES / "TAGS.yaml")
    assert list(configs) == ["TI-101", "GT-201", "AT-301"]
    assert configs["TI-101"].limits == {"H": 80.0, "HH": 90.0}
    assert configs["TI-101"].priority["HH"] == "critical"
    assert configs["GT-201"].limits == {"H": 25.0, "HH": 50.0}
    assert configs["AT-301"].limits == {"L": 19.5, "H": 23.5}


def test_load_tag_configs_errors_name_the_entry(tmp_path: Path) -> None:
    """GIVEN a duplicate tag or a missing tags list WHEN loaded THEN a one-line ValueError."""
    dup = tmp_path / "TAGS.yaml"
    dup.write_text("tags:\n  - {tag: A-1}\n  - {tag: A-1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^TAGS.yaml tags entry 2: duplicate tag 'A-1'$"):
        load_tag_configs(dup)
    bad = tmp_path / "bad.yaml"
    bad.write_text("tag: A-1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^bad.yaml: expected a top-level 'tags:' list$"):
        load_tag_configs(bad)
    entry = tmp_path / "entry.yaml"
    entry.write_text("tags:\n  - {tag: A-1, deadband: -1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^entry.yaml tags entry 1: tag 'A-1': deadband must"):
        load_tag_configs(entry)
