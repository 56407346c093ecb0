"""GB 18218-2018 identification and grading: every expected value below is hand-calculated."""

from __future__ import annotations

import csv
import filecmp
from pathlib import Path
from typing import Any

import pytest

from pipelines.hazard.gb18218 import (
    REFERENCE_DIR,
    HazardInputError,
    alpha_for_residents,
    grade_unit,
    level_for_r,
    load_reference,
    match_named_substance,
)

SHARED_REFERENCE = Path("/work/shared/reference")


def substance(
    name: str,
    design: Any,
    actual: Any = None,
    *,
    cas_no: str | None = None,
    categories: list[str] | None = None,
) -> dict[str, Any]:
    """Return one input substance; actual defaults to the design quantity."""
    row: dict[str, Any] = {
        "name": name,
        "design_max_t": design,
        "actual_t": design if actual is None else actual,
    }
    if cas_no is not None:
        row["cas_no"] = cas_no
    if categories is not None:
        row["hazard_categories"] = categories
    return row


def unit(*substances: dict[str, Any], residents: int = 0, unit_type: str = "storage") -> dict:
    """Return a unit input around the given substances."""
    return {
        "unit_id": "U-1",
        "unit_type": unit_type,
        "residents_within_500m": residents,
        "substances": list(substances),
    }


def only(result: dict) -> dict:
    """Return the single substance row of a one-substance result."""
    (row,) = result["substances"]
    return row


# --- identification: S = Σ q_design / Q ---------------------------------------------------------


def test_single_substance_at_exactly_q_is_a_major_hazard() -> None:
    """GIVEN 5 t of chlorine (Q 5) WHEN graded THEN S = 1 is a major hazard source."""
    result = grade_unit(unit(substance("氯", 5)))

    assert result["s"] == 1.0
    assert result["is_major_hazard"] is True
    # α 0.5 (0 residents) × β 4 × 5/5 = 2 → 四级
    assert (result["r"], result["level"], result["level_zh"]) == (2.0, 4, "四级")


def test_single_substance_just_below_q_is_not_a_major_hazard() -> None:
    """GIVEN 4.999 t of chlorine (Q 5) WHEN graded THEN S = 0.9998 and r/level are null."""
    result = grade_unit(unit(substance("氯", 4.999)))

    assert result["s"] == 0.9998
    assert result["is_major_hazard"] is False
    assert (result["r"], result["level"], result["level_zh"]) == (None, None, None)


def test_mixed_substances_reach_s_exactly_one_without_float_drift() -> None:
    """GIVEN ratios 0.7 + 0.2 + 0.1 (float sum 0.999…) WHEN graded THEN S is exactly 1, major."""
    result = grade_unit(
        unit(
            substance("甲醇", 350),  # Q 500 → 0.7, β 1 (W5.3)
            substance("苯", 10),  # Q 50 → 0.2, β 1 (W5.3)
            substance("氢", 0.5),  # Q 5 → 0.1, β 1.5 (W2)
        )
    )

    assert result["s"] == 1.0
    assert result["is_major_hazard"] is True
    # R = 0.5 × (0.7 + 0.2 + 1.5·0.1) = 0.525
    assert (result["r"], result["level"]) == (0.525, 4)
    assert [row["q_design_over_q"] for row in result["substances"]] == [0.7, 0.2, 0.1]
    assert [row["beta"] for row in result["substances"]] == [1.0, 1.0, 1.5]


def test_mixed_substances_below_one_are_not_major() -> None:
    """GIVEN ammonia 4/10 and LPG 20/50 WHEN graded THEN S = 0.8, not major."""
    result = grade_unit(unit(substance("液氨", 4), substance("液化石油气", 20)))

    assert result["s"] == 0.8
    assert result["is_major_hazard"] is False


def test_worked_example_tank_farm_chlorine_and_methanol() -> None:
    """GIVEN 40 t chlorine + 300 t methanol, 60 residents WHEN graded THEN S 8.6, R 48.9, 三级."""
    result = grade_unit(
        {
            "unit_id": "TF-CL-01",
            "unit_type": "storage",
            "residents_within_500m": 60,
            "substances": [
                substance("液氯", 40, cas_no="7782-50-5"),
                substance("甲醇", 300, cas_no="67-56-1", categories=["W5.3"]),
            ],
        }
    )

    assert result == {
        "unit_id": "TF-CL-01",
        "s": 8.6,  # 40/5 + 300/500
        "is_major_hazard": True,
        "r": 48.9,  # 1.5 × (4·8 + 1·0.6)
        "level": 3,
        "level_zh": "三级",
        "alpha": 1.5,
        "substances": [
            {
                "name": "液氯",
                "matched_as": "table1:#12 氯",
                "critical_quantity_t": 5.0,
                "beta": 4.0,
                "beta_source": "table3:氯",
                "q_design_over_q": 8.0,
                "q_actual_over_q": 8.0,
            },
            {
                "name": "甲醇",
                "matched_as": "table1:#65 甲醇",
                "critical_quantity_t": 500.0,
                "beta": 1.0,
                "beta_source": "table2:W5.3",
                "q_design_over_q": 0.6,
                "q_actual_over_q": 0.6,
            },
        ],
    }


def test_production_unit_is_graded_like_a_storage_unit() -> None:
    """GIVEN a production unit with 10 t ethylene (Q 50) WHEN graded THEN S = 0.2, not major."""
    result = grade_unit(unit(substance("乙烯", 10), unit_type="production"))

    assert (result["s"], result["is_major_hazard"]) == (0.2, False)


# --- grading: R = α · Σ β · q_actual / Q and Table 6 levels ---------------------------------------


@pytest.mark.parametrize(
    ("chlorine_t", "r", "level", "level_zh"),
    [
        (12.49, 9.992, 4, "四级"),  # 1.0 × 4 × 12.49/5
        (12.5, 10.0, 3, "三级"),
        (62.49, 49.992, 3, "三级"),
        (62.5, 50.0, 2, "二级"),
        (124.99, 99.992, 2, "二级"),
        (125, 100.0, 1, "一级"),
    ],
)
def test_level_boundaries_at_r_10_50_100(
    chlorine_t: float, r: float, level: int, level_zh: str
) -> None:
    """GIVEN chlorine (β 4, Q 5) with α 1.0 WHEN R hits 10/50/100 or just under THEN Table 6."""
    result = grade_unit(unit(substance("氯", chlorine_t), residents=10))

    assert result["alpha"] == 1.0
    assert (result["r"], result["level"], result["level_zh"]) == (r, level, level_zh)


def test_r_boundary_is_exact_when_a_float_sum_would_fall_short() -> None:
    """GIVEN α 1.0 and βq/Q of 9.7 + 0.2 + 0.1 (float sum 9.999…) WHEN graded THEN R 10, 三级."""
    result = grade_unit(
        unit(
            substance("甲醇", 4850),  # 4850/500 = 9.7, β 1
            substance("苯", 10),  # 10/50 = 0.2, β 1
            substance("乙醇", 50),  # 50/500 = 0.1, β 1
            residents=10,
        )
    )

    assert (result["r"], result["level"], result["level_zh"]) == (10.0, 3, "三级")


def test_level_is_decided_on_the_exact_r_before_rounding() -> None:
    """GIVEN R = 4 × 12.4999995/5 = 9.9999996 (α 1.0) WHEN graded THEN r shows 10.0 but 四级."""
    result = grade_unit(unit(substance("氯", 12.4999995), residents=10))

    assert (result["r"], result["level"], result["level_zh"]) == (10.0, 4, "四级")


def test_integral_float_resident_count_is_accepted() -> None:
    """GIVEN residents_within_500m 60.0 WHEN graded THEN α is 1.5 as for 60."""
    assert grade_unit(unit(substance("氯", 5), residents=60.0))["alpha"] == 1.5  # type: ignore[arg-type]


def test_level_for_r_matches_table6_boundaries() -> None:
    """GIVEN R values on and under each boundary WHEN looked up THEN Table 6 levels."""
    assert level_for_r(100) == (1, "一级")
    assert level_for_r(99.999999) == (2, "二级")
    assert level_for_r(50) == (2, "二级")
    assert level_for_r(49.999999) == (3, "三级")
    assert level_for_r(10) == (3, "三级")
    assert level_for_r(9.999999) == (4, "四级")
    assert level_for_r(0) == (4, "四级")


@pytest.mark.parametrize(
    ("residents", "alpha", "r"),
    [
        (0, 0.5, 2.0),  # R = α × 4 × 5/5 = 4α
        (1, 1.0, 4.0),
        (29, 1.0, 4.0),
        (30, 1.2, 4.8),
        (49, 1.2, 4.8),
        (50, 1.5, 6.0),
        (99, 1.5, 6.0),
        (100, 2.0, 8.0),
        (25000, 2.0, 8.0),
    ],
)
def test_alpha_bands_by_residents_within_500m(residents: int, alpha: float, r: float) -> None:
    """GIVEN 5 t chlorine and a resident count WHEN graded THEN α from Table 5 scales R."""
    result = grade_unit(unit(substance("氯", 5), residents=residents))

    assert result["alpha"] == alpha
    assert result["r"] == r
    assert alpha_for_residents(residents) == alpha


def test_s_uses_design_quantity_and_r_uses_actual_quantity() -> None:
    """GIVEN chlorine design 10 t, actual 2.5 t, α 1 WHEN graded THEN S = 2, R = 4 × 0.5 = 2."""
    result = grade_unit(unit(substance("氯", 10, 2.5), residents=10))

    row = only(result)
    assert (row["q_design_over_q"], row["q_actual_over_q"]) == (2.0, 0.5)
    assert (result["s"], result["is_major_hazard"], result["r"]) == (2.0, True, 2.0)


def test_large_actual_quantity_does_not_make_a_unit_major() -> None:
    """GIVEN chlorine design 4 t but actual 100 t WHEN graded THEN S = 0.8 and no R."""
    result = grade_unit(unit(substance("氯", 4, 100)))

    assert (result["s"], result["is_major_hazard"], result["r"]) == (0.8, False, None)
    assert only(result)["q_actual_over_q"] == 20.0


def test_outputs_are_rounded_to_six_decimals() -> None:
    """GIVEN phosgene (Q 0.3, β 20) design 0.3 t, actual 0.1 t WHEN graded THEN R = 10/3 rounded."""
    result = grade_unit(unit(substance("光气", 0.3, 0.1)))

    row = only(result)
    assert row["q_actual_over_q"] == 0.333333
    # R = 0.5 × 20 × 1/3 = 3.333…
    assert (result["s"], result["r"], result["level"]) == (1.0, 3.333333, 4)


# --- matching against Table 1 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cas_no", "matched_as", "q"),
    [
        ("Chlorine", "7782-50-5", "table1:#12 氯", 5.0),  # by CAS
        ("氯", None, "table1:#12 氯", 5.0),  # by name_zh
        ("氯气", None, "table1:#12 氯", 5.0),  # by alias (；-separated)
        (" 液 氯 ", None, "table1:#12 氯", 5.0),  # whitespace ignored
        ("光气", None, "table1:#6 碳酰氯", 0.3),
        ("胂", None, "table1:#14 砷化氢", 1.0),  # alias separated by 、 in the CSV
        ("甲醛(含量>90%)", None, "table1:#8 甲醛（含量＞90%)", 5.0),  # half-width = full-width
        ("propane", "74-98-6", "table1:#52 液化石油气（含丙烷、丁烷及其混合物）", 50.0),
        ("天然气", None, "table1:#49 甲烷，天然气", 50.0),  # supplementary identifier
        ("环氧氯丙烷", None, "table1:#21 1-氯-2,3-环氧丙烷", 20.0),
    ],
)
def test_table1_matching_by_cas_name_and_alias(
    name: str, cas_no: str | None, matched_as: str, q: float
) -> None:
    """GIVEN a Table 1 substance identified by CAS, name or alias WHEN graded THEN its row's Q."""
    row = only(grade_unit(unit(substance(name, 1, cas_no=cas_no))))

    assert (row["matched_as"], row["critical_quantity_t"]) == (matched_as, q)


def test_cas_match_wins_over_the_name() -> None:
    """GIVEN name 甲醇 with chlorine's CAS WHEN matched THEN the CAS row (氯) is used."""
    assert match_named_substance("甲醇", "7782-50-5").seq == 12


def test_unknown_cas_falls_back_to_the_name() -> None:
    """GIVEN 甲醇 with a valid CAS that is not in Table 1 WHEN matched THEN the name row."""
    assert match_named_substance("甲醇", "7732-18-5").seq == 65


def test_shared_cas_is_resolved_by_the_printed_name() -> None:
    """GIVEN nitrocellulose CAS 9004-70-0 and the #39 name WHEN matched THEN row #39 (Q 10)."""
    row = only(grade_unit(unit(substance("硝化纤维素（含乙醇≥25%)", 20, cas_no="9004-70-0"))))

    assert (row["matched_as"], row["critical_quantity_t"]) == (
        "table1:#39 硝化纤维素（含乙醇≥25%)",
        10.0,
    )
    assert (row["beta"], row["beta_source"]) == (1.0, "table2:W10")


def test_shared_cas_with_an_ambiguous_alias_is_rejected() -> None:
    """GIVEN CAS 9004-70-0 named 硝化棉 (alias of #37-41) WHEN graded THEN a one-line error."""
    with pytest.raises(HazardInputError) as caught:
        grade_unit(unit(substance("硝化棉", 20, cas_no="9004-70-0")))

    assert str(caught.value) == (
        "substances[0] '硝化棉': CAS 9004-70-0 with name '硝化棉' matches several GB 18218 "
        "Table 1 rows (#37, #38, #39, #40, #41); give the row's name_zh as printed"
    )


def test_ambiguous_alias_without_cas_is_rejected() -> None:
    """GIVEN only the name 硝化棉 WHEN graded THEN a one-line error listing the rows."""
    with pytest.raises(HazardInputError) as caught:
        grade_unit(unit(substance("硝化棉", 20)))

    assert str(caught.value) == (
        "substances[0] '硝化棉': name '硝化棉' matches several GB 18218 Table 1 rows "
        "(#37, #38, #39, #40, #41); give the row's name_zh as printed"
    )


def test_carbon_monoxide_by_cas_matches_the_coal_gas_row() -> None:
    """GIVEN CO by CAS 630-08-0 WHEN graded THEN row #13 (Q 20) with Table 3 β 2."""
    row = only(grade_unit(unit(substance("CO", 20, cas_no="630-08-0"))))

    assert (row["matched_as"], row["critical_quantity_t"]) == (
        "table1:#13 煤气(CO,CO和H2、CH4的混合物等）",
        20.0,
    )
    assert (row["beta"], row["beta_source"]) == (2.0, "table3:一氧化碳")


# --- substances not in Table 1: Table 2 categories ------------------------------------------------


def test_unlisted_substance_takes_the_lowest_q_of_its_categories() -> None:
    """GIVEN an unlisted liquid W5.4 (Q 5000) + J5 (Q 500) WHEN graded THEN Q 500 from J5."""
    row = only(grade_unit(unit(substance("某溶剂", 250, categories=["W5.4", "J5"]))))

    assert row["matched_as"] == "table2:J5"
    assert (row["critical_quantity_t"], row["beta"], row["q_design_over_q"]) == (500.0, 1.0, 0.5)


def test_beta_follows_the_lowest_q_category_not_the_largest_beta() -> None:
    """GIVEN J3 (Q 50, β 2) + W2 (Q 10, β 1.5) WHEN graded THEN Q 10 and β 1.5 from W2."""
    row = only(grade_unit(unit(substance("某气体", 5, categories=["J3", "W2"]))))

    assert (row["matched_as"], row["critical_quantity_t"], row["beta"]) == ("table2:W2", 10.0, 1.5)


@pytest.mark.parametrize(
    ("categories", "symbol", "q", "beta"),
    [
        (["W5.1", "W1.2"], "W1.2", 10.0, 2.0),  # both Q 10: β 1.5 vs 2 → 2
        (["W1.2", "W5.1"], "W1.2", 10.0, 2.0),  # order does not matter
        (["J2", "J3"], "J3", 50.0, 2.0),  # both Q 50: β 1 vs 2 → 2
    ],
)
def test_equal_lowest_q_takes_the_larger_beta(
    categories: list[str], symbol: str, q: float, beta: float
) -> None:
    """GIVEN two categories with the same lowest Q WHEN graded THEN the larger β wins the tie."""
    row = only(grade_unit(unit(substance("某物质", 1, categories=categories))))

    assert (row["matched_as"], row["critical_quantity_t"], row["beta"]) == (
        f"table2:{symbol}",
        q,
        beta,
    )


def test_category_symbols_are_case_and_width_insensitive() -> None:
    """GIVEN 'w5.1' and a ；-separated string WHEN graded THEN the symbols are recognised."""
    lower = only(grade_unit(unit(substance("某溶剂", 1, categories=["w5.1"]))))
    text = only(grade_unit(unit({**substance("某溶剂", 1), "hazard_categories": "W5.4；W5.1"})))

    assert lower["matched_as"] == text["matched_as"] == "table2:W5.1"


# --- β for Table 1 substances ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "beta"),
    [
        ("一氧化碳", 2.0),
        ("二氧化硫", 2.0),
        ("氨", 2.0),
        ("环氧乙烷", 2.0),
        ("氯化氢", 3.0),
        ("溴甲烷", 3.0),
        ("氯", 4.0),
        ("硫化氢", 5.0),
        ("氟化氢", 5.0),
        ("二氧化氮", 10.0),
        ("氰化氢", 10.0),
        ("碳酰氯", 20.0),
        ("磷化氢", 20.0),
        ("异氰酸甲酯", 20.0),
    ],
)
def test_toxic_gas_beta_comes_from_table3(name: str, beta: float) -> None:
    """GIVEN one of the 14 named toxic gases WHEN graded THEN β is its Table 3 value."""
    row = only(grade_unit(unit(substance(name, 0.1))))

    assert row["beta"] == beta
    assert row["beta_source"] == f"table3:{name}"
    assert row["matched_as"].startswith("table1:#")


def test_table3_beta_wins_over_given_categories() -> None:
    """GIVEN ammonia with hazard_categories W2 (β 1.5) WHEN graded THEN Table 3 β 2 is used."""
    row = only(grade_unit(unit(substance("液氨", 1, cas_no="7664-41-7", categories=["W2"]))))

    assert (row["beta"], row["beta_source"]) == (2.0, "table3:氨")


def test_table1_substance_beta_from_given_categories() -> None:
    """GIVEN benzene (Q 50) declared W5.1 WHEN graded THEN Q stays 50 and β is 1.5."""
    row = only(grade_unit(unit(substance("苯", 50, categories=["W5.1"]))))

    assert (row["matched_as"], row["critical_quantity_t"]) == ("table1:#57 苯", 50.0)
    assert (row["beta"], row["beta_source"]) == (1.5, "table2:W5.1")


@pytest.mark.parametrize(
    ("name", "beta", "source"),
    [
        ("甲醇", 1.0, "table2:W5.3"),
        ("液化石油气", 1.5, "table2:W2"),
        ("乙醚", 1.5, "table2:W5.1"),
        ("TNT", 2.0, "table2:W1.1"),
        ("氟", 4.0, "table2:J1"),
        ("三氧化硫", 1.0, "default"),  # no Table 2 category at all
    ],
)
def test_table1_substance_beta_from_the_reference_mapping(
    name: str, beta: float, source: str
) -> None:
    """GIVEN a Table 1 substance outside Table 3 with no categories WHEN graded THEN mapping β."""
    row = only(grade_unit(unit(substance(name, 1))))

    assert (row["beta"], row["beta_source"]) == (beta, source)


# --- bad input ------------------------------------------------------------------------------------


def _base() -> dict:
    return unit(substance("氯", 5), residents=10)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda u: u["substances"][0].update(design_max_t=-1),
            "substances[0] '氯': design_max_t must be >= 0, got -1",
        ),
        (
            lambda u: u["substances"][0].update(actual_t=-0.5),
            "substances[0] '氯': actual_t must be >= 0, got -0.5",
        ),
        (
            lambda u: u["substances"][0].pop("design_max_t"),
            "substances[0] '氯': design_max_t is missing",
        ),
        (
            lambda u: u["substances"][0].pop("actual_t"),
            "substances[0] '氯': actual_t is missing",
        ),
        (
            lambda u: u["substances"][0].update(design_max_t="40"),
            "substances[0] '氯': design_max_t must be a number, got '40'",
        ),
        (
            lambda u: u["substances"].append(substance("某溶剂", 1)),
            "substances[1] '某溶剂': not in GB 18218 Table 1 and no hazard_categories given",
        ),
        (
            lambda u: u["substances"].append(substance("某溶剂", 1, categories=["W12"])),
            "substances[1] '某溶剂': unknown hazard category 'W12' (not a GB 18218 Table 2 symbol)",
        ),
        (
            lambda u: u["substances"][0].update(hazard_categories=["H225"]),
            "substances[0] '氯': unknown hazard category 'H225' (not a GB 18218 Table 2 symbol)",
        ),
        (
            lambda u: u["substances"][0].update(cas_no="7782-50-6"),
            "substances[0] '氯': cas_no '7782-50-6' is not a valid CAS number",
        ),
        (
            lambda u: u["substances"][0].pop("name"),
            "substances[0]: name is missing",
        ),
        (
            lambda u: u.update(unit_type="tank"),
            'unit_type must be "production" or "storage", got \'tank\'',
        ),
        (
            lambda u: u.pop("unit_type"),
            'unit_type is missing (expected "production" or "storage")',
        ),
        (
            lambda u: u.update(residents_within_500m=-3),
            "residents_within_500m must be an integer >= 0, got -3",
        ),
        (
            lambda u: u.update(residents_within_500m=12.5),
            "residents_within_500m must be an integer >= 0, got 12.5",
        ),
        (
            lambda u: u.pop("residents_within_500m"),
            "residents_within_500m is missing",
        ),
        (lambda u: u.update(substances=[]), "substances must be a non-empty list"),
        (lambda u: u.pop("substances"), "substances must be a non-empty list"),
        (lambda u: u.pop("unit_id"), "unit_id is missing"),
    ],
)
def test_bad_input_raises_a_one_line_error(mutate: Any, message: str) -> None:
    """GIVEN a unit with one defect WHEN graded THEN HazardInputError names the field."""
    bad = _base()
    mutate(bad)

    with pytest.raises(HazardInputError) as caught:
        grade_unit(bad)

    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_non_object_unit_is_rejected() -> None:
    """GIVEN a JSON array instead of a unit object WHEN graded THEN a one-line error."""
    with pytest.raises(HazardInputError, match="^unit must be a JSON object$"):
        grade_unit([])  # type: ignore[arg-type]


# --- reference data -------------------------------------------------------------------------------


REFERENCE_COPIES = [
    "gb18218_2018_table1_named_substances.csv",
    "gb18218_2018_table2_hazard_categories.csv",
    "gb18218_2018_table3_toxic_gas_beta.csv",
    "gb18218_2018_table5_alpha.csv",
    "gb18218_2018_table6_levels.csv",
]


@pytest.mark.skipif(not SHARED_REFERENCE.is_dir(), reason="shared reference folder not mounted")
@pytest.mark.parametrize("name", REFERENCE_COPIES)
def test_reference_csvs_are_byte_identical_copies(name: str) -> None:
    """GIVEN the shared GB 18218 CSVs WHEN compared THEN the project copies are byte-identical."""
    assert filecmp.cmp(REFERENCE_DIR / name, SHARED_REFERENCE / name, shallow=False)


def test_reference_tables_have_the_standard_row_counts() -> None:
    """GIVEN the reference data WHEN loaded THEN 85 / 24 / 14 / 5 / 4 rows (Tables 1/2/3/5/6)."""
    ref = load_reference()

    assert len(ref.named_substances) == 85
    assert len(ref.categories) == 24
    assert len(ref.toxic_gases) == 14
    assert len(ref.alpha_bands) == 5
    assert len(ref.levels) == 4
    assert load_reference() is ref  # read once


def test_hazard_category_mapping_covers_every_table1_row_with_valid_symbols() -> None:
    """GIVEN substance_hazard_categories.csv WHEN read THEN one row per Table 1 row, same ids."""
    with (REFERENCE_DIR / "substance_hazard_categories.csv").open(encoding="utf-8") as handle:
        mapping = list(csv.DictReader(handle))
    with (REFERENCE_DIR / REFERENCE_COPIES[0]).open(encoding="utf-8") as handle:
        table1 = list(csv.DictReader(handle))
    symbols = set(load_reference().categories)

    assert list(mapping[0]) == ["seq", "name_zh", "cas_no", "hazard_categories", "note"]
    assert [(m["seq"], m["name_zh"], m["cas_no"]) for m in mapping] == [
        (t["seq"], t["name_zh"], t["cas_no"]) for t in table1
    ]
    for row in mapping:
        categories = [s for s in row["hazard_categories"].split(";") if s]
        assert set(categories) <= symbols, row["seq"]
        assert row["note"], row["seq"]
        # Only 三氧化硫 (#26) has no Table 2 category at all.
        assert bool(categories) == (row["seq"] != "26"), row["seq"]


def test_project_mapping_examples_from_the_brief() -> None:
    """GIVEN the mapping WHEN looked up THEN methanol is W5.3 and LPG is W2."""
    by_seq = {s.seq: s for s in load_reference().named_substances}

    assert by_seq[65].hazard_categories == ("W5.3",)
    assert by_seq[52].hazard_categories == ("W2",)
    assert by_seq[12].hazard_categories == ("W4", "J3")


def test_every_table3_gas_resolves_to_a_table1_row_with_its_cas() -> None:
    """GIVEN each Table 3 gas WHEN matched by name THEN the Table 1 row carries the same CAS."""
    for gas in load_reference().toxic_gases:
        named = match_named_substance(gas.name_zh)
        assert named is not None, gas.name_zh
        assert gas.cas_no in named.cas_numbers, gas.name_zh
