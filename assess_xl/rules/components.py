"""Scoring component kinds.

Each kind is a small vectorised function over one indicator column (a float Series indexed by
district, NaN for blank) and a template that explains its effect in Chinese. Kinds know nothing of
files or of any particular year's targets; the rulebook gives them their numbers.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # numpy is imported by the functions that score, not by the reader children that load kinds
    import numpy.typing as npt

# Tolerance for comparisons so that binary floating point never flips a threshold (0.8 - 0.75 is
# 0.05000000000000004 in binary; it must still be exactly one 5-point step).
EPS = 1e-9  # one tolerance on measured values, the same in every kind
if TYPE_CHECKING:
    Values = npt.NDArray[Any]  # one value per district (float; bool where a gate says whether it applies)


def fmt_number(x: float) -> str:
    """A number as a person writes it: 2, 0.1, 1.67 (at most 2 decimals, no trailing zeros)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    text = f"{round_half_up_scalar(x):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_percent(x: float) -> str:
    text = f"{round(x * 100, 4):.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def round_half_up_scalar(x: float) -> float:
    return math.floor(abs(x) * 100 + 0.5 + 1e-6) / 100 * (1 if x >= 0 else -1)


def parse_points(value: object) -> float:
    """Points may be written as a number or as a fraction such as "5/3"."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return float(value)
    return float(Fraction(str(value).strip()))


@dataclass(frozen=True)
class Indicator:
    code: str
    target: int
    department: str
    label: str
    type: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    options: tuple[str, ...] = ()
    blank_is_zero: bool = False

    def what_to_type(self) -> str:
        """The instruction a department reads beside the input cells, and problem messages repeat."""
        if self.type == "bool":
            return "“是”或“否”"
        if self.type == "choice":
            return "以下之一：" + "／".join(self.options)
        if self.type == "percent":
            return "百分数，如85%"
        upper = f"至{fmt_number(self.max)}" if self.max is not None else "及以上"
        lower = fmt_number(self.min or 0)
        if self.type == "count":
            return f"{lower}{upper}的整数" + (f"（单位：{self.unit}）" if self.unit else "")
        if self.type == "amount":
            return f"{lower}{upper}的数字（单位：{self.unit or '万元'}）"
        noun = "扣分" if self.type == "deduction" else "得分"
        return f"{lower}{upper}之间的{noun}（可含小数）"

    def show(self, value: float) -> str:
        """A parsed value as the report shows it: 是, 2例, 85%, 预案不完善."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "（空）"
        if self.type == "bool":
            return "是" if value >= 0.5 else "否"
        if self.type == "choice":
            return self.options[int(value)]
        if self.type == "percent":
            return fmt_percent(value)
        return f"{fmt_number(value) if self.type != 'amount' else _fmt_amount(value)}{self.unit}"


def _fmt_amount(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Component:
    """One scoring rule applied to one indicator (and, for some kinds, a second one)."""

    kind: str
    indicator: str
    params: Any = field(default=None, hash=False, compare=False)  # the kind's parameter dataclass

    @property
    def spec(self) -> "Kind":
        return KINDS[self.kind]

    def uses(self) -> list[str]:
        extra = getattr(self.params, "relative_to", None)
        return [self.indicator] + ([extra] if extra else [])


# ---- the parameters each kind owns (adding a kind touches its dataclass and its functions only) ----

@dataclass(frozen=True)
class Award:
    points: float
    when: str = "是"


@dataclass(frozen=True)
class PerUnit:
    points: float
    block: float = 1.0
    free: float = 0.0
    limit: float | None = None


@dataclass(frozen=True)
class Ratio:
    points: float
    of: float = 1.0
    zero_below: float | None = None


@dataclass(frozen=True)
class Threshold:
    at: float
    points: float
    relative_to: str | None = None


@dataclass(frozen=True)
class ShortfallSteps:
    below: float
    step: float
    points: float


@dataclass(frozen=True)
class Option:
    points: tuple[float, ...]  # by the indicator's option position (the loader orders them)


@dataclass(frozen=True)
class Gate:
    zero_when: str


@dataclass(frozen=True)
class Entered:
    """Takes the value a department entered; no parameters."""


TEXT_PARAMETERS = frozenset({"when", "zero_when", "relative_to"})


@dataclass(frozen=True)
class Kind:
    """How one component kind validates, scores, explains and bounds itself."""

    name: str  # its Chinese name, meaning and example are in ruleterms.KINDS
    types: frozenset[str]
    params: type  # the frozen dataclass of its parameters
    score: Callable[..., Values]  # (params, x, other) -> array of points (x, other: float arrays over districts)
    explain: Callable[..., str]  # (params, indicator, value, points, other_value, bonus) -> str
    best: Callable[..., float]  # (params, indicator) -> float (math.inf if unbounded)
    is_gate: bool = False

    @property
    def required(self) -> frozenset[str]:
        return frozenset(f.name for f in fields(self.params) if f.default is MISSING)

    @property
    def optional(self) -> frozenset[str]:
        return frozenset(f.name for f in fields(self.params) if f.default is not MISSING)


def _award_score(p: Award, x: Values, other: Values | None) -> Values:
    import numpy as np
    hit = x >= 0.5 if p.when == "是" else x < 0.5
    return np.where(hit, p.points, 0.0)


def _award_explain(p: Award, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    answer = ind.show(value)
    if pts > 0:
        return f"{ind.label}：{answer}，得{fmt_number(pts)}分"
    if pts < 0:
        return f"{ind.label}：{answer}，扣{fmt_number(-pts)}分"
    if p.points > 0:
        return f"{ind.label}：{answer}，未得{fmt_number(p.points)}分"
    return ""


def _per_unit_units(p: PerUnit, x: Values) -> Values:
    import numpy as np
    return np.floor((np.maximum(x - p.free, 0) + EPS) / p.block)


def _per_unit_score(p: PerUnit, x: Values, other: Values | None) -> Values:
    import numpy as np
    pts = _per_unit_units(p, x) * p.points
    if p.limit is not None:
        pts = np.clip(pts, -abs(p.limit), abs(p.limit))
    return pts


def _per_unit_explain(p: PerUnit, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    if pts == 0:
        if p.points > 0 and value > 0:
            return f"{ind.label}{ind.show(value)}，不足加分条件，未加分"
        return ""
    rule = []
    if p.free:
        rule.append(f"超过{fmt_number(p.free)}{ind.unit}的部分")
    if p.block != 1:
        rule.append(f"每满{fmt_number(p.block)}{ind.unit}")
    prefix = "，".join(rule)
    verb = "加" if pts > 0 else "扣"
    each = f"{prefix}{verb}{fmt_number(abs(p.points))}分，" if rule else ""
    return f"{ind.label}{ind.show(value)}，{each}{verb}{fmt_number(abs(pts))}分"


def _per_unit_best(p: PerUnit, ind: Indicator) -> float:
    if p.points <= 0:
        return 0.0
    if ind.max is None:
        return math.inf
    return math.floor((max(ind.max - p.free, 0) + EPS) / p.block) * p.points


def _ratio_fraction(p: Ratio, x: Values) -> Values:
    import numpy as np
    return np.minimum(x / p.of, 1.0)


def _ratio_score(p: Ratio, x: Values, other: Values | None) -> Values:
    import numpy as np
    frac = _ratio_fraction(p, x)
    pts = frac * p.points
    if p.zero_below is not None:
        pts = np.where(x < p.zero_below - EPS, 0.0, pts)
    return pts


def _ratio_explain(p: Ratio, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    full = fmt_number(p.points)
    if p.zero_below is not None and value < p.zero_below - EPS:
        return f"{ind.label}{ind.show(value)}，低于{_show_like(ind, p.zero_below)}，不得分"
    if pts >= p.points - EPS:
        return f"{ind.label}{ind.show(value)}，得满分{full}分"
    of = "" if p.of == 1 else f"（应为{_show_like(ind, p.of)}）"
    return f"{ind.label}{ind.show(value)}{of}，按比例得{fmt_number(pts)}分（满分{full}分）"


def _show_like(ind: Indicator, number: float) -> str:
    return fmt_percent(number) if ind.type == "percent" else f"{fmt_number(number)}{ind.unit}"


def _threshold_ratio(p: Threshold, x: Values, other: Values | None) -> Values:
    import numpy as np
    if other is None:
        return x
    with np.errstate(over="ignore", divide="ignore"):  # a huge ratio is simply above any threshold
        return np.where(other > 0, x / np.where(other > 0, other, 1.0), np.nan)


def _threshold_score(p: Threshold, x: Values, other: Values | None) -> Values:
    import numpy as np
    measured = _threshold_ratio(p, x, other)
    return np.where(measured >= p.at - EPS, p.points, 0.0)


def _threshold_explain(p: Threshold, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    verb = "加" if bonus else "得"
    if p.relative_to:
        if other is None or not other > 0:
            return f"{ind.label}{ind.show(value)}，但计划指标不大于0，不{verb}分"
        measured = f"{ind.label}为计划的{fmt_percent(value / other)}"
        level = fmt_percent(p.at)
    else:
        measured, level = f"{ind.label}{ind.show(value)}", _show_like(ind, p.at)
    if pts > 0:
        return f"{measured}，达到{level}，{verb}{fmt_number(pts)}分"
    return f"{measured}，未达到{level}，未{verb}{fmt_number(p.points)}分"


def _shortfall_steps(p: ShortfallSteps, x: Values) -> Values:
    import numpy as np
    # The tolerance is applied to the value, as in threshold and ratio: 0.7999999999 reaches 80 %.
    shortfall = np.maximum(p.below - x - EPS, 0.0)
    return np.ceil(shortfall / p.step - EPS)


def _shortfall_score(p: ShortfallSteps, x: Values, other: Values | None) -> Values:
    return _shortfall_steps(p, x) * p.points


def _shortfall_explain(p: ShortfallSteps, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    if pts == 0:
        return ""
    return f"{ind.label}{ind.show(value)}，低于{_show_like(ind, p.below)}，扣{fmt_number(-pts)}分"


def _option_score(p: Option, x: Values, other: Values | None) -> Values:
    import numpy as np
    table = np.array(p.points, dtype=float)
    idx = np.nan_to_num(x, nan=0).astype(int).clip(0, len(table) - 1)
    return np.take(table, idx)


def _option_explain(p: Option, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    if pts == 0:
        return ""
    verb = "得" if pts > 0 else "扣"
    return f"{ind.label}：{ind.show(value)}，{verb}{fmt_number(abs(pts))}分"


def _gate_score(p: Gate, x: Values, other: Values | None) -> Values:
    return x >= 0.5 if p.zero_when == "是" else x < 0.5


def _gate_explain(p: Gate, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    return f"{ind.label}：{ind.show(value)}，本项不得分" if pts else ""


def _entered_score(p: Entered, x: Values, other: Values | None) -> Values:
    import numpy as np
    return np.asarray(x, dtype=float)


def _entered_score_explain(p: Entered, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    full = f"（满分{fmt_number(ind.max)}分）" if ind.max is not None and value < ind.max else ""
    return f"{ind.label}：评定{fmt_number(value)}分{full}"


def _entered_deduction(p: Entered, x: Values, other: Values | None) -> Values:
    import numpy as np
    return -np.asarray(x, dtype=float)


def _entered_deduction_explain(p: Entered, ind: Indicator, value: float, pts: float, other: float | None, bonus: bool = False) -> str:
    return f"{ind.label}：扣{fmt_number(value)}分" if value else ""


_NUMERIC = frozenset({"count", "amount", "percent", "score", "deduction"})
KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("award", frozenset({"bool"}), Award, _award_score, _award_explain,
         lambda p, ind: max(p.points, 0.0)),
    Kind("per_unit", frozenset({"count", "amount"}), PerUnit, _per_unit_score, _per_unit_explain,
         _per_unit_best),
    Kind("ratio", frozenset({"percent", "count", "amount"}), Ratio, _ratio_score, _ratio_explain,
         lambda p, ind: p.points),
    Kind("threshold", _NUMERIC, Threshold, _threshold_score, _threshold_explain,
         lambda p, ind: max(p.points, 0.0)),
    Kind("shortfall_steps", frozenset({"percent", "count", "amount"}), ShortfallSteps,
         _shortfall_score, _shortfall_explain, lambda p, ind: 0.0),
    Kind("option", frozenset({"choice"}), Option, _option_score, _option_explain,
         lambda p, ind: max(p.points)),
    Kind("gate", frozenset({"bool"}), Gate, _gate_score, _gate_explain, lambda p, ind: 0.0, is_gate=True),
    Kind("entered_score", frozenset({"score"}), Entered, _entered_score, _entered_score_explain,
         lambda p, ind: ind.max if ind.max is not None else math.inf),
    Kind("entered_deduction", frozenset({"deduction"}), Entered, _entered_deduction,
         _entered_deduction_explain, lambda p, ind: 0.0),
]}
