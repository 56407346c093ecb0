"""Major hazard sources (重大危险源): GB 18218-2018 identification and grading."""

from pipelines.hazard.gb18218 import (
    HazardInputError,
    alpha_for_residents,
    grade_unit,
    level_for_r,
    load_reference,
    match_named_substance,
)

__all__ = [
    "HazardInputError",
    "alpha_for_residents",
    "grade_unit",
    "level_for_r",
    "load_reference",
    "match_named_substance",
]
