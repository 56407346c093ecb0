"""GB 18218-2018 major hazard source identification and grading (危险化学品重大危险源辨识与分级).

The one implementation used by the CLI, the API, the lake's major hazard register and the risk
job. Arithmetic is exact (``fractions.Fraction`` built from the decimal values given), so the
thresholds S = 1 and R = 10 / 50 / 100 are compared without binary floating-point error; only the
output is rounded (6 decimals, half to even). See ``docs/gb18218.md`` for the method and decisions.
"""

from __future__ import annotations

import csv
import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference" / "gb18218"
STANDARD = "GB 18218-2018"
UNIT_TYPES = ("production", "storage")  # 生产单元, 储存单元
OUTPUT_DECIMALS = 6
# β for a Table 1 substance outside Table 3 with no Table 2 category at all (e.g. 三氧化硫):
# the "other substances" value of the 2009 edition and the smallest β in Table 2.
DEFAULT_BETA = Fraction(1)

_CAS_PATTERN = re.compile(r"\d{2,7}-\d{2}-\d")
_ALIAS_SEPARATORS = re.compile(r"[;；、]")
_CATEGORY_SEPARATORS = re.compile(r"[;；,，\s]+")


class HazardInputError(ValueError):
    """Bad unit input; the message is one line naming the substance or field at fault."""


@dataclass(frozen=True)
class HazardCategory:
    """One row of Table 2: a hazard category symbol (危险性类别) with its Q and β."""

    symbol: str
    hazard_class_zh: str
    description_zh: str
    critical_quantity_t: Fraction
    beta: Fraction
    order: int


@dataclass(frozen=True)
class NamedSubstance:
    """One row of Table 1 (危险化学品名称及其临界量) with its identifiers and project categories."""

    seq: int
    name_zh: str
    critical_quantity_t: Fraction
    cas_numbers: frozenset[str]
    primary_names: frozenset[str]
    aliases: frozenset[str]
    hazard_categories: tuple[str, ...]

    @property
    def label(self) -> str:
        """Return the `matched_as` label, e.g. ``table1:#12 氯``."""
        return f"table1:#{self.seq} {self.name_zh}"


@dataclass(frozen=True)
class ToxicGas:
    """One row of Table 3: a named toxic gas (毒性气体) and its correction factor β."""

    name_zh: str
    cas_no: str
    beta: Fraction


@dataclass(frozen=True)
class AlphaBand:
    """One row of Table 5: residents within 500 m → correction factor α."""

    population_min: int
    population_max: int | None
    alpha: Fraction


@dataclass(frozen=True)
class GradeLevel:
    """One row of Table 6: a major hazard source level (重大危险源级别) and its R range."""

    level: int
    level_zh: str
    r_min_inclusive: Fraction | None
    r_max_exclusive: Fraction | None


@dataclass(frozen=True)
class ReferenceData:
    """GB 18218-2018 Tables 1, 2, 3, 5 and 6 with the project's lookup indexes."""

    named_substances: tuple[NamedSubstance, ...]
    categories: Mapping[str, HazardCategory]
    toxic_gases: tuple[ToxicGas, ...]
    alpha_bands: tuple[AlphaBand, ...]
    levels: tuple[GradeLevel, ...]
    by_cas: Mapping[str, tuple[NamedSubstance, ...]]
    by_primary_name: Mapping[str, tuple[NamedSubstance, ...]]
    by_alias: Mapping[str, tuple[NamedSubstance, ...]]


def normalise_name(text: str) -> str:
    """Return a substance name folded for matching: NFKC width folding, no whitespace, casefold."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def is_valid_cas(cas_no: str) -> bool:
    """Return True when `cas_no` has the CAS Registry Number shape and check digit."""
    if not _CAS_PATTERN.fullmatch(cas_no):
        return False
    digits = cas_no.replace("-", "")
    total = sum(int(d) * weight for weight, d in enumerate(reversed(digits[:-1]), start=1))
    return total % 10 == int(digits[-1])


def _read_csv(name: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _split_names(text: str) -> set[str]:
    return {normalise_name(part) for part in _ALIAS_SEPARATORS.split(text) if part.strip()}


def _index(
    substances: Iterable[NamedSubstance], keys: str
) -> Mapping[str, tuple[NamedSubstance, ...]]:
    index: dict[str, list[NamedSubstance]] = {}
    for substance in substances:
        for key in getattr(substance, keys):
            index.setdefault(key, []).append(substance)
    return MappingProxyType({key: tuple(rows) for key, rows in index.items()})


@functools.cache
def load_reference() -> ReferenceData:
    """Return the GB 18218-2018 reference tables, read once from ``pipelines/reference/gb18218``."""
    categories = {
        row["symbol"]: HazardCategory(
            symbol=row["symbol"],
            hazard_class_zh=row["hazard_class_zh"],
            description_zh=row["description_zh"],
            critical_quantity_t=Fraction(row["critical_quantity_t"]),
            beta=Fraction(row["beta"]),
            order=order,
        )
        for order, row in enumerate(_read_csv("gb18218_2018_table2_hazard_categories.csv"))
    }
    mapping = {
        int(row["seq"]): tuple(s for s in row["hazard_categories"].split(";") if s)
        for row in _read_csv("substance_hazard_categories.csv")
    }
    supplements = {
        int(row["seq"]): row for row in _read_csv("table1_supplementary_identifiers.csv")
    }
    named = []
    for row in _read_csv("gb18218_2018_table1_named_substances.csv"):
        seq = int(row["seq"])
        extra = supplements.get(seq, {})
        named.append(
            NamedSubstance(
                seq=seq,
                name_zh=row["name_zh"],
                critical_quantity_t=Fraction(row["critical_quantity_t"]),
                cas_numbers=frozenset(
                    _CAS_PATTERN.findall(row["cas_no"] + " " + extra.get("extra_cas_no", ""))
                ),
                primary_names=frozenset({normalise_name(row["name_zh"])}),
                aliases=frozenset(
                    _split_names(row["aliases_zh"]) | _split_names(extra.get("extra_names_zh", ""))
                ),
                hazard_categories=mapping.get(seq, ()),
            )
        )
    toxic_gases = tuple(
        ToxicGas(name_zh=row["name_zh"], cas_no=row["cas_no"], beta=Fraction(row["beta"]))
        for row in _read_csv("gb18218_2018_table3_toxic_gas_beta.csv")
    )
    alpha_bands = tuple(
        AlphaBand(
            population_min=int(row["population_min"]),
            population_max=int(row["population_max"]) if row["population_max"] else None,
            alpha=Fraction(row["alpha"]),
        )
        for row in _read_csv("gb18218_2018_table5_alpha.csv")
    )
    levels = tuple(
        GradeLevel(
            level=int(row["level"]),
            level_zh=row["level_zh"],
            r_min_inclusive=Fraction(row["r_min_inclusive"]) if row["r_min_inclusive"] else None,
            r_max_exclusive=Fraction(row["r_max_exclusive"]) if row["r_max_exclusive"] else None,
        )
        for row in _read_csv("gb18218_2018_table6_levels.csv")
    )
    return ReferenceData(
        named_substances=tuple(named),
        categories=MappingProxyType(categories),
        toxic_gases=toxic_gases,
        alpha_bands=alpha_bands,
        levels=levels,
        by_cas=_index(named, "cas_numbers"),
        by_primary_name=_index(named, "primary_names"),
        by_alias=_index(named, "aliases"),
    )


def _single(candidates: tuple[NamedSubstance, ...], what: str) -> NamedSubstance:
    if len(candidates) == 1:
        return candidates[0]
    rows = ", ".join(f"#{c.seq}" for c in candidates)
    raise HazardInputError(
        f"{what} matches several GB 18218 Table 1 rows ({rows}); give the row's name_zh as printed"
    )


def match_named_substance(name: str, cas_no: str | None = None) -> NamedSubstance | None:
    """Return the Table 1 row for a substance (CAS first, then name_zh, then alias), or None.

    Raises HazardInputError when the identifiers fit several rows and the name cannot choose.
    """
    ref = load_reference()
    key = normalise_name(name)
    if cas_no:
        by_cas = ref.by_cas.get(cas_no, ())
        if len(by_cas) == 1:
            return by_cas[0]
        if by_cas:
            # Shared CAS (硝化纤维素 #37-42, 硝酸铵 #43-44): the name picks the row.
            for index in (ref.by_primary_name, ref.by_alias):
                narrowed = tuple(c for c in by_cas if c in index.get(key, ()))
                if narrowed:
                    return _single(narrowed, f"CAS {cas_no} with name {name!r}")
            return _single(by_cas, f"CAS {cas_no}")
    for index in (ref.by_primary_name, ref.by_alias):
        candidates = index.get(key, ())
        if candidates:
            return _single(candidates, f"name {name!r}")
    return None


def toxic_gas_for(
    named: NamedSubstance | None, name: str, cas_no: str | None = None
) -> ToxicGas | None:
    """Return the Table 3 toxic gas a substance is, matched via its Table 1 row if it has one."""
    ref = load_reference()
    if named is not None:
        cas_numbers: Iterable[str] = named.cas_numbers
        names = named.primary_names | named.aliases
    else:
        cas_numbers = {cas_no} if cas_no else set()
        names = frozenset({normalise_name(name)})
    for gas in ref.toxic_gases:
        if gas.cas_no in cas_numbers or normalise_name(gas.name_zh) in names:
            return gas
    return None


def governing_category(symbols: Iterable[str]) -> HazardCategory:
    """Return the category giving Q and β: the lowest Q, ties broken by the larger β."""
    ref = load_reference()
    return min(
        (ref.categories[symbol] for symbol in symbols),
        key=lambda c: (c.critical_quantity_t, -c.beta, c.order),
    )


def _alpha_band(residents: int) -> AlphaBand:
    for band in load_reference().alpha_bands:
        if residents >= band.population_min and (
            band.population_max is None or residents <= band.population_max
        ):
            return band
    raise HazardInputError(f"residents_within_500m {residents} is outside GB 18218 Table 5")


def alpha_for_residents(residents: int) -> float:
    """Return α (Table 5) for the number of residents within 500 m of the plant boundary."""
    return float(_alpha_band(residents).alpha)


def _level(r: Fraction) -> GradeLevel:
    for level in load_reference().levels:
        if (level.r_min_inclusive is None or r >= level.r_min_inclusive) and (
            level.r_max_exclusive is None or r < level.r_max_exclusive
        ):
            return level
    raise ValueError(f"R {r} falls in no GB 18218 Table 6 band")  # unreachable with Table 6


def level_for_r(r: float) -> tuple[int, str]:
    """Return (level, level_zh) from Table 6 for a grading value R, e.g. (3, "三级")."""
    exact = _exact(r)
    if exact is None:
        raise HazardInputError(f"R must be a finite number, got {r!r}")
    level = _level(exact)
    return level.level, level.level_zh


def _exact(value: object) -> Fraction | None:
    """Return the exact decimal value of a JSON number, or None when it is not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Fraction):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return Fraction(value) if value.is_finite() else None
    return None


def _round(value: Fraction) -> float:
    return float(round(value, OUTPUT_DECIMALS))


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _check_unit_fields(unit: Mapping[str, Any]) -> int:
    if unit.get("unit_id") in (None, ""):
        raise HazardInputError("unit_id is missing")
    unit_type = unit.get("unit_type")
    if unit_type is None:
        raise HazardInputError('unit_type is missing (expected "production" or "storage")')
    if unit_type not in UNIT_TYPES:
        raise HazardInputError(
            f'unit_type must be "production" or "storage", got {_one_line(repr(unit_type))}'
        )
    residents = unit.get("residents_within_500m")
    if residents is None:
        raise HazardInputError("residents_within_500m is missing")
    if isinstance(residents, float) and residents.is_integer():
        residents = int(residents)
    if isinstance(residents, bool) or not isinstance(residents, int) or residents < 0:
        raise HazardInputError(
            f"residents_within_500m must be an integer >= 0, got {_one_line(repr(residents))}"
        )
    return residents


def _quantity(substance: Mapping[str, Any], field: str, label: str) -> Fraction:
    value = substance.get(field)
    if value is None:
        raise HazardInputError(f"{label}: {field} is missing")
    exact = _exact(value)
    if exact is None:
        raise HazardInputError(f"{label}: {field} must be a number, got {_one_line(repr(value))}")
    if exact < 0:
        raise HazardInputError(f"{label}: {field} must be >= 0, got {_one_line(value)}")
    return exact


def _categories(substance: Mapping[str, Any], label: str) -> tuple[str, ...]:
    raw = substance.get("hazard_categories")
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = _CATEGORY_SEPARATORS.split(raw)
    if not isinstance(raw, list | tuple) or not all(isinstance(s, str) for s in raw):
        raise HazardInputError(f"{label}: hazard_categories must be a list of Table 2 symbols")
    symbols = []
    categories = load_reference().categories
    for text in raw:
        symbol = unicodedata.normalize("NFKC", text).strip().upper()
        if not symbol:
            continue
        if symbol not in categories:
            raise HazardInputError(
                f"{label}: unknown hazard category {_one_line(repr(text))} "
                f"(not a GB 18218 Table 2 symbol)"
            )
        symbols.append(symbol)
    return tuple(symbols)


def _cas(substance: Mapping[str, Any], label: str) -> str | None:
    raw = substance.get("cas_no")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    cas_no = unicodedata.normalize("NFKC", str(raw)).strip()
    if not is_valid_cas(cas_no):
        raise HazardInputError(f"{label}: cas_no {_one_line(repr(raw))} is not a valid CAS number")
    return cas_no


def _grade_substance(index: int, substance: object) -> dict[str, Any]:
    """Return one substance's Q, β and ratios, with exact Fractions under the ``_exact`` key."""
    if not isinstance(substance, Mapping):
        raise HazardInputError(f"substances[{index}] must be an object")
    name = substance.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HazardInputError(f"substances[{index}]: name is missing")
    label = f"substances[{index}] {_one_line(name)!r}"
    cas_no = _cas(substance, label)
    symbols = _categories(substance, label)
    design = _quantity(substance, "design_max_t", label)
    actual = _quantity(substance, "actual_t", label)

    try:
        named = match_named_substance(name, cas_no)
    except HazardInputError as exc:
        raise HazardInputError(f"{label}: {exc}") from None
    if named is not None:
        q = named.critical_quantity_t
        matched_as = named.label
    elif symbols:
        category = governing_category(symbols)
        q = category.critical_quantity_t
        matched_as = f"table2:{category.symbol}"
    else:
        raise HazardInputError(f"{label}: not in GB 18218 Table 1 and no hazard_categories given")

    gas = toxic_gas_for(named, name, cas_no)
    beta_symbols = symbols or (named.hazard_categories if named is not None else ())
    if gas is not None:
        beta, beta_source = gas.beta, f"table3:{gas.name_zh}"
    elif beta_symbols:
        category = governing_category(beta_symbols)
        beta, beta_source = category.beta, f"table2:{category.symbol}"
    else:
        beta, beta_source = DEFAULT_BETA, "default"

    return {
        "name": name,
        "matched_as": matched_as,
        "critical_quantity_t": float(q),
        "beta": float(beta),
        "beta_source": beta_source,
        "q_design_over_q": _round(design / q),
        "q_actual_over_q": _round(actual / q),
        "_exact": (design / q, beta * actual / q),
    }


def grade_unit(unit: dict) -> dict:
    """Identify a production/storage unit as a major hazard source and grade it (GB 18218-2018).

    Returns ``{unit_id, s, is_major_hazard, r, level, level_zh, alpha, substances[]}``; ``r``,
    ``level`` and ``level_zh`` are None unless S >= 1. Raises HazardInputError on bad input.
    """
    if not isinstance(unit, Mapping):
        raise HazardInputError("unit must be a JSON object")
    residents = _check_unit_fields(unit)
    substances = unit.get("substances")
    if not isinstance(substances, list) or not substances:
        raise HazardInputError("substances must be a non-empty list")

    graded = [_grade_substance(i, substance) for i, substance in enumerate(substances)]
    exact = [row.pop("_exact") for row in graded]
    s = sum((design_ratio for design_ratio, _ in exact), Fraction(0))
    alpha = _alpha_band(residents).alpha
    is_major = s >= 1
    r = alpha * sum((weighted for _, weighted in exact), Fraction(0)) if is_major else None
    level = _level(r) if r is not None else None
    return {
        "unit_id": unit["unit_id"],
        "s": _round(s),
        "is_major_hazard": is_major,
        "r": _round(r) if r is not None else None,
        "level": level.level if level else None,
        "level_zh": level.level_zh if level else None,
        "alpha": float(alpha),
        "substances": graded,
    }
